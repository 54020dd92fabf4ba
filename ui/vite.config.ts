import { defineConfig } from "vite";

// Relative asset paths: the app serves dist/ from its own origin, with a strict CSP (no inline scripts).
export default defineConfig({
  base: "./",
  clearScreen: false,
  build: { outDir: "dist", target: "es2021", sourcemap: false },
});
