import { defineConfig } from "vite";

// Build into the Python package; pharos serves it at / (no CDN, everything bundled).
export default defineConfig({
  base: "/",
  build: {
    outDir: "../src/pharos/web/static",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:9494",
      "/loki": { target: "http://127.0.0.1:9494", ws: true },
      "/metrics": "http://127.0.0.1:9494",
    },
  },
  test: {
    include: ["tests/**/*.test.ts"],
    environment: "node",
  },
} as never);
