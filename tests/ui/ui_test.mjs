// Browser tests of trawl's web UI: Debian's Chromium (headless) driven by playwright-core
// against a running server that the fleet simulator fills (see tests/e2e/test_ui.py).
//
//   node tests/ui/ui_test.mjs http://127.0.0.1:PORT [--artifacts DIR] [--fault-service NAME] [--fault-operation TEXT]
//                             [--speed N] [--alert-timeout SECONDS]
//
// `--speed` is the demo's clock speed (`trawl demo --speed N`): the alert checks wait for the
// demo's default rules to fire, which takes a few minutes of the demo's clock; `--alert-timeout`
// bounds that wait in real seconds (default 600 / speed, at least 90).
//
// Prints one line per check (`ok - …` / `not ok - …`), writes screenshots of every page (dark,
// light, phone) to the artifacts directory, and exits with 1 when a check failed.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
const base = (args.find((a) => !a.startsWith('--')) || '').replace(/\/$/, '');
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
if (!base) {
  console.error('usage: node ui_test.mjs <server url> [--artifacts DIR]');
  process.exit(2);
}
const artifacts = option('artifacts', 'tests/artifacts/ui');
const faultService = option('fault-service', 'payment-service');
const faultOperation = option('fault-operation', 'third-party-payment-api');
const speed = Math.max(1, Number(option('speed', '1')) || 1);
const alertTimeoutMs = 1000 * (Number(option('alert-timeout', '')) || Math.max(90, 600 / speed));
mkdirSync(artifacts, { recursive: true });

const TIMEOUT = 20_000;
const results = [];
const run = Date.now().toString(36);
const MARKER = `uimarker${run}`;
const TAIL_MARKER = `tailmarker${run}`;
const COUNT_MARKER = `countmarker${run}`;
// More records than the row limit the histogram check asks for, so its total must come from the
// server's count rather than from the rows fetched.
const COUNT_RECORDS = 150;
const COUNT_ROW_LIMIT = 100;
const COUNT_ERRORS = COUNT_RECORDS / 3;
const STATS_SERVICES = { [`ui-stats-a-${run}`]: 3, [`ui-stats-b-${run}`]: 2 };

// ----- data --------------------------------------------------------------------------------

const hex = (n) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');

