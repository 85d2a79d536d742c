// Helpers over trawl's query syntax (`field:value`, `"phrases"`, `-negation`, `| pipes`).

const NAME = /^[\p{L}\p{N}_.@][\p{L}\p{N}_.@-]*$/u;

/** Whether `name` can be written as `name:value` (letters, digits, `_ . - @`). */
export function isFieldName(name) {
  return NAME.test(name);
}

/** A value as the parser reads it: bare when it is one plain word, else quoted. */
export function quoteValue(value) {
  const s = String(value);
  if (s !== '' && !/[\s"()|\\]/.test(s) && !s.endsWith('*')) return s;
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function fieldTerm(name, value, negate = false) {
  return `${negate ? '-' : ''}${name}:${quoteValue(value)}`;
}

/**
 * The index of the first top-level `|` (outside quotes and `/regex/` values, as the parser reads
 * them), or -1. Everything before it is the search part.
 */
export function pipeIndex(query) {
  let quoted = false;
  for (let i = 0; i < query.length; i++) {
    const c = query[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '/' && query[i - 1] === ':') {
      // field:/regex/ may hold `|`: skip to its closing slash.
      for (i++; i < query.length && query[i] !== '/'; i++) if (query[i] === '\\') i++;
    } else if (c === '|') return i;
  }
  return -1;
}

export function hasPipe(query) {
  return pipeIndex(query) >= 0;
}

/** The search part of a query: the text before its first pipe. */
export function searchPart(query) {
  const i = pipeIndex(query || '');
  return (i < 0 ? query || '' : query.slice(0, i)).trim();
}

/** Pipes whose answer is a table rather than records (see docs/query-language.md). */
export const TABLE_PIPES = ['stats', 'top', 'fields', 'traces', 'patterns'];

/** The names of a query's pipes, lowercase, read as the first word after each top-level `|`. */
export function pipeNames(query) {
  const names = [];
  let rest = query || '';
  for (let i = pipeIndex(rest); i >= 0; i = pipeIndex(rest)) {
    rest = rest.slice(i + 1);
    names.push(((/^\s*([A-Za-z]+)/.exec(rest) || [])[1] || '').toLowerCase());
  }
  return names;
}

/** The last pipe that makes a table (`stats`, `top`, …), which gives the table its shape, or null. */
export function tablePipe(query) {
  return pipeNames(query).filter((n) => TABLE_PIPES.includes(n)).pop() || null;
}

/** Whether a query has a pipe that makes a table; the server's `kind` has the last word. */
export function makesTable(query) {
  return tablePipe(query) !== null;
}

/** Adds a term to the search part of a query (before any pipe). */
export function addTerm(query, term) {
  const q = query || '';
  const i = pipeIndex(q);
  if (i < 0) return `${q.trim()} ${term}`.trim();
  return `${q.slice(0, i).trim()} ${term} ${q.slice(i)}`.trim();
}

/** The word being typed at `caret`: its start, and the text from there to the caret. */
export function tokenAt(text, caret) {
  let start = caret;
  let quotes = 0;
  for (let i = 0; i < caret; i++) if (text[i] === '"') quotes++;
  while (start > 0) {
    const c = text[start - 1];
    if (quotes % 2 === 0 && (/\s/.test(c) || c === '(' || c === ')')) break;
    if (c === '"' && quotes % 2 === 1 && text[start - 2] !== ':' && /\s/.test(text[start - 2] || ' ')) break;
    start--;
  }
  return { start, token: text.slice(start, caret) };
}

export const OPERATORS = [
  { text: 'AND', hint: 'both terms (the default between terms)' },
  { text: 'OR', hint: 'either term' },
  { text: 'NOT', hint: 'exclude the next term' },
];

export const PIPES = [
  { text: '| stats count() by service', hint: 'counts per service' },
  { text: '| stats count() by level, bin(time, 1m)', hint: 'counts per level and minute' },
  { text: '| stats p50(duration_ms), p95(duration_ms) by service', hint: 'latency per service' },
  { text: '| top 10 service', hint: 'the most frequent values of a field' },
  { text: '| patterns', hint: 'message templates of the matches' },
  { text: '| traces', hint: 'every record and span of the matched traces' },
];

/** The core fields every record has (the fields API adds the attributes). */
export const CORE_FIELDS = ['service', 'level', 'host', 'environment', 'trace_id', 'span_id', 'body'];
