// Silences: matchers and a time span during which matching alerts are not notified
// (GET /api/v1/silences); add one (POST /api/v1/silences, pre-filled from an alert's labels by
// `?new=1&matcher=…`), expire one (DELETE /api/v1/silences/{id}).
import { useEffect, useMemo, useState } from 'preact/hooks';
import * as api from '../api.js';
import { AlertingTabs, enc, ProblemList, timeOf } from '../components/alerting.jsx';
import { Empty, ErrorBox, Loading } from '../components/ui.jsx';
import { useLoad } from '../hooks.js';
import { Link, setParams } from '../router.jsx';
import { updateSettings, useSettings } from '../settings.js';
import { fromInputValue, toInputValue } from '../time.js';

const DURATIONS = ['30m', '1h', '2h', '4h', '8h', '1d', '3d', '7d'];
const EXPIRED_SHOWN = 20;

/** A matcher as the server reads it: `name=value`, `!=`, `=~` (regex), `!~`; the value may be quoted. */
export function parseMatcher(text) {
  const t = String(text).trim();
  const at = t.search(/[=!]/);
  if (at <= 0) return null;
  const name = t.slice(0, at).trim();
  const rest = t.slice(at);
  const op = ['=~', '!~', '!=', '='].find((o) => rest.startsWith(o));
  if (!op) return null;
  let value = rest.slice(op.length).trim();
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    try {
      value = JSON.parse(value);
    } catch {
      value = value.slice(1, -1);
    }
  }
  if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) return null;
  let regex = null;
  if (op === '=~' || op === '!~') {
    try {
      regex = new RegExp(`^(?:${value})$`);
    } catch {
      return null;
    }
  }
  return { name, op, value, regex };
}

/** Whether a matcher selects an alert's labels (a missing label reads as ''). */
export function matches(m, labels) {
  const v = (labels && labels[m.name]) ?? '';
  if (m.op === '=') return v === m.value;
  if (m.op === '!=') return v !== m.value;
  if (m.op === '=~') return m.regex.test(v);
  return !m.regex.test(v);
}

function SilenceForm({ initial, onCreated, onCancel }) {
  const settings = useSettings();
  const [matchers, setMatchers] = useState(initial.matchers.length ? initial.matchers : ['']);
  const [mode, setMode] = useState('duration');
  const [duration, setDuration] = useState('2h');
  const [until, setUntil] = useState(toInputValue(Date.now() + 2 * 3600e3, settings.utc));
  const [author, setAuthor] = useState(settings.user);
  const [comment, setComment] = useState(initial.comment || '');
  const [state, setState] = useState({ busy: false, error: null });
  // The alerts it would silence now, checked in the browser as the server matches them.
  const alerts = useLoad((signal) => api.get('/api/v1/alerts', { state: 'firing,pending' }, { signal }), []);
  const parsed = matchers.filter((m) => m.trim()).map((m) => [m, parseMatcher(m)]);
  const bad = parsed.filter(([, m]) => !m).map(([t]) => t);
  const affected = useMemo(() => {
    if (!alerts.data || bad.length || !parsed.length) return null;
    return alerts.data.alerts.filter((a) => parsed.every(([, m]) => matches(m, a.labels)));
  }, [alerts.data, matchers]);
  const submit = async (e) => {
    e.preventDefault();
    setState({ busy: true, error: null });
    const body = { matchers: parsed.map(([t]) => t.trim()), created_by: author.trim(), comment };
    if (mode === 'duration') body.duration = duration.trim();
    else {
      const ms = fromInputValue(until, settings.utc);
      body.ends_at = ms === null ? until : new Date(ms).toISOString();
    }
    try {
      const s = await api.send('POST', '/api/v1/silences', body);
      if (author.trim()) updateSettings({ user: author.trim() });
      setState({ busy: false, error: null });
      onCreated(s);
    } catch (error) {
      setState({ busy: false, error });
    }
  };
  return (
    <form class="card silence-form" onSubmit={submit} data-testid="silence-form">
      <h3>New silence</h3>
      <fieldset class="pairs">
        <legend>Matchers: every one must match (e.g. service=payment-service, severity=~"warn.*")</legend>
        {matchers.map((m, i) => (
          <div key={i} class="pair-row">
            <input
              type="text"
              class="mono"
              value={m}
              placeholder='name="value"'
              aria-label={`Matcher ${i + 1}`}
              data-testid="silence-matcher"
              onInput={(e) => setMatchers(matchers.map((x, j) => (j === i ? e.currentTarget.value : x)))}
            />
            <button type="button" class="btn btn-small btn-icon" title="Remove" aria-label="Remove" onClick={() => setMatchers(matchers.filter((_, j) => j !== i))}>
              ×
            </button>
          </div>
        ))}
        <button type="button" class="btn btn-small" onClick={() => setMatchers([...matchers, ''])}>
          + Matcher
        </button>
        {bad.length ? <div class="field-problem">Not a matcher: {bad.join(', ')}</div> : null}
        {affected ? (
          <p class="muted small" data-testid="silence-affected">
            Matches {affected.length} of the {alerts.data.alerts.length} firing or pending alerts now
            {affected.length ? `: ${affected.slice(0, 5).map((a) => (a.annotations && a.annotations.summary) || a.rule).join('; ')}${affected.length > 5 ? '; …' : ''}` : ''}.
          </p>
        ) : null}
      </fieldset>
      <div class="fields">
        <div class="field">
          <span class="label-text">Ends</span>
          <div class="row">
            <select value={mode} onChange={(e) => setMode(e.currentTarget.value)} aria-label="End by duration or time">
              <option value="duration">after</option>
              <option value="until">at</option>
            </select>
            {mode === 'duration' ? (
              <input type="text" list="silence-durations" value={duration} onInput={(e) => setDuration(e.currentTarget.value)} aria-label="Duration" />
            ) : (
              <input type="datetime-local" step="1" value={until} onInput={(e) => setUntil(e.currentTarget.value)} aria-label="End time" />
            )}
          </div>
          <datalist id="silence-durations">
            {DURATIONS.map((d) => (
              <option key={d} value={d} />
            ))}
          </datalist>
        </div>
        <div class="field">
          <label for="silence-author">Created by</label>
          <input id="silence-author" type="text" required value={author} onInput={(e) => setAuthor(e.currentTarget.value)} data-testid="silence-author" />
        </div>
        <div class="field field-wide">
          <label for="silence-comment">Comment</label>
          <input id="silence-comment" type="text" value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
        </div>
      </div>
      <div class="form-actions">
        <button type="submit" class="btn btn-primary" disabled={state.busy || !parsed.length || bad.length > 0 || !author.trim()} data-testid="silence-submit">
          Silence
        </button>
        <button type="button" class="btn" onClick={onCancel}>
          Cancel
        </button>
      </div>
      {state.error ? (
        <>
          <ErrorBox error={state.error} title="Not silenced" />
          <ProblemList problems={state.error.problems} />
        </>
      ) : null}
    </form>
  );
}

