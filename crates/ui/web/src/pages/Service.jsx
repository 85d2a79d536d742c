// One service: its firing alerts and SLOs (error budget left, burn rates), rate, errors and
// latency percentiles over time, its operations, top error messages, callers and callees, and
// the versions seen.
import { useMemo } from 'preact/hooks';
import * as api from '../api.js';
import { Chart, axes } from '../components/Chart.jsx';
import { Empty, ErrorBox, Loading, fmtNumber, fmtPercent, fmtRate } from '../components/ui.jsx';
import { useLoad } from '../hooks.js';
import { href, Link } from '../router.jsx';
import { useSettings } from '../settings.js';
import { apiBounds, formatMs, formatTime, rangeOf } from '../time.js';
import { quoteValue } from '../querylang.js';
import { alertSince, fmtSpan, timeOf, valueText } from '../components/alerting.jsx';

function stepFor(bounds) {
  const minutes = Math.max(1, (Date.parse(bounds.end) - Date.parse(bounds.start)) / 60e3);
  return `${Math.max(1, Math.ceil(minutes / 120))}m`;
}

function SeriesChart({ title, series, lines, format }) {
  const data = useMemo(() => [series.map((p) => p.time_ns / 1e9), ...lines.map((l) => series.map(l.value))], [series]);
  return (
    <div class="card">
      <h3>{title}</h3>
      <Chart
        data={data}
        height={150}
        label={title}
        build={(colors) => ({
          legend: { show: lines.length > 1, live: false },
          scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max, 1e-9) * 1.1] } },
          axes: axes(colors, { y: { values: (u, v) => v.map(format) } }),
          series: [{}, ...lines.map((l) => ({ label: l.label, stroke: colors[l.color] || l.color, width: 1.5, fill: l.fill ? `${colors[l.color]}22` : undefined, points: { show: false } }))],
        })}
      />
    </div>
  );
}

/** The service's firing alerts (GET /api/v1/alerts?state=firing&service=). */
function FiringAlerts({ alerts, utc }) {
  return (
    <div class="card" data-testid="service-alerts">
      <h3>Firing alerts</h3>
      {alerts.error ? <p class="muted small">Alerts are not available: {alerts.error.message}</p> : null}
      {alerts.data && !alerts.data.alerts.length ? <p class="muted small">No firing alert.</p> : null}
      {alerts.data && alerts.data.alerts.length ? (
        <ul class="plain">
          {alerts.data.alerts.map((a) => {
            const since = alertSince(a);
            return (
              <li key={a.fingerprint} class="service-alert">
                <span class="badge alert-state alert-state-firing">firing</span>{' '}
                <Link href={`/alerts/${encodeURIComponent(a.fingerprint)}`}>{(a.annotations && a.annotations.summary) || a.rule}</Link>{' '}
                <span class="muted small">
                  {valueText(a)} · since {timeOf(since.at, utc)}
                  {since.span !== null ? ` (${fmtSpan(since.span)})` : ''}
                </span>
              </li>
            );
          })}
        </ul>
      ) : null}
    </div>
  );
}

function budgetClass(left) {
  if (left === null || left === undefined) return '';
  if (left < 0.2) return 'budget-low';
  if (left < 0.5) return 'budget-mid';
  return 'budget-ok';
}

/** The service's SLOs (GET /api/v1/slos?service=): error budget left over the window, burn rates. */
function Slos({ slos, name }) {
  const items = (slos.data && slos.data.slos) || [];
  return (
    <div class="card" data-testid="service-slos">
      <h3>SLOs</h3>
      {slos.error ? <p class="muted small">SLOs are not available: {slos.error.message}</p> : null}
      {slos.data && !items.length ? (
        <p class="muted small">
          No SLO covers this service. <Link href={href('/rules/new', { kind: 'slo', service: name })}>Add one</Link>
        </p>
      ) : null}
      {items.map((o, i) => {
        const left = o.budget_remaining;
        return (
          <div key={i} class="slo" data-testid="slo">
            <div>
              <Link href={`/rules/${encodeURIComponent(o.rule)}`}>
                <strong>{o.rule}</strong>
              </Link>{' '}
              <span class="muted small">
                {o.operation ? `${o.operation} · ` : ''}
                {o.sli} {fmtPercent(o.objective, 2)} over {o.window}
              </span>
            </div>
            <div class="share">
              <div class="share-bar budget-bar">
                <span class={`share-fill ${budgetClass(left)}`} style={{ width: `${left === null || left === undefined ? 0 : Math.max(0, Math.min(100, left * 100))}%` }} />
              </div>
              <span class={left !== null && left !== undefined && left < 0 ? 'text-error' : ''}>{left === null || left === undefined ? 'no requests yet' : `${fmtPercent(left, 0)} of the error budget left`}</span>
            </div>
            <div class="muted small">
              attained {o.attained === null || o.attained === undefined ? '—' : fmtPercent(o.attained, 3)} ({fmtNumber(o.bad)} bad of {fmtNumber(o.total)}) · burn rate 1h{' '}
              <span class={o.burn_rate_1h > 14.4 ? 'text-error' : ''}>{o.burn_rate_1h === null || o.burn_rate_1h === undefined ? '—' : `${o.burn_rate_1h.toFixed(1)}×`}</span>, 6h{' '}
              <span class={o.burn_rate_6h > 6 ? 'text-error' : ''}>{o.burn_rate_6h === null || o.burn_rate_6h === undefined ? '—' : `${o.burn_rate_6h.toFixed(1)}×`}</span>
            </div>
          </div>
        );
      })}
    </div>
  );
}

