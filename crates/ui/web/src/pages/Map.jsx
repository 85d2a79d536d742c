// The service map: services and the calls between them (GET /api/v1/servicemap), laid out by
// d3-force; edges coloured by error rate and sized by call rate; drag a node, wheel to zoom,
// drag the background to pan, click a service to open it.
import { forceCenter, forceCollide, forceLink, forceManyBody, forceSimulation, forceX, forceY } from 'd3-force';
import { useMemo, useRef, useState } from 'preact/hooks';
import * as api from '../api.js';
import { Empty, ErrorBox, Loading, fmtPercent, fmtRate } from '../components/ui.jsx';
import { useLoad } from '../hooks.js';
import { href, navigate } from '../router.jsx';
import { apiBounds, formatMs, rangeOf } from '../time.js';

function errorClass(rate) {
  if (rate >= 0.05) return 'err-high';
  if (rate >= 0.01) return 'err-mid';
  return 'err-low';
}

function layout(map) {
  const nodes = map.nodes.map((n) => ({ ...n, id: n.name }));
  const ids = new Set(nodes.map((n) => n.id));
  const links = map.edges.filter((e) => ids.has(e.caller) && ids.has(e.callee) && e.caller !== e.callee).map((e) => ({ ...e, source: e.caller, target: e.callee }));
  const maxRate = Math.max(1e-9, ...nodes.map((n) => n.request_rate || 0));
  for (const n of nodes) n.r = 7 + 14 * Math.sqrt((n.request_rate || 0) / maxRate);
  const sim = forceSimulation(nodes)
    .force('link', forceLink(links).id((d) => d.id).distance(90).strength(0.4))
    .force('charge', forceManyBody().strength(-320))
    .force('collide', forceCollide().radius((d) => d.r + 22))
    .force('x', forceX(0).strength(0.04))
    .force('y', forceY(0).strength(0.06))
    .force('center', forceCenter(0, 0))
    .stop();
  // Settle off screen: one render of the final layout instead of an animation.
  for (let i = 0; i < 300; i++) sim.tick();
  const maxCall = Math.max(1e-9, ...links.map((l) => l.call_rate || 0));
  for (const l of links) l.width = 1 + 5 * Math.sqrt((l.call_rate || 0) / maxCall);
  return { nodes, links };
}

