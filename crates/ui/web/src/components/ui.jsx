// Small shared pieces. Everything from the data is rendered as text nodes (JSX children), never
// as HTML.
import { useState } from 'preact/hooks';

export const LEVELS = ['FATAL', 'ERROR', 'WARN', 'INFO', 'DEBUG', 'TRACE'];

export function Level({ level }) {
  const l = String(level || '').toUpperCase();
  return <span class={`level level-${LEVELS.includes(l) ? l.toLowerCase() : 'unknown'}`}>{l || '—'}</span>;
}

export function ErrorBox({ error, title }) {
  if (!error) return null;
  return (
    <div class="notice notice-error" role="alert">
      {title ? <strong>{title}: </strong> : null}
      {String(error.message || error)}
    </div>
  );
}

export function Loading({ what = 'Loading' }) {
  return <div class="notice notice-muted" aria-busy="true">{what}…</div>;
}

export function Empty({ children }) {
  return <div class="notice notice-muted">{children}</div>;
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Not a secure context (http on another host): the older way.
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'offscreen';
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}

export function CopyButton({ text, label = 'Copy', title }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="btn btn-small"
      title={title || 'Copy to the clipboard'}
      onClick={async (e) => {
        e.stopPropagation();
        if (await copyText(typeof text === 'function' ? text() : text)) {
          setDone(true);
          setTimeout(() => setDone(false), 1200);
        }
      }}
    >
      {done ? 'Copied' : label}
    </button>
  );
}

export function fmtNumber(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  const a = Math.abs(n);
  if (a >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return Number(n).toFixed(digits);
}

export function fmtPercent(x, digits = 1) {
  if (x === null || x === undefined || Number.isNaN(x)) return '—';
  return `${(x * 100).toFixed(digits)}%`;
}

export function fmtRate(perSecond) {
  if (perSecond === null || perSecond === undefined) return '—';
  if (perSecond >= 1 || perSecond === 0) return `${fmtNumber(perSecond, perSecond < 10 ? 1 : 0)}/s`;
  return `${fmtNumber(perSecond * 60, 1)}/min`;
}

/** Renders any JSON value as indented text. */
export function JsonView({ value }) {
  return <pre class="json">{JSON.stringify(value, null, 2)}</pre>;
}

/** A formatted time whose date part hides on narrow screens. */
export function TimeText({ text }) {
  const i = text.indexOf(' ');
  return (
    <span class="mono muted time-text">
      <span class="date-part">{text.slice(0, i + 1)}</span>
      {text.slice(i + 1)}
    </span>
  );
}
