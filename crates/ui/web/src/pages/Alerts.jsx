// Alerts: the firing, pending and resolved alert instances (GET /api/v1/alerts), grouped by
// state; and one alert (GET /api/v1/alerts/{fingerprint}) with its evidence (the figure against
// its threshold or normal band, the root causes with an example trace, the top log patterns,
// deploys and other services that moved), its history, and acknowledge and silence actions.
import { Fragment } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import * as api from '../api.js';
import { Chart, axes } from '../components/Chart.jsx';
import { AlertingTabs, alertSince, enc, fmtFigure, fmtSpan, httpUrl, LabelChips, searchLink, StateBadge, timeOf, valueText } from '../components/alerting.jsx';
import { Empty, ErrorBox, Loading, fmtNumber, fmtPercent } from '../components/ui.jsx';
import { useLoad } from '../hooks.js';
import { href, Link, setParams } from '../router.jsx';
import { updateSettings, useSettings } from '../settings.js';
import { quoteValue } from '../querylang.js';
import { formatTime } from '../time.js';

/** Alerts are re-read this often while a page shows them. */
const REFRESH_MS = 15_000;
/** Resolved alerts shown before "show all". */
const RESOLVED_SHOWN = 30;

/** Re-runs `reload` every `ms` while the tab is visible. */
function useEvery(reload, ms) {
  useEffect(() => {
    const t = setInterval(() => document.visibilityState === 'visible' && reload(), ms);
    return () => clearInterval(t);
  }, [reload, ms]);
}

/** Silenced, inhibited, acknowledged: why an alert is or is not notified. */
export function Markers({ alert: a }) {
  return (
    <>
      {a.silenced_by && a.silenced_by.length ? (
        <span class="badge marker-silenced" title={`silenced by ${a.silenced_by.join(', ')}`}>
          silenced
        </span>
      ) : null}
      {a.inhibited_by ? (
        <span class="badge marker-inhibited" title={a.inhibited_by}>
          inhibited
        </span>
      ) : null}
      {a.ack ? (
        <span class="badge marker-acked" title={`acknowledged by ${a.ack.by}${a.ack.comment ? `: ${a.ack.comment}` : ''}`}>
          acknowledged
        </span>
      ) : null}
    </>
  );
}

/** One alert in a list: state, summary, rule, value, since when, labels. */
/** When the alert fired (or went pending, or resolved) and for how long. */
function SinceText({ since, utc }) {
  if (!since.at) return null;
  return (
    <span class="muted">
      {since.label} {timeOf(since.at, utc)}
      {since.span !== null ? ` (${since.lasted ? 'lasted' : 'for'} ${fmtSpan(since.span)})` : ''}
    </span>
  );
}

export function AlertItem({ alert: a, utc }) {
  const since = alertSince(a);
  const summary = (a.annotations && a.annotations.summary) || a.rule;
  return (
    <li class={`alert-item alert-item-${a.state}`} data-testid="alert-row">
      <div class="alert-head">
        <StateBadge state={a.state} />
        <Link href={`/alerts/${enc(a.fingerprint)}`} class="alert-summary" data-testid="alert-link">
          {summary}
        </Link>
        <Markers alert={a} />
      </div>
      <div class="alert-meta">
        <span>
          rule{' '}
          <Link href={`/rules/${enc(a.rule)}`} class="mono">
            {a.rule}
          </Link>
        </span>
        <span>
          {a.scope && a.scope.metric ? <span class="muted">{a.scope.metric} </span> : null}
          <strong>{valueText(a)}</strong>
        </span>
        <SinceText since={since} utc={utc} />
      </div>
      <LabelChips labels={a.labels} skip={['rule']} />
    </li>
  );
}

const GROUPS = [
  ['firing', 'Firing'],
  ['pending', 'Pending'],
  ['resolved', 'Resolved'],
];

