// The rule editor (/rules/new, /rules/{name}/edit): a form per kind with the settings that kind
// takes (RuleSpec and check_settings_apply of the server), labels and annotations as rows, and
// the rule as raw JSON. It is checked as you type (POST /api/v1/rules/validate with a dry run,
// ~400 ms after the last change): each problem shows next to its field, with the column in
// queries and conditions, and the dry run says which groups would fire now. "Preview last 24 h"
// (POST /api/v1/rules/preview) charts what the rule would have done. Save is POST /api/v1/rules
// or PUT /api/v1/rules/{name}.
import { useEffect, useMemo, useState } from 'preact/hooks';
import * as api from '../api.js';
import { AlertingTabs, enc, fmtFigure, LabelChips, ProblemList, timeOf, valueText } from '../components/alerting.jsx';
import { EvalChart, groupName } from '../components/EvalChart.jsx';
import { ErrorBox, Loading, fmtPercent } from '../components/ui.jsx';
import { useLoad } from '../hooks.js';
import { Link, navigate } from '../router.jsx';
import { useSettings } from '../settings.js';
import { ruleUnit, specOf } from './Rules.jsx';

const KINDS = [
  ['threshold', 'threshold: a query result against a condition'],
  ['red', 'red: a RED figure of a service against a threshold'],
  ['baseline', 'baseline: a RED figure against its normal band'],
  ['pattern', 'pattern: a new or spiking log pattern'],
  ['absence', 'absence: a service that stopped sending'],
  ['slo', 'slo: burn rate of an availability or latency objective'],
];

const METRICS = ['error_rate', 'request_rate', 'errors', 'requests', 'latency_p50', 'latency_p90', 'latency_p95', 'latency_p99', 'log_errors', 'log_error_rate', 'record_rate'];

const ALL = null;

/**
 * Every setting of a rule: its type, the kinds that take it (ALL: every kind), and the hint of
 * the server's default. The kinds are those of check_settings_apply in the server's rule.rs.
 */
const FIELDS = [
  { key: 'query', label: 'Query', type: 'textarea', kinds: ['threshold', 'pattern'], wide: true, hint: (k) => (k === 'pattern' ? 'level:(warn OR error OR fatal)' : 'level:error | stats count() as n by service') },
  { key: 'condition', label: 'Condition', type: 'text', kinds: ['threshold'], wide: true, hint: () => 'n > 100', mono: true },
  { key: 'service', label: 'Service', type: 'text', kinds: ['red', 'baseline', 'absence', 'slo'], hint: () => '* (every service), a name, or a glob' },
  { key: 'operation', label: 'Operation', type: 'text', kinds: ['red', 'baseline', 'slo'], hint: () => "the service's requests" },
  { key: 'metric', label: 'Metric', type: 'select', options: METRICS, kinds: ['red', 'baseline'], empty: 'choose a metric' },
  { key: 'op', label: 'Comparison', type: 'select', options: ['>', '>=', '<', '<='], kinds: ['red'], empty: '> (default)' },
  { key: 'threshold', label: 'Threshold', type: 'number', kinds: ['red'], hint: () => 'e.g. 0.05 for 5 %' },
  { key: 'min_requests', label: 'Min requests', type: 'integer', kinds: ['red', 'baseline'], hint: (k) => (k === 'baseline' ? '20' : '0') },
  { key: 'sensitivity', label: 'Sensitivity', type: 'sensitivity', kinds: ['baseline'], hint: () => 'medium (low, medium, high, or σ)' },
  { key: 'direction', label: 'Direction', type: 'select', options: ['up', 'down', 'both'], kinds: ['baseline'], empty: 'up (default)' },
  { key: 'min_change', label: 'Min change', type: 'number', kinds: ['baseline'], hint: () => 'by metric: 0.05 of a rate, ×1.5 of a latency' },
  { key: 'weeks', label: 'Weeks of baseline', type: 'integer', kinds: ['baseline'], hint: () => '4' },
  { key: 'mode', label: 'Mode', type: 'select', options: ['new', 'spike'], kinds: ['pattern'], empty: 'new (default)' },
  { key: 'factor', label: 'Spike factor', type: 'number', kinds: ['pattern'], hint: () => '5' },
  { key: 'min_count', label: 'Min count', type: 'integer', kinds: ['pattern'], hint: () => '5' },
  { key: 'min_history', label: 'Min history', type: 'duration', kinds: ['pattern'], hint: () => '1h' },
  { key: 'absent_for', label: 'Absent for', type: 'duration', kinds: ['absence'], hint: () => '10m' },
  { key: 'history', label: 'Seen within', type: 'duration', kinds: ['absence'], hint: () => '2h' },
  { key: 'objective', label: 'Objective (%)', type: 'number', kinds: ['slo'], hint: () => '99.9' },
  { key: 'sli', label: 'SLI', type: 'select', options: ['availability', 'latency'], kinds: ['slo'], empty: 'availability (default)' },
  { key: 'latency_threshold', label: 'Latency threshold', type: 'duration', kinds: ['slo'], hint: () => '300ms (latency SLI)' },
  { key: 'window', label: 'SLO window', type: 'duration', kinds: ['slo'], hint: () => '30d' },
  { key: 'interval', label: 'Every', type: 'duration', kinds: ALL, timing: true, hint: () => '1m' },
  { key: 'lookback', label: 'Lookback', type: 'duration', kinds: ALL, timing: true, hint: (k) => (k === 'pattern' ? '10m' : k === 'slo' ? '1h' : '5m') },
  { key: 'delay', label: 'Delay', type: 'duration', kinds: ALL, timing: true, hint: () => '30s' },
  { key: 'for', label: 'Pending for', type: 'duration', kinds: ALL, timing: true, hint: () => '0s (fire at once)' },
  { key: 'keep_firing_for', label: 'Keep firing for', type: 'duration', kinds: ALL, timing: true, hint: () => '0s' },
  { key: 'policy', label: 'Policy', type: 'text', kinds: ALL, timing: true, hint: () => 'route by labels' },
];

