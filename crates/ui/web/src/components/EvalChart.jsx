// A rule's evaluations as a chart: one line per group (label set, at most 12: those whose
// condition held first, then the highest), the threshold (or the band's high edge) dashed, and
// a point where the condition held. Used by a rule's page (its history) and by the editor (the
// preview of the last 24 hours).
import { useMemo } from 'preact/hooks';
import { Chart, axes } from './Chart.jsx';
import { fmtFigure } from './alerting.jsx';

const MAX_GROUPS = 12;
/** Band lines are drawn for the first few groups only: more would hide the figures. */
const MAX_BAND_LINES = 3;

export function groupName(labels) {
  const entries = Object.entries(labels || {});
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(', ') : '(all)';
}

/** The chart's data from the API's evaluations: [{at, samples: [{labels, value, active, threshold?, band?}]}]. */
export function evalSeries(points) {
  const sorted = [...(points || [])].filter((p) => !Number.isNaN(Date.parse(p.at))).sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const groups = new Map();
  sorted.forEach((p, i) => {
    for (const s of p.samples || []) {
      const key = JSON.stringify(s.labels || {});
      let g = groups.get(key);
      if (!g) {
        g = { key, name: groupName(s.labels), values: new Array(sorted.length).fill(null), active: [], bandHigh: new Array(sorted.length).fill(null), everActive: false, max: -Infinity };
        groups.set(key, g);
      }
      const v = Number(s.value);
      g.values[i] = Number.isFinite(v) ? v : null;
      if (s.active) {
        g.active.push(i);
        g.everActive = true;
      }
      if (Number.isFinite(v)) g.max = Math.max(g.max, v);
      if (s.band && Number.isFinite(s.band.high)) g.bandHigh[i] = s.band.high;
    }
  });
  const chosen = [...groups.values()].sort((a, b) => (b.everActive - a.everActive) || (b.max - a.max)).slice(0, MAX_GROUPS);
  // The threshold of each evaluation (the same for every group of a rule).
  const threshold = sorted.map((p) => {
    const s = (p.samples || []).find((x) => x.threshold !== undefined && x.threshold !== null);
    return s ? Number(s.threshold) : null;
  });
  return {
    xs: sorted.map((p) => Date.parse(p.at) / 1e3),
    groups: chosen,
    hidden: groups.size - chosen.length,
    threshold: threshold.some((t) => t !== null) ? threshold : null,
    errors: sorted.filter((p) => p.error),
  };
}

export function EvalChart({ points, unit, height = 220, label = 'Evaluations' }) {
  const series = useMemo(() => evalSeries(points), [points]);
  const bands = series.groups.filter((g) => g.bandHigh.some((b) => b !== null)).slice(0, MAX_BAND_LINES);
  const data = useMemo(() => {
    if (series.xs.length < 1) return null;
    return [series.xs, ...series.groups.map((g) => g.values), ...(series.threshold ? [series.threshold] : []), ...bands.map((g) => g.bandHigh)];
  }, [series]);
  if (!data) return <p class="muted small">No evaluation yet.</p>;
  return (
    <div class="eval-chart" data-testid="eval-chart">
      <Chart
        data={data}
        height={height}
        label={label}
        build={(colors) => {
          const palette = [colors.accent, colors.level.WARN, colors.level.ERROR, colors.ok, colors.level.FATAL, colors.level.DEBUG];
          const fmt = (u, v) => (v === null || v === undefined ? '—' : fmtFigure(v, unit));
          return {
            legend: { show: true, live: true },
            scales: { x: { time: true }, y: { range: (u, min, max) => [Math.min(0, min), Math.max(max, 1e-9) * 1.1] } },
            axes: axes(colors, { y: { values: (u, vs) => vs.map((v) => fmtFigure(v, unit)), size: 56 } }),
            series: [
              {},
              ...series.groups.map((g, i) => ({
                label: g.name,
                stroke: palette[i % palette.length],
                width: 1.5,
                value: fmt,
                // A point where the condition held; none elsewhere.
                points: { show: false, size: 7, fill: palette[i % palette.length], filter: () => g.active },
              })),
              ...(series.threshold ? [{ label: 'threshold', stroke: colors.error, width: 1, dash: [6, 4], value: fmt, points: { show: false } }] : []),
              ...bands.map((g) => ({ label: `normal high (${g.name})`, stroke: colors.fg, width: 1, dash: [4, 4], value: fmt, points: { show: false } })),
            ],
          };
        }}
      />
      <p class="muted small">
        {series.xs.length} evaluations; a dot marks where the condition held.
        {series.hidden > 0 ? ` ${series.hidden} more groups not drawn.` : ''}
        {series.errors.length ? ` ${series.errors.length} failed (last: ${series.errors[series.errors.length - 1].error}).` : ''}
      </p>
    </div>
  );
}
