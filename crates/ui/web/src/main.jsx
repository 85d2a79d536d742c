import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './style.css';
import { href, Link, navigate, useRoute } from './router.jsx';
import { applyTheme, updateSettings, useSettings } from './settings.js';
import { describeRange, fromInputValue, PRESETS, rangeOf, resolve, toInputValue } from './time.js';
import { SearchPage } from './pages/Search.jsx';
import { TracePage } from './pages/Trace.jsx';
import { ServicesPage } from './pages/Services.jsx';
import { ServicePage } from './pages/Service.jsx';
import { WhyPage } from './pages/Why.jsx';
import { TailPage } from './pages/Tail.jsx';

// The map (and d3-force) loads only when the map is opened.
let mapModule = null;
function LazyMap({ route }) {
  const [mod, setMod] = useState(mapModule);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!mod) import('./pages/Map.jsx').then((m) => setMod((mapModule = m)), setError);
  }, []);
  if (error) return <div class="notice notice-error">Cannot load the map: {String(error.message || error)}</div>;
  if (!mod) return <div class="notice notice-muted">Loading the map…</div>;
  return <mod.MapPage route={route} />;
}

const NAV = [
  ['/search', 'Search'],
  ['/services', 'Services'],
  ['/why', 'Why'],
  ['/map', 'Map'],
  ['/tail', 'Live tail'],
];

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
  return (
    <header class="topbar">
      <Link href={href('/search', keep)} class="brand" aria-label="trawl home">
        <span class="brand-mark" aria-hidden="true" />
        trawl
      </Link>
      <nav class="nav" aria-label="Pages">
        {NAV.map(([path, label]) => (
          <Link key={path} href={href(path, keep)} class={`nav-link ${section === path || (path === '/search' && section === '/trace') ? 'active' : ''}`}>
            {label}
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

function Page({ route }) {
  const p = route.path.replace(/\/+$/, '') || '/';
  if (p === '/' || p === '/search') return <SearchPage route={route} />;
  if (p === '/services') return <ServicesPage route={route} />;
  if (p.startsWith('/services/')) return <ServicePage route={route} name={decodeURIComponent(p.slice('/services/'.length))} />;
  if (p.startsWith('/trace/')) return <TracePage route={route} id={decodeURIComponent(p.slice('/trace/'.length))} />;
  if (p === '/trace') return <TracePage route={route} id="" />;
  if (p === '/why') return <WhyPage route={route} />;
  if (p === '/tail') return <TailPage route={route} />;
  if (p === '/map') return <LazyMap route={route} />;
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
