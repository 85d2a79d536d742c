// A list that renders only the rows in view (fixed row height), so 10,000 rows scroll smoothly.
import { useEffect, useRef, useState } from 'preact/hooks';

export function VirtualList({ items, rowHeight, renderRow, overscan = 12, className = '', maxHeight, onScroll, scrollRef, testId }) {
  const box = useRef(null);
  const [top, setTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  useEffect(() => {
    if (!box.current) return undefined;
    if (scrollRef) scrollRef.current = box.current;
    const ro = new ResizeObserver((e) => setViewport(e[0].contentRect.height || 600));
    ro.observe(box.current);
    return () => ro.disconnect();
  }, []);
  const first = Math.max(0, Math.floor(top / rowHeight) - overscan);
  const last = Math.min(items.length, Math.ceil((top + viewport) / rowHeight) + overscan);
  const rows = [];
  for (let i = first; i < last; i++) rows.push(renderRow(items[i], i, { position: 'absolute', top: `${i * rowHeight}px`, left: 0, right: 0, height: `${rowHeight}px` }));
  return (
    <div
      class={`vlist ${className}`}
      ref={box}
      style={maxHeight ? { maxHeight } : undefined}
      data-testid={testId}
      onScroll={(e) => {
        setTop(e.currentTarget.scrollTop);
        if (onScroll) onScroll(e);
      }}
    >
      <div class="vlist-inner" style={{ height: `${items.length * rowHeight}px` }}>
        {rows}
      </div>
    </div>
  );
}
