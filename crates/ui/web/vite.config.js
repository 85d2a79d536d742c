// Built by crates/ui/build.rs (`vite build --outDir $OUT_DIR/dist`) during `cargo build`.
// While iterating: `npm run dev` serves the UI with hot reload and proxies the API to a running
// server (TRAWL_URL, default http://127.0.0.1:7070).
import { defineConfig } from 'vite';

const server = process.env.TRAWL_URL || 'http://127.0.0.1:7070';

export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    target: 'es2020',
    // No data: URLs (the Content-Security-Policy allows images from 'self' only), no inline
    // module-preload polyfill, one CSS file.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: {
    proxy: { '/api': { target: server, ws: true } },
  },
});
