// Where notifications go: contact points (GET|POST /api/v1/contact-points, PUT|DELETE
// /api/v1/contact-points/{name}, POST …/{name}/test), the routing tree and inhibition rules
// (GET|PUT /api/v1/policies), and the outbox of notifications with their delivery state
// (GET /api/v1/notifications). Secrets read `<redacted>` and are sent back unchanged, which
// keeps them; objects from rule files are shown read-only, naming their file.
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import * as api from '../api.js';
import { AlertingTabs, enc, LabelChips, ProblemList, timeOf } from '../components/alerting.jsx';
import { Empty, ErrorBox, JsonView, Loading } from '../components/ui.jsx';
import { useLoad } from '../hooks.js';
import { Link } from '../router.jsx';
import { useSettings } from '../settings.js';

const REDACTED = '<redacted>';

/**
 * The settings of each kind of contact point (contact_point.rs of the server): `required`
 * settings are always sent, `secret` ones are redacted by the server.
 */
const CHANNELS = {
  slack: [
    { key: 'webhook_url', secret: true, hint: 'https://hooks.slack.com/services/… (or a bot token)' },
    { key: 'token', secret: true, hint: 'xoxb-… (instead of a webhook URL)' },
    { key: 'channel', hint: '#payments (needed with a token)' },
    { key: 'api_url', hint: 'https://slack.com/api' },
    { key: 'username' },
    { key: 'icon_emoji' },
    { key: 'mention', hint: '<!here> or <@U024BE7LH>' },
  ],
  email: [
    { key: 'to', type: 'list', required: true, hint: 'oncall@example.com, team@example.com' },
    { key: 'from', required: true, hint: 'trawl@example.com' },
    { key: 'smtp_host', required: true, hint: 'smtp.example.com' },
    { key: 'smtp_port', type: 'integer', hint: '587 (465 with tls, 25 with none)' },
    { key: 'tls', type: 'select', options: ['starttls', 'opportunistic', 'tls', 'none'] },
    { key: 'username' },
    { key: 'password', secret: true },
  ],
  pagerduty: [
    { key: 'routing_key', secret: true, required: true, hint: 'the integration key of a PagerDuty service' },
    { key: 'url', hint: 'https://events.pagerduty.com/v2/enqueue' },
  ],
  webhook: [
    { key: 'url', required: true, hint: 'https://example.com/hooks/trawl' },
    { key: 'secret', secret: true, hint: 'signs the body with HMAC-SHA256' },
    { key: 'headers', type: 'map' },
  ],
  alertmanager: [
    { key: 'url', required: true, hint: 'http://alertmanager:9093' },
    { key: 'username' },
    { key: 'password', secret: true },
  ],
  teams: [{ key: 'webhook_url', secret: true, required: true }],
  discord: [{ key: 'webhook_url', secret: true, required: true }],
  telegram: [
    { key: 'bot_token', secret: true, required: true },
    { key: 'chat_id', required: true },
    { key: 'api_url', hint: 'https://api.telegram.org' },
  ],
  opsgenie: [
    { key: 'api_key', secret: true, required: true },
    { key: 'api_url', hint: 'https://api.opsgenie.com (api.eu.opsgenie.com in the EU)' },
  ],
  console: [],
};

const COMMON = ['name', 'kind', 'send_resolved', 'title_template', 'text_template', 'source', 'version'];

/** A refused save: the server's problems as a list (their field only names the object), or its reason. */
function Refused({ error, title }) {
  if (!error) return null;
  if (!error.problems.length) return <ErrorBox error={error} title={title} />;
  return (
    <div class="notice notice-error" role="alert">
      <strong>{title}:</strong>
      <ProblemList problems={error.problems.map((p) => ({ message: p.message }))} />
    </div>
  );
}

