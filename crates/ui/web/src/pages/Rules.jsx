// Rules: every rule with its kind, source, version, health and alert counts
// (GET /api/v1/rules), the problems of a refused reload of the rule files, and a reload button
// (POST /api/v1/rules/reload); one rule's page with its settings, health, recent evaluations
// as a chart (/history), its versions (/versions), its alerts, and edit and delete for rules
// made through the API.
import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import * as api from '../api.js';
import { AlertingTabs, enc, LabelChips, METRIC_UNITS, ProblemList, timeOf } from '../components/alerting.jsx';
import { EvalChart } from '../components/EvalChart.jsx';
import { Empty, ErrorBox, JsonView, Loading } from '../components/ui.jsx';
import { useLoad } from '../hooks.js';
import { href, Link, navigate } from '../router.jsx';
import { useSettings } from '../settings.js';
import { AlertItem } from './Alerts.jsx';

/** The keys of a rule as the API shows it that are not part of its settings. */
const VIEW_KEYS = ['source', 'version', 'health', 'firing', 'pending'];

/** A rule's settings (its RuleSpec) from the API's view of it. */
export function specOf(view) {
  const spec = {};
  for (const [k, v] of Object.entries(view || {})) if (!VIEW_KEYS.includes(k)) spec[k] = v;
  return spec;
}

/** The unit of a rule's figure: RED metrics have one; query results and burn rates do not. */
export function ruleUnit(spec) {
  return (spec.metric && METRIC_UNITS[spec.metric]) || '';
}

function Health({ health, utc }) {
  const h = health || {};
  if (h.last_error) return <span class="text-error" title={h.last_error}>failing</span>;
  if (!h.evaluations) return <span class="muted">not evaluated yet</span>;
  return (
    <span class={h.failures ? 'text-warn' : 'text-ok'} title={h.last_eval ? `last evaluated ${timeOf(h.last_eval, utc)}` : ''}>
      ok{h.failures ? ` (${h.failures} failed)` : ''}
    </span>
  );
}

function FileProblems({ problems }) {
  if (!problems || !problems.length) return null;
  return (
    <div class="notice notice-error" role="alert" data-testid="file-problems">
      <strong>The rule files were refused at the last reload; the rules before it still run.</strong> Fix these and reload:
      <ProblemList problems={problems} />
    </div>
  );
}