export function AlertsPage({ route }) {
  const { utc } = useSettings();
  const service = route.params.get('service') || '';
  const rule = route.params.get('rule') || '';
  const [filter, setFilter] = useState('');
  const [allResolved, setAllResolved] = useState(false);
  const list = useLoad((signal) => api.get('/api/v1/alerts', { service, rule }, { signal }), [service, rule]);
  useEvery(list.reload, REFRESH_MS);
  const f = filter.trim().toLowerCase();
  const alerts = ((list.data && list.data.alerts) || []).filter((a) => {
    if (!f) return true;
    const text = [a.rule, (a.annotations && a.annotations.summary) || '', ...Object.entries(a.labels || {}).map(([k, v]) => `${k}=${v}`)].join(' ').toLowerCase();
    return text.includes(f);
  });
  const by = (state) => alerts.filter((a) => a.state === state);
  return (
    <div class="page page-alerts" data-testid="alerts-page">
      <AlertingTabs current="/alerts" />
      <div class="toolbar">
        <h1>Alerts</h1>
        <input type="search" class="query-input narrow" placeholder="Filter: rule, summary, label=value" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} aria-label="Filter alerts" />
        {service ? (
          <span class="chip">
            service={service}{' '}
            <button type="button" class="linkish" aria-label="Show every service" onClick={() => setParams({ service: '' })}>
              ×
            </button>
          </span>
        ) : null}
        {rule ? (
          <span class="chip">
            rule={rule}{' '}
            <button type="button" class="linkish" aria-label="Show every rule" onClick={() => setParams({ rule: '' })}>
              ×
            </button>
          </span>
        ) : null}
        <button type="button" class="btn btn-small" onClick={list.reload} disabled={list.loading}>
          Refresh
        </button>
      </div>
      {list.error ? <ErrorBox error={list.error} title="Alerts" /> : null}
      {list.loading && !list.data ? <Loading what="Loading alerts" /> : null}
      {list.data && !alerts.length ? <Empty>No alert{f || service || rule ? ' matches' : ': every rule is quiet'}.</Empty> : null}
      {list.data
        ? GROUPS.map(([state, title]) => {
            const items = by(state);
            if (!items.length) return null;
            const shown = state === 'resolved' && !allResolved ? items.slice(0, RESOLVED_SHOWN) : items;
            return (
              <section key={state} class="alert-group" data-testid={`alerts-${state}`}>
                <h3>
                  {title} <span class="count">{items.length}</span>
                </h3>
                <ul class="alert-list">
                  {shown.map((a) => (
                    <AlertItem key={a.fingerprint} alert={a} utc={utc} />
                  ))}
                </ul>
                {shown.length < items.length ? (
                  <button type="button" class="btn btn-small" onClick={() => setAllResolved(true)}>
                    Show all {items.length}
                  </button>
                ) : null}
              </section>
            );
          })
        : null}
    </div>
  );
}

// ---- one alert

/** The evidence's figure per step before and through the window, with its threshold or band. */
function FigureChart({ figure, windowEnd }) {
  const data = useMemo(() => {
    const ys = (figure.series || []).map((v) => (v === null || v === undefined ? null : Number(v)));
    const step = Number(figure.series_step_ns) / 1e6;
    const end = Date.parse(windowEnd);
    if (ys.length < 2 || !(step > 0) || Number.isNaN(end)) return null;
    // Point i covers [end - (n - i) * step, end - (n - i - 1) * step).
    const xs = ys.map((_, i) => (end - (ys.length - i) * step) / 1e3);
    const lines = [ys];
    if (figure.band) lines.push(ys.map(() => figure.band.high), ys.map(() => figure.band.low));
    else if (figure.threshold !== undefined && figure.threshold !== null) lines.push(ys.map(() => figure.threshold));
    return [xs, ...lines];
  }, [figure, windowEnd]);
  if (!data) return <p class="muted small">No series for this figure.</p>;
  const unit = figure.unit;
  const fmt = (u, v) => (v === null || v === undefined ? '—' : fmtFigure(v, unit));
  return (
    <Chart
      className="figure-chart"
      data={data}
      height={140}
      label={`${figure.metric || 'value'} before and through the alert's window`}
      build={(colors) => ({
        legend: { show: false },
        scales: { x: { time: true }, y: { range: (u, min, max) => [Math.min(0, min), Math.max(max, 1e-9) * 1.15] } },
        axes: axes(colors, { y: { values: (u, vs) => vs.map((v) => fmtFigure(v, unit)), size: 52 } }),
        series: [
          {},
          { label: figure.metric || 'value', stroke: colors.error, width: 1.5, fill: `${colors.error}22`, value: fmt, points: { show: false } },
          ...(figure.band
            ? [
                { label: 'normal high', stroke: colors.fg, width: 1, dash: [4, 4], value: fmt, points: { show: false } },
                { label: 'normal low', stroke: colors.fg, width: 1, dash: [2, 4], value: fmt, points: { show: false } },
              ]
            : data.length > 2
              ? [{ label: 'threshold', stroke: colors.warn, width: 1, dash: [6, 4], value: fmt, points: { show: false } }]
              : []),
        ],
      })}
    />
  );
}

