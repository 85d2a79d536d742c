// Search: the query bar, a histogram of every match by level (drag to zoom), the results newest
// first in a virtualised table, the record panel, saved queries, and the tables (and charts) of
// `| stats`, `| top`, `| fields`, `| traces` and `| patterns`.
import { useEffect, useMemo, useState } from 'preact/hooks';
import uPlot from 'uplot';
import * as api from '../api.js';
import { Chart, axes } from '../components/Chart.jsx';
import { QueryBar } from '../components/QueryBar.jsx';
import { columnValue, displayValue, RecordDetail } from '../components/RecordDetail.jsx';
import { VirtualList } from '../components/VirtualList.jsx';
import { Empty, ErrorBox, Level, Loading, fmtNumber, TimeText } from '../components/ui.jsx';
import { useLoad } from '../hooks.js';
import { Link, navigate, setParams } from '../router.jsx';
import { getSettings, updateSettings, useSettings } from '../settings.js';
import { apiBounds, binWidth, formatTime, nsToMs, rangeOf, relativeMs } from '../time.js';
import { addTerm, fieldTerm, hasPipe, makesTable, searchPart, tablePipe } from '../querylang.js';

const LIMITS = [100, 500, 1000, 5000, 10000];
const ROW_HEIGHT = 28;
// Stacking order, bottom to top.
const STACK = ['FATAL', 'ERROR', 'WARN', 'INFO', 'DEBUG', 'TRACE'];
// At most 120 buckets (one more when the range straddles) times six levels.
const HISTOGRAM_ROWS = 1000;

/** An exact count with thousands separators (the histogram total is never abbreviated). */
const fmtCount = (n) => Number(n).toLocaleString('en-US');

/** The query counting every match of the search part of `q` per bucket and level. */
export function histogramQuery(q, width) {
  return `${searchPart(q)} | stats count() by bin(time, ${width}), level`.trim();
}

/**
 * The histogram of an answer to `histogramQuery`: every bucket of the range (empty ones too,
 * aligned like the server's bins, on multiples of the width), counts per level, and totals.
 */
function histogramOf(answer, bounds, widthMs) {
  const first = Math.floor(bounds.start / widthMs) * widthMs;
  const n = Math.max(1, Math.ceil((bounds.end - first) / widthMs));
  // One more x, always empty, where the last bucket's bar ends: a bar starts at its bucket's
  // time, and the x scale ends at the last x, so without it the newest bucket is cut off.
  const xs = Array.from({ length: n + 1 }, (_, i) => (first + i * widthMs) / 1e3);
  const counts = Object.fromEntries(STACK.map((l) => [l, new Array(n + 1).fill(0)]));
  const totals = Object.fromEntries(STACK.map((l) => [l, 0]));
  const names = (answer.columns || []).map((c) => c.name);
  const timeAt = names.findIndex((c) => c.startsWith('bin('));
  const levelAt = names.indexOf('level');
  const countAt = names.indexOf('count()');
  let total = 0;
  for (const row of answer.rows || []) {
    const count = Number(row[countAt]) || 0;
    const upper = String(row[levelAt] || '').toUpperCase();
    const level = STACK.includes(upper) ? upper : 'INFO';
    const i = Math.round((Date.parse(row[timeAt]) - first) / widthMs);
    if (i >= 0 && i < n) counts[level][i] += count;
    totals[level] += count;
    total += count;
  }
  return { xs, counts, totals, total, truncated: answer.truncated === true };
}

