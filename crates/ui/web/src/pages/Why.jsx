// Why: the causes of what changed in the range (GET /api/v1/rootcause): each with its kind of
// change, how unusual it is, its figures against the baseline, the chain of callers it explains,
// its log patterns, and one click to an example trace and to the matching records; then the
// timeline of the range (deploys, pattern births, error steps) and the slowest operations
// (GET /api/v1/slow).
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
const CHANGE = {
  errors: 'errors',
  latency: 'slower',
  log_errors: 'ERROR logs',
  failed_calls: 'calls fail',
  version: 'one version fails',
};

function Figures({ f }) {
  if (!f) return null;
  const latency = f.p95_ms != null ? `, p50 ${f.p50_ms.toFixed(1)} ms, p95 ${f.p95_ms.toFixed(1)} ms` : '';
  return (
    <span class="mono">
      {fmtNumber(f.requests)} total, {fmtNumber(f.errors)} errors ({fmtPercent(f.error_rate, 1)}){latency}
    </span>
  );
}

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
          <p class={`verdict ${r.unusual ? 'verdict-bad' : 'verdict-quiet'}`} data-testid="why-verdict">
            {r.unusual ? r.summary : 'Nothing unusual: no significant change against the baseline.'}
          </p>
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
                    <span class="badge badge-error">{CHANGE[c.change] || c.change}</span>
                    {c.error_kind ? <span class="badge">{c.error_kind}</span> : null}
                    <span class={`badge status-${c.status}`}>{STATUS[c.status] || c.status}</span>
                    {c.score ? <span class="muted" title="how unusual: standard score of the largest change it explains"> score {c.score.toFixed(1)}</span> : null}
                    {c.via && c.via.length ? <span class="muted"> · as seen from {c.via.join(', ')}</span> : null}
                  </div>
                  <div class="cause-figures" data-testid="cause-figures">
                    now <Figures f={c.window} /> · baseline <Figures f={c.baseline} />
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
                  {c.explains && c.explains.length ? (
                    <ul class="chain" data-testid="cause-chain">
                      {c.explains.slice(0, 6).map((a, j) => (
                        <li key={j}>
                          ↑ explains <span class="service-name">{a.service}</span> <strong>{a.operation}</strong> <span class="muted">{a.kind}</span> {CHANGE[a.change] || a.change}: <Figures f={a.window} />{' '}
                          <span class="muted">(baseline <Figures f={a.baseline} />)</span>
                        </li>
                      ))}
                    </ul>
                  ) : null}
                  {c.patterns && c.patterns.some((p) => p.changed) ? (
                    <ul class="messages" data-testid="cause-patterns">
                      {c.patterns
                        .filter((p) => p.changed)
                        .map((p, j) => (
                          <li key={j}>
                            log <span class="mono">{p.template}</span> <span class="muted">×{fmtNumber(p.window)} (baseline {fmtNumber(p.baseline)}){p.born ? ' · new pattern' : ''}</span>
                          </li>
                        ))}
                    </ul>
                  ) : null}
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
                    {c.example_trace_id ? (
                      <Link class="btn btn-small btn-primary" href={href(`/trace/${encodeURIComponent(c.example_trace_id)}`, keep)} data-testid="example-trace">
                        Example trace
                      </Link>
                    ) : null}
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
          {r.timeline && r.timeline.length ? (
            <section class="card timeline" data-testid="why-timeline">
              <h2>Timeline</h2>
              <ul>
                {r.timeline.map((e, i) => (
                  <li key={i}>
                    <span class="mono">{formatTime(Date.parse(e.time), utc)}</span> <span class="badge">{e.kind.replace('_', ' ')}</span> <span class="service-name">{e.service}</span>{' '}
                    {e.operation ? <strong>{e.operation}</strong> : null} {e.detail}
                  </li>
                ))}
              </ul>
            </section>
          ) : null}
          <SlowOperations bounds={bounds} utc={utc} keep={keep} />
        </>
      ) : null}
    </div>
  );
}

// The operations that got slower or take the most time (GET /api/v1/slow).
function SlowOperations({ bounds, keep }) {
  const slow = useLoad((signal) => api.get('/api/v1/slow', { ...bounds }, { signal }), [bounds]);
  const rows = slow.data ? slow.data.operations : null;
  return (
    <section class="card slow-ops" data-testid="why-slow">
      <h2>Slow operations</h2>
      {slow.error ? <ErrorBox error={slow.error} title="Slow operations" /> : null}
      {rows && !rows.length ? <Empty>No spans in this range.</Empty> : null}
      {rows && rows.length ? (
        <table class="table">
          <thead>
            <tr>
              <th>Service</th>
              <th>Operation</th>
              <th>Statement</th>
              <th class="num">Calls</th>
              <th class="num">p95 ms</th>
              <th class="num">Baseline p95</th>
              <th class="num">Self time s</th>
              <th class="num">Change</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((o, i) => (
              <tr key={i} data-testid="slow-row">
                <td>
                  <Link href={href(`/services/${encodeURIComponent(o.service)}`, keep)}>{o.service}</Link>
                </td>
                <td>{o.operation}</td>
                <td class="mono">{o.statement || ''}</td>
                <td class="num">{fmtNumber(o.calls)}</td>
                <td class="num">{o.p95_ms != null ? o.p95_ms.toFixed(1) : ''}</td>
                <td class="num">{o.baseline_p95_ms != null ? o.baseline_p95_ms.toFixed(1) : '—'}</td>
                <td class="num">{(o.self_time_ms / 1000).toFixed(1)}</td>
                <td class={`num ${o.p95_ratio >= 1.5 ? 'text-error' : ''}`}>{o.p95_ratio != null ? `×${o.p95_ratio.toFixed(1)}` : 'new'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