function RootCauses({ evidence, keep }) {
  const causes = evidence.root_causes || [];
  return (
    <div class="card" data-testid="alert-root-causes">
      <h3>
        Root cause <span class="muted small">({fmtNumber(evidence.failing_traces)} failing traces)</span>
      </h3>
      {!causes.length ? <p class="muted small">No failing request in the alert's scope and window.</p> : null}
      <ol class="causes">
        {causes.map((c, i) => (
          <li key={i} class={`cause ${i === 0 ? 'cause-top' : ''}`} data-testid="alert-root-cause">
            <div class="cause-head">
              <span class="service-name">{c.service}</span> · <strong>{c.operation}</strong>
              {c.error_kind ? <span class="badge badge-error">{c.error_kind}</span> : null}
              {c.status ? <span class={`badge status-${/^[a-z]+$/.test(c.status) ? c.status : 'x'}`}>{c.status}</span> : null}
            </div>
            <div class="share">
              <div class="share-bar">
                <span class="share-fill" style={{ width: `${Math.max(1, Math.min(100, c.share * 100))}%` }} />
              </div>
              <span>
                {fmtPercent(c.share, 0)} of failing traces ({fmtNumber(c.traces)})
              </span>
            </div>
            {c.reason ? <div class="cause-reason">{c.reason}</div> : null}
            {c.versions && c.versions.length ? (
              <div class="chips">
                {c.versions.map((v) => (
                  <span key={v} class={`chip ${c.version_specific ? 'chip-bad' : ''}`}>
                    {v}
                  </span>
                ))}
                {c.version_specific ? <span class="text-error small">only in this version</span> : null}
              </div>
            ) : null}
            <div class="cause-actions">
              {c.example_trace_id ? (
                <Link class="btn btn-small btn-primary" href={href(`/trace/${enc(c.example_trace_id)}`, keep)} data-testid="alert-example-trace">
                  Example trace
                </Link>
              ) : null}
              <Link class="btn btn-small" href={href(`/services/${enc(c.service)}`, keep)}>
                Service
              </Link>
            </div>
          </li>
        ))}
      </ol>
    </div>
  );
}

function Patterns({ patterns }) {
  return (
    <div class="card" data-testid="alert-patterns">
      <h3>Top log patterns</h3>
      {!patterns.length ? <p class="muted small">No warning or error pattern in the window.</p> : null}
      <ul class="pattern-list">
        {patterns.map((p, i) => (
          <li key={i}>
            <div>
              {p.new ? <span class="badge badge-new">NEW</span> : null} <span class="mono pattern-template">{p.template}</span> <span class="muted">×{fmtNumber(p.count)}</span>{' '}
              <span class="muted small">{p.service}</span>
            </div>
            {p.samples && p.samples.length ? (
              <pre class="samples">{p.samples.map((s) => String(s)).join('\n')}</pre>
            ) : null}
          </li>
        ))}
      </ul>
    </div>
  );
}

function Changes({ changes, utc, keep }) {
  const deploys = (changes && changes.deploys) || [];
  const moved = (changes && changes.moved) || [];
  return (
    <div class="card" data-testid="alert-changes">
      <h3>What changed</h3>
      {!deploys.length && !moved.length ? <p class="muted small">No deploy and no other service moved in the window.</p> : null}
      {deploys.length ? (
        <>
          <h4>Deploys</h4>
          <ul class="plain">
            {deploys.map((d, i) => (
              <li key={i}>
                <Link href={href(`/services/${enc(d.service)}`, keep)} class="service-name">
                  {d.service}
                </Link>{' '}
                <span class="chip">{d.version}</span> <span class="muted small">first seen {formatTime(Number(d.first_seen_ns) / 1e6, utc, false)}</span>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {moved.length ? (
        <>
          <h4>Other services that moved</h4>
          <ul class="plain">
            {moved.map((m, i) => (
              <li key={i}>
                <Link href={href(`/services/${enc(m.service)}`, keep)} class="service-name">
                  {m.service}
                </Link>{' '}
                <span class="text-error">{fmtPercent(m.error_rate)}</span> <span class="muted small">errors (was {fmtPercent(m.baseline_error_rate)}; {fmtNumber(m.requests)} requests)</span>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </div>
  );
}

function Acknowledge({ alert: a, onDone }) {
  const settings = useSettings();
  const [open, setOpen] = useState(false);
  const [by, setBy] = useState(settings.user);
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  if (a.state !== 'firing') return null;
  if (!open)
    return (
      <button type="button" class="btn btn-small" data-testid="ack-button" onClick={() => setOpen(true)}>
        {a.ack ? 'Acknowledge again' : 'Acknowledge'}
      </button>
    );
  return (
    <form
      class="inline-form"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
          const view = await api.send('POST', `/api/v1/alerts/${enc(a.fingerprint)}/ack`, { by: by.trim(), comment });
          updateSettings({ user: by.trim() });
          setOpen(false);
          onDone(view);
        } catch (err) {
          setError(err);
        } finally {
          setBusy(false);
        }
      }}
    >
      <input type="text" required placeholder="Your name" value={by} onInput={(e) => setBy(e.currentTarget.value)} aria-label="Acknowledged by" />
      <input type="text" placeholder="Comment (optional)" value={comment} onInput={(e) => setComment(e.currentTarget.value)} aria-label="Comment" />
      <button type="submit" class="btn btn-small btn-primary" disabled={busy || !by.trim()}>
        Acknowledge
      </button>
      <button type="button" class="btn btn-small" onClick={() => setOpen(false)}>
        Cancel
      </button>
      <ErrorBox error={error} />
    </form>
  );
}

/** The silence form's address, pre-filled with an alert's labels as matchers. */
export function silenceHref(labels, comment) {
  const p = new URLSearchParams();
  p.set('new', '1');
  for (const [k, v] of Object.entries(labels || {})) p.append('matcher', `${k}=${JSON.stringify(String(v))}`);
  if (comment) p.set('comment', comment);
  return `/silences?${p}`;
}

export function AlertPage({ route, fingerprint }) {
  const { utc } = useSettings();
  const keep = { from: route.params.get('from'), to: route.params.get('to') };
  const detail = useLoad((signal) => api.get(`/api/v1/alerts/${enc(fingerprint)}`, {}, { signal }), [fingerprint]);
  const [acked, setAcked] = useState(null);
  useEffect(() => setAcked(null), [detail.data]);
  const a = acked || (detail.data && detail.data.alert);
  // Evidence is computed just after an alert fires: read again until it is there.
  const computing = a && a.evidence_status === 'computing';
  useEvery(detail.reload, computing ? 3000 : REFRESH_MS);
  if (detail.error && !a) {
    return (
      <div class="page">
        <AlertingTabs current="/alerts" />
        <ErrorBox error={detail.error} title="Alert" />
      </div>
    );
  }
  if (!a) return <div class="page"><AlertingTabs current="/alerts" /><Loading what="Loading the alert" /></div>;
  const since = alertSince(a);
  const ev = a.evidence;
  const unit = a.scope && a.scope.unit;
  const service = (a.scope && a.scope.service) || (a.labels && a.labels.service);
  const summary = (a.annotations && a.annotations.summary) || a.rule;
  const fallbackQuery = service ? `service:${quoteValue(service)}` : '';
  const history = (detail.data && detail.data.history) || [];
  return (
    <div class="page page-alert" data-testid="alert-detail">
      <AlertingTabs current="/alerts" />
      <div class="toolbar">
        <h1 class="alert-title">
          <Link href="/alerts" class="muted">
            Alerts
          </Link>{' '}
          / <span>{summary}</span>
        </h1>
      </div>
      <div class={`banner alert-banner alert-banner-${a.state}`}>
        <StateBadge state={a.state} />
        <span class="banner-title">
          {a.scope && a.scope.metric ? `${a.scope.metric} ` : ''}
          <strong>{valueText(a)}</strong>
        </span>
        <SinceText since={since} utc={utc} />
        <Markers alert={a} />
        <div class="banner-reason">
          <LabelChips labels={a.labels} />
        </div>
      </div>
      {a.silenced_by && a.silenced_by.length ? (
        <div class="notice notice-muted">
          Silenced by {a.silenced_by.length === 1 ? 'a silence' : `${a.silenced_by.length} silences`}: it still fires, but is not notified. <Link href="/silences">See the silences</Link>
        </div>
      ) : null}
      {a.inhibited_by ? <div class="notice notice-muted">Not notified: {a.inhibited_by}.</div> : null}
      {a.ack ? (
        <div class="notice notice-muted" data-testid="ack-info">
          Acknowledged by <strong>{a.ack.by}</strong> at {formatTime(Number(a.ack.at_ns) / 1e6, utc, false)}
          {a.ack.comment ? `: ${a.ack.comment}` : ''}
        </div>
      ) : null}
      <div class="cause-actions alert-actions">
        <Acknowledge alert={a} onDone={(view) => setAcked(view)} />
        <Link class="btn btn-small" href={silenceHref(a.labels, `silenced from the alert ${summary}`.slice(0, 200))} data-testid="silence-button">
          Silence…
        </Link>
        <Link class="btn btn-small" href={ev ? searchLink(ev.links && ev.links.search, fallbackQuery) : href('/search', { q: fallbackQuery, ...keep })} data-testid="alert-search">
          Matching records
        </Link>
        {service ? (
          <Link class="btn btn-small" href={href(`/services/${enc(service)}`, keep)}>
            Service
          </Link>
        ) : null}
        <Link class="btn btn-small" href={`/rules/${enc(a.rule)}`}>
          Rule
        </Link>
      </div>
      {detail.error ? <ErrorBox error={detail.error} title="Refresh" /> : null}
      <div class="grid-2">
        <div class="card">
          <h3>Annotations</h3>
          <dl class="kv">
            {Object.entries(a.annotations || {}).map(([k, v]) => {
              const url = k.endsWith('_url') ? httpUrl(v) : null;
              return (
                <Fragment key={k}>
                  <dt>{k}</dt>
                  <dd class="annotation-value">
                    {url ? (
                      <a href={url} target="_blank" rel="noopener noreferrer">
                        {v}
                      </a>
                    ) : (
                      v
                    )}
                  </dd>
                </Fragment>
              );
            })}
          </dl>
          {!Object.keys(a.annotations || {}).length ? <p class="muted small">none</p> : null}
          {a.detail && Object.keys(a.detail).length ? (
            <>
              <h4>Figures of the group</h4>
              <dl class="kv">
                {Object.entries(a.detail).map(([k, v]) => (
                  <Fragment key={k}>
                    <dt>{k}</dt>
                    <dd class="mono">
                      {typeof v === 'number' ? String(Number(v.toFixed(6))) : typeof v === 'string' ? v : JSON.stringify(v)}
                    </dd>
                  </Fragment>
                ))}
              </dl>
            </>
          ) : null}
        </div>
        <div class="card" data-testid="alert-figure">
          <h3>Figure</h3>
          {ev && ev.figure ? (
            <>
              <p>
                <span class="muted">{ev.figure.metric || 'value'} </span>
                <strong>{fmtFigure(ev.figure.value, ev.figure.unit)}</strong>
                {ev.figure.band ? (
                  <span class="muted">
                    {' '}
                    normal {fmtFigure(ev.figure.band.low, ev.figure.unit)}–{fmtFigure(ev.figure.band.high, ev.figure.unit)}
                  </span>
                ) : ev.figure.threshold !== undefined && ev.figure.threshold !== null ? (
                  <span class="muted"> threshold {fmtFigure(ev.figure.threshold, ev.figure.unit)}</span>
                ) : null}
                <span class="muted small"> when it fired</span>
              </p>
              <FigureChart figure={ev.figure} windowEnd={ev.window_end} />
              <p class="muted small">
                window {timeOf(ev.window_start, utc)} → {timeOf(ev.window_end, utc)}
              </p>
            </>
          ) : (
            <p>
              <strong>{fmtFigure(a.value, unit)}</strong> <span class="muted">now</span>
            </p>
          )}
        </div>
      </div>
      {a.evidence_status === 'computing' ? <Loading what="Gathering the evidence" /> : null}
      {a.evidence_status === 'failed' ? <div class="notice notice-warn">The evidence of this alert could not be gathered (too many alerts fired at once).</div> : null}
      {a.evidence_status === 'none' || (!ev && a.state === 'pending') ? <div class="notice notice-muted">Evidence is gathered when the alert fires.</div> : null}
      {ev ? (
        <>
          {(ev.warnings || []).map((w, i) => (
            <div key={i} class="notice notice-warn">
              {w}
            </div>
          ))}
          <RootCauses evidence={ev} keep={keep} />
          <div class="grid-2">
            <Patterns patterns={ev.patterns || []} />
            <Changes changes={ev.changes} utc={utc} keep={keep} />
          </div>
        </>
      ) : null}
      <div class="card" data-testid="alert-history">
        <h3>History</h3>
        {history.length ? (
          <div class="table-wrap">
            <table class="data-table compact">
              <thead>
                <tr>
                  <th>Time</th>
                  <th>State</th>
                  <th class="num">Value</th>
                </tr>
              </thead>
              <tbody>
                {history.map((h, i) => (
                  <tr key={i}>
                    <td class="mono">{timeOf(h.at, utc)}</td>
                    <td>
                      <StateBadge state={h.state} />
                    </td>
                    <td class="num">{h.value === null || h.value === undefined ? '' : fmtFigure(h.value, unit)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <p class="muted small">No change recorded yet.</p>
        )}
      </div>
    </div>
  );
}
