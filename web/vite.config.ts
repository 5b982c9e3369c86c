/// <reference types="vitest/config" />
// The page is built to dist/ and served by nginx at /. In development `npm run dev` proxies /api to a
// local `pava api` (PAVA_API_URL, default http://127.0.0.1:8000).
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const api = process.env.PAVA_API_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  build: {
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 700,
  },
  server: {
    proxy: { "/api": { target: api, changeOrigin: false } },
  },
  preview: {
    proxy: { "/api": { target: api, changeOrigin: false } },
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