function formOf(item) {
  const values = {};
  let headers = [];
  for (const [k, v] of Object.entries(item || {})) {
    if (COMMON.includes(k)) continue;
    if (k === 'headers' && v && typeof v === 'object') headers = Object.entries(v).map(([h, x]) => [h, String(x)]);
    else if (Array.isArray(v)) values[k] = v.join(', ');
    else values[k] = v === null || v === undefined ? '' : String(v);
  }
  return {
    name: (item && item.name) || '',
    kind: (item && item.kind) || 'webhook',
    send_resolved: !item || item.send_resolved !== false,
    title_template: (item && item.title_template) || '',
    text_template: (item && item.text_template) || '',
    values,
    headers,
  };
}

/** The API's body of a contact point from the form; problems the browser sees itself. */
function bodyOf(form) {
  const body = { name: form.name.trim(), kind: form.kind, send_resolved: form.send_resolved };
  const problems = [];
  if (form.title_template.trim()) body.title_template = form.title_template;
  if (form.text_template.trim()) body.text_template = form.text_template;
  for (const f of CHANNELS[form.kind] || []) {
    if (f.type === 'map') {
      const rows = form.headers.filter(([k]) => k.trim());
      if (rows.length) body[f.key] = Object.fromEntries(rows.map(([k, v]) => [k.trim(), v]));
      continue;
    }
    const text = (form.values[f.key] || '').trim();
    if (f.type === 'list') {
      const list = text.split(/[,\n]/).map((x) => x.trim()).filter(Boolean);
      if (list.length || f.required) body[f.key] = list;
    } else if (f.type === 'integer') {
      if (!text) continue;
      if (/^\d+$/.test(text)) body[f.key] = Number(text);
      else problems.push({ field: f.key, message: 'a whole number' });
    } else if (text || f.required) {
      body[f.key] = text;
    }
  }
  return { body, problems };
}