export function RulesPage() {
  const { utc } = useSettings();
  const list = useLoad((signal) => api.get('/api/v1/rules', {}, { signal }), []);
  const [filter, setFilter] = useState('');
  const [reload, setReload] = useState({ busy: false, report: null, error: null });
  const rules = ((list.data && list.data.rules) || []).filter((r) => !filter || `${r.name} ${r.kind} ${r.source}`.toLowerCase().includes(filter.toLowerCase()));
  const doReload = async () => {
    setReload({ busy: true, report: null, error: null });
    try {
      const report = await api.send('POST', '/api/v1/rules/reload');
      setReload({ busy: false, report, error: null });
    } catch (error) {
      setReload({ busy: false, report: null, error });
    }
    list.reload();
  };
  return (
    <div class="page page-rules">
      <AlertingTabs current="/rules" />
      <div class="toolbar">
        <h1>Rules</h1>
        <input type="search" class="query-input narrow" placeholder="Filter rules" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} aria-label="Filter rules" />
        <Link class="btn btn-small btn-primary" href="/rules/new" data-testid="new-rule">
          New rule
        </Link>
        <button type="button" class="btn btn-small" onClick={doReload} disabled={reload.busy} data-testid="reload-rules" title="Read the rule files again">
          {reload.busy ? 'Reloading…' : 'Reload files'}
        </button>
      </div>
      {reload.report ? (
        <div class="notice notice-muted" data-testid="reload-report">
          Reloaded {reload.report.files} files with {reload.report.rules} rules.
          {reload.report.changed_rules && reload.report.changed_rules.length ? ` Changed rules: ${reload.report.changed_rules.join(', ')}.` : ' No rule changed.'}
          {reload.report.changed_contact_points && reload.report.changed_contact_points.length ? ` Changed contact points: ${reload.report.changed_contact_points.join(', ')}.` : ''}
        </div>
      ) : null}
      {reload.error && !reload.error.problems.length ? <ErrorBox error={reload.error} title="Reload" /> : null}
      <FileProblems problems={list.data && list.data.file_problems && list.data.file_problems.length ? list.data.file_problems : reload.error && reload.error.problems} />
      {list.error ? <ErrorBox error={list.error} title="Rules" /> : null}
      {list.loading && !list.data ? <Loading what="Loading rules" /> : null}
      {list.data && !rules.length ? <Empty>No rule{filter ? ' matches' : ' yet: add one, or put rule files in the rules directory'}.</Empty> : null}
      {rules.length ? (
        <div class="table-wrap">
          <table class="data-table rules-table" data-testid="rules-table">
            <thead>
              <tr>
                <th>Rule</th>
                <th>Kind</th>
                <th class="hide-phone">Source</th>
                <th class="num hide-phone">Version</th>
                <th>Health</th>
                <th class="hide-phone">Last evaluation</th>
                <th class="num">Firing</th>
                <th class="num">Pending</th>
              </tr>
            </thead>
            <tbody>
              {rules.map((r) => (
                <tr key={r.name} data-testid="rule-row" class={r.firing ? 'row-bad' : ''}>
                  <td class="rule-name-cell">
                    <Link href={`/rules/${enc(r.name)}`} class="rule-name">
                      {r.name}
                    </Link>
                    {r.enabled === false ? <span class="badge">disabled</span> : null}
                  </td>
                  <td>{r.kind}</td>
                  <td class="muted hide-phone">{r.source}</td>
                  <td class="num hide-phone">{r.version}</td>
                  <td>
                    <Health health={r.health} utc={utc} />
                  </td>
                  <td class="mono muted hide-phone">
                    {r.health && r.health.last_eval ? timeOf(r.health.last_eval, utc) : '—'}
                    {r.health && typeof r.health.last_duration_ms === 'number' ? ` · ${r.health.last_duration_ms.toFixed(0)} ms` : ''}
                  </td>
                  <td class={`num ${r.firing ? 'text-error' : ''}`}>
                    {r.firing ? <Link href={href('/alerts', { rule: r.name })}>{r.firing}</Link> : 0}
                  </td>
                  <td class="num">{r.pending || 0}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}

/** A setting's value as text: durations and enums are strings already. */
function settingText(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function Settings({ spec }) {
  const skip = ['name', 'labels', 'annotations', 'description'];
  const entries = Object.entries(spec).filter(([k]) => !skip.includes(k));
  return (
    <dl class="kv" data-testid="rule-settings">
      {entries.map(([k, v]) => (
        <Fragment key={k}>
          <dt>{k}</dt>
          <dd class={k === 'query' || k === 'condition' ? 'mono' : ''}>{settingText(v)}</dd>
        </Fragment>
      ))}
      {spec.enabled === undefined ? (
        <>
          <dt>enabled</dt>
          <dd>true</dd>
        </>
      ) : null}
    </dl>
  );
}

function Versions({ name, utc }) {
  const versions = useLoad((signal) => api.get(`/api/v1/rules/${enc(name)}/versions`, {}, { signal }), [name]);
  const [open, setOpen] = useState(null);
  return (
    <div class="card" data-testid="rule-versions">
      <h3>Versions</h3>
      {versions.error ? <ErrorBox error={versions.error} /> : null}
      {versions.loading && !versions.data ? <Loading /> : null}
      {versions.data ? (
        <div class="table-wrap">
          <table class="data-table compact">
            <thead>
              <tr>
                <th class="num">Version</th>
                <th>Changed</th>
                <th>Source</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {versions.data.versions.map((v) => (
                <Fragment key={v.version}>
                  <tr>
                    <td class="num">{v.version}</td>
                    <td class="mono">{timeOf(v.changed_at, utc)}</td>
                    <td class="muted">
                      {v.source}
                      {v.deleted ? ' (deleted)' : ''}
                    </td>
                    <td>
                      {v.rule ? (
                        <button type="button" class="btn btn-small" onClick={() => setOpen(open === v.version ? null : v.version)} aria-expanded={open === v.version}>
                          {open === v.version ? 'Hide' : 'Show'}
                        </button>
                      ) : null}
                    </td>
                  </tr>
                  {open === v.version ? (
                    <tr>
                      <td colSpan={4} class="msg-cell">
                        <JsonView value={v.rule} />
                      </td>
                    </tr>
                  ) : null}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}

function DeleteRule({ name }) {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState(null);
  if (!confirming)
    return (
      <button type="button" class="btn btn-small" onClick={() => setConfirming(true)}>
        Delete
      </button>
    );
  return (
    <span class="inline-form">
      <span>Delete the rule? Its alerts resolve.</span>
      <button
        type="button"
        class="btn btn-small btn-danger"
        onClick={async () => {
          try {
            await api.send('DELETE', `/api/v1/rules/${enc(name)}`);
            navigate('/rules');
          } catch (e) {
            setError(e);
          }
        }}
      >
        Delete
      </button>
      <button type="button" class="btn btn-small" onClick={() => setConfirming(false)}>
        Cancel
      </button>
      <ErrorBox error={error} />
    </span>
  );
}

export function RulePage({ name }) {
  const { utc } = useSettings();
  const rule = useLoad((signal) => api.get(`/api/v1/rules/${enc(name)}`, {}, { signal }), [name]);
  const history = useLoad((signal) => api.get(`/api/v1/rules/${enc(name)}/history`, {}, { signal }), [name]);
  const alerts = useLoad((signal) => api.get('/api/v1/alerts', { rule: name, state: 'firing,pending' }, { signal }), [name]);
  const r = rule.data;
  const spec = specOf(r);
  const h = (r && r.health) || {};
  return (
    <div class="page page-rule">
      <AlertingTabs current="/rules" />
      <div class="toolbar">
        <h1 class="alert-title">
          <Link href="/rules" class="muted">
            Rules
          </Link>{' '}
          / <span class="rule-name">{name}</span>
        </h1>
        {r && r.source === 'api' ? (
          <>
            <Link class="btn btn-small btn-primary" href={`/rules/${enc(name)}/edit`} data-testid="edit-rule">
              Edit
            </Link>
            <DeleteRule name={name} />
          </>
        ) : null}
        {r ? (
          <Link class="btn btn-small" href={href('/rules/new', { from: name })} title="A new rule made through the API, starting from this one">
            Copy as new
          </Link>
        ) : null}
      </div>
      {rule.error ? <ErrorBox error={rule.error} title="Rule" /> : null}
      {rule.loading && !r ? <Loading what="Loading the rule" /> : null}
      {r ? (
        <>
          {r.source !== 'api' ? (
            <div class="notice notice-muted">
              From <span class="mono">{r.source}</span>: change it in that file, then reload the files.
            </div>
          ) : null}
          {r.description ? <p class="rule-description">{r.description}</p> : null}
          <div class="grid-2">
            <div class="card">
              <h3>Settings</h3>
              <Settings spec={spec} />
              {spec.labels && Object.keys(spec.labels).length ? (
                <>
                  <h4>Labels</h4>
                  <LabelChips labels={spec.labels} />
                </>
              ) : null}
              {spec.annotations && Object.keys(spec.annotations).length ? (
                <>
                  <h4>Annotations</h4>
                  <dl class="kv">
                    {Object.entries(spec.annotations).map(([k, v]) => (
                      <Fragment key={k}>
                        <dt>{k}</dt>
                        <dd class="mono annotation-value">{v}</dd>
                      </Fragment>
                    ))}
                  </dl>
                </>
              ) : null}
            </div>
            <div class="card" data-testid="rule-health">
              <h3>Health</h3>
              <dl class="kv">
                <dt>Status</dt>
                <dd>
                  <Health health={h} utc={utc} />
                </dd>
                <dt>Evaluations</dt>
                <dd>
                  {h.evaluations || 0} ({h.failures || 0} failed, {h.skipped || 0} skipped)
                </dd>
                <dt>Last</dt>
                <dd class="mono">
                  {h.last_eval ? timeOf(h.last_eval, utc) : '—'}
                  {typeof h.last_duration_ms === 'number' ? ` · ${h.last_duration_ms.toFixed(0)} ms` : ''}
                </dd>
                <dt>Next</dt>
                <dd class="mono">{h.next_eval ? timeOf(h.next_eval, utc) : '—'}</dd>
                <dt>Alerts</dt>
                <dd>
                  {r.firing} firing, {r.pending} pending
                </dd>
                <dt>Version</dt>
                <dd>{r.version}</dd>
              </dl>
              {h.last_error ? <div class="notice notice-error">{h.last_error}</div> : null}
              {(h.last_warnings || []).map((w, i) => (
                <div key={i} class="notice notice-warn">
                  {w}
                </div>
              ))}
            </div>
          </div>
          <div class="card">
            <h3>Recent evaluations</h3>
            {history.error ? <ErrorBox error={history.error} /> : null}
            {history.data ? <EvalChart points={history.data.evaluations} unit={ruleUnit(spec)} label={`Recent evaluations of ${name}`} /> : null}
          </div>
          {alerts.data && alerts.data.alerts.length ? (
            <div class="card">
              <h3>Firing and pending alerts</h3>
              <ul class="alert-list">
                {alerts.data.alerts.map((a) => (
                  <AlertItem key={a.fingerprint} alert={a} utc={utc} />
                ))}
              </ul>
            </div>
          ) : null}
          <Versions name={name} utc={utc} />
        </>
      ) : null}
    </div>
  );
}