const TOP_KEYS = ['name', 'kind', 'description', 'enabled', 'labels', 'annotations'];
const KNOWN = new Set([...TOP_KEYS, ...FIELDS.map((f) => f.key)]);

const applies = (f, kind) => f.kinds === ALL || f.kinds.includes(kind);

const DURATION = /^(?:\d+|(?:\d+(?:ms|s|m|h|d|w))+)$/;

/** The form's state of a rule's settings (every value as the text of its input). */
export function fromSpec(spec) {
  const text = (v) => (v === undefined || v === null ? '' : String(v));
  const form = { kind: text(spec.kind) || 'threshold', name: text(spec.name), description: text(spec.description), enabled: spec.enabled !== false, extra: {} };
  for (const f of FIELDS) {
    form[f.key] = '';
    if (spec[f.key] === undefined || spec[f.key] === null) continue;
    // A setting the kind does not take is kept as written, so the check names it.
    if (applies(f, form.kind)) form[f.key] = text(spec[f.key]);
    else form.extra[f.key] = spec[f.key];
  }
  const rows = (m) => (m && typeof m === 'object' ? Object.entries(m).map(([k, v]) => [k, text(v)]) : []);
  form.labels = rows(spec.labels);
  form.annotations = rows(spec.annotations);
  for (const [k, v] of Object.entries(spec)) if (!KNOWN.has(k)) form.extra[k] = v;
  return form;
}

const NEW_RULE = {
  name: '',
  kind: 'threshold',
  query: 'level:error | stats count() as n by service',
  condition: 'n > 100',
  labels: { severity: 'warning' },
  annotations: { summary: '{{ labels.service }}: {{ value | number }} errors in 5 minutes' },
};

function pairs(rows, field, spec, local) {
  const out = {};
  for (const [k, v] of rows) {
    const key = k.trim();
    if (!key) {
      if (v.trim()) local[field] = `a row of ${field} has a value but no name`;
      continue;
    }
    if (key in out) local[`${field}.${key}`] = 'given twice';
    out[key] = v;
  }
  if (Object.keys(out).length) spec[field] = out;
}