function Histogram({ hist, onSelect }) {
  // Stacked bars: each series is the running sum from the bottom; drawn tallest first.
  const data = useMemo(() => {
    const sums = [];
    let acc = new Array(hist.xs.length).fill(0);
    for (const l of STACK) {
      acc = acc.map((v, i) => v + hist.counts[l][i]);
      sums.push(acc);
    }
    return [hist.xs, ...sums.reverse()];
  }, [hist]);
  const levels = [...STACK].reverse();
  return (
    <div class="histogram" data-testid="histogram">
      <Chart
        data={data}
        height={110}
        label="Matches over time by level; drag to select a time range"
        build={(colors) => ({
          legend: { show: false },
          cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
          select: { show: true },
          scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
          axes: axes(colors, { y: { size: 40, ticks: { show: false }, values: (u, v) => v.map((x) => fmtNumber(x)) } }),
          series: [
            {},
            ...levels.map((l) => ({
              label: l,
              fill: colors.level[l],
              stroke: colors.level[l],
              width: 0,
              paths: uPlot.paths.bars({ size: [0.85, 60], align: 1 }),
              points: { show: false },
            })),
          ],
          hooks: {
            setSelect: [
              (u) => {
                if (u.select.width < 3) return;
                const a = u.posToVal(u.select.left, 'x') * 1e3;
                const b = u.posToVal(u.select.left + u.select.width, 'x') * 1e3;
                u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
                onSelect(a, b);
              },
            ],
          },
        })}
      />
      <div class="legend">
        <span class="legend-item legend-total">
          total <span data-testid="histogram-total">{`${hist.truncated ? 'at least ' : ''}${fmtCount(hist.total)}`}</span>
        </span>
        {STACK.filter((l) => hist.totals[l] > 0).map((l) => (
          <span key={l} class="legend-item">
            <Level level={l} /> {fmtNumber(hist.totals[l])}
          </span>
        ))}
      </div>
    </div>
  );
}

function ResultsTable({ records, columns, selected, onSelect }) {
  const { utc } = useSettings();
  // rem, not em: the head's font is smaller than the rows', and both must share one grid.
  const template = `11.5rem 4.5rem minmax(6rem, 10rem) ${columns.map(() => 'minmax(6rem, 12rem)').join(' ')} minmax(12rem, 1fr)`;
  const grid = { gridTemplateColumns: template };
  return (
    <div class="results" data-testid="results">
      <div class="results-head row-grid" style={grid} data-testid="results-head">
        <span>Time</span>
        <span>Level</span>
        <span>Service</span>
        {columns.map((c) => (
          <span key={c} class="col-head">
            {c}
            <button type="button" class="btn btn-icon" title={`Remove the column ${c}`} onClick={() => updateSettings({ columns: getSettings().columns.filter((x) => x !== c) })}>
              ✕
            </button>
          </span>
        ))}
        <span>Message</span>
      </div>
      <VirtualList
        items={records}
        rowHeight={ROW_HEIGHT}
        className="results-body"
        testId="results-body"
        renderRow={(r, i, style) => (
          <div
            key={i}
            role="row"
            tabIndex={0}
            data-testid="result-row"
            class={`result-row row-grid lv-${String(r.level).toLowerCase()} ${selected === i ? 'selected' : ''}`}
            style={{ ...style, ...grid }}
            onClick={() => onSelect(i)}
            onKeyDown={(e) => e.key === 'Enter' && onSelect(i)}
          >
            <TimeText text={formatTime(nsToMs(r.time_ns), utc)} />
            <span>
              <Level level={r.level} />
            </span>
            <span class="service-name" title={r.service}>
              {r.service}
            </span>
            {columns.map((c) => {
              const v = columnValue(r, c);
              return (
                <span key={c} class="cell" title={v === undefined ? '' : displayValue(v)}>
                  {v === undefined ? '' : displayValue(v)}
                </span>
              );
            })}
            <span class="msg" title={r.body.length < 400 ? r.body : undefined}>
              {r.body}
            </span>
          </div>
        )}
      />
    </div>
  );
}

