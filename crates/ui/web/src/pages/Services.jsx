// Every service with its rate, errors, p95 latency, record volume and a sparkline, most unusual
// now first (the API's order); services with firing alerts are marked.
import { useEffect, useMemo, useState } from 'preact/hooks';
import * as api from '../api.js';
import { Chart } from '../components/Chart.jsx';
import { Empty, ErrorBox, Loading, fmtNumber, fmtPercent, fmtRate } from '../components/ui.jsx';
import { useLoad } from '../hooks.js';
import { href, Link } from '../router.jsx';
import { apiBounds, formatMs, rangeOf, resolve } from '../time.js';

/** Sparklines come from each service's series; the first ones are fetched, a few at a time. */
const SPARKLINES = 30;
const PARALLEL = 3;

function stepFor(bounds) {
  const minutes = Math.max(1, (Date.parse(bounds.end) - Date.parse(bounds.start)) / 60e3);
  return `${Math.max(1, Math.ceil(minutes / 30))}m`;
}

function Sparkline({ series, errorSeries }) {
  const data = useMemo(() => [series.map((p) => p.time_ns / 1e9), series.map((p) => p.request_rate), errorSeries], [series]);
  return (
    <Chart
      className="sparkline"
      data={data}
      height={28}
      label="Requests and errors over the range"
      build={(colors) => ({
        legend: { show: false },
        cursor: { show: false },
        axes: [{ show: false }, { show: false }],
        scales: { x: { time: true } },
        padding: [2, 0, 2, 0],
        series: [{}, { stroke: colors.accent, width: 1.2, fill: `${colors.accent}22`, points: { show: false } }, { stroke: colors.error, width: 1.2, points: { show: false } }],
      })}
    />
  );
}

export function ServicesPage({ route }) {
  const range = rangeOf(route.params);
  const keep = { from: route.params.get('from'), to: route.params.get('to') };
  const [filter, setFilter] = useState('');
  const [sort, setSort] = useState('unusual');
  const bounds = useMemo(() => apiBounds(range), [range.from, range.to]);
  const list = useLoad((signal) => api.get('/api/v1/services', { ...bounds, sort }, { signal }), [bounds, sort]);
  // Firing alerts per service; without alerting (or on an error) no service is marked.
  const firing = useLoad(
    (signal) =>
      api.get('/api/v1/alerts', { state: 'firing' }, { signal }).then((d) => {
        const n = {};
        for (const a of d.alerts || []) if (a.labels && a.labels.service) n[a.labels.service] = (n[a.labels.service] || 0) + 1;
        return n;
      }),
    [bounds],
  );
  const [sparks, setSparks] = useState({});
  useEffect(() => {
    setSparks({});
    if (!list.data) return undefined;
    const controller = new AbortController();
    const names = list.data.services.slice(0, SPARKLINES).map((s) => s.name);
    let next = 0;
    const step = stepFor(bounds);
    const worker = async () => {
      while (next < names.length && !controller.signal.aborted) {
        const name = names[next++];
        try {
          const d = await api.get(`/api/v1/services/${encodeURIComponent(name)}`, { ...bounds, step, messages: 1 }, { signal: controller.signal });
          if (d.series) setSparks((s) => ({ ...s, [name]: d.series }));
        } catch {
          // a sparkline is decoration: the row stays without one
        }
      }
    };
    for (let i = 0; i < PARALLEL; i++) worker();
    return () => controller.abort();
  }, [list.data]);
  const services = ((list.data && list.data.services) || []).filter((s) => !filter || s.name.toLowerCase().includes(filter.toLowerCase()));
  return (
    <div class="page page-services">
      <div class="toolbar">
        <h1>Services</h1>
        <input type="search" class="query-input narrow" placeholder="Filter services" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} aria-label="Filter services" />
        <label class="muted">
          sort{' '}
          <select value={sort} onChange={(e) => setSort(e.currentTarget.value)} aria-label="Sort">
            <option value="unusual">most unusual now</option>
            <option value="errors">error rate</option>
            <option value="rate">request rate</option>
            <option value="name">name</option>
          </select>
        </label>
      </div>
      {list.error ? <ErrorBox error={list.error} title="Services" /> : null}
      {list.loading && !list.data ? <Loading what="Loading services" /> : null}
      {list.data && !services.length ? <Empty>No service sent spans or records in this range.</Empty> : null}
      {services.length ? (
        <div class="table-wrap">
          <table class="data-table services-table" data-testid="services-table">
            <thead>
              <tr>
                <th>Service</th>
                <th class="num">Requests</th>
                <th class="num">Errors</th>
                <th class="num">p95</th>
                <th class="num hide-phone">Records</th>
                <th class="spark-col">Over the range</th>
                <th class="num hide-phone" title="How far the service is from its baseline (the window just before)">Unusual</th>
              </tr>
            </thead>
            <tbody>
              {services.map((s) => {
                const series = sparks[s.name];
                const delta = s.deviation && s.deviation.error_rate_delta;
                return (
                  <tr key={s.name} data-testid="service-row" class={s.error_rate > 0.05 ? 'row-bad' : ''}>
                    <td>
                      <Link href={href(`/services/${encodeURIComponent(s.name)}`, keep)} class="service-name">
                        {s.name}
                      </Link>
                      {firing.data && firing.data[s.name] ? (
                        <Link href={href('/alerts', { service: s.name })} class="badge badge-error badge-firing" data-testid="service-firing" title="Firing alerts of this service">
                          {firing.data[s.name]} firing
                        </Link>
                      ) : null}
                    </td>
                    <td class="num">{fmtRate(s.request_rate)}</td>
                    <td class={`num ${s.error_rate > 0.01 ? 'text-error' : ''}`}>
                      {fmtPercent(s.error_rate)}
                      {delta > 0.005 ? <span class="delta up"> +{fmtPercent(delta)}</span> : null}
                    </td>
                    <td class="num">{s.latency_ms ? formatMs(s.latency_ms.p95) : '—'}</td>
                    <td class="num hide-phone">{fmtNumber(s.records && s.records.total)}</td>
                    <td class="spark-col">{series ? <Sparkline series={series} errorSeries={series.map((p) => p.request_rate * p.error_rate)} /> : <span class="muted small">{list.data.services.indexOf(s) < SPARKLINES ? '…' : ''}</span>}</td>
                    <td class="num hide-phone">{fmtNumber(s.unusual, 2)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
      {list.data && (list.data.warnings || []).map((w, i) => <div key={i} class="notice notice-warn">{w}</div>)}
    </div>
  );
}
