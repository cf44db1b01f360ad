/// <reference types="vitest/config" />
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";

const modules = fileURLToPath(new URL("./node_modules/", import.meta.url));
const api = process.env.PARLEY_API ?? "http://127.0.0.1:8000";

/** Copies the API documentation viewers (Swagger UI, Scalar) from their npm packages into the build:
 * Parley serves them at /schema/assets, so /schema/swagger and /schema/scalar need no CDN. */
function docsAssets(): Plugin {
  return {
    name: "parley-docs-assets",
    apply: "build",
    writeBundle(options) {
      const out = join(options.dir ?? "dist", "docs-assets");
      mkdirSync(out, { recursive: true });
      const swagger = join(modules, "swagger-ui-dist");
      copyFileSync(join(swagger, "swagger-ui-bundle.js"), join(out, "swagger-ui-bundle.js"));
      copyFileSync(join(swagger, "swagger-ui.css"), join(out, "swagger-ui.css"));
      const scalar = join(modules, "@scalar/api-reference");
      copyFileSync(join(scalar, "dist/browser/standalone.js"), join(out, "scalar-standalone.js"));
    },
  };
}

export default defineConfig({
  plugins: [react(), docsAssets()],
  build: { sourcemap: false, manifest: true, chunkSizeWarningLimit: 700 },
  server: {
    proxy: {
      "/api": { target: api, ws: true, changeOrigin: false },
      "/schema": api,
      "/health": api,
    },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["src/test-setup.ts"],
  },
});
