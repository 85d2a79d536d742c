// Time ranges (relative presets or absolute bounds, as they appear in the URL) and formatting.

export const PRESETS = ['5m', '15m', '1h', '6h', '24h', '7d'];
export const DEFAULT_FROM = '15m';

const UNIT_MS = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

export function relativeMs(text) {
  const m = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(String(text || '').trim());
  return m ? Number(m[1]) * UNIT_MS[m[2]] : null;
}

/** The range of the URL: `from` (a preset such as 15m, or a time) and `to` (empty: now). */
export function rangeOf(params) {
  return { from: params.get('from') || DEFAULT_FROM, to: params.get('to') || '' };
}

function parseBound(text, now) {
  const rel = relativeMs(text);
  if (rel !== null) return now - rel;
  if (/^\d+$/.test(text)) return Number(text);
  const t = Date.parse(text);
  return Number.isNaN(t) ? null : t;
}

/** Absolute bounds in milliseconds, resolved against `now`. */
export function resolve(range, now = Date.now()) {
  const end = range.to ? parseBound(range.to, now) ?? now : now;
  const start = parseBound(range.from, now) ?? end - 15 * 60e3;
  return { start: Math.min(start, end - 1000), end };
}

/** The bounds the API takes (RFC 3339), resolved now so every request of a view agrees. */
export function apiBounds(range, now = Date.now()) {
  const { start, end } = resolve(range, now);
  return { start: new Date(start).toISOString(), end: new Date(end).toISOString() };
}

export function describeRange(range, utc) {
  if (!range.to && relativeMs(range.from) !== null) return `Last ${range.from}`;
  const { start, end } = resolve(range);
  return `${formatTime(start, utc, false)} → ${range.to ? formatTime(end, utc, false) : 'now'}`;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** `2026-11-22 03:04:05.123` in local time, or with a trailing Z in UTC. */
export function formatTime(ms, utc, withMs = true) {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return '';
  const [y, mo, da, h, mi, s, ml] = utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()];
  return `${y}-${pad(mo)}-${pad(da)} ${pad(h)}:${pad(mi)}:${pad(s)}${withMs ? `.${pad(ml, 3)}` : ''}${utc ? 'Z' : ''}`;
}

/** The value of a `datetime-local` input for a time. */
export function toInputValue(ms, utc) {
  return formatTime(ms, utc, false).replace(' ', 'T').replace('Z', '');
}

/** A `datetime-local` value back to milliseconds. */
export function fromInputValue(value, utc) {
  if (!value) return null;
  const t = utc ? Date.parse(`${value}Z`) : new Date(value).getTime();
  return Number.isNaN(t) ? null : t;
}

export function nsToMs(ns) {
  return Number(ns) / 1e6;
}

/** A duration in nanoseconds for a human: 812 µs, 45.2 ms, 3.10 s, 2m 05s. */
export function formatDuration(ns) {
  const n = Number(ns);
  if (!Number.isFinite(n)) return '';
  const a = Math.abs(n);
  if (a < 1e3) return `${n} ns`;
  if (a < 1e6) return `${(n / 1e3).toFixed(a < 1e4 ? 1 : 0)} µs`;
  if (a < 1e9) return `${(n / 1e6).toFixed(a < 1e7 ? 2 : 1)} ms`;
  if (a < 60e9) return `${(n / 1e9).toFixed(2)} s`;
  const s = Math.round(n / 1e9);
  return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
}

export function formatMs(ms) {
  return ms === null || ms === undefined ? '—' : formatDuration(ms * 1e6);
}

/** Widths of `bin(time, …)` the histogram chooses from, as the query language writes them. */
export const BIN_WIDTHS = [
  ['5s', 5e3],
  ['10s', 10e3],
  ['30s', 30e3],
  ['1m', 60e3],
  ['5m', 300e3],
  ['10m', 600e3],
  ['30m', 1800e3],
  ['1h', 3600e3],
  ['3h', 10800e3],
  ['1d', 86400e3],
];

/**
 * The narrowest width giving at most `most` buckets over `spanMs` (about 60 to 120 for the
 * presets: 15m → 10s, 1h → 30s, 6h → 5m, 24h → 30m, 7d → 3h); 1d beyond that.
 */
export function binWidth(spanMs, most = 120) {
  const [text, ms] = BIN_WIDTHS.find(([, w]) => spanMs / w <= most) || BIN_WIDTHS[BIN_WIDTHS.length - 1];
  return { text, ms };
}