/** The rule's settings from the form, and the problems the browser sees itself (by field). */
export function toSpec(form) {
  const spec = { name: form.name, kind: form.kind };
  const local = {};
  if (!form.name.trim()) local.name = 'a rule needs a name';
  if (form.description.trim()) spec.description = form.description;
  if (!form.enabled) spec.enabled = false;
  for (const f of FIELDS) {
    if (!applies(f, form.kind)) continue;
    const raw = form[f.key] || '';
    const text = raw.trim();
    if (!text) continue;
    if (f.type === 'duration') {
      if (DURATION.test(text)) spec[f.key] = text;
      else local[f.key] = 'a duration such as 30s, 5m, 1h30m or 28d';
    } else if (f.type === 'number') {
      const n = Number(text);
      if (Number.isFinite(n)) spec[f.key] = n;
      else local[f.key] = 'a number';
    } else if (f.type === 'integer') {
      if (/^\d+$/.test(text)) spec[f.key] = Number(text);
      else local[f.key] = 'a whole number';
    } else if (f.type === 'sensitivity') {
      if (['low', 'medium', 'high'].includes(text)) spec[f.key] = text;
      else if (Number.isFinite(Number(text))) spec[f.key] = Number(text);
      else local[f.key] = 'low, medium, high, or a number of standard deviations';
    } else {
      spec[f.key] = f.type === 'textarea' ? raw : text;
    }
  }
  pairs(form.labels, 'labels', spec, local);
  pairs(form.annotations, 'annotations', spec, local);
  for (const [k, v] of Object.entries(form.extra || {})) if (!(k in spec)) spec[k] = v;
  return { spec, local };
}

/** The line of `text` a problem points at, with a caret under its column. */
function Caret({ text, column, message }) {
  const m = /\(line (\d+)\)/.exec(message || '');
  const line = (String(text).split('\n')[(m ? Number(m[1]) : 1) - 1] || '');
  const chars = [...line];
  const start = Math.max(0, column - 1 - 50);
  const shown = chars.slice(start, start + 100).join('');
  return <pre class="caret">{`${shown}\n${' '.repeat(Math.max(0, column - 1 - start))}^`}</pre>;
}

function FieldProblems({ field, problems, text }) {
  const mine = problems.filter((p) => p.field === field);
  if (!mine.length) return null;
  return (
    <div class="field-problems" data-testid={`problem-${field}`} role="alert">
      {mine.map((p, i) => (
        <div key={i} class="field-problem">
          {p.message}
          {p.column ? ` (column ${p.column})` : ''}
          {p.column && text ? <Caret text={text} column={p.column} message={p.message} /> : null}
        </div>
      ))}
    </div>
  );
}

