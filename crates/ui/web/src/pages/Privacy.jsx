// Which services sent which kinds of sensitive data in the range (counts of what was masked at
// ingest, never the values), the rules in force, a reload of the configuration file, and a box
// to try the rules on a text as ingest would apply them.
import { useMemo, useState } from 'preact/hooks';
import * as api from '../api.js';
import { Empty, ErrorBox, Loading, fmtNumber } from '../components/ui.jsx';
import { useLoad } from '../hooks.js';
import { href, Link } from '../router.jsx';
import { useSettings } from '../settings.js';
import { apiBounds, formatTime, rangeOf } from '../time.js';

/** Rows of the report as one line per service: findings and records per detector. */
function byService(rows) {
  const services = new Map();
  for (const r of rows) {
    let s = services.get(r.service);
    if (!s) services.set(r.service, (s = { service: r.service, findings: 0, detectors: {} }));
    s.findings += r.findings;
    s.detectors[r.detector] = { findings: r.findings, records: r.records };
  }
  return [...services.values()].sort((a, b) => b.findings - a.findings || a.service.localeCompare(b.service));
}

function Rules({ report, onReloaded }) {
  const { utc } = useSettings();
  const [state, setState] = useState({ busy: false, error: null, done: null });
  const reload = async () => {
    setState({ busy: true, error: null, done: null });
    try {
      const d = await api.send('POST', '/api/v1/privacy/reload', {});
      setState({ busy: false, error: null, done: d });
      onReloaded();
    } catch (e) {
      setState({ busy: false, error: e, done: null });
    }
  };
  return (
    <section class="card" data-testid="privacy-rules">
      <h2>Rules in force</h2>
      <p>
        Masking at ingest is <strong data-testid="privacy-enabled">{report.enabled ? 'on' : 'off'}</strong>
        {report.enabled ? (
          <>
            {' '}with {report.detectors.length} detectors
            {report.overrides ? `, and ${report.overrides} ${report.overrides === 1 ? 'override' : 'overrides'} for some services or environments` : ''}
          </>
        ) : null}
        . Loaded {formatTime(Date.parse(report.loaded_at), utc, false)}.
      </p>
      {report.detectors.length ? (
        <p class="chips" data-testid="privacy-detectors">
          {report.detectors.map((d) => (
            <span key={d} class="chip">{d}</span>
          ))}
        </p>
      ) : null}
      <div class="row">
        <button type="button" class="btn" disabled={state.busy} onClick={reload} data-testid="privacy-reload" title="Read the [privacy] section of the configuration file again (as SIGHUP does)">
          {state.busy ? 'Reloading…' : 'Reload configuration'}
        </button>
        {state.done ? <span class="muted" data-testid="privacy-reloaded">Reloaded: {state.done.detectors.length} detectors, {state.done.overrides} overrides.</span> : null}
      </div>
      {state.error ? <ErrorBox error={state.error} title="The configuration was refused; the rules in force stay" /> : null}
    </section>
  );
}

function TryRules() {
  const [text, setText] = useState('');
  const [service, setService] = useState('');
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const run = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const body = { text };
      if (service.trim()) body.service = service.trim();
      setResult(await api.send('POST', '/api/v1/privacy/test', body));
    } catch (err) {
      setResult(null);
      setError(err);
    }
  };
  const findings = result ? Object.entries(result.findings || {}) : [];
  return (
    <section class="card">
      <h2>Try the rules</h2>
      <form onSubmit={run} class="try-form">
        <textarea rows={3} class="query-input" value={text} onInput={(e) => setText(e.currentTarget.value)} placeholder="카드 4111-1111-1111-1111 결제 실패, user kim@example.com" aria-label="Text to mask" data-testid="privacy-try-text" />
        <div class="row">
          <input class="query-input narrow" value={service} onInput={(e) => setService(e.currentTarget.value)} placeholder="service (optional)" aria-label="Service whose rules apply" />
          <button type="submit" class="btn btn-primary" disabled={!text} data-testid="privacy-try">Mask</button>
        </div>
      </form>
      {error ? <ErrorBox error={error} title="Try" /> : null}
      {result ? (
        <div data-testid="privacy-try-result">
          <pre class="masked-text">{result.masked}</pre>
          <p class="muted">{findings.length ? findings.map(([k, n]) => `${k} × ${n}`).join(', ') : result.enabled ? 'Nothing found.' : 'Masking is off for these records.'}</p>
        </div>
      ) : null}
    </section>
  );
}

export function PrivacyPage({ route }) {
  const range = rangeOf(route.params);
  const keep = { from: route.params.get('from'), to: route.params.get('to') };
  const bounds = useMemo(() => apiBounds(range), [range.from, range.to]);
  const [generation, setGeneration] = useState(0);
  const report = useLoad((signal) => api.get('/api/v1/privacy/report', bounds, { signal }), [bounds, generation]);
  const services = useMemo(() => (report.data ? byService(report.data.rows || []) : []), [report.data]);
  const detectors = useMemo(() => [...new Set(((report.data && report.data.rows) || []).map((r) => r.detector))].sort(), [report.data]);
  return (
    <div class="page page-privacy">
      <div class="toolbar">
        <h1>Privacy</h1>
        <span class="muted">Sensitive data masked at ingest, by service and kind: counts only, never values.</span>
      </div>
      {report.error ? <ErrorBox error={report.error} title="Privacy report" /> : null}
      {report.loading && !report.data ? <Loading what="Loading the privacy report" /> : null}
      {report.data ? <Rules report={report.data} onReloaded={() => setGeneration((g) => g + 1)} /> : null}
      {report.data && !services.length ? <Empty>No service sent sensitive data in this range (nothing was masked).</Empty> : null}
      {services.length ? (
        <section class="card">
          <h2>Services that sent sensitive data</h2>
          <div class="table-wrap">
            <table class="data-table" data-testid="privacy-table">
              <thead>
                <tr>
                  <th>Service</th>
                  <th class="num">Findings</th>
                  {detectors.map((d) => (
                    <th key={d} class="num">{d}</th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {services.map((s) => (
                  <tr key={s.service} data-testid="privacy-row">
                    <td>
                      <Link href={href('/search', { ...keep, q: `service:"${s.service.replace(/["\\]/g, '\\$&')}" trawl.masked:*` })} class="service-name" title="The masked records of this service">
                        {s.service || '(no service)'}
                      </Link>
                    </td>
                    <td class="num">{fmtNumber(s.findings)}</td>
                    {detectors.map((d) => {
                      const c = s.detectors[d];
                      return (
                        <td key={d} class="num" title={c ? `${fmtNumber(c.findings)} findings in ${fmtNumber(c.records)} records and spans` : ''}>
                          {c ? fmtNumber(c.findings) : ''}
                        </td>
                      );
                    })}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}
      <TryRules />
    </div>
  );
}