function SilenceRow({ s, utc, onExpired }) {
  const [error, setError] = useState(null);
  return (
    <tr data-testid="silence-row" class={`silence-${s.status}`}>
      <td>
        <span class={`badge silence-status-${/^[a-z]+$/.test(s.status) ? s.status : 'x'}`}>{s.status}</span>
      </td>
      <td class="msg-cell">
        {s.matchers.map((m, i) => (
          <span key={i} class="chip mono label-chip">
            {m}
          </span>
        ))}
      </td>
      <td class="mono hide-phone">{timeOf(s.starts_at, utc)}</td>
      <td class="mono">{timeOf(s.ends_at, utc)}</td>
      <td>{s.created_by}</td>
      <td class="msg-cell hide-phone">{s.comment}</td>
      <td>
        {s.status !== 'expired' ? (
          <button
            type="button"
            class="btn btn-small"
            data-testid="silence-expire"
            onClick={async () => {
              try {
                await api.send('DELETE', `/api/v1/silences/${enc(s.id)}`);
                onExpired();
              } catch (e) {
                setError(e);
              }
            }}
          >
            Expire
          </button>
        ) : null}
        <ErrorBox error={error} />
      </td>
    </tr>
  );
}

export function SilencesPage({ route }) {
  const { utc } = useSettings();
  const list = useLoad((signal) => api.get('/api/v1/silences', {}, { signal }), []);
  const prefill = route.params.get('new') === '1';
  const [formOpen, setFormOpen] = useState(prefill);
  const [allExpired, setAllExpired] = useState(false);
  useEffect(() => {
    if (prefill) setFormOpen(true);
  }, [prefill]);
  const initial = { matchers: route.params.getAll('matcher'), comment: route.params.get('comment') || '' };
  const silences = (list.data && list.data.silences) || [];
  const order = ['active', 'pending', 'expired'];
  const sorted = [...silences].sort((a, b) => order.indexOf(a.status) - order.indexOf(b.status));
  const expired = sorted.filter((s) => s.status === 'expired');
  const shown = allExpired ? sorted : sorted.filter((s) => s.status !== 'expired').concat(expired.slice(0, EXPIRED_SHOWN));
  const closeForm = () => {
    setFormOpen(false);
    if (prefill) setParams({ new: '', matcher: '', comment: '' }, { replace: true });
  };
  return (
    <div class="page page-silences" data-testid="silences-page">
      <AlertingTabs current="/silences" />
      <div class="toolbar">
        <h1>Silences</h1>
        {!formOpen ? (
          <button type="button" class="btn btn-small btn-primary" onClick={() => setFormOpen(true)} data-testid="new-silence">
            New silence
          </button>
        ) : null}
      </div>
      <p class="muted small">A silenced alert still fires and shows here; it is not notified until the silence ends.</p>
      {formOpen ? (
        <SilenceForm
          key={initial.matchers.join('\n')}
          initial={initial}
          onCreated={() => {
            closeForm();
            list.reload();
          }}
          onCancel={closeForm}
        />
      ) : null}
      {list.error ? <ErrorBox error={list.error} title="Silences" /> : null}
      {list.loading && !list.data ? <Loading what="Loading silences" /> : null}
      {list.data && !silences.length ? <Empty>No silence. An alert's page has a "Silence…" button that fills the matchers in.</Empty> : null}
      {shown.length ? (
        <div class="table-wrap">
          <table class="data-table" data-testid="silences-table">
            <thead>
              <tr>
                <th>Status</th>
                <th>Matchers</th>
                <th class="hide-phone">Starts</th>
                <th>Ends</th>
                <th>By</th>
                <th class="hide-phone">Comment</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {shown.map((s) => (
                <SilenceRow key={s.id} s={s} utc={utc} onExpired={list.reload} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {!allExpired && expired.length > EXPIRED_SHOWN ? (
        <button type="button" class="btn btn-small" onClick={() => setAllExpired(true)}>
          Show all {expired.length} expired
        </button>
      ) : null}
      <p class="muted small">
        Alerts: <Link href="/alerts">see which fire</Link>.
      </p>
    </div>
  );
}