function Field({ f, form, set, problems, readOnly }) {
  const id = `rule-${f.key}`;
  const value = form[f.key] || '';
  const bad = problems.some((p) => p.field === f.key);
  const common = { id, value, disabled: readOnly, 'aria-invalid': bad ? 'true' : undefined, 'data-testid': `field-${f.key}` };
  let input;
  if (f.type === 'select') {
    input = (
      <select {...common} onChange={(e) => set({ [f.key]: e.currentTarget.value })}>
        <option value="">{f.empty}</option>
        {f.options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    );
  } else if (f.type === 'textarea') {
    input = <textarea {...common} rows={3} class="mono" spellcheck={false} placeholder={f.hint(form.kind)} onInput={(e) => set({ [f.key]: e.currentTarget.value })} />;
  } else {
    input = (
      <input
        {...common}
        type="text"
        class={f.mono ? 'mono' : ''}
        list={f.type === 'sensitivity' ? 'sensitivities' : undefined}
        inputMode={f.type === 'number' ? 'decimal' : f.type === 'integer' ? 'numeric' : undefined}
        spellcheck={false}
        placeholder={f.hint(form.kind)}
        onInput={(e) => set({ [f.key]: e.currentTarget.value })}
      />
    );
  }
  return (
    <div class={`field ${f.wide ? 'field-wide' : ''} ${bad ? 'field-bad' : ''}`}>
      <label for={id}>
        {f.label} <span class="muted mono small">{f.key}</span>
      </label>
      {input}
      <FieldProblems field={f.key} problems={problems} text={f.type === 'textarea' || f.key === 'condition' ? value : null} />
    </div>
  );
}

/** Labels or annotations as name/value rows. */
function Pairs({ title, field, rows, onChange, problems, multiline, readOnly, suggestions }) {
  const mine = problems.filter((p) => p.field === field || p.field.startsWith(`${field}.`));
  return (
    <fieldset class="pairs" data-testid={`pairs-${field}`}>
      <legend>{title}</legend>
      {rows.map(([k, v], i) => (
        <div key={i} class="pair-row">
          <input
            type="text"
            class="mono pair-key"
            value={k}
            disabled={readOnly}
            placeholder="name"
            list={suggestions}
            aria-label={`${title}: name ${i + 1}`}
            onInput={(e) => onChange(rows.map((r, j) => (j === i ? [e.currentTarget.value, r[1]] : r)))}
          />
          {multiline ? (
            <textarea rows={1} value={v} disabled={readOnly} placeholder="value (a template)" aria-label={`${title}: value ${i + 1}`} onInput={(e) => onChange(rows.map((r, j) => (j === i ? [r[0], e.currentTarget.value] : r)))} />
          ) : (
            <input type="text" value={v} disabled={readOnly} placeholder="value" aria-label={`${title}: value ${i + 1}`} onInput={(e) => onChange(rows.map((r, j) => (j === i ? [r[0], e.currentTarget.value] : r)))} />
          )}
          <button type="button" class="btn btn-small btn-icon" disabled={readOnly} title="Remove" aria-label="Remove" onClick={() => onChange(rows.filter((_, j) => j !== i))}>
            ×
          </button>
        </div>
      ))}
      <button type="button" class="btn btn-small" disabled={readOnly} onClick={() => onChange([...rows, ['', '']])}>
        + Add
      </button>
      {mine.length ? (
        <div class="field-problems" data-testid={`problem-${field}`} role="alert">
          {mine.map((p, i) => (
            <div key={i} class="field-problem">
              {p.field !== field ? <span class="mono">{p.field.slice(field.length + 1)}: </span> : null}
              {p.message}
            </div>
          ))}
        </div>
      ) : null}
    </fieldset>
  );
}

/** The answer of the validation's dry run: the groups of the rule now and which would fire. */
function DryRun({ result, unit }) {
  const { utc } = useSettings();
  const samples = result.samples || [];
  return (
    <div class="dry-run" data-testid="dry-run">
      <p>
        Now: <strong>{result.groups}</strong> {result.groups === 1 ? 'group' : 'groups'}, <strong class={result.firing_now ? 'text-error' : ''}>{result.firing_now}</strong> would fire{' '}
        <span class="muted small">
          ({typeof result.took_ms === 'number' ? `${result.took_ms.toFixed(0)} ms, ` : ''}
          window {timeOf(result.start, utc)} → {timeOf(result.end, utc)})
        </span>
      </p>
      {(result.warnings || []).map((w, i) => (
        <div key={i} class="notice notice-warn">
          {w}
        </div>
      ))}
      {samples.length ? (
        <div class="table-wrap">
          <table class="data-table compact">
            <thead>
              <tr>
                <th>Group</th>
                <th class="num">Value</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {samples.slice(0, 50).map((s, i) => (
                <tr key={i} class={s.active ? 'row-bad' : ''}>
                  <td class="msg-cell">
                    <LabelChips labels={s.labels} />
                    {!Object.keys(s.labels || {}).length ? <span class="muted">(all)</span> : null}
                  </td>
                  <td class="num">{valueText(s, s.scope ? s.scope.unit : unit)}</td>
                  <td>{s.active ? <span class="badge badge-error">would fire</span> : <span class="muted small">ok</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {samples.length > 50 ? <p class="muted small">and {samples.length - 50} more groups</p> : null}
        </div>
      ) : null}
      {(result.slo || []).map((s, i) => (
        <p key={i} class="small">
          SLO of <strong>{s.service}</strong>
          {s.operation ? ` · ${s.operation}` : ''}: attained {s.attained === null || s.attained === undefined ? '—' : fmtPercent(s.attained, 3)}, budget left {s.budget_remaining === null || s.budget_remaining === undefined ? '—' : fmtPercent(s.budget_remaining, 0)}
        </p>
      ))}
    </div>
  );
}

function Preview({ spec, specText, unit, disabled }) {
  const { utc } = useSettings();
  const [state, setState] = useState({ busy: false, result: null, error: null, of: '' });
  const run = async () => {
    setState({ busy: true, result: null, error: null, of: specText });
    try {
      const rule = spec.name === '' ? { ...spec, name: 'new rule' } : spec;
      const result = await api.send('POST', '/api/v1/rules/preview', { rule, hours: 24 });
      setState({ busy: false, result, error: null, of: specText });
    } catch (error) {
      setState({ busy: false, result: null, error, of: specText });
    }
  };
  const r = state.result;
  return (
    <div class="card" data-testid="rule-preview">
      <div class="toolbar">
        <h3>Preview</h3>
        <button type="button" class="btn btn-small" onClick={run} disabled={disabled || state.busy} data-testid="preview-button">
          {state.busy ? 'Evaluating the last 24 h…' : 'Preview last 24 h'}
        </button>
        {r && state.of !== specText ? <span class="muted small">of an earlier version of the rule</span> : null}
      </div>
      {state.error ? (
        <>
          <ErrorBox error={state.error} title="Preview" />
          <ProblemList problems={state.error.problems} />
        </>
      ) : null}
      {r ? (
        <>
          <EvalChart points={r.evaluations} unit={unit} label="What the rule would have done over the last 24 hours" />
          {(r.warnings || []).map((w, i) => (
            <div key={i} class="notice notice-warn">
              {w}
            </div>
          ))}
          <h4>
            It would have fired {r.fired.length} {r.fired.length === 1 ? 'time' : 'times'}
          </h4>
          {r.fired.length ? (
            <div class="table-wrap">
              <table class="data-table compact" data-testid="preview-fired">
                <thead>
                  <tr>
                    <th>Group</th>
                    <th>From</th>
                    <th>To</th>
                    <th class="num">Highest</th>
                  </tr>
                </thead>
                <tbody>
                  {r.fired.map((f, i) => (
                    <tr key={i}>
                      <td class="msg-cell">{groupName(Object.fromEntries(Object.entries(f.labels || {}).filter(([k]) => k !== 'rule')))}</td>
                      <td class="mono">{timeOf(f.start, utc)}</td>
                      <td class="mono">{f.end ? timeOf(f.end, utc) : 'still firing'}</td>
                      <td class="num">{fmtFigure(f.max_value, unit)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
        </>
      ) : null}
    </div>
  );
}

/** `/rules/new` (`?from=NAME` copies a rule, `?kind=&service=` pre-fills) and `/rules/{name}/edit`. */
export function RuleEditorPage({ route, name }) {
  const editing = name !== null && name !== undefined;
  const from = editing ? name : route.params.get('from');
  const source = useLoad((signal) => (from ? api.get(`/api/v1/rules/${enc(from)}`, {}, { signal }) : Promise.resolve(null)), [from]);
  const [form, setForm] = useState(null);
  const [tab, setTab] = useState('form');
  const [jsonText, setJsonText] = useState('');
  const [jsonError, setJsonError] = useState(null);
  const [nameTouched, setNameTouched] = useState(false);
  const [check, setCheck] = useState({ busy: false, result: null, error: null, of: '' });
  const [save, setSave] = useState({ busy: false, error: null, of: '' });

  // The form starts from the rule being edited or copied, or from a new rule.
  useEffect(() => {
    if (form || source.loading) return;
    if (source.data) {
      const f = fromSpec(specOf(source.data));
      if (!editing) f.name = `${f.name} copy`;
      setForm(f);
    } else if (!from || source.error) {
      const kind = route.params.get('kind');
      const start = kind && KINDS.some(([k]) => k === kind) ? { name: '', kind, labels: { severity: 'warning' } } : NEW_RULE;
      const f = fromSpec(start);
      if (route.params.get('service')) f.service = route.params.get('service');
      setForm(f);
    }
  }, [source.loading, source.data, source.error]);

  const built = useMemo(() => (form ? toSpec(form) : null), [form]);
  const specText = built ? JSON.stringify(built.spec) : '';

  // Checked ~400 ms after the last change, with a dry run; a newer check aborts the older one.
  useEffect(() => {
    if (!built) return undefined;
    const controller = new AbortController();
    setCheck((c) => ({ ...c, busy: true }));
    const timer = setTimeout(async () => {
      // A rule without a name yet is checked (and dry-run) under a stand-in name.
      const rule = built.spec.name === '' ? { ...built.spec, name: 'new rule' } : built.spec;
      try {
        const result = await api.send('POST', '/api/v1/rules/validate', { rule, dry_run: true }, { signal: controller.signal });
        setCheck({ busy: false, result, error: null, of: specText });
      } catch (error) {
        if (error.name !== 'AbortError') setCheck({ busy: false, result: null, error, of: specText });
      }
    }, 400);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [specText]);

  const tabs = <AlertingTabs current="/rules" />;
  if (source.error && editing) return <div class="page">{tabs}<ErrorBox error={source.error} title="Rule" /></div>;
  if (!form) return <div class="page">{tabs}<Loading what="Loading the rule" /></div>;

  const readOnly = editing && source.data && source.data.source !== 'api';
  const set = (changes) => {
    setForm((f) => ({ ...f, ...changes }));
    if ('name' in changes) setNameTouched(true);
  };
  // Problems by field: the browser's own, the check's, and those of a refused save.
  const local = Object.entries(built.local).map(([field, message]) => ({ field, message }));
  const server = (check.result && check.result.problems) || [];
  const refused = save.error && save.of === specText ? save.error.problems : [];
  // A new rule's missing name is said once the name was typed into.
  const unnamed = form.name === '' && !nameTouched;
  const problems = [...local, ...server, ...refused].filter((p) => p.field !== 'name' || !unnamed);
  const shown = new Set([...TOP_KEYS, ...FIELDS.filter((f) => applies(f, form.kind)).map((f) => f.key)]);
  const elsewhere = problems.filter((p) => !shown.has(p.field) && !p.field.startsWith('labels.') && !p.field.startsWith('annotations.'));
  const checked = check.result && check.result.valid && check.of === specText;
  const unit = ruleUnit(built.spec);

  const submit = async (e) => {
    e.preventDefault();
    if (local.length || readOnly) return;
    setSave({ busy: true, error: null, of: specText });
    try {
      const view = editing ? await api.send('PUT', `/api/v1/rules/${enc(name)}`, built.spec) : await api.send('POST', '/api/v1/rules', built.spec);
      navigate(`/rules/${enc(view.name)}`);
    } catch (error) {
      setSave({ busy: false, error, of: specText });
    }
  };
  const kindFields = FIELDS.filter((f) => !f.timing && applies(f, form.kind));
  const timingFields = FIELDS.filter((f) => f.timing);

  return (
    <div class="page page-rule-editor" data-testid="rule-editor">
      {tabs}
      <div class="toolbar">
        <h1 class="alert-title">
          <Link href="/rules" class="muted">
            Rules
          </Link>{' '}
          / {editing ? <span class="rule-name">{name}</span> : 'New rule'}
          {editing ? <span class="muted"> / edit</span> : null}
        </h1>
        <div class="tabs editor-tabs" role="tablist">
          <button type="button" role="tab" class={`tab ${tab === 'form' ? 'active' : ''}`} aria-selected={tab === 'form'} onClick={() => setTab('form')}>
            Form
          </button>
          <button
            type="button"
            role="tab"
            class={`tab ${tab === 'json' ? 'active' : ''}`}
            aria-selected={tab === 'json'}
            data-testid="tab-json"
            onClick={() => {
              setJsonText(JSON.stringify(built.spec, null, 2));
              setJsonError(null);
              setTab('json');
            }}
          >
            JSON
          </button>
        </div>
      </div>
      {readOnly ? (
        <div class="notice notice-muted">
          This rule comes from <span class="mono">{source.data.source}</span>: change it in that file. <Link href={`/rules/new?from=${enc(name)}`}>Copy it as a new rule</Link>
        </div>
      ) : null}
      <div class="editor-grid">
        <form class="card rule-form" onSubmit={submit} data-testid="rule-form">
          {tab === 'json' ? (
            <div class="field field-wide">
              <label for="rule-json">The rule as JSON (the API's body)</label>
              <textarea
                id="rule-json"
                class="mono json-editor"
                rows={22}
                spellcheck={false}
                value={jsonText}
                disabled={readOnly}
                data-testid="rule-json"
                onInput={(e) => {
                  const text = e.currentTarget.value;
                  setJsonText(text);
                  try {
                    const value = JSON.parse(text);
                    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('the rule is a JSON object');
                    setForm(fromSpec(value));
                    setNameTouched(true);
                    setJsonError(null);
                  } catch (err) {
                    setJsonError(err.message);
                  }
                }}
              />
              {jsonError ? <div class="field-problem">{jsonError}</div> : null}
            </div>
          ) : (
            <>
              <div class="fields fields-2">
                <div class="field">
                  <label for="rule-name">
                    Name <span class="muted mono small">name</span>
                  </label>
                  <input id="rule-name" type="text" value={form.name} readOnly={editing} disabled={readOnly} data-testid="field-name" onInput={(e) => set({ name: e.currentTarget.value })} />
                  <FieldProblems field="name" problems={problems} />
                </div>
                <div class="field">
                  <label for="rule-kind">
                    Kind <span class="muted mono small">kind</span>
                  </label>
                  <select id="rule-kind" value={form.kind} disabled={readOnly} data-testid="field-kind" onChange={(e) => set({ kind: e.currentTarget.value })}>
                    {KINDS.map(([k, text]) => (
                      <option key={k} value={k}>
                        {text}
                      </option>
                    ))}
                  </select>
                  <FieldProblems field="kind" problems={problems} />
                </div>
                <div class="field field-wide">
                  <label for="rule-description">
                    Description <span class="muted mono small">description</span>
                  </label>
                  <input id="rule-description" type="text" value={form.description} disabled={readOnly} onInput={(e) => set({ description: e.currentTarget.value })} />
                </div>
                <label class="check field-wide">
                  <input type="checkbox" checked={form.enabled} disabled={readOnly} onChange={(e) => set({ enabled: e.currentTarget.checked })} /> enabled
                </label>
              </div>
              <fieldset>
                <legend>What it watches</legend>
                <div class="fields">
                  {kindFields.map((f) => (
                    <Field key={f.key} f={f} form={form} set={set} problems={problems} readOnly={readOnly} />
                  ))}
                </div>
              </fieldset>
              <fieldset>
                <legend>Timing and routing</legend>
                <div class="fields">
                  {timingFields.map((f) => (
                    <Field key={f.key} f={f} form={form} set={set} problems={problems} readOnly={readOnly} />
                  ))}
                </div>
              </fieldset>
              <Pairs title="Labels" field="labels" rows={form.labels} onChange={(labels) => set({ labels })} problems={problems} readOnly={readOnly} />
              <Pairs title="Annotations" field="annotations" rows={form.annotations} onChange={(annotations) => set({ annotations })} problems={problems} readOnly={readOnly} multiline suggestions="annotation-names" />
              {Object.keys(form.extra).length ? <p class="muted small">Also set (in the JSON): {Object.keys(form.extra).join(', ')}</p> : null}
            </>
          )}
          <datalist id="sensitivities">
            <option value="low" />
            <option value="medium" />
            <option value="high" />
          </datalist>
          <datalist id="annotation-names">
            <option value="summary" />
            <option value="description" />
            <option value="runbook_url" />
          </datalist>
          <div class="form-actions">
            <button type="submit" class="btn btn-primary" disabled={readOnly || save.busy || local.length > 0} data-testid="save-rule">
              {save.busy ? 'Saving…' : editing ? 'Save' : 'Create'}
            </button>
            <Link class="btn" href={editing ? `/rules/${enc(name)}` : '/rules'}>
              Cancel
            </Link>
            {save.error && !save.error.problems.length ? <ErrorBox error={save.error} title="Save" /> : null}
            {save.error && save.error.problems.length ? <span class="text-error">Not saved: see the problems.</span> : null}
          </div>
        </form>
        <div class="card rule-check" data-testid="rule-check" aria-live="polite">
          <h3>
            Check {check.busy ? <span class="muted small">checking…</span> : null}
          </h3>
          {check.error ? <ErrorBox error={check.error} title="Check" /> : null}
          {problems.length ? (
            <p class="text-error" data-testid="check-invalid">
              {problems.length} {problems.length === 1 ? 'problem' : 'problems'}, shown next to their fields.
            </p>
          ) : checked ? (
            <p class="text-ok" data-testid="check-valid">
              The rule is valid{form.name === '' ? '; give it a name to save it' : ''}.
            </p>
          ) : null}
          <ProblemList problems={elsewhere} testid="problems-other" />
          {check.result && check.result.result && check.of === specText ? <DryRun result={check.result.result} unit={unit} /> : null}
        </div>
      </div>
      <Preview spec={built.spec} specText={specText} unit={unit} disabled={local.some((p) => p.field !== 'name')} />
    </div>
  );
}
