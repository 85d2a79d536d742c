// Why: the ranked causes of the failing requests of the range (GET /api/v1/rootcause), what is
// new against the baseline, and one click to an example trace and to the matching records.
import { useEffect, useMemo, useState } from 'preact/hooks';
import * as api from '../api.js';
import { QueryBar } from '../components/QueryBar.jsx';
import { Empty, ErrorBox, Loading, fmtNumber, fmtPercent } from '../components/ui.jsx';
import { useLoad } from '../hooks.js';
import { href, Link, setParams } from '../router.jsx';
import { useSettings } from '../settings.js';
import { apiBounds, formatTime, rangeOf } from '../time.js';
import { quoteValue } from '../querylang.js';

const STATUS = { new: 'new', grown: 'grown', steady: 'steady', shrunk: 'shrunk' };

export function WhyPage({ route }) {
  const { utc } = useSettings();
  const q = route.params.get('q') || '';
  const range = rangeOf(route.params);
  const keep = { from: route.params.get('from'), to: route.params.get('to') };
  const [text, setText] = useState(q);
  const [tick, setTick] = useState(0);
  useEffect(() => setText(q), [q]);
  const bounds = useMemo(() => apiBounds(range), [range.from, range.to, tick]);
  const report = useLoad((signal) => api.get('/api/v1/rootcause', { query: q, ...bounds }, { signal }), [q, bounds]);
  const r = report.data;
  return (
    <div class="page page-why">
      <div class="toolbar">
        <h1>Why</h1>
        <QueryBar value={text} onChange={setText} onSubmit={(v) => (v === q ? setTick((t) => t + 1) : setParams({ q: v }))} bounds={bounds} placeholder="optional: narrow to some requests, e.g. service:checkout" />
        <button type="button" class="btn btn-primary" onClick={() => (text === q ? setTick((t) => t + 1) : setParams({ q: text }))}>
          Analyse
        </button>
      </div>
      {report.error ? <ErrorBox error={report.error} title="Root cause" /> : null}
      {report.loading && !r ? <Loading what="Analysing the failing requests" /> : null}
      {r ? (
        <>
          <p class="summary-line" data-testid="why-summary">
            <strong>{fmtNumber(r.failing_traces)}</strong> failing traces between {formatTime(Date.parse(r.start), utc, false)} and {formatTime(Date.parse(r.end), utc, false)}
            {r.analysed_traces < r.failing_traces ? ` (${fmtNumber(r.analysed_traces)} analysed)` : ''}; baseline ({r.baseline_kind}): {fmtNumber(r.baseline_failing_traces)}.
          </p>
          {(r.warnings || []).map((w, i) => (
            <div key={i} class="notice notice-warn">
              {w}
            </div>
          ))}
          {!r.causes.length ? <Empty>No failing request in this range. </Empty> : null}
          <ol class="causes" data-testid="causes">
            {r.causes.map((c, i) => {
              const records = `service:${quoteValue(c.service)} level:error`;
              return (
                <li key={i} class={`cause card ${i === 0 ? 'cause-top' : ''}`} data-testid="cause">
                  <div class="cause-head">
                    <span class="cause-rank">#{i + 1}</span>
                    <span class="service-name">{c.service}</span> · <strong>{c.operation}</strong>
                    <span class="badge badge-error">{c.error_kind}</span>
                    <span class={`badge status-${c.status}`}>{STATUS[c.status] || c.status}</span>
                  </div>
                  <div class="share">
                    <div class="share-bar">
                      <span class="share-fill" style={{ width: `${Math.max(1, c.share * 100)}%` }} />
                    </div>
                    <span>
                      {fmtPercent(c.share, 0)} of failing traces ({fmtNumber(c.traces)}; baseline {fmtNumber(c.baseline_traces)})
                    </span>
                  </div>
                  <div class="cause-reason">{c.reason}</div>
                  <dl class="kv">
                    <dt>First seen</dt>
                    <dd class="mono">{formatTime(Date.parse(c.first_seen), utc)}</dd>
                    <dt>Last seen</dt>
                    <dd class="mono">{formatTime(Date.parse(c.last_seen), utc)}</dd>
                    {c.versions && c.versions.length ? (
                      <>
                        <dt>Versions</dt>
                        <dd>
                          {c.versions.map((v) => (
                            <span key={v.version} class={`chip ${c.version_specific === v.version ? 'chip-bad' : ''}`}>
                              {v.version} <span class="muted">{fmtNumber(v.count)}</span>
                            </span>
                          ))}
                          {c.version_specific ? <span class="text-error"> only in {c.version_specific}</span> : null}
                        </dd>
                      </>
                    ) : null}
                  </dl>
                  {c.top_messages && c.top_messages.length ? (
                    <ul class="messages">
                      {c.top_messages.slice(0, 5).map((m, j) => (
                        <li key={j}>
                          <span class="mono">{m.message}</span> <span class="muted">×{fmtNumber(m.count)}</span>
                        </li>
                      ))}
                    </ul>
                  ) : null}
                  <div class="cause-actions">
                    <Link class="btn btn-small btn-primary" href={href(`/trace/${encodeURIComponent(c.example_trace_id)}`, keep)} data-testid="example-trace">
                      Example trace
                    </Link>
                    <Link class="btn btn-small" href={href('/search', { q: records, ...keep })}>
                      Matching records
                    </Link>
                    <Link class="btn btn-small" href={href(`/services/${encodeURIComponent(c.service)}`, keep)}>
                      Service
                    </Link>
                  </div>
                </li>
              );
            })}
          </ol>
        </>
      ) : null}
    </div>
  );
}
