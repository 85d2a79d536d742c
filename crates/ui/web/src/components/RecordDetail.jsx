// The full record in a side panel: every field (filter for or against a value, show it as a
// column, copy it), the JSON, and its context (the records just before and after from the
// same service and host).
import { useState } from 'preact/hooks';
import * as api from '../api.js';
import { useLoad } from '../hooks.js';
import { href, Link } from '../router.jsx';
import { useSettings } from '../settings.js';
import { formatTime, nsToMs } from '../time.js';
import { isFieldName, quoteValue } from '../querylang.js';
import { CopyButton, ErrorBox, JsonView, Level, Loading } from './ui.jsx';

/** Every field of a record as [search name, display value, group]. */
export function recordFields(r) {
  const out = [];
  const core = ['service', 'level', 'host', 'environment', 'trace_id', 'span_id', 'severity_number'];
  for (const k of core) if (r[k] !== undefined && r[k] !== null && r[k] !== '') out.push([k, r[k], 'record']);
  for (const [k, v] of Object.entries(r.attributes || {})) out.push([k, v, 'attribute']);
  for (const [k, v] of Object.entries(r.resource || {})) out.push([k, v, 'resource']);
  return out;
}

export function displayValue(v) {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** A record's value of a column: a core field, an attribute or a resource attribute. */
export function columnValue(r, name) {
  if (name in r && typeof r[name] !== 'object') return r[name];
  if (r.attributes && name in r.attributes) return r.attributes[name];
  if (r.resource && name in r.resource) return r.resource[name];
  return undefined;
}

function Context({ record, onOpen }) {
  const { utc } = useSettings();
  const ctx = useLoad(async (signal) => {
    const terms = [`service:${quoteValue(record.service)}`];
    if (record.host) terms.push(`host:${quoteValue(record.host)}`);
    const query = terms.join(' ');
    const t = BigInt(record.time_ns);
    const before = api.get('/api/v1/search', { query, end: String(t), limit: 16 }, { signal });
    const after = api.get('/api/v1/search', { query, start: String(t), end: String(t + 600_000_000_000n), limit: 2000 }, { signal });
    const [b, a] = await Promise.all([before, after]);
    const same = (x) => x.time_ns === record.time_ns && x.body === record.body;
    const older = b.records.filter((x) => !same(x)).slice(0, 15).reverse();
    const newer = a.records.filter((x) => !same(x)).slice(-15).reverse();
    return { older, newer, query };
  }, [record.time_ns, record.service, record.host]);
  if (ctx.loading) return <Loading what="Loading the context" />;
  if (ctx.error) return <ErrorBox error={ctx.error} />;
  const row = (r, current) => (
    <li class={`ctx-row ${current ? 'current' : ''}`} key={`${r.time_ns}-${r.body}`} onClick={() => !current && onOpen(r)}>
      <span class="mono muted">{formatTime(nsToMs(r.time_ns), utc)}</span> <Level level={r.level} /> <span class="msg">{r.body}</span>
    </li>
  );
  return (
    <div class="context">
      <p class="muted">
        Records of the same service and host around this one ({ctx.data.query}).{' '}
        <Link href={href('/search', { q: ctx.data.query, from: new Date(nsToMs(record.time_ns) - 60e3).toISOString(), to: new Date(nsToMs(record.time_ns) + 60e3).toISOString() })}>Open in search</Link>
      </p>
      <ul class="ctx-list" data-testid="context-list">
        {ctx.data.older.map((r) => row(r, false))}
        {row(record, true)}
        {ctx.data.newer.map((r) => row(r, false))}
      </ul>
    </div>
  );
}

export function RecordDetail({ record, onClose, onFilter, onToggleColumn, columns = [], onOpen }) {
  const { utc } = useSettings();
  const [tab, setTab] = useState('fields');
  const fields = recordFields(record);
  const json = JSON.stringify(record, null, 2);
  return (
    <aside class="flyout" role="dialog" aria-label="Record" data-testid="record-detail">
      <div class="flyout-head">
        <div class="flyout-title">
          <Level level={record.level} />
          <span class="mono">{formatTime(nsToMs(record.time_ns), utc)}</span>
          <span class="service-name">{record.service}</span>
        </div>
        <button type="button" class="btn btn-small" onClick={onClose} aria-label="Close" data-testid="close-detail">✕</button>
      </div>
      <pre class="record-body" data-testid="record-body">{record.body}</pre>
      <div class="flyout-actions">
        {record.trace_id ? (
          <Link class="btn btn-small btn-primary" href={href(`/trace/${encodeURIComponent(record.trace_id)}`, { span: record.span_id })} data-testid="open-trace">
            Trace
          </Link>
        ) : null}
        <CopyButton text={record.body} label="Copy message" />
        <CopyButton text={json} label="Copy JSON" />
      </div>
      <div class="tabs" role="tablist">
        {[['fields', 'Fields'], ['json', 'JSON'], ['context', 'Context']].map(([k, label]) => (
          <button type="button" key={k} role="tab" aria-selected={tab === k} class={`tab ${tab === k ? 'active' : ''}`} onClick={() => setTab(k)} data-testid={`tab-${k}`}>
            {label}
          </button>
        ))}
      </div>
      <div class="flyout-body">
        {tab === 'fields' ? (
          <table class="fields-table">
            <tbody>
              {fields.map(([name, value, group]) => {
                const text = displayValue(value);
                const filterable = isFieldName(name);
                return (
                  <tr key={`${group}:${name}`}>
                    <th scope="row" title={group}>
                      {name}
                    </th>
                    <td class="field-value">{text}</td>
                    <td class="field-actions">
                      {filterable ? (
                        <>
                          <button type="button" class="btn btn-icon" title={`Filter for ${name}:${text}`} onClick={() => onFilter(name, text, false)} data-testid="filter-for">
                            +
                          </button>
                          <button type="button" class="btn btn-icon" title={`Filter out ${name}:${text}`} onClick={() => onFilter(name, text, true)} data-testid="filter-out">
                            −
                          </button>
                        </>
                      ) : null}
                      <button type="button" class={`btn btn-icon ${columns.includes(name) ? 'on' : ''}`} title="Show as a column" onClick={() => onToggleColumn(name)}>
                        ▥
                      </button>
                      <CopyButton text={text} label="copy" title={`Copy the value of ${name}`} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        ) : null}
        {tab === 'json' ? <JsonView value={record} /> : null}
        {tab === 'context' ? <Context record={record} onOpen={onOpen} /> : null}
      </div>
    </aside>
  );
}
