// A uPlot chart that follows its container's width and the theme. uPlot draws on a canvas and
// styles its own elements through the CSSOM (element.style), which the CSP allows.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useWidth } from '../hooks.js';
import { useSettings } from '../settings.js';

export function themeColors() {
  const css = getComputedStyle(document.documentElement);
  const v = (name) => css.getPropertyValue(name).trim();
  return {
    fg: v('--fg-muted'),
    grid: v('--grid'),
    accent: v('--accent'),
    error: v('--level-error'),
    warn: v('--level-warn'),
    ok: v('--ok'),
    level: {
      TRACE: v('--level-trace'),
      DEBUG: v('--level-debug'),
      INFO: v('--level-info'),
      WARN: v('--level-warn'),
      ERROR: v('--level-error'),
      FATAL: v('--level-fatal'),
    },
  };
}

export function axes(colors, { y = {}, x = {} } = {}) {
  const common = { stroke: colors.fg, grid: { stroke: colors.grid, width: 1 }, ticks: { stroke: colors.grid, width: 1 }, font: '11px system-ui, sans-serif' };
  return [{ ...common, ...x }, { ...common, size: 48, ...y }];
}

/**
 * `build(colors, width)` returns uPlot options without width and height; the chart is rebuilt
 * when `data`, the width, the theme or `deps` change.
 */
export function Chart({ build, data, height = 160, deps = [], className = '', label }) {
  const box = useRef(null);
  const width = useWidth(box);
  const { theme, utc } = useSettings();
  useEffect(() => {
    if (!box.current || width <= 0 || !data) return undefined;
    const opts = { width, height, ...build(themeColors(), width) };
    opts.tzDate = utc ? (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC') : undefined;
    if (!opts.tzDate) delete opts.tzDate;
    const plot = new uPlot(opts, data, box.current);
    return () => plot.destroy();
  }, [data, width, theme, utc, height, ...deps]);
  return <div class={`chart ${className}`} ref={box} role="img" aria-label={label} />;
}
