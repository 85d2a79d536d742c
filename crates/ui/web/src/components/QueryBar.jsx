// The query input with autocomplete: field names, operators, top values of a field (from the
// fields API) and saved queries.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import * as api from '../api.js';
import { OPERATORS, PIPES, quoteValue, tokenAt } from '../querylang.js';

const fieldCache = new Map();

/** The range to the minute: fields are not fetched again for every millisecond of "now". */
function rangeKey(bounds) {
  return `${Math.floor(Date.parse(bounds.start) / 60e3)}|${Math.floor(Date.parse(bounds.end) / 60e3)}`;
}

async function loadFields(bounds) {
  const key = rangeKey(bounds);
  if (!fieldCache.has(key)) {
    fieldCache.set(
      key,
      api.get('/api/v1/fields', bounds).then(
        (a) => a.fields || [],
        (e) => {
          fieldCache.delete(key);
          throw e;
        },
      ),
    );
  }
  return fieldCache.get(key);
}

export function QueryBar({ value, onChange, onSubmit, bounds, saved = [], placeholder, testId = 'query' }) {
  const input = useRef(null);
  const [open, setOpen] = useState(false);
  const [caret, setCaret] = useState(0);
  const [fields, setFields] = useState([]);
  const [values, setValues] = useState({ field: null, list: [] });
  const [active, setActive] = useState(-1);
  const { start, token } = tokenAt(value, caret);
  const negate = token.startsWith('-') ? '-' : '';
  const bare = negate ? token.slice(1) : token;
  const colon = bare.indexOf(':');
  const field = colon > 0 ? bare.slice(0, colon) : null;
  const valuePrefix = colon > 0 ? bare.slice(colon + 1).replace(/^"/, '') : '';

  useEffect(() => {
    if (!open) return;
    loadFields(bounds).then(setFields, () => setFields([]));
  }, [open, rangeKey(bounds)]);

  useEffect(() => {
    if (!open || !field) return undefined;
    const controller = new AbortController();
    const timer = setTimeout(() => {
      api
        .get(`/api/v1/fields/${api.enc(field)}/values`, { prefix: valuePrefix, limit: 12, ...bounds }, { signal: controller.signal })
        .then((a) => setValues({ field, list: a.values || [] }), () => setValues({ field, list: [] }));
    }, 120);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [open, field, valuePrefix]);

  const suggestions = useMemo(() => {
    const out = [];
    if (field) {
      for (const v of values.field === field ? values.list : []) {
        out.push({ kind: 'value', label: `${negate}${field}:${quoteValue(v.value)}`, insert: `${negate}${field}:${quoteValue(v.value)} `, hint: `${v.count}` });
      }
      return out;
    }
    if (bare.startsWith('|')) {
      for (const p of PIPES) out.push({ kind: 'pipe', label: p.text, insert: `${p.text} `, hint: p.hint });
      return out;
    }
    const lower = bare.toLowerCase();
    if (!token.trim()) {
      for (const s of saved.filter((s) => !value.trim() || s.name.toLowerCase().includes(value.trim().toLowerCase())).slice(0, 5)) {
        out.push({ kind: 'saved', label: s.name, replaceAll: s.query, hint: s.query });
      }
    }
    const matching = fields
      .filter((f) => f.name.toLowerCase().startsWith(lower))
      .concat(lower ? fields.filter((f) => !f.name.toLowerCase().startsWith(lower) && f.name.toLowerCase().includes(lower)) : [])
      .slice(0, 12);
    for (const f of matching) out.push({ kind: 'field', label: `${negate}${f.name}:`, insert: `${negate}${f.name}:`, hint: f.kind, keepOpen: true });
    if (lower) {
      for (const o of OPERATORS) if (o.text.toLowerCase().startsWith(lower) && o.text.toLowerCase() !== lower) out.push({ kind: 'op', label: o.text, insert: `${o.text} `, hint: o.hint });
    } else if (value.trim()) {
      for (const o of OPERATORS) out.push({ kind: 'op', label: o.text, insert: `${o.text} `, hint: o.hint });
      out.push({ kind: 'pipe', label: '|', insert: '| ', hint: 'pipe: stats, where, fields…', keepOpen: true });
    }
    return out;
  }, [field, values, fields, bare, token, value, saved]);

  useEffect(() => setActive(-1), [token, suggestions.length]);

  function accept(s) {
    let next;
    let pos;
    if (s.replaceAll !== undefined) {
      next = s.replaceAll;
      pos = next.length;
    } else {
      next = value.slice(0, start) + s.insert + value.slice(caret);
      pos = start + s.insert.length;
    }
    onChange(next);
    setCaret(pos);
    requestAnimationFrame(() => {
      if (input.current) {
        input.current.focus();
        input.current.setSelectionRange(pos, pos);
      }
    });
    if (!s.keepOpen) setOpen(s.replaceAll === undefined);
    if (s.replaceAll !== undefined) onSubmit(next);
  }

  const show = open && suggestions.length > 0;
  return (
    <div class="querybar">
      <input
        ref={input}
        class="query-input"
        data-testid={testId}
        type="search"
        spellcheck={false}
        autocomplete="off"
        autocapitalize="off"
        placeholder={placeholder || 'service:payment level:error "결제 실패" -health'}
        aria-label="Query"
        aria-autocomplete="list"
        aria-expanded={show}
        value={value}
        onInput={(e) => {
          onChange(e.currentTarget.value);
          setCaret(e.currentTarget.selectionStart || 0);
          setOpen(true);
        }}
        onFocus={(e) => {
          setCaret(e.currentTarget.selectionStart || 0);
          setOpen(true);
        }}
        onClick={(e) => setCaret(e.currentTarget.selectionStart || 0)}
        onKeyUp={(e) => {
          if (e.key === 'ArrowLeft' || e.key === 'ArrowRight' || e.key === 'Home' || e.key === 'End') setCaret(e.currentTarget.selectionStart || 0);
        }}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
        onKeyDown={(e) => {
          if (show && e.key === 'ArrowDown') {
            e.preventDefault();
            setActive((a) => (a + 1) % suggestions.length);
          } else if (show && e.key === 'ArrowUp') {
            e.preventDefault();
            setActive((a) => (a <= 0 ? suggestions.length - 1 : a - 1));
          } else if (show && e.key === 'Tab') {
            e.preventDefault();
            accept(suggestions[Math.max(0, active)]);
          } else if (e.key === 'Escape') {
            setOpen(false);
          } else if (e.key === 'Enter') {
            e.preventDefault();
            if (show && active >= 0) accept(suggestions[active]);
            else {
              setOpen(false);
              onSubmit(value);
            }
          }
        }}
      />
      {show ? (
        <ul class="suggestions" role="listbox" data-testid="suggestions">
          {suggestions.map((s, i) => (
            <li
              key={`${s.kind}:${s.label}`}
              role="option"
              aria-selected={i === active}
              class={`suggestion ${i === active ? 'active' : ''}`}
              onMouseDown={(e) => {
                e.preventDefault();
                accept(s);
              }}
            >
              <span class={`sg-kind sg-${s.kind}`}>{s.kind}</span>
              <span class="sg-label">{s.label}</span>
              <span class="sg-hint">{s.hint}</span>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
