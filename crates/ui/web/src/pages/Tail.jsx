// Live tail: new matching records as the server acknowledges them (WebSocket, or Server-Sent
// Events), with pause and resume, auto-scroll, the rate, and a bound on what the page keeps.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { QueryBar } from '../components/QueryBar.jsx';
import { VirtualList } from '../components/VirtualList.jsx';
import { Level, fmtNumber, TimeText } from '../components/ui.jsx';
import { setParams } from '../router.jsx';
import { useSettings } from '../settings.js';
import { apiBounds, formatTime, nsToMs, rangeOf } from '../time.js';

const KEEP = [1000, 5000, 20000];
const ROW = 26;

function connect(query, transport, onRecords, onStatus) {
  const url = `/api/v1/tail?${new URLSearchParams({ query })}`;
  let pending = [];
  let frame = 0;
  const push = (text) => {
    try {
      pending.push(JSON.parse(text));
    } catch {
      return;
    }
    if (!frame) {
      frame = requestAnimationFrame(() => {
        frame = 0;
        const batch = pending;
        pending = [];
        onRecords(batch);
      });
    }
  };
  if (transport === 'sse') {
    const source = new EventSource(url);
    source.addEventListener('open', () => onStatus('live', 'Server-Sent Events'));
    source.addEventListener('record', (e) => push(e.data));
    source.addEventListener('error', (e) => {
      if (e.data) onStatus('closed', e.data);
      else if (source.readyState === EventSource.CLOSED) onStatus('closed', 'the server closed the stream');
      else onStatus('connecting', 'reconnecting');
    });
    return () => {
      cancelAnimationFrame(frame);
      source.close();
    };
  }
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${url}`);
  ws.addEventListener('open', () => onStatus('live', 'WebSocket'));
  ws.addEventListener('message', (e) => push(e.data));
  ws.addEventListener('close', (e) => onStatus('closed', e.reason || `connection closed (${e.code})`));
  return () => {
    cancelAnimationFrame(frame);
    ws.close();
  };
}

export function TailPage({ route }) {
  const { utc } = useSettings();
  const q = route.params.get('q') || '';
  const transport = route.params.get('via') === 'sse' ? 'sse' : 'ws';
  const [text, setText] = useState(q);
  const [records, setRecords] = useState([]);
  const [paused, setPaused] = useState(false);
  const [held, setHeld] = useState([]);
  const [follow, setFollow] = useState(true);
  const [keep, setKeep] = useState(5000);
  const [status, setStatus] = useState({ state: 'connecting', detail: '' });
  const [rate, setRate] = useState(0);
  const [generation, setGeneration] = useState(0);
  const arrivals = useRef([]);
  const scroller = useRef(null);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const keepRef = useRef(keep);
  keepRef.current = keep;
  const from = route.params.get('from');
  const to = route.params.get('to');
  const bounds = useMemo(() => apiBounds(rangeOf(route.params)), [from, to]);
  useEffect(() => setText(q), [q]);
  useEffect(() => {
    setRecords([]);
    setHeld([]);
    setStatus({ state: 'connecting', detail: '' });
    return connect(
      q,
      transport,
      (batch) => {
        arrivals.current.push([performance.now(), batch.length]);
        const add = (list) => {
          const next = list.concat(batch);
          return next.length > keepRef.current ? next.slice(next.length - keepRef.current) : next;
        };
        if (pausedRef.current) setHeld(add);
        else setRecords(add);
      },
      (state, detail) => setStatus({ state, detail }),
    );
  }, [q, transport, generation]);
  useEffect(() => {
    const timer = setInterval(() => {
      const now = performance.now();
      arrivals.current = arrivals.current.filter(([t]) => now - t < 5000);
      setRate(arrivals.current.reduce((n, [, k]) => n + k, 0) / 5);
    }, 1000);
    return () => clearInterval(timer);
  }, []);
  useEffect(() => {
    if (follow && !paused && scroller.current) scroller.current.scrollTop = scroller.current.scrollHeight;
  }, [records, follow, paused]);
  const resume = () => {
    setRecords((list) => {
      const next = list.concat(held);
      return next.length > keep ? next.slice(next.length - keep) : next;
    });
    setHeld([]);
    setPaused(false);
  };
  return (
    <div class="page page-tail">
      <div class="toolbar">
        <QueryBar value={text} onChange={setText} onSubmit={(v) => setParams({ q: v })} bounds={bounds} placeholder="Records to follow, e.g. level:error (empty: everything)" testId="tail-query" />
        <button type="button" class="btn btn-primary" onClick={() => (text === q ? setGeneration((g) => g + 1) : setParams({ q: text }))}>
          Follow
        </button>
      </div>
      <div class="tail-controls">
        <span class={`live-dot state-${status.state}`} data-testid="tail-status">
          {status.state === 'live' ? `live · ${status.detail}` : status.state === 'closed' ? `stopped: ${status.detail}` : 'connecting…'}
        </span>
        {status.state === 'closed' ? (
          <button type="button" class="btn btn-small" onClick={() => setGeneration((g) => g + 1)}>
            Reconnect
          </button>
        ) : null}
        <button type="button" class="btn btn-small" onClick={() => (paused ? resume() : setPaused(true))} data-testid="tail-pause">
          {paused ? `Resume${held.length ? ` (${fmtNumber(held.length)} new)` : ''}` : 'Pause'}
        </button>
        <button
          type="button"
          class="btn btn-small"
          onClick={() => {
            setRecords([]);
            setHeld([]);
          }}
        >
          Clear
        </button>
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} /> auto-scroll
        </label>
        <label class="muted">
          keep{' '}
          <select value={keep} onChange={(e) => setKeep(Number(e.currentTarget.value))} aria-label="Records kept">
            {KEEP.map((k) => (
              <option key={k} value={k}>
                {fmtNumber(k)}
              </option>
            ))}
          </select>
        </label>
        <label class="muted">
          via{' '}
          <select value={transport} onChange={(e) => setParams({ via: e.currentTarget.value === 'sse' ? 'sse' : '' })} aria-label="Transport">
            <option value="ws">WebSocket</option>
            <option value="sse">SSE</option>
          </select>
        </label>
        <span class="muted" data-testid="tail-rate">
          {rate.toFixed(1)} records/s · {fmtNumber(records.length)} shown
        </span>
      </div>
      <VirtualList
        items={records}
        rowHeight={ROW}
        className="tail-body"
        scrollRef={scroller}
        testId="tail-body"
        onScroll={(e) => {
          const el = e.currentTarget;
          const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < ROW * 2;
          if (!atBottom && follow) setFollow(false);
        }}
        renderRow={(r, i, style) => (
          <div key={i} class={`tail-row lv-${String(r.level).toLowerCase()}`} style={style} data-testid="tail-row" title={r.body}>
            <TimeText text={formatTime(nsToMs(r.time_ns), utc)} />
            <Level level={r.level} />
            <span class="service-name">{r.service}</span>
            <span class="msg">{r.body}</span>
          </div>
        )}
      />
    </div>
  );
}