function ContactPointForm({ item, kinds, onSaved, onCancel }) {
  const editing = Boolean(item);
  const [form, setForm] = useState(() => formOf(item));
  const [state, setState] = useState({ busy: false, error: null });
  const set = (changes) => setForm((f) => ({ ...f, ...changes }));
  const setValue = (key, value) => setForm((f) => ({ ...f, values: { ...f.values, [key]: value } }));
  const { body, problems } = bodyOf(form);
  const submit = async (e) => {
    e.preventDefault();
    if (problems.length) return;
    setState({ busy: true, error: null });
    try {
      const saved = editing ? await api.send('PUT', `/api/v1/contact-points/${enc(item.name)}`, body) : await api.send('POST', '/api/v1/contact-points', body);
      setState({ busy: false, error: null });
      onSaved(saved);
    } catch (error) {
      setState({ busy: false, error });
    }
  };
  return (
    <form class="card contact-form" onSubmit={submit} data-testid="contact-point-form">
      <h3>{editing ? `Edit ${item.name}` : 'New contact point'}</h3>
      <div class="fields">
        <div class="field">
          <label for="cp-name">Name</label>
          <input id="cp-name" type="text" required value={form.name} readOnly={editing} onInput={(e) => set({ name: e.currentTarget.value })} />
        </div>
        <div class="field">
          <label for="cp-kind">Kind</label>
          <select id="cp-kind" value={form.kind} onChange={(e) => set({ kind: e.currentTarget.value })}>
            {(kinds && kinds.length ? kinds : Object.keys(CHANNELS)).map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </div>
        {(CHANNELS[form.kind] || []).map((f) =>
          f.type === 'map' ? (
            <fieldset key={f.key} class="pairs field-wide">
              <legend>Headers</legend>
              {form.headers.map(([k, v], i) => (
                <div key={i} class="pair-row">
                  <input type="text" class="mono pair-key" value={k} placeholder="name" aria-label={`Header ${i + 1} name`} onInput={(e) => set({ headers: form.headers.map((r, j) => (j === i ? [e.currentTarget.value, r[1]] : r)) })} />
                  <input type="text" value={v} placeholder="value" aria-label={`Header ${i + 1} value`} onInput={(e) => set({ headers: form.headers.map((r, j) => (j === i ? [r[0], e.currentTarget.value] : r)) })} />
                  <button type="button" class="btn btn-small btn-icon" aria-label="Remove" onClick={() => set({ headers: form.headers.filter((_, j) => j !== i) })}>
                    ×
                  </button>
                </div>
              ))}
              <button type="button" class="btn btn-small" onClick={() => set({ headers: [...form.headers, ['', '']] })}>
                + Header
              </button>
            </fieldset>
          ) : (
            <div key={f.key} class={`field ${f.type === 'list' ? 'field-wide' : ''}`}>
              <label for={`cp-${f.key}`}>
                {f.key}
                {f.required ? ' *' : ''}
                {f.secret ? <span class="muted small"> (secret)</span> : null}
              </label>
              {f.type === 'select' ? (
                <select id={`cp-${f.key}`} value={form.values[f.key] || ''} onChange={(e) => setValue(f.key, e.currentTarget.value)}>
                  <option value="">{f.options[0]} (default)</option>
                  {f.options.map((o) => (
                    <option key={o} value={o}>
                      {o}
                    </option>
                  ))}
                </select>
              ) : (
                <input id={`cp-${f.key}`} type="text" spellcheck={false} autocomplete="off" value={form.values[f.key] || ''} placeholder={f.hint || ''} onInput={(e) => setValue(f.key, e.currentTarget.value)} />
              )}
              {f.secret && form.values[f.key] === REDACTED ? <span class="muted small">kept as stored unless replaced</span> : null}
            </div>
          ),
        )}
        {form.kind === 'console' ? <p class="muted small field-wide">Prints each notification on the server's standard output.</p> : null}
        <label class="check field-wide">
          <input type="checkbox" checked={form.send_resolved} onChange={(e) => set({ send_resolved: e.currentTarget.checked })} /> also notify when the alerts resolve
        </label>
        <div class="field field-wide">
          <label for="cp-title">Title template (optional)</label>
          <input id="cp-title" type="text" class="mono" value={form.title_template} onInput={(e) => set({ title_template: e.currentTarget.value })} />
        </div>
        <div class="field field-wide">
          <label for="cp-text">Text template (optional)</label>
          <textarea id="cp-text" rows={3} class="mono" value={form.text_template} onInput={(e) => set({ text_template: e.currentTarget.value })} />
        </div>
      </div>
      <ProblemList problems={problems} />
      <div class="form-actions">
        <button type="submit" class="btn btn-primary" disabled={state.busy || problems.length > 0}>
          {editing ? 'Save' : 'Create'}
        </button>
        <button type="button" class="btn" onClick={onCancel}>
          Cancel
        </button>
      </div>
      <Refused error={state.error} title="Not saved" />
    </form>
  );
}

function ContactPointRow({ item, onEdit, onChanged }) {
  const [test, setTest] = useState(null);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState(null);
  const fromApi = item.source === 'api';
  const settings = Object.entries(item).filter(([k]) => !COMMON.includes(k));
  return (
    <li class="card contact-point" data-testid="contact-point-row">
      <div class="cause-head">
        <strong>{item.name}</strong>
        <span class="badge">{item.kind}</span>
        {fromApi ? <span class="muted small">made through the API · version {item.version}</span> : <span class="muted small">from {item.source} (read-only: change it in that file)</span>}
      </div>
      {settings.length ? (
        <dl class="kv">
          {settings.map(([k, v]) => (
            <Fragment key={k}>
              <dt>{k}</dt>
              <dd class="mono">{v && typeof v === 'object' ? (Array.isArray(v) ? v.join(', ') : <LabelChips labels={v} />) : String(v)}</dd>
            </Fragment>
          ))}
          {item.send_resolved === false ? (
            <>
              <dt>send_resolved</dt>
              <dd>false</dd>
            </>
          ) : null}
        </dl>
      ) : null}
      <div class="cause-actions">
        <button
          type="button"
          class="btn btn-small"
          data-testid="contact-point-test"
          disabled={test && test.busy}
          onClick={async () => {
            setTest({ busy: true });
            try {
              await api.send('POST', `/api/v1/contact-points/${enc(item.name)}/test`);
              setTest({ ok: true, at: Date.now() });
            } catch (e) {
              setTest({ error: e });
            }
          }}
        >
          {test && test.busy ? 'Sending…' : 'Send test'}
        </button>
        {fromApi ? (
          <>
            <button type="button" class="btn btn-small" onClick={onEdit}>
              Edit
            </button>
            {confirming ? (
              <span class="inline-form">
                Delete {item.name}?
                <button
                  type="button"
                  class="btn btn-small btn-danger"
                  onClick={async () => {
                    try {
                      await api.send('DELETE', `/api/v1/contact-points/${enc(item.name)}`);
                      onChanged();
                    } catch (e) {
                      setError(e);
                      setConfirming(false);
                    }
                  }}
                >
                  Delete
                </button>
                <button type="button" class="btn btn-small" onClick={() => setConfirming(false)}>
                  Cancel
                </button>
              </span>
            ) : (
              <button type="button" class="btn btn-small" onClick={() => setConfirming(true)}>
                Delete
              </button>
            )}
          </>
        ) : null}
        {test && test.ok ? <span class="text-ok small">Test notification delivered.</span> : null}
      </div>
      {test && test.error ? <ErrorBox error={test.error} title={test.error.status === 409 ? 'Not delivered' : 'Test'} /> : null}
      <ErrorBox error={error} />
    </li>
  );
}

export function ContactPointsPage() {
  const list = useLoad((signal) => api.get('/api/v1/contact-points', {}, { signal }), []);
  const [editing, setEditing] = useState(null); // null, 'new', or the item
  const items = (list.data && list.data.contact_points) || [];
  return (
    <div class="page page-contact-points">
      <AlertingTabs current="/contact-points" />
      <div class="toolbar">
        <h1>Contact points</h1>
        {!editing ? (
          <button type="button" class="btn btn-small btn-primary" onClick={() => setEditing('new')} data-testid="new-contact-point">
            New contact point
          </button>
        ) : null}
      </div>
      {editing ? (
        <ContactPointForm
          key={editing === 'new' ? '' : editing.name}
          item={editing === 'new' ? null : editing}
          kinds={list.data && list.data.kinds}
          onSaved={() => {
            setEditing(null);
            list.reload();
          }}
          onCancel={() => setEditing(null)}
        />
      ) : null}
      {list.error ? <ErrorBox error={list.error} title="Contact points" /> : null}
      {list.loading && !list.data ? <Loading what="Loading contact points" /> : null}
      {list.data && !items.length ? <Empty>No contact point: alerts fire but are not sent anywhere.</Empty> : null}
      <ul class="plain contact-points">
        {items.map((c) => (
          <ContactPointRow key={c.name} item={c} onEdit={() => setEditing(c)} onChanged={list.reload} />
        ))}
      </ul>
      <p class="muted small">
        Which alerts go where: <Link href="/policies">the policies</Link>. Deliveries: <Link href="/notifications">the notifications</Link>.
      </p>
    </div>
  );
}

// ---- policies

function Route({ route, path }) {
  const children = route.routes || [];
  const timing = ['group_wait', 'group_interval', 'repeat_interval'].filter((k) => route[k]);
  return (
    <li class="route" data-testid="policy-route">
      <div class="route-head">
        <strong>{path ? `route ${path}` : 'root'}</strong>
        {route.name ? <span class="chip">name: {route.name}</span> : null}
        {route.continue ? <span class="badge">continue</span> : null}
      </div>
      <dl class="kv">
        {route.matchers && route.matchers.length ? (
          <>
            <dt>matches</dt>
            <dd>
              {route.matchers.map((m, i) => (
                <span key={i} class="chip mono label-chip">
                  {m}
                </span>
              ))}
            </dd>
          </>
        ) : null}
        <dt>sends to</dt>
        <dd>{route.receivers && route.receivers.length ? route.receivers.join(', ') : <span class="muted">{path ? "the parent's contact points" : 'nobody'}</span>}</dd>
        {route.group_by ? (
          <>
            <dt>groups by</dt>
            <dd class="mono">{route.group_by.join(', ')}</dd>
          </>
        ) : null}
        {timing.length ? (
          <>
            <dt>timing</dt>
            <dd>{timing.map((k) => `${k} ${route[k]}`).join(' · ')}</dd>
          </>
        ) : null}
      </dl>
      {children.length ? (
        <ul class="route-children">
          {children.map((r, i) => (
            <Route key={i} route={r} path={path ? `${path}.${i}` : String(i)} />
          ))}
        </ul>
      ) : null}
    </li>
  );
}

export function PoliciesPage() {
  const current = useLoad((signal) => api.get('/api/v1/policies', {}, { signal }), []);
  const [text, setText] = useState('');
  const [state, setState] = useState({ busy: false, error: null, saved: false, parse: null });
  const data = current.data;
  useEffect(() => {
    if (data) setText(JSON.stringify(data.policies, null, 2));
  }, [data]);
  if (current.error) return <div class="page"><AlertingTabs current="/policies" /><ErrorBox error={current.error} title="Policies" /></div>;
  if (!data) return <div class="page"><AlertingTabs current="/policies" /><Loading what="Loading the policies" /></div>;
  const p = data.policies || {};
  const editable = data.source === null || data.source === undefined || data.source === 'api';
  const { inhibit_rules: inhibit = [], inhibit_by_root_cause: byRootCause = true, ...root } = p;
  const save = async () => {
    let value;
    try {
      value = JSON.parse(text);
    } catch (e) {
      setState({ busy: false, error: null, saved: false, parse: e.message });
      return;
    }
    setState({ busy: true, error: null, saved: false, parse: null });
    try {
      await api.send('PUT', '/api/v1/policies', value);
      setState({ busy: false, error: null, saved: true, parse: null });
      current.reload();
    } catch (error) {
      setState({ busy: false, error, saved: false, parse: null });
    }
  };
  return (
    <div class="page page-policies" data-testid="policies">
      <AlertingTabs current="/policies" />
      <div class="toolbar">
        <h1>Policies</h1>
        <span class="muted small">{data.source ? (data.source === 'api' ? 'set through the API' : `from ${data.source}`) : 'not set: alerts are not routed to any contact point'}</span>
      </div>
      <div class="grid-2">
        <div class="card">
          <h3>Routing tree</h3>
          <p class="muted small">An alert enters at the root and goes down into the first child route whose matchers match (and on into the next ones when a route says continue).</p>
          <ul class="plain routes">
            <Route route={root} path="" />
          </ul>
        </div>
        <div class="card">
          <h3>Inhibition</h3>
          <p>
            Root-cause inhibition: <strong>{byRootCause ? 'on' : 'off'}</strong>
            <span class="muted small"> (an alert whose root cause is in another service with its own alert is not notified)</span>
          </p>
          {inhibit.length ? (
            <div class="table-wrap">
              <table class="data-table compact" data-testid="inhibit-rules">
                <thead>
                  <tr>
                    <th>When an alert matches</th>
                    <th>mute alerts matching</th>
                    <th>with the same</th>
                  </tr>
                </thead>
                <tbody>
                  {inhibit.map((r, i) => (
                    <tr key={i}>
                      <td class="mono msg-cell">{(r.source_matchers || []).join(', ')}</td>
                      <td class="mono msg-cell">{(r.target_matchers || []).join(', ')}</td>
                      <td class="mono msg-cell">{(r.equal || []).join(', ')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : (
            <p class="muted small">No inhibition rule.</p>
          )}
        </div>
      </div>
      <div class="card">
        <h3>As JSON</h3>
        {editable ? (
          <>
            <textarea class="mono json-editor" rows={18} spellcheck={false} value={text} onInput={(e) => setText(e.currentTarget.value)} aria-label="The policies as JSON" data-testid="policies-json" />
            <div class="form-actions">
              <button type="button" class="btn btn-primary" onClick={save} disabled={state.busy} data-testid="save-policies">
                Save
              </button>
              <button type="button" class="btn" onClick={() => setText(JSON.stringify(p, null, 2))}>
                Revert
              </button>
              {state.saved ? <span class="text-ok small">Saved.</span> : null}
            </div>
            {state.parse ? <div class="field-problem">Not JSON: {state.parse}</div> : null}
            <Refused error={state.error} title="Refused" />
          </>
        ) : (
          <>
            <p class="muted small">From {data.source}: change them in that file, then reload the files.</p>
            <JsonView value={p} />
          </>
        )}
      </div>
    </div>
  );
}

// ---- notifications

const STATES = ['failed', 'pending', 'delivered'];

export function NotificationsPage({ route }) {
  const { utc } = useSettings();
  const [state, setState] = useState(route.params.get('state') || '');
  const list = useLoad((signal) => api.get('/api/v1/notifications', { limit: 500 }, { signal }), []);
  useEffect(() => {
    const t = setInterval(() => document.visibilityState === 'visible' && list.reload(), 15_000);
    return () => clearInterval(t);
  }, []);
  const all = (list.data && list.data.notifications) || [];
  const counts = {};
  for (const n of all) counts[n.state] = (counts[n.state] || 0) + 1;
  const shown = state ? all.filter((n) => n.state === state) : all;
  return (
    <div class="page page-notifications" data-testid="notifications-page">
      <AlertingTabs current="/notifications" />
      <div class="toolbar">
        <h1>Notifications</h1>
        <div class="chips">
          <button type="button" class={`btn btn-small ${!state ? 'btn-primary' : ''}`} onClick={() => setState('')}>
            all {all.length}
          </button>
          {[...STATES, ...Object.keys(counts).filter((s) => !STATES.includes(s))].map((s) => (
            <button key={s} type="button" class={`btn btn-small ${state === s ? 'btn-primary' : ''}`} onClick={() => setState(s)} data-testid={`notifications-${s}`}>
              {s} {counts[s] || 0}
            </button>
          ))}
        </div>
      </div>
      {counts.failed ? (
        <div class="notice notice-error" role="alert">
          {counts.failed} {counts.failed === 1 ? 'notification was' : 'notifications were'} given up: see the last error of each, then check its <Link href="/contact-points">contact point</Link>.
        </div>
      ) : null}
      {list.error ? <ErrorBox error={list.error} title="Notifications" /> : null}
      {list.loading && !list.data ? <Loading what="Loading notifications" /> : null}
      {list.data && !shown.length ? <Empty>No notification{state ? ` ${state}` : ' yet'}.</Empty> : null}
      {shown.length ? (
        <div class="table-wrap">
          <table class="data-table" data-testid="notifications-table">
            <thead>
              <tr>
                <th>Created</th>
                <th>State</th>
                <th>Contact point</th>
                <th>Notification</th>
                <th class="num">Attempts</th>
                <th>Last error</th>
                <th class="hide-phone">Updated</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((n) => (
                <tr key={n.id} class={n.state === 'failed' ? 'row-bad' : ''} data-testid="notification-row">
                  <td class="mono">{timeOf(n.created_at, utc)}</td>
                  <td>
                    <span class={`badge delivery-${/^[a-z]+$/.test(n.state) ? n.state : 'x'}`}>{n.state}</span>
                  </td>
                  <td>{n.contact_point}</td>
                  <td class="msg-cell">
                    {n.title || n.group_key}
                    {n.kind ? <span class="muted small"> · {n.kind}</span> : null}
                    {typeof n.alerts === 'number' ? <span class="muted small"> · {n.alerts} {n.alerts === 1 ? 'alert' : 'alerts'}</span> : null}
                  </td>
                  <td class="num">{n.attempts}</td>
                  <td class={`msg-cell ${n.state === 'failed' ? 'text-error' : 'muted'}`}>{n.last_error || ''}</td>
                  <td class="mono muted hide-phone">{timeOf(n.updated_at, utc)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}
