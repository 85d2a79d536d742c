// Per-browser settings (theme, UTC display, result columns, the name used to acknowledge alerts
// and set silences), kept in localStorage and shared by every view.
import { useEffect, useState } from 'preact/hooks';

const KEY = 'trawl.settings';
const listeners = new Set();

function load() {
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(KEY) || '{}') || {};
  } catch {
    saved = {};
  }
  const prefersLight = typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: light)').matches;
  return { theme: saved.theme === 'light' || saved.theme === 'dark' ? saved.theme : prefersLight ? 'light' : 'dark', utc: saved.utc === true, columns: Array.isArray(saved.columns) ? saved.columns.filter((c) => typeof c === 'string') : [], user: typeof saved.user === 'string' ? saved.user : '' };
}

let settings = load();

export function applyTheme() {
  document.documentElement.dataset.theme = settings.theme;
}

export function getSettings() {
  return settings;
}

export function updateSettings(changes) {
  settings = { ...settings, ...changes };
  try {
    localStorage.setItem(KEY, JSON.stringify(settings));
  } catch {
    // private mode: settings last for this page only
  }
  applyTheme();
  for (const l of listeners) l(settings);
}

export function useSettings() {
  const [s, set] = useState(settings);
  useEffect(() => {
    listeners.add(set);
    set(settings);
    return () => listeners.delete(set);
  }, []);
  return s;
}
