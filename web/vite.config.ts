import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The server (src/http/console.ts) serves dist/ at /; `npm run dev` proxies the API to a
// server on :4000.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Every asset a file of its own: the CSP forbids data: scripts and inline code.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: { "/graphql": { target: "http://127.0.0.1:4000", ws: true } },
  },
});