async function post(path, body, contentType) {
  const response = await fetch(base + path, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${text}`);
  return text;
}

const ndjson = (records) => post('/api/v1/ingest', records.map((r) => JSON.stringify(r)).join('\n') + '\n', 'application/x-ndjson');

// Script payloads: each one sets window.__xss if it ever runs.
const PAYLOADS = [
  '<img src=x onerror="window.__xss=1">',
  '<script>window.__xss=2</script>',
  'javascript:window.__xss=3',
  '<svg onload="window.__xss=4"><script>window.__xss=5</script></svg>',
  '<a href="javascript:window.__xss=6">click me</a>',
  '"><iframe srcdoc="<script>parent.__xss=7</script>"></iframe>',
  '<style>@import "/xss.css";</style><b style="color:red">styled</b>',
];
const XSS_SERVICE = '<img src=x onerror="window.__xss=11">svc';
const XSS_TRACE = hex(32);
// A rule made through the API with payloads in its name, labels, annotations and description;
// its condition always holds, so it fires and its alert carries them too.
const XSS_RULE = `ui-xss-${run} <img src=x onerror="window.__xss=12">`;

async function ingestPayloads() {
  const now = Date.now();
  const records = PAYLOADS.map((p, i) => ({
    time: new Date(now - 1000 + i).toISOString(),
    service: 'xss-service',
    host: 'xss-host',
    level: 'error',
    message: `xssmarker ${p}`,
    trace_id: XSS_TRACE,
    [`field${i}${p}`]: p,
    link: p,
  }));
  records.push({ time: new Date(now).toISOString(), service: XSS_SERVICE, level: 'error', message: `xssmarker service ${PAYLOADS[0]}`, trace_id: XSS_TRACE });
  // Sensitive data from the payload service: the privacy page lists it by name.
  records.push({ time: new Date(now).toISOString(), service: XSS_SERVICE, level: 'info', message: `xssmarker card 4111 1111 1111 1111` });
  await ndjson(records);
  const ns = (ms) => String(BigInt(Math.round(ms)) * 1000000n);
  const attrs = (o) => Object.entries(o).map(([key, v]) => ({ key, value: { stringValue: v } }));
  const root = hex(16);
  const span = (service, spanId, parent, name, startMs, durMs, error) => ({
    resource: { attributes: attrs({ 'service.name': service, 'service.version': PAYLOADS[1] }) },
    scopeSpans: [
      {
        spans: [
          {
            traceId: XSS_TRACE,
            spanId,
            parentSpanId: parent,
            name,
            kind: parent ? 3 : 2,
            startTimeUnixNano: ns(startMs),
            endTimeUnixNano: ns(startMs + durMs),
            attributes: attrs({ payload: PAYLOADS[0], [PAYLOADS[3]]: PAYLOADS[4], 'peer.service': XSS_SERVICE }),
            status: error ? { code: 2, message: `failed ${PAYLOADS[5]}` } : { code: 1 },
            events: error
              ? [{ timeUnixNano: ns(startMs + durMs - 1), name: 'exception', attributes: attrs({ 'exception.type': PAYLOADS[1], 'exception.message': PAYLOADS[0], 'exception.stacktrace': `${PAYLOADS[3]}\n  at x (${PAYLOADS[2]})` }) }]
              : [],
          },
        ],
      },
    ],
  });
  const child = hex(16);
  const body = { resourceSpans: [span('xss-service', root, '', `GET /xss ${PAYLOADS[0]}`, now - 50, 40, true), span(XSS_SERVICE, child, root, PAYLOADS[3], now - 45, 30, true)] };
  await post('/v1/traces', JSON.stringify(body), 'application/json');
}

async function createXssRule() {
  const rule = {
    name: XSS_RULE,
    kind: 'threshold',
    description: `xss rule ${PAYLOADS[3]}`,
    interval: '10s',
    query: 'service:* | stats count() as n',
    condition: 'n >= 0',
    labels: { severity: 'info', payload: PAYLOADS[0] },
    annotations: { summary: `xss {{ labels.payload }} ${PAYLOADS[1]}`, description: PAYLOADS[5], runbook_url: 'javascript:window.__xss=13' },
  };
  const response = await fetch(`${base}/api/v1/rules`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rule) });
  if (response.status !== 201) throw new Error(`POST /api/v1/rules: ${response.status} ${await response.text()}`);
}

/** The first firing alert `pick` accepts, asking the API until `timeoutMs` has passed. */
async function waitForFiring(pick, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let seen = [];
  while (Date.now() < deadline) {
    try {
      const answer = await (await fetch(`${base}/api/v1/alerts?state=firing`)).json();
      const alerts = answer.alerts || [];
      const found = alerts.find(pick);
      if (found) return found;
      seen = alerts.map((a) => `${a.rule}${a.labels && a.labels.service ? `/${a.labels.service}` : ''}`);
    } catch (e) {
      seen = [String(e.message || e)];
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`no firing alert ${what} within ${Math.round(timeoutMs / 1000)}s; firing: ${seen.join(', ') || 'none'}`);
}

// ----- harness -----------------------------------------------------------------------------

function check(name, ok, detail = '') {
  results.push({ name, ok });
  console.log(`${ok ? 'ok' : 'not ok'} - ${name}${detail ? `: ${detail}` : ''}`);
}

async function attempt(name, fn) {
  try {
    const detail = await fn();
    check(name, true, typeof detail === 'string' ? detail : '');
  } catch (e) {
    check(name, false, String((e && e.message) || e).split('\n').slice(0, 6).join(' | '));
  }
}

/** Console errors, uncaught exceptions and CSP violations of a page, and requests a payload would make. */
function watch(page) {
  const w = { errors: [], strayRequests: [], allowed: [] };
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const where = (m.location() && m.location().url) || '';
    if (w.allowed.some((a) => where.includes(a) || m.text().includes(a))) return;
    w.errors.push(`${m.text()} ${where}`.trim());
  });
  page.on('pageerror', (e) => w.errors.push(`uncaught: ${e.message}`));
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (/^\/(x|xss\.css)$/.test(u.pathname) || u.protocol === 'javascript:') w.strayRequests.push(r.url());
  });
  return w;
}

async function newPage(context) {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.watch = watch(page);
  return page;
}

async function security(page) {
  return page.evaluate(() => ({ xss: window.__xss, csp: window.__csp || [] }));
}

async function assertClean(page, what) {
  const s = await security(page);
  const problems = [];
  if (s.xss) problems.push(`payload ran (window.__xss=${s.xss})`);
  if (s.csp.length) problems.push(`CSP violations: ${s.csp.join('; ')}`);
  if (page.watch.errors.length) problems.push(`console errors: ${page.watch.errors.join('; ')}`);
  if (page.watch.strayRequests.length) problems.push(`payload requests: ${page.watch.strayRequests.join(', ')}`);
  page.watch.errors.length = 0;
  if (problems.length) throw new Error(`${what}: ${problems.join(' / ')}`);
}

async function shot(page, name) {
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: false });
}

async function open(page, path, ready) {
  await page.goto(base + path, { waitUntil: 'domcontentloaded' });
  if (ready) await page.locator(ready).first().waitFor({ state: 'visible' });
}

const instrument = () => {
  window.__xss = 0;
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample || ''}`.trim()));
};

