// A small history router: the path picks the page, URL parameters hold the query and the time
// range, so every view can be linked and reloaded.
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set();

function current() {
  return { path: location.pathname, params: new URLSearchParams(location.search) };
}

export function navigate(url, { replace = false } = {}) {
  const target = new URL(url, location.href);
  if (target.origin !== location.origin) {
    location.assign(target.href);
    return;
  }
  if (target.pathname + target.search === location.pathname + location.search) return;
  history[replace ? 'replaceState' : 'pushState'](null, '', target.pathname + target.search + target.hash);
  notify();
}

function notify() {
  const route = current();
  for (const l of listeners) l(route);
}

addEventListener('popstate', notify);

export function useRoute() {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    listeners.add(setRoute);
    return () => listeners.delete(setRoute);
  }, []);
  return route;
}

/** Builds `path?params`, dropping empty values. */
export function href(path, params = {}) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `${path}?${s}` : path;
}

/** Updates some parameters of the current URL. */
export function setParams(changes, { replace = false } = {}) {
  const p = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === null || v === '') p.delete(k);
    else p.set(k, String(v));
  }
  const s = p.toString();
  navigate(location.pathname + (s ? `?${s}` : ''), { replace });
}

/** An in-app link: a real <a href> (open in a new tab works), routed without a reload. */
export function Link({ href: to, children, onClick, ...rest }) {
  return (
    <a
      href={to}
      onClick={(e) => {
        if (onClick) onClick(e);
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(to);
        scrollTo(0, 0);
      }}
      {...rest}
    >
      {children}
    </a>
  );
}
