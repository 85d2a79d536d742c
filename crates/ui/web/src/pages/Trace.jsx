// One trace: the root-cause banner, a waterfall (collapsible tree, bars on one time axis,
// errors, the critical path, records under their spans), span details, and the trace's records
// in time order. Virtualised; traces larger than a page are paged as the API answers them.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import * as api from '../api.js';
import { VirtualList } from '../components/VirtualList.jsx';
import { CopyButton, Empty, ErrorBox, JsonView, Level, Loading, fmtNumber, TimeText } from '../components/ui.jsx';
import { useLoad } from '../hooks.js';
import { href, Link, navigate, setParams } from '../router.jsx';
import { useSettings } from '../settings.js';
import { formatDuration, formatTime, nsToMs } from '../time.js';

const ROW = 26;
const PAGE = 10000;

const PALETTE = 12;
export function serviceColor(name) {
  let h = 0;
  for (const c of String(name)) h = (h * 31 + c.codePointAt(0)) >>> 0;
  return `svc-${h % PALETTE}`;
}

function AttrTable({ attrs }) {
  const entries = Object.entries(attrs || {});
  if (!entries.length) return <p class="muted small">none</p>;
  return (
    <table class="fields-table">
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k}>
            <th scope="row">{k}</th>
            <td class="field-value">{typeof v === 'string' ? v : JSON.stringify(v)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SpanDetail({ span, trace, onClose }) {
  const { utc } = useSettings();
  const records = (span.records || []).map((i) => trace.records[i]).filter(Boolean);
  const isRoot = trace.root_cause && trace.root_cause.span_id === span.span_id;
  return (
    <aside class="flyout" role="dialog" aria-label="Span" data-testid="span-detail">
      <div class="flyout-head">
        <div class="flyout-title">
          <span class={`dot ${serviceColor(span.service)}`} />
          <span class="service-name">{span.service}</span>
          <strong>{span.name}</strong>
        </div>
        <button type="button" class="btn btn-small" onClick={onClose} aria-label="Close">
          ✕
        </button>
      </div>
      <div class="flyout-body">
        {isRoot ? <div class="notice notice-error">Root cause: {trace.root_cause.reason}</div> : null}
        <dl class="kv">
          <dt>Status</dt>
          <dd class={span.error ? 'text-error' : ''}>
            {span.status_code}
            {span.status_message ? ` — ${span.status_message}` : ''}
          </dd>
          <dt>Kind</dt>
          <dd>{span.kind}</dd>
          <dt>Start</dt>
          <dd class="mono">
            {formatTime(nsToMs(span.start_ns), utc)} (+{formatDuration(span.offset_ns)})
          </dd>
          <dt>Duration</dt>
          <dd>{formatDuration(span.duration_ns)}</dd>
          <dt>Self time</dt>
          <dd>{formatDuration(span.self_time_ns)}</dd>
          <dt>Span id</dt>
          <dd class="mono">
            {span.span_id} <CopyButton text={span.span_id} label="copy" />
          </dd>
          <dt>Parent</dt>
          <dd class="mono">{span.parent_span_id || '—'}</dd>
          <dt>Host</dt>
          <dd>{span.host || '—'}</dd>
          {span.on_critical_path ? (
            <>
              <dt>Critical path</dt>
              <dd>yes</dd>
            </>
          ) : null}
          {span.clock_skew_ns ? (
            <>
              <dt>Clock skew</dt>
              <dd>moved {formatDuration(span.clock_skew_ns)} for display</dd>
            </>
          ) : null}
          {span.orphan ? (
            <>
              <dt>Orphan</dt>
              <dd>its parent is not in the trace</dd>
            </>
          ) : null}
        </dl>
        <h3>Attributes</h3>
        <AttrTable attrs={span.attributes} />
        {span.events && span.events.length ? (
          <>
            <h3>Events</h3>
            {span.events.map((e, i) => {
              const a = e.attributes || {};
              const exception = e.name === 'exception' || a['exception.type'] || a['exception.stacktrace'];
              return (
                <div key={i} class={`event ${exception ? 'event-exception' : ''}`}>
                  <div>
                    <strong>{e.name}</strong> <span class="mono muted">{formatTime(Date.parse(e.time), utc)}</span>
                  </div>
                  {exception ? (
                    <>
                      <div class="text-error">
                        {a['exception.type'] || ''}
                        {a['exception.message'] ? `: ${a['exception.message']}` : ''}
                      </div>
                      {a['exception.stacktrace'] ? <pre class="stack">{String(a['exception.stacktrace'])}</pre> : null}
                    </>
                  ) : null}
                  <AttrTable attrs={Object.fromEntries(Object.entries(a).filter(([k]) => k !== 'exception.stacktrace'))} />
                </div>
              );
            })}
          </>
        ) : null}
        {span.links && span.links.length ? (
          <>
            <h3>Links</h3>
            <ul>
              {span.links.map((l, i) => (
                <li key={i}>
                  <Link href={href(`/trace/${encodeURIComponent(l.trace_id)}`, { span: l.span_id })} class="mono">
                    {l.trace_id}
                  </Link>
                </li>
              ))}
            </ul>
          </>
        ) : null}
        <h3>Records ({records.length})</h3>
        {records.length ? (
          <ul class="ctx-list">
            {records.map((r, i) => (
              <li key={i} class="ctx-row">
                <TimeText text={formatTime(nsToMs(r.time_ns), utc)} /> <Level level={r.level} /> <span class="msg">{r.body}</span>
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted small">none</p>
        )}
        <h3>Resource</h3>
        <AttrTable attrs={span.resource} />
        <details>
          <summary>JSON</summary>
          <JsonView value={span} />
        </details>
      </div>
    </aside>
  );
}

function Axis({ duration }) {
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return (
    <div class="wf-axis">
      <div class="wf-left">Service · operation</div>
      <div class="wf-right">
        {ticks.map((t) => (
          <span key={t} class={`wf-tick ${t === 1 ? 'last' : ''}`} style={{ left: `${t * 100}%` }}>
            {formatDuration(duration * t)}
          </span>
        ))}
      </div>
    </div>
  );
}

function Waterfall({ trace, selectedId, onSelect, showRecords, scrollTo }) {
  const { utc } = useSettings();
  const [collapsed, setCollapsed] = useState(() => new Set());
  const duration = Math.max(1, trace.duration_ns);
  const critical = useMemo(() => new Set(trace.critical_path || []), [trace]);
  const rows = useMemo(() => {
    const hidden = new Map();
    const out = [];
    for (const s of trace.spans) {
      const parentHidden = s.parent_index !== null && s.parent_index !== undefined && (collapsed.has(s.parent_index) || hidden.get(s.parent_index));
      hidden.set(s.index, !!parentHidden);
      if (parentHidden) continue;
      out.push({ kind: 'span', span: s });
      if (showRecords && !collapsed.has(s.index)) {
        for (const ri of s.records || []) {
          const r = trace.records[ri];
          if (r) out.push({ kind: 'record', record: r, span: s });
        }
      }
    }
    return out;
  }, [trace, collapsed, showRecords]);
  const listRef = useRef(null);
  useEffect(() => {
    if (!scrollTo || !listRef.current) return;
    const i = rows.findIndex((r) => r.kind === 'span' && r.span.span_id === scrollTo);
    if (i >= 0) listRef.current.scrollTop = Math.max(0, i * ROW - 120);
  }, [scrollTo, rows.length > 0]);
  const toggle = (index) => {
    const next = new Set(collapsed);
    if (next.has(index)) next.delete(index);
    else next.add(index);
    setCollapsed(next);
  };
  return (
    <div class="waterfall" data-testid="waterfall">
      <Axis duration={duration} />
      <VirtualList
        items={rows}
        rowHeight={ROW}
        className="wf-body"
        scrollRef={listRef}
        testId="waterfall-body"
        renderRow={(row, i, style) => {
          if (row.kind === 'record') {
            const r = row.record;
            const at = Math.min(1, Math.max(0, (Number(r.time_ns) - trace.start_ns) / duration));
            return (
              <div key={`r${i}`} class="wf-row wf-record" style={style} title={r.body}>
                <div class="wf-left" style={{ paddingLeft: `${(row.span.depth + 1) * 14 + 20}px` }}>
                  <Level level={r.level} /> <span class="msg">{r.body}</span>
                </div>
                <div class="wf-right">
                  <span class={`wf-mark lv-${String(r.level).toLowerCase()}`} style={{ left: `${at * 100}%` }} />
                  <span class="wf-record-time mono muted">{formatTime(nsToMs(r.time_ns), utc)}</span>
                </div>
              </div>
            );
          }
          const s = row.span;
          const left = (Math.max(0, s.offset_ns) / duration) * 100;
          const width = Math.max(0.15, (Math.max(0, s.duration_ns) / duration) * 100);
          const isCause = s.root_cause;
          const classes = ['wf-row', s.error ? 'is-error' : '', critical.has(s.span_id) ? 'is-critical' : '', isCause ? 'is-cause' : '', selectedId === s.span_id ? 'selected' : ''].join(' ');
          return (
            <div key={`s${s.index}`} class={classes} style={style} onClick={() => onSelect(s)} data-testid="span-row" data-span-id={s.span_id}>
              <div class="wf-left" style={{ paddingLeft: `${s.depth * 14}px` }}>
                {s.children > 0 ? (
                  <button
                    type="button"
                    class="wf-toggle"
                    aria-label={collapsed.has(s.index) ? 'Expand' : 'Collapse'}
                    aria-expanded={!collapsed.has(s.index)}
                    onClick={(e) => {
                      e.stopPropagation();
                      toggle(s.index);
                    }}
                  >
                    {collapsed.has(s.index) ? '▸' : '▾'}
                  </button>
                ) : (
                  <span class="wf-toggle-space" />
                )}
                <span class={`dot ${serviceColor(s.service)}`} />
                <span class="service-name">{s.service}</span> <span class="op">{s.name}</span>
                {isCause ? <span class="badge badge-error">root cause</span> : null}
                {s.records && s.records.length && !showRecords ? <span class="badge">{s.records.length} logs</span> : null}
              </div>
              <div class="wf-right">
                <span class={`wf-bar ${serviceColor(s.service)}`} style={{ left: `${left}%`, width: `${width}%` }} title={`${formatDuration(s.duration_ns)} (self ${formatDuration(s.self_time_ns)})`} />
                <span class={`wf-dur ${left + width > 75 ? 'inside' : ''}`} style={left + width > 75 ? { right: `${100 - left - width}%` } : { left: `${left + width}%` }}>
                  {formatDuration(s.duration_ns)}
                  <span class="muted"> · self {formatDuration(s.self_time_ns)}</span>
                </span>
              </div>
            </div>
          );
        }}
      />
    </div>
  );
}

function RecordList({ trace, onSelectSpan }) {
  const { utc } = useSettings();
  const spanOf = useMemo(() => {
    const m = new Map();
    for (const s of trace.spans) m.set(s.span_id, s);
    return m;
  }, [trace]);
  if (!trace.records.length) return <Empty>No records carry this trace id.</Empty>;
  return (
    <VirtualList
      items={trace.records}
      rowHeight={ROW}
      className="wf-body"
      testId="trace-records"
      renderRow={(r, i, style) => (
        <div key={i} class={`trace-record lv-${String(r.level).toLowerCase()}`} style={style} onClick={() => spanOf.get(r.span_id) && onSelectSpan(spanOf.get(r.span_id))} title={r.body}>
          <TimeText text={formatTime(nsToMs(r.time_ns), utc)} />
          <Level level={r.level} />
          <span class="service-name">{r.service}</span>
          <span class="msg">{r.body}</span>
        </div>
      )}
    />
  );
}

export function TracePage({ route, id }) {
  const { utc } = useSettings();
  const offset = Number(route.params.get('offset')) || 0;
  const tab = route.params.get('tab') || 'waterfall';
  const wanted = route.params.get('span');
  const [showRecords, setShowRecords] = useState(true);
  const [selected, setSelected] = useState(null);
  const [input, setInput] = useState(id);
  const trace = useLoad((signal) => (id ? api.get(`/api/v1/traces/${encodeURIComponent(id)}`, { offset, limit: PAGE }, { signal }) : null), [id, offset]);
  const t = trace.data;
  useEffect(() => {
    if (!t) return;
    const target = wanted || (t.root_cause && t.root_cause.span_id);
    setSelected(wanted ? t.spans.find((s) => s.span_id === target) || null : null);
  }, [t]);
  const form = (
    <form
      class="toolbar"
      onSubmit={(e) => {
        e.preventDefault();
        if (input.trim()) navigate(`/trace/${encodeURIComponent(input.trim())}`);
      }}
    >
      <input type="search" class="query-input" placeholder="Trace id" value={input} onInput={(e) => setInput(e.currentTarget.value)} aria-label="Trace id" />
      <button type="submit" class="btn btn-primary">
        Open
      </button>
    </form>
  );
  if (!id) return <div class="page">{form}<Empty>Enter a trace id, or open one from a search result.</Empty></div>;
  if (trace.loading && !t) return <div class="page">{form}<Loading what="Loading the trace" /></div>;
  if (trace.error) return <div class="page">{form}<ErrorBox error={trace.error} title="Trace" /></div>;
  if (!t) return null;
  const rc = t.root_cause;
  const errors = (t.error_spans || []).length;
  const causeSpan = rc && t.spans.find((s) => s.span_id === rc.span_id);
  return (
    <div class={`page page-trace ${selected ? 'with-flyout' : ''}`}>
      <div class="trace-head">
        <h1>
          <span class="muted">Trace</span> <span class="mono" data-testid="trace-id">{t.trace_id}</span> <CopyButton text={t.trace_id} label="copy" />
        </h1>
        <div class="trace-stats">
          <span>{formatTime(nsToMs(t.start_ns), utc)}</span>
          <span>
            <strong>{formatDuration(t.duration_ns)}</strong>
          </span>
          <span>{fmtNumber(t.span_count)} spans</span>
          <span>{t.services.length} services</span>
          <span class={errors ? 'text-error' : ''}>{errors} errors</span>
          <span>{fmtNumber(t.record_count)} records</span>
          <Link href={href('/search', { q: `trace_id:${t.trace_id}`, from: new Date(nsToMs(t.start_ns) - 60e3).toISOString(), to: new Date(nsToMs(t.start_ns + t.duration_ns) + 60e3).toISOString() })}>records in search</Link>
        </div>
      </div>
      {rc ? (
        <div class={`banner ${rc.kind === 'Error' ? 'banner-error' : 'banner-warn'}`} role="status" data-testid="root-cause">
          <div class="banner-title">
            {rc.kind === 'Error' ? 'Root cause' : 'Slowest step'}: <span class="service-name">{rc.service}</span> · <strong>{rc.name}</strong>
            {rc.error_kind ? <span class="badge badge-error">{rc.error_kind}</span> : null}
          </div>
          <div class="banner-reason">{rc.reason}</div>
          {causeSpan ? (
            <button type="button" class="btn btn-small" onClick={() => setSelected(causeSpan)}>
              Show the span
            </button>
          ) : null}
          <Link class="btn btn-small" href={href(`/services/${encodeURIComponent(rc.service)}`, { from: route.params.get('from'), to: route.params.get('to') })}>
            Service {rc.service}
          </Link>
        </div>
      ) : null}
      <div class="chips">
        {(t.spans_by_service || []).map((s) => (
          <span key={s.service} class="chip">
            <span class={`dot ${serviceColor(s.service)}`} /> {s.service} <span class="muted">{s.spans}</span>
            {s.errors ? <span class="text-error"> · {s.errors} err</span> : null}
          </span>
        ))}
      </div>
      {(t.warnings || []).map((w, i) => (
        <div key={i} class="notice notice-warn">
          {w}
        </div>
      ))}
      {t.page && (t.page.more || t.page.offset > 0) ? (
        <div class="notice notice-warn pager">
          Showing spans {fmtNumber(t.page.offset + 1)}–{fmtNumber(t.page.offset + t.page.spans)} of {fmtNumber(t.span_count)} (the summary above covers the whole trace).
          <button type="button" class="btn btn-small" disabled={t.page.offset === 0} onClick={() => setParams({ offset: Math.max(0, t.page.offset - PAGE) || '' })}>
            Previous
          </button>
          <button type="button" class="btn btn-small" disabled={!t.page.more} onClick={() => setParams({ offset: t.page.offset + PAGE })}>
            Next
          </button>
        </div>
      ) : null}
      <div class="tabs" role="tablist">
        <button type="button" role="tab" aria-selected={tab === 'waterfall'} class={`tab ${tab === 'waterfall' ? 'active' : ''}`} onClick={() => setParams({ tab: '' }, { replace: true })}>
          Waterfall
        </button>
        <button type="button" role="tab" aria-selected={tab === 'records'} class={`tab ${tab === 'records' ? 'active' : ''}`} onClick={() => setParams({ tab: 'records' }, { replace: true })} data-testid="tab-records">
          Records ({fmtNumber(t.records.length)})
        </button>
        {tab === 'waterfall' ? (
          <label class="tab-option">
            <input type="checkbox" checked={showRecords} onChange={(e) => setShowRecords(e.currentTarget.checked)} /> logs under spans
          </label>
        ) : null}
        <span class="legend-inline muted">
          <span class="key key-error" /> error <span class="key key-critical" /> critical path <span class="key key-cause" /> root cause
        </span>
      </div>
      {tab === 'records' ? (
        <RecordList trace={t} onSelectSpan={setSelected} />
      ) : (
        <Waterfall trace={t} selectedId={selected && selected.span_id} onSelect={setSelected} showRecords={showRecords} scrollTo={wanted || (rc && rc.span_id)} />
      )}
      {selected ? <SpanDetail span={selected} trace={t} onClose={() => setSelected(null)} /> : null}
    </div>
  );
}