async function context(browser, options) {
  const ctx = await browser.newContext({ locale: 'ko-KR', ...options });
  await ctx.addInitScript(instrument);
  return ctx;
}

// ----- the checks --------------------------------------------------------------------------

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    await ndjson([
      { service: 'ui-test', host: 'ui-host', level: 'warn', message: `${MARKER} 결제가 실패했습니다 (payment failed) order_id=42`, 'ui.field': 'ui-value' },
      { service: 'ui-privacy', level: 'error', message: '결제 실패 카드 4111-1111-1111-1111 user kim.minsu@example.co.kr' },
    ]);
    await ingestPayloads();
    let xssRule = null;
    try {
      await createXssRule();
    } catch (e) {
      xssRule = e;
    }
    await ndjson(
      Array.from({ length: COUNT_RECORDS }, (_, i) => ({ service: 'ui-count', level: i % 3 === 0 ? 'error' : 'info', message: `${COUNT_MARKER} record ${i}` })).concat(
        Object.entries(STATS_SERVICES).flatMap(([service, n]) => Array.from({ length: n }, (_, i) => ({ service, level: 'info', message: `${COUNT_MARKER} stats ${i}` }))),
      ),
    );

    // The failing trace named by the server itself, to open its page directly.
    const why = await (await fetch(`${base}/api/v1/rootcause?start=15m`)).json();
    const withExample = (why.causes || []).find((c) => c.example_trace_id);
    const exampleTrace = withExample ? withExample.example_trace_id : XSS_TRACE;

    const dark = await context(browser, { viewport: { width: 1440, height: 900 }, colorScheme: 'dark' });
    const page = await newPage(dark);

    const PAGES = [
      ['search', '/', '[data-testid=result-row]'],
      ['search-query', `/search?q=${encodeURIComponent(MARKER)}`, '[data-testid=result-row]'],
      ['services', '/services', '[data-testid=service-row]'],
      ['service', `/services/${encodeURIComponent(faultService)}`, '.stat-cards'],
      ['why', '/why', '[data-testid=why-summary]'],
      ['map', '/map', '[data-testid=map-node]'],
      ['tail', '/tail', '[data-testid=tail-status]'],
      ['trace', `/trace/${exampleTrace}`, '[data-testid=span-row]'],
      ['alerts', '/alerts', '[data-testid=alerts-page]'],
      ['rules', '/rules', '[data-testid=rule-row]'],
      ['rule', `/rules/${encodeURIComponent('service error rate')}`, '[data-testid=rule-settings]'],
      ['rule-editor', '/rules/new', '[data-testid=rule-form]'],
      ['silences', '/silences', '[data-testid=silences-page]'],
      ['contact-points', '/contact-points', '[data-testid=contact-point-row]'],
      ['policies', '/policies', '[data-testid=policy-route]'],
      ['notifications', '/notifications', '[data-testid=notifications-page]'],
      ['privacy', '/privacy', '[data-testid=privacy-row]'],
    ];
    for (const [name, path, ready] of PAGES) {
      await attempt(`page ${name} loads without console errors (${path})`, async () => {
        await open(page, path, ready);
        await page.waitForTimeout(name === 'services' ? 1500 : 500);
        await shot(page, `${name}-dark`);
        await assertClean(page, path);
      });
    }

    await attempt('the Why page names the broken party, the callers it explains and the slow operations', async () => {
      await open(page, '/why?from=15m', '[data-testid=cause]');
      const verdict = await page.locator('[data-testid=why-verdict]').innerText();
      const top = (await page.locator('[data-testid=cause]').first().innerText()).replace(/\s+/g, ' ');
      // The uninstrumented API the fault's service calls, as that service sees it.
      if (!verdict.includes(faultOperation) || !top.includes(faultService)) throw new Error(`verdict: ${verdict}; top cause: ${top}`);
      await page.locator('[data-testid=cause-chain]').first().waitFor();
      await page.locator('[data-testid=slow-row]').first().waitFor({ timeout: 30_000 });
      await shot(page, 'why-dark');
      await assertClean(page, '/why');
    });

    await attempt('the privacy page lists the service that sent a card and an e-mail, and tries the rules', async () => {
      await open(page, '/privacy?from=1h', '[data-testid=privacy-row]');
      const row = page.locator('[data-testid=privacy-row]', { hasText: 'ui-privacy' });
      const text = (await row.innerText()).replace(/\s+/g, ' ');
      const headers = await page.locator('[data-testid=privacy-table] th').allInnerTexts();
      if (!headers.includes('card') || !headers.includes('email') || !/ui-privacy 2\b/.test(text)) throw new Error(`headers ${headers.join(',')}; row ${text}`);
      if ((await page.locator('main').innerText()).includes('4111-1111-1111-1111')) throw new Error('a card number is shown');
      await page.locator('[data-testid=privacy-try-text]').fill('주민번호 900101-1234568 환불 요청');
      await page.locator('[data-testid=privacy-try]').click();
      const result = await page.locator('[data-testid=privacy-try-result]').innerText();
      if (result.includes('1234568') || !result.includes('주민번호 900101-1') || !result.includes('kr_rrn')) throw new Error(result);
      await shot(page, 'privacy-dark');
      await assertClean(page, '/privacy');
    });

    await attempt('a search returns the expected rows', async () => {
      await open(page, `/search?q=${encodeURIComponent(MARKER)}&from=1h`, '[data-testid=result-row]');
      const rows = await page.locator('[data-testid=result-row]').allInnerTexts();
      if (rows.length !== 1) throw new Error(`expected 1 row, got ${rows.length}`);
      if (!rows[0].includes(MARKER) || !rows[0].includes('결제가 실패했습니다') || !rows[0].includes('ui-test')) throw new Error(`row text: ${rows[0]}`);
      await page.locator('[data-testid=result-row]').first().click();
      await page.locator('[data-testid=record-detail]').waitFor();
      const detail = await page.locator('[data-testid=record-detail]').innerText();
      if (!detail.includes('ui.field') || !detail.includes('ui-value')) throw new Error('the record panel lacks the field ui.field');
      await shot(page, 'search-record-dark');
      // Clicking a value's + adds field:value to the query.
      await page.locator('tr', { hasText: 'ui.field' }).locator('[data-testid=filter-for]').click();
      await page.waitForURL(/ui\.field/);
      const q = new URL(page.url()).searchParams.get('q');
      if (!q.includes('ui.field:ui-value')) throw new Error(`query after filter: ${q}`);
      await page.locator('[data-testid=result-row]').first().waitFor();
      await assertClean(page, 'search');
    });

    await attempt('a Korean phrase finds the record', async () => {
      await open(page, `/search?q=${encodeURIComponent(`결제 실패 ${MARKER}`)}&from=1h`, '[data-testid=result-row]');
      return `${await page.locator('[data-testid=result-row]').count()} row`;
    });

    await attempt('autocomplete offers a known field and its values', async () => {
      await open(page, '/search', '[data-testid=query]');
      const input = page.locator('[data-testid=query]');
      await input.fill('');
      await input.click();
      await input.pressSequentially('serv');
      await page.locator('[data-testid=suggestions]').getByText('service:', { exact: true }).waitFor();
      await page.keyboard.press('Tab');
      await page.locator('[data-testid=suggestions] .sg-value').first().waitFor();
      const values = await page.locator('[data-testid=suggestions] .sg-label').allInnerTexts();
      if (!values.some((v) => v.startsWith('service:'))) throw new Error(`values offered: ${values.join(', ')}`);
      await shot(page, 'autocomplete-dark');
      return values.slice(0, 3).join(', ');
    });

    await attempt("a row's trace opens the waterfall with the root cause naming the injected fault", async () => {
      await open(page, `/search?q=${encodeURIComponent(`service:${faultService} level:error`)}&from=15m`, '[data-testid=result-row]');
      await page.locator('[data-testid=result-row]').first().click();
      await page.locator('[data-testid=open-trace]').click();
      await page.waitForURL(/\/trace\//);
      await page.locator('[data-testid=span-row]').first().waitFor();
      const banner = await page.locator('[data-testid=root-cause]').innerText();
      if (!banner.includes(faultService) || !banner.includes(faultOperation)) throw new Error(`banner: ${banner}`);
      await page.locator('[data-testid=span-row].is-cause').first().click();
      await page.locator('[data-testid=span-detail]').waitFor();
      await shot(page, 'trace-span-dark');
      await assertClean(page, 'trace');
      return banner.replace(/\s+/g, ' ').slice(0, 160);
    });

    await attempt('the services page lists the failing service first', async () => {
      await open(page, '/services', '[data-testid=service-row]');
      const first = await page.locator('[data-testid=service-row]').first().locator('td .service-name').first().innerText();
      if (first.trim() !== faultService) throw new Error(`first service: ${first}`);
      return first;
    });

    await attempt('live tail shows a record sent after it opened', async () => {
      await open(page, `/tail?q=${encodeURIComponent(TAIL_MARKER)}`, '[data-testid=tail-status]');
      await page.locator('[data-testid=tail-status]', { hasText: 'live' }).waitFor();
      await ndjson([{ service: 'ui-test', level: 'info', message: `${TAIL_MARKER} 실시간 record` }]);
      await page.locator('[data-testid=tail-row]', { hasText: TAIL_MARKER }).waitFor();
      await shot(page, 'tail-live-dark');
      await assertClean(page, 'tail');
    });

    await attempt('10,000 rows stay virtualised', async () => {
      await open(page, '/search?from=15m&limit=10000', '[data-testid=result-row]');
      const count = await page.locator('[data-testid=result-count]').innerText();
      const rendered = await page.locator('[data-testid=result-row]').count();
      if (rendered > 150) throw new Error(`${rendered} rows in the DOM`);
      const took = await page.evaluate(async () => {
        const el = document.querySelector('[data-testid=results-body]');
        const t0 = performance.now();
        for (let i = 1; i <= 20; i++) {
          el.scrollTop = (el.scrollHeight * i) / 20;
          await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        }
        return (performance.now() - t0) / 20;
      });
      return `${count}, ${rendered} rows rendered, ${took.toFixed(1)} ms per scroll step`;
    });

    await attempt('the results header lines up with the row cells', async () => {
      await open(page, `/search?q=${encodeURIComponent(MARKER)}&from=1h`, '[data-testid=result-row]');
      const lefts = await page.evaluate(() => {
        const xs = (el) => [...el.children].map((c) => Math.round(c.getBoundingClientRect().left));
        return { head: xs(document.querySelector('[data-testid=results-head]')), row: xs(document.querySelector('[data-testid=result-row]')) };
      });
      if (lefts.head.length !== lefts.row.length || lefts.head.some((x, i) => Math.abs(x - lefts.row[i]) > 1)) {
        throw new Error(`head cells at ${lefts.head.join(', ')}; row cells at ${lefts.row.join(', ')}`);
      }
      return lefts.head.join(', ');
    });

    await attempt('the histogram counts every match, not the rows fetched', async () => {
      await open(page, `/search?q=${encodeURIComponent(`${COUNT_MARKER} service:ui-count`)}&from=1h&limit=${COUNT_ROW_LIMIT}`, '[data-testid=histogram-total]');
      const total = (await page.locator('[data-testid=histogram-total]').innerText()).trim();
      if (total !== String(COUNT_RECORDS)) throw new Error(`histogram total ${total}, expected ${COUNT_RECORDS}`);
      const legend = await page.locator('[data-testid=histogram] .legend').innerText();
      if (!legend.includes(`ERROR ${COUNT_ERRORS}`) || !legend.includes(`INFO ${COUNT_RECORDS - COUNT_ERRORS}`)) throw new Error(`legend: ${legend}`);
      const count = await page.locator('[data-testid=result-count]').innerText();
      if (!count.startsWith(`${COUNT_RECORDS} matches`) || !count.includes(`newest ${COUNT_ROW_LIMIT} shown`)) throw new Error(`count: ${count}`);
      // The search part alone is counted: a pipe after it changes the rows, not the total.
      await open(page, `/search?q=${encodeURIComponent(`${COUNT_MARKER} service:ui-count | where level = "error"`)}&from=1h`, '[data-testid=histogram-total]');
      const piped = await page.locator('[data-testid=result-count]').innerText();
      if (!piped.includes(`${COUNT_ERRORS} rows`) || !piped.includes(`${COUNT_RECORDS} matches before the pipes`)) throw new Error(`piped count: ${piped}`);
      await assertClean(page, 'histogram');
      return `${count} / ${piped}`;
    });

    await attempt('a `| stats count() by service` query shows a table of the services', async () => {
      await open(page, `/search?q=${encodeURIComponent(`${COUNT_MARKER} | stats count() by service`)}&from=1h`, '[data-testid=stats-table]');
      const rows = await page.locator('[data-testid=stats-table] tbody tr').allInnerTexts();
      const cells = rows.map((r) => r.split('\t').map((c) => c.trim()));
      const want = { 'ui-count': COUNT_RECORDS, ...STATS_SERVICES };
      for (const [service, n] of Object.entries(want)) {
        if (!cells.some((c) => c[0] === service && c[1] === String(n))) throw new Error(`no row "${service} ${n}" in ${JSON.stringify(cells)}`);
      }
      if (cells.length !== Object.keys(want).length) throw new Error(`${cells.length} rows: ${JSON.stringify(cells)}`);
      // Over the demo's own records, the failing service is among the groups.
      await open(page, `/search?q=${encodeURIComponent('level:error | stats count() by service')}&from=15m`, '[data-testid=stats-table]');
      const services = await page.locator('[data-testid=stats-table] tbody tr td:first-child').allInnerTexts();
      if (!services.includes(faultService)) throw new Error(`services: ${services.join(', ')}`);
      await shot(page, 'search-stats-dark');
      await assertClean(page, 'stats');
      return services.slice(0, 4).join(', ');
    });

    await attempt('a `| stats … by bin(time, …)` query draws one series per group', async () => {
      await open(page, `/search?q=${encodeURIComponent(`${COUNT_MARKER} | stats count() by bin(time, 1m), service`)}&from=1h`, '[data-testid=stats-table]');
      await page.locator('[data-testid=stats-result] .uplot').waitFor();
      const series = await page.locator('[data-testid=stats-result] .u-legend .u-series').count();
      // The x series plus one per service.
      if (series !== 1 + 1 + Object.keys(STATS_SERVICES).length) throw new Error(`${series} legend entries`);
      await shot(page, 'search-stats-time-dark');
      await assertClean(page, 'stats chart');
    });

    await attempt('a `| traces` table links each trace id to its waterfall', async () => {
      await open(page, `/search?q=${encodeURIComponent(`trace:${XSS_TRACE} | traces`)}&from=1h`, '[data-testid=trace-link]');
      const link = page.locator('[data-testid=trace-link]').first();
      const target = await link.getAttribute('href');
      if (target !== `/trace/${XSS_TRACE}`) throw new Error(`href ${target}`);
      if (await page.locator('[data-testid=stats-result] .uplot').count()) throw new Error('a chart of the rows of a traces table');
      await shot(page, 'search-traces-dark');
      await assertClean(page, 'traces table');
      await link.click();
      await page.waitForURL(new RegExp(`/trace/${XSS_TRACE}`));
      await page.locator('[data-testid=span-row]').first().waitFor();
      await assertClean(page, 'trace from traces table');
    });

    // ---- alerting: the rule editor checks as you type; the demo's rules fire on the fault.
    await attempt('the rule editor shows a bad query\'s problem with its column, and a dry run of a good one', async () => {
      await open(page, '/rules/new', '[data-testid=rule-form]');
      await page.locator('[data-testid=field-name]').fill(`ui-check-${run}`);
      await page.locator('[data-testid=field-kind]').selectOption('threshold');
      await page.locator('[data-testid=field-query]').fill('level:error | stats count( as n by service');
      const problem = page.locator('[data-testid=problem-query]');
      await problem.waitFor();
      const text = (await problem.innerText()).replace(/\s+/g, ' ');
      if (!/column \d+/.test(text)) throw new Error(`the query's problem names no column: ${text}`);
      if (!(await problem.locator('.caret').count())) throw new Error('no caret under the column');
      await page.locator('[data-testid=check-invalid]').waitFor();
      await shot(page, 'rule-editor-problem-dark');
      await page.locator('[data-testid=field-query]').fill('level:error | stats count() as n by service');
      await page.locator('[data-testid=field-condition]').fill('n > 0');
      await page.locator('[data-testid=dry-run]').waitFor({ timeout: 30_000 });
      const dry = (await page.locator('[data-testid=dry-run]').innerText()).replace(/\s+/g, ' ');
      if (!dry.includes('would fire')) throw new Error(`dry run: ${dry}`);
      await page.locator('[data-testid=preview-button]').click();
      await page.locator('[data-testid=rule-preview] [data-testid=eval-chart]').waitFor({ timeout: 120_000 });
      await shot(page, 'rule-editor-preview-dark');
      await assertClean(page, 'rule editor');
      return `${text.slice(0, 120)} / ${dry.slice(0, 80)}`;
    });

    let faultAlert = null;
    await attempt(`the alerts page lists a firing alert of ${faultService} (waiting up to ${Math.round(alertTimeoutMs / 1000)}s for the demo's rules)`, async () => {
      faultAlert = await waitForFiring((a) => a.labels && a.labels.service === faultService && a.rule === 'service error rate', alertTimeoutMs / 2, `of "service error rate" on ${faultService}`).catch(() =>
        waitForFiring((a) => a.labels && a.labels.service === faultService, alertTimeoutMs / 2, `naming ${faultService}`),
      );
      await open(page, '/alerts', '[data-testid=alerts-firing] [data-testid=alert-row]');
      const rows = await page.locator('[data-testid=alerts-firing] [data-testid=alert-row]').allInnerTexts();
      const row = rows.find((r) => r.includes(faultService));
      if (!row) throw new Error(`firing rows: ${rows.join(' | ').slice(0, 300)}`);
      const badge = await page.locator('[data-testid=firing-count]').innerText({ timeout: 40_000 });
      if (!(Number(badge) >= 1)) throw new Error(`the navigation's count of firing alerts: ${badge}`);
      await shot(page, 'alerts-firing-dark');
      await assertClean(page, 'alerts');
      return `${row.replace(/\s+/g, ' ').slice(0, 140)}; nav count ${badge}`;
    });

    await attempt("a firing alert's page shows its evidence with the root cause", async () => {
      if (!faultAlert) throw new Error('no firing alert to open');
      await open(page, `/alerts/${encodeURIComponent(faultAlert.fingerprint)}`, '[data-testid=alert-detail]');
      // Evidence is gathered just after the alert fires; the page reads it again until it is there.
      const cause = page.locator('[data-testid=alert-root-cause]').first();
      await cause.waitFor({ timeout: 90_000 });
      const text = (await cause.innerText()).replace(/\s+/g, ' ');
      if (!text.includes(faultService)) throw new Error(`root cause: ${text}`);
      const trace = await page.locator('[data-testid=alert-example-trace]').first().getAttribute('href');
      if (!/^\/trace\/[0-9a-f]+/.test(trace || '')) throw new Error(`example trace link: ${trace}`);
      await page.locator('[data-testid=alert-history]').waitFor();
      await shot(page, 'alert-detail-dark');
      await assertClean(page, 'alert detail');
      return text.slice(0, 160);
    });

    await attempt("an alert's Silence… button fills a silence with its labels, which can be set and expired", async () => {
      if (!faultAlert) throw new Error('no firing alert to silence');
      await open(page, `/alerts/${encodeURIComponent(faultAlert.fingerprint)}`, '[data-testid=silence-button]');
      await page.locator('[data-testid=silence-button]').click();
      await page.locator('[data-testid=silence-form]').waitFor();
      const matchers = await page.locator('[data-testid=silence-matcher]').evaluateAll((els) => els.map((e) => e.value));
      if (!matchers.includes(`service=${JSON.stringify(faultService)}`)) throw new Error(`matchers: ${matchers.join(', ')}`);
      await page.locator('[data-testid=silence-author]').fill('ui-test 테스트');
      await page.locator('[data-testid=silence-submit]').click();
      const row = page.locator('[data-testid=silence-row]', { hasText: faultService }).filter({ hasText: 'active' }).first();
      await row.waitFor();
      await row.locator('[data-testid=silence-expire]').click();
      await page.locator('[data-testid=silence-row]', { hasText: 'ui-test 테스트' }).filter({ hasText: 'expired' }).first().waitFor();
      await shot(page, 'silences-dark');
      await assertClean(page, 'silences');
      return matchers.join(', ');
    });

    await attempt('the services page marks the failing service as firing, and its page shows the alert', async () => {
      if (!faultAlert) throw new Error('no firing alert');
      await open(page, '/services', '[data-testid=service-row]');
      await page.locator('[data-testid=service-row]', { hasText: faultService }).locator('[data-testid=service-firing]').waitFor();
      await open(page, `/services/${encodeURIComponent(faultService)}`, '.stat-cards');
      await page.locator('[data-testid=service-alerts] a').first().waitFor();
      await page.locator('[data-testid=service-slos]').waitFor();
      await shot(page, 'service-alerts-dark');
      await assertClean(page, 'service alerts');
    });

    // ---- XSS: every page that shows data, with payloads in messages, field names and values.
    const xssPages = [
      ['search', `/search?q=xssmarker&from=1h`, '[data-testid=result-row]'],
      ['trace', `/trace/${XSS_TRACE}`, '[data-testid=span-row]'],
      ['services', '/services', '[data-testid=service-row]'],
      ['service', `/services/${encodeURIComponent(XSS_SERVICE)}`, '.card'],
      ['why', '/why?q=xssmarker', '[data-testid=why-summary]'],
      ['map', '/map', '[data-testid=map-node]'],
      ['privacy', '/privacy?from=1h', '[data-testid=privacy-row]'],
    ];
    for (const [name, path, ready] of xssPages) {
      await attempt(`xss: no payload runs on ${name}`, async () => {
        await open(page, path, ready);
        await page.waitForTimeout(800);
        if (name === 'search') {
          const text = await page.locator('[data-testid=results]').innerText();
          if (!text.includes('<img src=x onerror=')) throw new Error('the payload is not shown as text');
          for (const tab of ['fields', 'json', 'context']) {
            await page.locator('[data-testid=result-row]').first().click();
            await page.locator(`[data-testid=tab-${tab}]`).click();
            await page.waitForTimeout(400);
          }
          await page.locator('[data-testid=tab-fields]').click();
          await shot(page, 'xss-search-dark');
        }
        if (name === 'trace') {
          for (const row of await page.locator('[data-testid=span-row]').all()) {
            await row.click();
            await page.locator('[data-testid=span-detail]').waitFor();
          }
          await shot(page, 'xss-trace-dark');
          await page.locator('[data-testid=tab-records]').click();
          await page.waitForTimeout(300);
        }
        if (name === 'map') await page.locator('[data-testid=map-node]').first().dispatchEvent('pointerenter');
        const injected = await page.evaluate(() => document.querySelectorAll('img[src="x"], iframe, svg[onload], script:not([src]), a[href^="javascript:"], style:not([data-vite-dev-id])').length);
        if (injected) throw new Error(`${injected} elements from payloads are in the DOM`);
        await assertClean(page, path);
      });
    }
    // The alerting pages, with the payloads of the rule made through the API.
    let xssAlert = null;
    const xssAlerting = [
      ['rules', '/rules', '[data-testid=rule-row]'],
      ['rule', `/rules/${encodeURIComponent(XSS_RULE)}`, '[data-testid=rule-settings]'],
      ['rule editor', `/rules/${encodeURIComponent(XSS_RULE)}/edit`, '[data-testid=rule-form]'],
      ['alerts', () => `/alerts?rule=${encodeURIComponent(XSS_RULE)}`, '[data-testid=alert-row]'],
      ['alert', () => `/alerts/${encodeURIComponent(xssAlert.fingerprint)}`, '[data-testid=alert-history]'],
      ['silence form', () => `/silences?new=1&matcher=${encodeURIComponent(`payload=${JSON.stringify(PAYLOADS[0])}`)}`, '[data-testid=silence-form]'],
    ];
    for (const [name, path, ready] of xssAlerting) {
      await attempt(`xss: no payload runs on the alerting page ${name}`, async () => {
        if (xssRule) throw new Error(`the rule was not created: ${xssRule.message}`);
        if (typeof path === 'function' && !xssAlert) xssAlert = await waitForFiring((a) => a.rule === XSS_RULE, Math.max(60_000, alertTimeoutMs / 3), `of the rule ${XSS_RULE}`);
        const where = typeof path === 'function' ? path() : path;
        await open(page, where, ready);
        await page.waitForTimeout(800);
        const text = await page.locator('main').innerText();
        const values = await page.locator('main input, main textarea').evaluateAll((els) => els.map((e) => e.value).join('\n'));
        if (!`${text}\n${values}`.includes('<img src=x onerror=')) throw new Error('the payload is not shown as text');
        const injected = await page.evaluate(() => document.querySelectorAll('img[src="x"], iframe, svg[onload], script:not([src]), a[href^="javascript:"], style:not([data-vite-dev-id])').length);
        if (injected) throw new Error(`${injected} elements from payloads are in the DOM`);
        if (name === 'alert') await shot(page, 'xss-alert-dark');
        await assertClean(page, where);
      });
    }
    await attempt('xss: no payload runs in live tail', async () => {
      await open(page, '/tail?q=xsstail', '[data-testid=tail-status]');
      await page.locator('[data-testid=tail-status]', { hasText: 'live' }).waitFor();
      await ndjson(PAYLOADS.map((p) => ({ service: XSS_SERVICE, level: 'error', message: `xsstail ${p}`, [p]: p })));
      await page.locator('[data-testid=tail-row]').nth(PAYLOADS.length - 1).waitFor();
      await page.waitForTimeout(300);
      await assertClean(page, 'tail');
    });
    await dark.close();

    // ---- light theme and phone width.
    const light = await context(browser, { viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
    const lp = await newPage(light);
    for (const [name, path, ready] of PAGES) {
      await attempt(`light theme: ${name}`, async () => {
        await open(lp, path, ready);
        await lp.waitForTimeout(name === 'services' ? 1500 : 400);
        const theme = await lp.evaluate(() => document.documentElement.dataset.theme);
        if (theme !== 'light') throw new Error(`theme ${theme}`);
        await shot(lp, `${name}-light`);
        await assertClean(lp, path);
      });
    }
    await light.close();

    const phone = await context(browser, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: 'dark' });
    const pp = await newPage(phone);
    for (const [name, path, ready] of PAGES) {
      await attempt(`phone: ${name} fits the screen`, async () => {
        await open(pp, path, ready);
        await pp.waitForTimeout(name === 'services' ? 1500 : 400);
        await shot(pp, `${name}-phone`);
        const overflow = await pp.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        if (overflow > 2) throw new Error(`the page is ${overflow}px wider than the screen`);
        await assertClean(pp, path);
      });
    }
    await attempt('phone: a record opens full screen', async () => {
      await open(pp, `/search?q=${encodeURIComponent(MARKER)}&from=1h`, '[data-testid=result-row]');
      await pp.locator('[data-testid=result-row]').first().tap();
      await pp.locator('[data-testid=record-detail]').waitFor();
      await shot(pp, 'search-record-phone');
    });
    await phone.close();
  } finally {
    await browser.close();
  }
  const failed = results.filter((r) => !r.ok);
  console.log(`\n${results.length - failed.length} passed, ${failed.length} failed; screenshots in ${artifacts}`);
  process.exit(failed.length ? 1 : 0);
}

main().catch((e) => {
  console.error(`fatal: ${e.stack || e}`);
  process.exit(1);
});
