import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

/**
 * Runs `load(signal)` whenever `deps` change; a newer run aborts the older one.
 * Returns {data, error, loading, reload}.
 */
export function useLoad(load, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true, error: null }));
    Promise.resolve()
      .then(() => load(controller.signal))
      .then(
        (data) => !controller.signal.aborted && setState({ data, error: null, loading: false }),
        (error) => !controller.signal.aborted && error.name !== 'AbortError' && setState({ data: null, error, loading: false }),
      );
    return () => controller.abort();
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/** The latest value, readable from callbacks without re-subscribing them. */
export function useLatest(value) {
  const ref = useRef(value);
  ref.current = value;
  return ref;
}

/** The element's width, following resizes. */
export function useWidth(ref) {
  const [width, setWidth] = useState(0);
  useEffect(() => {
    if (!ref.current) return undefined;
    const ro = new ResizeObserver((entries) => setWidth(Math.floor(entries[0].contentRect.width)));
    ro.observe(ref.current);
    return () => ro.disconnect();
  }, [ref.current]);
  return width;
}
