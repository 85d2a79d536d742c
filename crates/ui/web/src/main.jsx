import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './style.css';
import * as api from './api.js';
import { href, Link, navigate, useRoute } from './router.jsx';
import { applyTheme, updateSettings, useSettings } from './settings.js';
import { describeRange, fromInputValue, PRESETS, rangeOf, resolve, toInputValue } from './time.js';
import { SearchPage } from './pages/Search.jsx';
import { TracePage } from './pages/Trace.jsx';
import { ServicesPage } from './pages/Services.jsx';
import { ServicePage } from './pages/Service.jsx';
import { WhyPage } from './pages/Why.jsx';
import { TailPage } from './pages/Tail.jsx';

// The map (and d3-force) and the alerting pages load only when they are opened, so the first
// load of the search page stays small.
const LAZY = {
  map: ['the map', () => import('./pages/Map.jsx')],
  alerts: ['the alerts', () => import('./pages/Alerts.jsx')],
  rules: ['the rules', () => import('./pages/Rules.jsx')],
  editor: ['the rule editor', () => import('./pages/RuleEditor.jsx')],
  silences: ['the silences', () => import('./pages/Silences.jsx')],
  notify: ['the notification settings', () => import('./pages/Notify.jsx')],
  privacy: ['the privacy report', () => import('./pages/Privacy.jsx')],
};
const loaded = {};

/** `page(module)` of a lazily loaded module, once it is there. */
function Lazy({ module, page }) {
  const [mod, setMod] = useState(loaded[module] || null);
  const [error, setError] = useState(null);
  const [what, load] = LAZY[module];
  useEffect(() => {
    if (!mod) load().then((m) => setMod((loaded[module] = m)), setError);
  }, []);
  if (error) return <div class="notice notice-error">Cannot load {what}: {String(error.message || error)}</div>;
  if (!mod) return <div class="notice notice-muted">Loading {what}…</div>;
  return page(mod);
}

const NAV = [
  ['/search', 'Search'],
  ['/services', 'Services'],
  ['/why', 'Why'],
  ['/map', 'Map'],
  ['/tail', 'Live tail'],
  ['/alerts', 'Alerts'],
  ['/privacy', 'Privacy'],
];

/** The sections of alerting: the Alerts entry of the navigation is theirs. */
const ALERTING = ['/alerts', '/rules', '/silences', '/contact-points', '/policies', '/notifications'];

/** How often the navigation's count of firing alerts is read again. */
const FIRING_EVERY_MS = 30_000;

/**
 * Firing alerts, summed over the rules (`GET /api/v1/rules` is small: no evidence); null when
 * alerting is off or unreachable, and then not asked again.
 */
function useFiringCount(path) {
  const [count, setCount] = useState(null);
  const [off, setOff] = useState(false);
  useEffect(() => {
    if (off) return undefined;
    const controller = new AbortController();
    const read = () => {
      if (document.visibilityState !== 'visible') return;
      api.get('/api/v1/rules', {}, { signal: controller.signal }).then(
        (d) => setCount((d.rules || []).reduce((n, r) => n + (r.firing || 0), 0)),
        (e) => {
          if (e.name === 'AbortError') return;
          setCount(null);
          if (e.status === 503 || e.status === 404) setOff(true);
        },
      );
    };
    read();
    const t = setInterval(read, FIRING_EVERY_MS);
    return () => {
      clearInterval(t);
      controller.abort();
    };
  }, [off, ALERTING.includes(`/${path.split('/')[1]}`) ? path : '']);
  return count;
}

function TimePicker({ range }) {
  const { utc } = useSettings();
  const [open, setOpen] = useState(false);
  const bounds = resolve(range);
  const [from, setFrom] = useState(toInputValue(bounds.start, utc));
  const [to, setTo] = useState(toInputValue(bounds.end, utc));
  useEffect(() => {
    if (!open) return;
    const b = resolve(range);
    setFrom(toInputValue(b.start, utc));
    setTo(toInputValue(b.end, utc));
  }, [open, utc]);
  const choose = (changes) => {
    const p = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(changes)) (v ? p.set(k, v) : p.delete(k));
    navigate(`${location.pathname}?${p}`);
    setOpen(false);
  };
  return (
    <div class="timepicker">
      <button type="button" class="btn" data-testid="time-button" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span class="clock" aria-hidden="true">◷</span> {describeRange(range, utc)}
      </button>
      {open ? (
        <div class="popover" role="dialog" aria-label="Time range">
          <div class="presets">
            {PRESETS.map((p) => (
              <button type="button" key={p} class={`btn btn-small ${range.from === p && !range.to ? 'btn-primary' : ''}`} onClick={() => choose({ from: p, to: '' })}>
                Last {p}
              </button>
            ))}
          </div>
          <form
            class="custom-range"
            onSubmit={(e) => {
              e.preventDefault();
              const s = fromInputValue(from, utc);
              const t = fromInputValue(to, utc);
              if (s !== null && t !== null && t > s) choose({ from: new Date(s).toISOString(), to: new Date(t).toISOString() });
            }}
          >
            <label>
              From <input type="datetime-local" step="1" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
            </label>
            <label>
              To <input type="datetime-local" step="1" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
            </label>
            <div class="row">
              <span class="muted">{utc ? 'UTC' : 'local time'}</span>
              <button type="submit" class="btn btn-primary btn-small">Apply</button>
            </div>
          </form>
        </div>
      ) : null}
    </div>
  );
}

