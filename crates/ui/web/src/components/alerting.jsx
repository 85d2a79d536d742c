// Small pieces shared by the alerting pages and the service pages: figures in their unit,
// alert states, label chips, the alerting sub-navigation. Everything from the server is
// rendered as text; a link is made of a URL only when it is http(s) or a path of this UI.
import { href, Link } from '../router.jsx';
import { formatTime } from '../time.js';

/** A figure in its unit, as notifications write it: `41%`, `3.50s`, `2.5/s`, `1.2k`. */
export function fmtFigure(x, unit) {
  if (x === null || x === undefined || !Number.isFinite(Number(x))) return '—';
  const n = Number(x);
  if (unit === 'ratio') {
    const p = n * 100;
    return `${p.toFixed(Math.abs(p) >= 10 ? 0 : Math.abs(p) >= 1 ? 1 : 2)}%`;
  }
  if (unit === 'ms') {
    if (n >= 10000) return `${(n / 1000).toFixed(1)}s`;
    if (n >= 1000) return `${(n / 1000).toFixed(2)}s`;
    return `${n.toFixed(n >= 10 ? 0 : 1)}ms`;
  }
  const a = Math.abs(n);
  let text;
  if (a >= 1e9) text = `${(n / 1e9).toFixed(1)}G`;
  else if (a >= 1e6) text = `${(n / 1e6).toFixed(1)}M`;
  else if (a >= 1e4) text = `${(n / 1e3).toFixed(1)}k`;
  else if (Number.isInteger(n) || a >= 100) text = n.toFixed(0);
  else text = String(Number(n.toFixed(2)));
  return unit === 'per_second' ? `${text}/s` : text;
}

/** The unit of each RED metric (`Metric::unit` of the server). */
export const METRIC_UNITS = {
  error_rate: 'ratio',
  log_error_rate: 'ratio',
  request_rate: 'per_second',
  record_rate: 'per_second',
  errors: 'count',
  requests: 'count',
  log_errors: 'count',
  latency_p50: 'ms',
  latency_p90: 'ms',
  latency_p95: 'ms',
  latency_p99: 'ms',
};

/** "value 41% · threshold > 5%" or "· normal 0.1%–2.0%" of an alert or a sample. */
export function valueText(a, unit) {
  const u = unit ?? (a.scope && a.scope.unit);
  let text = fmtFigure(a.value, u);
  if (a.band) text += ` · normal ${fmtFigure(a.band.low, u)}–${fmtFigure(a.band.high, u)}`;
  else if (a.threshold !== undefined && a.threshold !== null) text += ` · threshold ${fmtFigure(a.threshold, u)}`;
  return text;
}

/** A span of time for a human: 45s, 12m, 3h 05m, 2d 4h. */
export function fmtSpan(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** An RFC 3339 time of the API as the UI shows times; '' when absent. */
export function timeOf(text, utc, withMs = false) {
  if (!text) return '';
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? String(text) : formatTime(ms, utc, withMs);
}

/** Milliseconds between two RFC 3339 times of the API (the server's clock, not the browser's). */
export function between(from, to) {
  const a = Date.parse(from);
  const b = Date.parse(to);
  return Number.isNaN(a) || Number.isNaN(b) ? null : b - a;
}

/** When an alert's state began, and for how long it has held (by the server's clock). */
export function alertSince(a) {
  if (a.state === 'firing') return { label: 'firing since', at: a.fired_at, span: between(a.fired_at, a.last_eval) };
  if (a.state === 'pending') return { label: 'pending since', at: a.active_since, span: between(a.active_since, a.last_eval) };
  return { label: 'resolved at', at: a.resolved_at, span: between(a.fired_at, a.resolved_at), lasted: true };
}

export function StateBadge({ state }) {
  const s = String(state || '');
  return <span class={`badge alert-state alert-state-${/^[a-z_]+$/.test(s) ? s : 'unknown'}`}>{s || '—'}</span>;
}

/** Labels as `name=value` chips, in the server's (sorted) order. */
export function LabelChips({ labels, skip = [] }) {
  const entries = Object.entries(labels || {}).filter(([k]) => !skip.includes(k));
  if (!entries.length) return null;
  return (
    <span class="label-chips">
      {entries.map(([k, v]) => (
        <span key={k} class="chip label-chip">
          <span class="muted">{k}=</span>
          {v}
        </span>
      ))}
    </span>
  );
}

/** An http(s) URL of annotation text (a runbook), or null: other schemes are never links. */
export function httpUrl(text) {
  try {
    const u = new URL(String(text));
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

export const enc = encodeURIComponent;

const TABS = [
  ['/alerts', 'Alerts'],
  ['/rules', 'Rules'],
  ['/silences', 'Silences'],
  ['/contact-points', 'Contact points'],
  ['/policies', 'Policies'],
  ['/notifications', 'Notifications'],
];

/** The sections of alerting, above each of its pages. */
export function AlertingTabs({ current }) {
  return (
    <nav class="subnav" aria-label="Alerting">
      {TABS.map(([path, label]) => (
        <Link key={path} href={path} class={`subnav-link ${current === path ? 'active' : ''}`} aria-current={current === path ? 'page' : undefined}>
          {label}
        </Link>
      ))}
    </nav>
  );
}

/** A link of this UI to the search (query and range) of a search URL the server built for
 * `{public_url}/search?q=…`, so it opens here whatever public URL the server was given. */
export function searchLink(url, fallbackQuery) {
  try {
    const u = new URL(String(url), location.origin);
    const p = u.searchParams;
    return href('/search', { q: p.get('q') ?? fallbackQuery, from: p.get('from'), to: p.get('to') });
  } catch {
    return href('/search', { q: fallbackQuery });
  }
}

/** Problems of a refused object as a list: `field: message (column n)`. */
export function ProblemList({ problems, testid }) {
  if (!problems || !problems.length) return null;
  return (
    <ul class="problems" data-testid={testid}>
      {problems.map((p, i) => (
        <li key={i}>
          {p.file ? <span class="mono">{p.file}{p.line ? `:${p.line}` : ''}: </span> : null}
          {p.field ? <span class="mono">{p.field}: </span> : null}
          {p.message}
          {p.column ? <span class="muted"> (column {p.column})</span> : null}
        </li>
      ))}
    </ul>
  );
}