function Neighbours({ title, list, keep }) {
  return (
    <div class="card">
      <h3>{title}</h3>
      {list && list.length ? (
        <table class="data-table compact">
          <thead>
            <tr>
              <th>Service</th>
              <th class="num">Calls</th>
              <th class="num">Errors</th>
              <th class="num">p95</th>
            </tr>
          </thead>
          <tbody>
            {list.map((n) => (
              <tr key={n.service}>
                <td>
                  <Link href={href(`/services/${encodeURIComponent(n.service)}`, keep)} class="service-name">
                    {n.service}
                  </Link>
                </td>
                <td class="num">{fmtRate(n.call_rate)}</td>
                <td class={`num ${n.error_rate > 0.01 ? 'text-error' : ''}`}>{fmtPercent(n.error_rate)}</td>
                <td class="num">{n.latency_ms ? formatMs(n.latency_ms.p95) : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="muted small">none seen</p>
      )}
    </div>
  );
}

export function ServicePage({ route, name }) {
  const { utc } = useSettings();
  const range = rangeOf(route.params);
  const keep = { from: route.params.get('from'), to: route.params.get('to') };
  const bounds = useMemo(() => apiBounds(range), [range.from, range.to]);
  const detail = useLoad((signal) => api.get(`/api/v1/services/${encodeURIComponent(name)}`, { ...bounds, step: stepFor(bounds), messages: 10 }, { signal }), [name, bounds]);
  // Versions: the API has no per-service list, so the newest records of the service are counted.
  const versions = useLoad(async (signal) => {
    const a = await api.get('/api/v1/search', { query: `service:${quoteValue(name)}`, ...bounds, limit: 2000 }, { signal });
    const counts = new Map();
    for (const r of a.records) {
      const v = (r.resource && r.resource['service.version']) || (r.attributes && r.attributes['service.version']);
      if (v !== undefined) counts.set(String(v), (counts.get(String(v)) || 0) + 1);
    }
    return { sampled: a.records.length, list: [...counts.entries()].sort((x, y) => y[1] - x[1]) };
  }, [name, bounds]);
  const alerts = useLoad((signal) => api.get('/api/v1/alerts', { state: 'firing', service: name }, { signal }), [name]);
  const slos = useLoad((signal) => api.get('/api/v1/slos', { service: name }, { signal }), [name]);
  const d = detail.data;
  const svcQuery = `service:${quoteValue(name)}`;
  return (
    <div class="page page-service">
      <div class="toolbar">
        <h1>
          <Link href={href('/services', keep)} class="muted">
            Services
          </Link>{' '}
          / <span class="service-name">{name}</span>
        </h1>
        <Link class="btn btn-small" href={href('/search', { q: svcQuery, ...keep })}>
          Records
        </Link>
        <Link class="btn btn-small" href={href('/search', { q: `${svcQuery} level:error`, ...keep })}>
          Errors
        </Link>
        <Link class="btn btn-small" href={href('/why', { q: svcQuery, ...keep })}>
          Why
        </Link>
      </div>
      <div class="grid-2">
        <FiringAlerts alerts={alerts} utc={utc} />
        <Slos slos={slos} name={name} />
      </div>
      {detail.error ? <ErrorBox error={detail.error} title="Service" /> : null}
      {detail.loading && !d ? <Loading what="Loading the service" /> : null}
      {d && d.instrumented === false ? <div class="notice notice-warn">This service sends no spans or records: it is known only from its callers.</div> : null}
      {d && d.summary ? (
        <>
          <div class="stat-cards">
            <div class="stat">
              <span class="stat-label">Requests</span>
              <span class="stat-value">{fmtRate(d.summary.request_rate)}</span>
              <span class="muted small">{fmtNumber(d.summary.requests)} in range</span>
            </div>
            <div class="stat">
              <span class="stat-label">Errors</span>
              <span class={`stat-value ${d.summary.error_rate > 0.01 ? 'text-error' : ''}`}>{fmtPercent(d.summary.error_rate)}</span>
              <span class="muted small">baseline {fmtPercent(d.summary.baseline && d.summary.baseline.error_rate)}</span>
            </div>
            <div class="stat">
              <span class="stat-label">p95 latency</span>
              <span class="stat-value">{d.summary.latency_ms ? formatMs(d.summary.latency_ms.p95) : '—'}</span>
              <span class="muted small">p50 {d.summary.latency_ms ? formatMs(d.summary.latency_ms.p50) : '—'} · p99 {d.summary.latency_ms ? formatMs(d.summary.latency_ms.p99) : '—'}</span>
            </div>
            <div class="stat">
              <span class="stat-label">Records</span>
              <span class="stat-value">{fmtNumber(d.summary.records && d.summary.records.total)}</span>
              <span class="muted small">{fmtNumber(d.summary.records && d.summary.records.ERROR)} errors</span>
            </div>
          </div>
          <div class="grid-2">
            <SeriesChart
              title="Request rate"
              series={d.series}
              format={(v) => fmtRate(v)}
              lines={[
                { label: 'requests/s', value: (p) => p.request_rate, color: 'accent', fill: true },
                { label: 'errors/s', value: (p) => p.request_rate * p.error_rate, color: 'error' },
              ]}
            />
            <SeriesChart title="Error rate" series={d.series} format={(v) => fmtPercent(v, 0)} lines={[{ label: 'error rate', value: (p) => p.error_rate, color: 'error', fill: true }]} />
            <SeriesChart
              title="Latency"
              series={d.series}
              format={(v) => formatMs(v)}
              lines={[
                { label: 'p50', value: (p) => (p.latency_ms ? p.latency_ms.p50 : null), color: 'ok' },
                { label: 'p95', value: (p) => (p.latency_ms ? p.latency_ms.p95 : null), color: 'warn' },
                { label: 'p99', value: (p) => (p.latency_ms ? p.latency_ms.p99 : null), color: 'error' },
              ]}
            />
            <div class="card">
              <h3>Versions seen</h3>
              {versions.loading ? <Loading /> : null}
              {versions.error ? <ErrorBox error={versions.error} /> : null}
              {versions.data ? (
                versions.data.list.length ? (
                  <ul class="plain">
                    {versions.data.list.map(([v, n]) => (
                      <li key={v}>
                        <Link href={href('/search', { q: `${svcQuery} service.version:${quoteValue(v)}`, ...keep })} class="mono">
                          {v}
                        </Link>{' '}
                        <span class="muted">{fmtNumber(n)} records</span>
                      </li>
                    ))}
                  </ul>
                ) : (
                  <p class="muted small">no service.version in the newest {versions.data.sampled} records</p>
                )
              ) : null}
              {versions.data && versions.data.list.length ? <p class="muted small">in the newest {fmtNumber(versions.data.sampled)} records</p> : null}
            </div>
          </div>
          <div class="card">
            <h3>Top error messages {d.error_messages ? <span class="muted small">({fmtNumber(d.error_messages.total)} errors)</span> : null}</h3>
            {d.error_messages && d.error_messages.groups.length ? (
              <table class="data-table compact">
                <thead>
                  <tr>
                    <th>Message</th>
                    <th class="num">Count</th>
                    <th class="hide-phone">Last seen</th>
                  </tr>
                </thead>
                <tbody>
                  {d.error_messages.groups.map((m, i) => (
                    <tr key={i}>
                      <td class="msg-cell" title={m.example}>
                        {m.message}
                      </td>
                      <td class="num">{fmtNumber(m.count)}</td>
                      <td class="mono muted hide-phone">{formatTime(Date.parse(m.last_seen), utc, false)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : (
              <Empty>No error message in this range.</Empty>
            )}
          </div>
          <div class="card">
            <h3>Operations</h3>
            <div class="table-wrap">
              <table class="data-table compact">
                <thead>
                  <tr>
                    <th>Operation</th>
                    <th class="hide-phone">Kind</th>
                    <th class="num">Rate</th>
                    <th class="num">Errors</th>
                    <th class="num">p95</th>
                  </tr>
                </thead>
                <tbody>
                  {(d.operations || []).map((o) => (
                    <tr key={`${o.name}/${o.kind}`}>
                      <td>{o.name}</td>
                      <td class="muted hide-phone">{o.kind}</td>
                      <td class="num">{fmtRate(o.request_rate)}</td>
                      <td class={`num ${o.error_rate > 0.01 ? 'text-error' : ''}`}>{fmtPercent(o.error_rate)}</td>
                      <td class="num">{o.latency_ms ? formatMs(o.latency_ms.p95) : '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </div>
        </>
      ) : null}
      {d ? (
        <div class="grid-2">
          <Neighbours title="Callers" list={d.callers} keep={keep} />
          <Neighbours title="Callees" list={d.callees} keep={keep} />
        </div>
      ) : null}
    </div>
  );
}
