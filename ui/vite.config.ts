import { defineConfig } from "vite";

// Relative asset paths: the app serves dist/ from its own origin, with a strict CSP (no inline scripts).
// bare.html is the measurement baseline (a static page, see docs/benchmarks.md); index.html is the app, overview.html the overview window,
// asleep.html the empty page a hibernating window holds while its web process serves others (src-tauri/src/hibernation).
export default defineConfig({
  base: "./",
  clearScreen: false,
  build: {
    outDir: "dist",
    target: "es2021",
    sourcemap: false,
    rollupOptions: { input: { main: "index.html", overview: "overview.html", bare: "bare.html", asleep: "asleep.html" } },
  },
});