function Header({ route }) {
  const settings = useSettings();
  const range = rangeOf(route.params);
  const keep = { from: route.params.get('from'), to: route.params.get('to') };
  const section = route.path === '/' ? '/search' : `/${route.path.split('/')[1]}`;
  const firing = useFiringCount(route.path);
  return (
    <header class="topbar">
      <Link href={href('/search', keep)} class="brand" aria-label="trawl home">
        <span class="brand-mark" aria-hidden="true" />
        trawl
      </Link>
      <nav class="nav" aria-label="Pages">
        {NAV.map(([path, label]) => (
          <Link
            key={path}
            href={href(path, keep)}
            class={`nav-link ${section === path || (path === '/search' && section === '/trace') || (path === '/alerts' && ALERTING.includes(section)) ? 'active' : ''}`}
            data-testid={path === '/alerts' ? 'nav-alerts' : undefined}
          >
            {label}
            {path === '/alerts' && firing ? (
              <span class="nav-badge" data-testid="firing-count" title={`${firing} firing ${firing === 1 ? 'alert' : 'alerts'}`}>
                {firing}
              </span>
            ) : null}
          </Link>
        ))}
      </nav>
      <div class="topbar-tools">
        <TimePicker range={range} />
        <button type="button" class="btn btn-small" data-testid="utc-toggle" title="Show times in UTC or local time" aria-pressed={settings.utc} onClick={() => updateSettings({ utc: !settings.utc })}>
          {settings.utc ? 'UTC' : 'Local'}
        </button>
        <button type="button" class="btn btn-small" data-testid="theme-toggle" title="Dark or light theme" onClick={() => updateSettings({ theme: settings.theme === 'dark' ? 'light' : 'dark' })}>
          {settings.theme === 'dark' ? '☾' : '☀'}
        </button>
      </div>
    </header>
  );
}

/** A path segment as text (malformed escapes stay as they are). */
function decode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function Page({ route }) {
  const p = route.path.replace(/\/+$/, '') || '/';
  if (p === '/' || p === '/search') return <SearchPage route={route} />;
  if (p === '/services') return <ServicesPage route={route} />;
  if (p.startsWith('/services/')) return <ServicePage route={route} name={decodeURIComponent(p.slice('/services/'.length))} />;
  if (p.startsWith('/trace/')) return <TracePage route={route} id={decodeURIComponent(p.slice('/trace/'.length))} />;
  if (p === '/trace') return <TracePage route={route} id="" />;
  if (p === '/why') return <WhyPage route={route} />;
  if (p === '/tail') return <TailPage route={route} />;
  if (p === '/map') return <Lazy key={p} module="map" page={(m) => <m.MapPage route={route} />} />;
  if (p === '/alerts') return <Lazy key={p} module="alerts" page={(m) => <m.AlertsPage route={route} />} />;
  if (p.startsWith('/alerts/')) return <Lazy key={p} module="alerts" page={(m) => <m.AlertPage route={route} fingerprint={decode(p.slice('/alerts/'.length))} />} />;
  if (p === '/rules') return <Lazy key={p} module="rules" page={(m) => <m.RulesPage route={route} />} />;
  if (p === '/rules/new') return <Lazy key={p} module="editor" page={(m) => <m.RuleEditorPage route={route} name={null} />} />;
  if (p.startsWith('/rules/') && p.endsWith('/edit')) return <Lazy key={p} module="editor" page={(m) => <m.RuleEditorPage route={route} name={decode(p.slice('/rules/'.length, -'/edit'.length))} />} />;
  if (p.startsWith('/rules/')) return <Lazy key={p} module="rules" page={(m) => <m.RulePage route={route} name={decode(p.slice('/rules/'.length))} />} />;
  if (p === '/silences') return <Lazy key={p} module="silences" page={(m) => <m.SilencesPage route={route} />} />;
  if (p === '/contact-points') return <Lazy key={p} module="notify" page={(m) => <m.ContactPointsPage route={route} />} />;
  if (p === '/policies') return <Lazy key={p} module="notify" page={(m) => <m.PoliciesPage route={route} />} />;
  if (p === '/privacy') return <Lazy key={p} module="privacy" page={(m) => <m.PrivacyPage route={route} />} />;
  if (p === '/notifications') return <Lazy key={p} module="notify" page={(m) => <m.NotificationsPage route={route} />} />;
  return <div class="notice notice-error">No page at this address. <Link href="/search">Go to search</Link></div>;
}

function App() {
  const route = useRoute();
  useEffect(() => {
    const name = route.path.split('/')[1] || 'search';
    document.title = `trawl · ${name}`;
  }, [route.path]);
  return (
    <>
      <Header route={route} />
      <main class="content">
        <Page route={route} />
      </main>
    </>
  );
}

applyTheme();
render(<App />, document.getElementById('app'));