const TRACE_COLUMNS = ['trace_id', 'trace'];
// Aggregates for which a bucket without a row means zero rather than unknown.
const ZERO_WHEN_MISSING = /^(count|count_if|sum|rate)\(/i;

/**
 * The chart of a table, for `stats` and `top` only (the rows of `fields`, `traces` and `patterns`
 * are not series). With a time column: one line per group (the text columns joined) of the first
 * number column, or one per number column when nothing groups the rows, over every bucket of the
 * range when the width can be read from `bin(time, W)`. Without one: bars of the first number
 * column for the first 50 rows.
 */
function tableChart(pipe, columns, rows, bounds) {
  if (pipe !== 'stats' && pipe !== 'top') return null;
  const timeAt = pipe === 'stats' ? columns.findIndex((c) => c.type === 'time' || /^bin\(/i.test(c.name)) : -1;
  const numbers = columns.map((c, i) => i).filter((i) => i !== timeAt && rows.some((r) => typeof r[i] === 'number') && rows.every((r) => typeof r[i] === 'number' || r[i] === null));
  const labels = columns.map((c, i) => i).filter((i) => i !== timeAt && !numbers.includes(i));
  if (!numbers.length || !rows.length) return null;
  const value = numbers[0];
  const label = (r) => labels.map((i) => (r[i] === null ? '—' : displayValue(r[i]))).join(' · ') || columns[value].name;
  if (timeAt >= 0) {
    const seconds = (v) => (typeof v === 'number' ? (v > 1e14 ? v / 1e9 : v > 1e11 ? v / 1e3 : v) : Date.parse(v) / 1e3);
    let xs = [...new Set(rows.map((r) => seconds(r[timeAt])))].filter(Number.isFinite).sort((a, b) => a - b);
    // Every bucket of the range, so a lone bucket still sits on a readable axis.
    const width = relativeMs((/^bin\(\s*\w+\s*,\s*([^)\s]+)\s*\)$/i.exec(columns[timeAt].name) || [])[1]);
    if (width && (bounds.end - bounds.start) / width <= 2000) {
      const first = Math.floor(bounds.start / width) * width;
      const all = [];
      for (let t = first; t < bounds.end; t += width) all.push(t / 1e3);
      xs = [...new Set([...all, ...xs])].sort((a, b) => a - b);
    }
    const slot = new Map(xs.map((x, i) => [x, i]));
    const series = labels.length ? [...new Set(rows.map(label))].slice(0, 12).map((name) => ({ name, column: value })) : numbers.slice(0, 12).map((i) => ({ name: columns[i].name, column: i }));
    const index = new Map(series.map((s, i) => [labels.length ? s.name : s.column, i]));
    const ys = series.map((s) => new Array(xs.length).fill(ZERO_WHEN_MISSING.test(columns[s.column].name) ? 0 : null));
    for (const r of rows) {
      const x = slot.get(seconds(r[timeAt]));
      if (x === undefined) continue;
      if (labels.length) {
        const k = index.get(label(r));
        if (k !== undefined) ys[k][x] = r[value];
      } else {
        series.forEach((s, k) => (ys[k][x] = r[s.column]));
      }
    }
    return { time: true, data: [xs, ...ys], names: series.map((s) => s.name) };
  }
  const top = rows.slice(0, 50);
  return { time: false, data: [top.map((_, i) => i), top.map((r) => r[value])], names: [columns[value].name], labels: top.map(label) };
}

function TableCell({ column, value, utc }) {
  if (value === null || value === undefined) return <td class="muted">—</td>;
  if (typeof value === 'number') return <td class="num">{String(value)}</td>;
  if (TRACE_COLUMNS.includes(column.name) && typeof value === 'string' && value) {
    return (
      <td class="mono">
        <Link href={`/trace/${encodeURIComponent(value)}`} data-testid="trace-link">
          {value}
        </Link>
      </td>
    );
  }
  if (column.type === 'time' && typeof value === 'string' && !Number.isNaN(Date.parse(value))) {
    return (
      <td class="mono" title={value}>
        {formatTime(Date.parse(value), utc)}
      </td>
    );
  }
  return <td class={column.name === 'body' || column.name === 'example' ? 'msg-cell' : ''}>{displayValue(value)}</td>;
}

/** A table answer of the query API ({columns, rows, count, truncated}) as a table and a chart. */
function TableResult({ result, pipe, bounds }) {
  const { utc } = useSettings();
  const columns = result.columns || [];
  const rows = result.rows || [];
  const chart = useMemo(() => tableChart(pipe, columns, rows, bounds), [result, pipe, bounds]);
  const shown = rows.slice(0, 2000);
  return (
    <div class="stats-result" data-testid="stats-result">
      {chart ? (
        <Chart
          data={chart.data}
          height={220}
          label="Query result chart"
          build={(colors) => {
            const palette = [colors.accent, colors.level.WARN, colors.level.ERROR, colors.ok, colors.level.DEBUG, colors.level.TRACE];
            // Points on a series with a value between two gaps, which a line alone would not show.
            const isolated = (ys) => ys.some((y, i) => y !== null && (ys[i - 1] ?? null) === null && (ys[i + 1] ?? null) === null);
            return {
              legend: { show: chart.time },
              scales: { x: { time: chart.time } },
              axes: axes(colors, chart.time ? {} : { x: { values: (u, v) => v.map((i) => (chart.labels[i] || '').slice(0, 14)), rotate: 0 } }),
              series: [
                {},
                ...chart.names.map((n, i) => ({
                  label: n,
                  stroke: palette[i % palette.length],
                  fill: chart.time ? undefined : palette[i % palette.length],
                  width: chart.time ? 2 : 0,
                  points: { show: chart.time && isolated(chart.data[i + 1]) },
                  paths: chart.time ? undefined : uPlot.paths.bars({ size: [0.7, 60] }),
                })),
              ],
            };
          }}
        />
      ) : null}
      <p class="result-meta" data-testid="table-count">
        <span>
          {fmtCount(result.count ?? rows.length)} {(result.count ?? rows.length) === 1 ? 'row' : 'rows'}
          {result.truncated ? ' (truncated: raise the row limit or narrow the query)' : ''}
          {rows.length > shown.length ? ` · the first ${fmtCount(shown.length)} shown` : ''}
        </span>
        {typeof result.took_ms === 'number' ? <span class="muted">{result.took_ms.toFixed(0)} ms</span> : null}
      </p>
      <div class="table-wrap">
        <table class="data-table" data-testid="stats-table">
          <thead>
            <tr>
              {columns.map((c, i) => (
                <th key={i} title={c.type} class={c.type === 'number' ? 'num' : ''}>
                  {c.name}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.map((r, i) => (
              <tr key={i}>
                {r.map((v, j) => (
                  <TableCell key={j} column={columns[j] || { name: '', type: '' }} value={v} utc={utc} />
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {rows.length === 0 ? <Empty>The query matched nothing in this time range.</Empty> : null}
    </div>
  );
}

function SavedQueries({ query, onOpen }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [message, setMessage] = useState(null);
  const list = useLoad((signal) => api.get('/api/v1/saved-queries', {}, { signal }).then((a) => a.saved_queries || []), [open]);
  return (
    <div class="saved">
      <button type="button" class="btn" aria-expanded={open} onClick={() => setOpen(!open)} data-testid="saved-button">
        Saved ▾
      </button>
      {open ? (
        <div class="popover popover-right" role="dialog" aria-label="Saved queries">
          <form
            class="row"
            onSubmit={async (e) => {
              e.preventDefault();
              try {
                await api.send('POST', '/api/v1/saved-queries', { name: name.trim(), query });
                setName('');
                setMessage(null);
                list.reload();
              } catch (err) {
                setMessage(err.message);
              }
            }}
          >
            <input type="text" placeholder="Name this query" value={name} onInput={(e) => setName(e.currentTarget.value)} aria-label="Saved query name" data-testid="saved-name" />
            <button type="submit" class="btn btn-primary btn-small" disabled={!name.trim()}>
              Save
            </button>
          </form>
          {message ? <div class="notice notice-error">{message}</div> : null}
          {list.error ? <ErrorBox error={list.error} /> : null}
          <ul class="saved-list">
            {(list.data || []).map((s) => (
              <li key={s.id}>
                <button
                  type="button"
                  class="linkish"
                  onClick={() => {
                    setOpen(false);
                    onOpen(s.query);
                  }}
                >
                  <strong>{s.name}</strong> <span class="mono muted">{s.query}</span>
                </button>
                <button
                  type="button"
                  class="btn btn-icon"
                  title="Delete"
                  onClick={async () => {
                    await api.send('DELETE', `/api/v1/saved-queries/${s.id}`).catch((err) => setMessage(err.message));
                    list.reload();
                  }}
                >
                  ✕
                </button>
              </li>
            ))}
            {list.data && !list.data.length ? <li class="muted">No saved queries yet.</li> : null}
          </ul>
        </div>
      ) : null}
    </div>
  );
}

function RowsSelect({ limit }) {
  return (
    <label class="muted">
      rows{' '}
      <select value={limit} onChange={(e) => setParams({ limit: e.currentTarget.value })} aria-label="Rows">
        {LIMITS.map((l) => (
          <option key={l} value={l}>
            {l}
          </option>
        ))}
      </select>
    </label>
  );
}

/** "N matches" from the histogram (every match of the range), else the rows fetched. */
function countText(n_records, limit, hist, piped) {
  if (!hist) return n_records >= limit ? `newest ${fmtCount(n_records)} rows` : `${fmtCount(n_records)} rows`;
  const total = `${hist.truncated ? 'at least ' : ''}${fmtCount(hist.total)}`;
  if (piped) return `${fmtCount(n_records)} rows · ${total} matches before the pipes`;
  if (n_records < hist.total) return `${total} matches · newest ${fmtCount(n_records)} shown`;
  return `${total} ${hist.total === 1 ? 'match' : 'matches'}`;
}

export function SearchPage({ route }) {
  const params = route.params;
  const q = params.get('q') || '';
  const range = rangeOf(params);
  const limit = Number(params.get('limit')) || 1000;
  const { columns, utc } = useSettings();
  const [text, setText] = useState(q);
  const [refresh, setRefresh] = useState(0);
  const [selected, setSelected] = useState(null);
  const [detail, setDetail] = useState(null);
  useEffect(() => setText(q), [q]);
  const saved = useLoad((signal) => api.get('/api/v1/saved-queries', {}, { signal }).then((a) => a.saved_queries || []), []);
  const bounds = useMemo(() => apiBounds(range), [range.from, range.to, refresh]);
  const absBounds = useMemo(() => ({ start: Date.parse(bounds.start), end: Date.parse(bounds.end) }), [bounds]);
  const piped = hasPipe(q);
  // Every query goes to the query API; its `kind` says whether records or a table came back.
  const result = useLoad((signal) => api.send('POST', '/api/v1/query', { query: q, ...bounds, limit }, { signal }), [q, bounds, limit]);
  // The histogram counts every match of the search part in the range, with one more query that
  // runs alongside; a query that makes a table has none.
  const width = binWidth(absBounds.end - absBounds.start);
  const histQuery = makesTable(q) ? null : histogramQuery(q, width.text);
  const histKey = `${histQuery} ${bounds.start} ${bounds.end}`;
  const histAnswer = useLoad(
    async (signal) => {
      if (!histQuery) return null;
      const answer = await api.send('POST', '/api/v1/query', { query: histQuery, ...bounds, limit: HISTOGRAM_ROWS }, { signal });
      return { key: histKey, ...histogramOf(answer, absBounds, width.ms) };
    },
    [histKey],
  );
  useEffect(() => {
    setSelected(null);
    setDetail(null);
  }, [result.data]);
  const submit = (query) => {
    if (query === q) setRefresh((r) => r + 1);
    else setParams({ q: query });
  };
  const answer = result.data;
  const search = answer && answer.kind === 'records' ? answer : null;
  const table = answer && answer.kind === 'table' ? answer : null;
  const records = (search && search.records) || [];
  // Never the counts of another query or range, even while the new ones load.
  const hist = histAnswer.data && histAnswer.data.key === histKey ? histAnswer.data : null;
  const filter = (name, value, negate) => {
    setDetail(null);
    setParams({ q: addTerm(q, fieldTerm(name, value, negate)) });
  };
  const toggleColumn = (name) => {
    const cols = getSettings().columns;
    updateSettings({ columns: cols.includes(name) ? cols.filter((c) => c !== name) : [...cols, name] });
  };
  const zoom = (a, b) => navigate(`/search?${new URLSearchParams({ ...(q ? { q } : {}), from: new Date(a).toISOString(), to: new Date(b).toISOString(), ...(params.get('limit') ? { limit } : {}) })}`);
  return (
    <div class={`page page-search ${detail ? 'with-flyout' : ''}`}>
      <div class="toolbar">
        <QueryBar value={text} onChange={setText} onSubmit={submit} bounds={bounds} saved={saved.data || []} />
        <button type="button" class="btn btn-primary" onClick={() => submit(text)} data-testid="search-button">
          Search
        </button>
        <SavedQueries
          query={text}
          onOpen={(query) => {
            setText(query);
            submit(query);
          }}
        />
      </div>
      {result.error ? <ErrorBox error={result.error} title={piped ? 'Query' : 'Search'} /> : null}
      {result.loading && !answer ? <Loading what="Searching" /> : null}
      {answer
        ? (answer.warnings || []).map((w, i) => (
            <div key={i} class="notice notice-warn">
              {w}
            </div>
          ))
        : null}
      {table ? (
        <>
          <div class="result-meta">
            <span class="muted">
              {formatTime(absBounds.start, utc, false)} → {formatTime(absBounds.end, utc, false)}
            </span>
            <RowsSelect limit={limit} />
            {result.loading ? <span class="muted">refreshing…</span> : null}
          </div>
          <TableResult result={table} pipe={tablePipe(q)} bounds={absBounds} />
        </>
      ) : null}
      {search ? (
        <>
          {hist ? <Histogram hist={hist} onSelect={zoom} /> : <div class="histogram histogram-pending" aria-busy={histAnswer.loading} />}
          {histAnswer.error ? <ErrorBox error={histAnswer.error} title="Histogram" /> : null}
          <div class="result-meta">
            <span data-testid="result-count">{countText(records.length, limit, hist, piped)}</span>
            <span class="muted">
              {formatTime(absBounds.start, utc, false)} → {formatTime(absBounds.end, utc, false)} · {search.took_ms.toFixed(0)} ms
            </span>
            <RowsSelect limit={limit} />
            {result.loading || histAnswer.loading ? <span class="muted">refreshing…</span> : null}
          </div>
          {records.length ? (
            <ResultsTable
              records={records}
              columns={columns}
              selected={selected}
              onSelect={(i) => {
                setSelected(i);
                setDetail(records[i]);
              }}
            />
          ) : (
            <Empty>No record matches {q ? <code>{q}</code> : 'anything'} in this time range. Widen the range or change the query.</Empty>
          )}
        </>
      ) : null}
      {detail ? (
        <RecordDetail
          record={detail}
          columns={columns}
          onClose={() => {
            setDetail(null);
            setSelected(null);
          }}
          onFilter={filter}
          onToggleColumn={toggleColumn}
          onOpen={(r) => setDetail(r)}
        />
      ) : null}
    </div>
  );
}