export function MapPage({ route }) {
  const range = rangeOf(route.params);
  const keep = { from: route.params.get('from'), to: route.params.get('to') };
  const bounds = useMemo(() => apiBounds(range), [range.from, range.to]);
  const map = useLoad((signal) => api.get('/api/v1/servicemap', bounds, { signal }), [bounds]);
  const graph = useMemo(() => (map.data ? layout(map.data) : null), [map.data]);
  const [view, setView] = useState(null);
  const [, redraw] = useState(0);
  const [hover, setHover] = useState(null);
  const svg = useRef(null);
  const drag = useRef(null);
  if (map.error) return <div class="page"><ErrorBox error={map.error} title="Service map" /></div>;
  if (map.loading && !graph) return <div class="page"><Loading what="Loading the service map" /></div>;
  if (!graph) return null;
  if (!graph.nodes.length) return <div class="page"><Empty>No service in this range.</Empty></div>;
  const xs = graph.nodes.map((n) => n.x);
  const ys = graph.nodes.map((n) => n.y);
  const pad = 80;
  const fit = { x: Math.min(...xs) - pad, y: Math.min(...ys) - pad, w: Math.max(...xs) - Math.min(...xs) + 2 * pad, h: Math.max(...ys) - Math.min(...ys) + 2 * pad };
  const vb = view || fit;
  const toGraph = (e) => {
    const rect = svg.current.getBoundingClientRect();
    const scale = Math.max(vb.w / rect.width, vb.h / rect.height);
    const ox = vb.x + (vb.w - rect.width * scale) / 2;
    const oy = vb.y + (vb.h - rect.height * scale) / 2;
    return [ox + (e.clientX - rect.left) * scale, oy + (e.clientY - rect.top) * scale, scale];
  };
  const onPointerMove = (e) => {
    const d = drag.current;
    if (!d) return;
    const [gx, gy, scale] = toGraph(e);
    if (d.node) {
      d.moved = d.moved || Math.hypot(e.clientX - d.cx, e.clientY - d.cy) > 4;
      d.node.x = gx;
      d.node.y = gy;
      redraw((n) => n + 1);
    } else {
      setView({ ...vb, x: d.vx - (e.clientX - d.cx) * scale, y: d.vy - (e.clientY - d.cy) * scale });
    }
  };
  const hovered = hover && graph.nodes.find((n) => n.id === hover);
  return (
    <div class="page page-map">
      <div class="toolbar">
        <h1>Service map</h1>
        <span class="muted small">
          {graph.nodes.length} services · {graph.links.length} edges · edge colour: error rate, width: call rate
        </span>
        <button type="button" class="btn btn-small" onClick={() => setView(null)}>
          Fit
        </button>
      </div>
      <div class="map-wrap">
        <svg
          ref={svg}
          class="map"
          data-testid="service-map"
          viewBox={`${vb.x} ${vb.y} ${vb.w} ${vb.h}`}
          onPointerMove={onPointerMove}
          onPointerUp={() => {
            const d = drag.current;
            drag.current = null;
            if (d && d.node && !d.moved) navigate(href(`/services/${encodeURIComponent(d.node.id)}`, keep));
          }}
          onPointerLeave={() => (drag.current = null)}
          onPointerDown={(e) => {
            if (e.target === svg.current) drag.current = { cx: e.clientX, cy: e.clientY, vx: vb.x, vy: vb.y };
          }}
          onWheel={(e) => {
            e.preventDefault();
            const [gx, gy] = toGraph(e);
            const k = e.deltaY > 0 ? 1.15 : 1 / 1.15;
            setView({ x: gx - (gx - vb.x) * k, y: gy - (gy - vb.y) * k, w: vb.w * k, h: vb.h * k });
          }}
        >
          <defs>
            {['err-low', 'err-mid', 'err-high'].map((c) => (
              <marker key={c} id={`arrow-${c}`} viewBox="0 0 10 10" refX="10" refY="5" markerWidth="5" markerHeight="5" orient="auto-start-reverse" class={`marker ${c}`}>
                <path d="M 0 0 L 10 5 L 0 10 z" />
              </marker>
            ))}
          </defs>
          {graph.links.map((l) => {
            const dx = l.target.x - l.source.x;
            const dy = l.target.y - l.source.y;
            const len = Math.hypot(dx, dy) || 1;
            const x2 = l.target.x - (dx / len) * (l.target.r + 3);
            const y2 = l.target.y - (dy / len) * (l.target.r + 3);
            const c = errorClass(l.error_rate || 0);
            const dim = hover && l.source.id !== hover && l.target.id !== hover;
            return (
              <line key={`${l.caller}>${l.callee}`} class={`edge ${c} ${dim ? 'dim' : ''}`} x1={l.source.x} y1={l.source.y} x2={x2} y2={y2} stroke-width={l.width} marker-end={`url(#arrow-${c})`}>
                <title>{`${l.caller} → ${l.callee}: ${fmtRate(l.call_rate)}, ${fmtPercent(l.error_rate)} errors, p95 ${l.latency_ms ? formatMs(l.latency_ms.p95) : '—'}`}</title>
              </line>
            );
          })}
          {graph.nodes.map((n) => (
            <g
              key={n.id}
              class={`node ${errorClass(n.error_rate || 0)} ${n.instrumented ? '' : 'uninstrumented'} ${hover && hover !== n.id ? 'dim' : ''}`}
              transform={`translate(${n.x},${n.y})`}
              data-testid="map-node"
              onPointerDown={(e) => {
                e.stopPropagation();
                drag.current = { node: n, cx: e.clientX, cy: e.clientY, moved: false };
              }}
              onPointerEnter={() => setHover(n.id)}
              onPointerLeave={() => setHover(null)}
            >
              <circle r={n.r} />
              <text y={n.r + 13} text-anchor="middle">
                {n.name}
              </text>
              <title>{`${n.name}: ${fmtRate(n.request_rate)}, ${fmtPercent(n.error_rate)} errors`}</title>
            </g>
          ))}
        </svg>
        {hovered ? (
          <div class="map-info card">
            <strong class="service-name">{hovered.name}</strong>
            <div>{fmtRate(hovered.request_rate)} requests</div>
            <div class={hovered.error_rate > 0.01 ? 'text-error' : ''}>{fmtPercent(hovered.error_rate)} errors</div>
            <div>p95 {hovered.latency_ms ? formatMs(hovered.latency_ms.p95) : '—'}</div>
          </div>
        ) : null}
      </div>
    </div>
  );
}
