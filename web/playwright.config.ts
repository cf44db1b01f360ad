// End-to-end tests: Debian's Chromium (never a downloaded browser) against a real `parley serve`
// started by e2e/server.mjs on a free port with a fresh var dir and the embedded defaults.
import { defineConfig } from "@playwright/test";
import { freePort } from "./e2e/port";

const port = Number(process.env.PARLEY_E2E_PORT ?? freePort());
process.env.PARLEY_E2E_PORT = String(port);
export const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: "e2e",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  use: {
    baseURL,
    trace: "off",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [
    { name: "e2e", testIgnore: /perf\.spec\.ts/ },
    { name: "perf", testMatch: /perf\.spec\.ts/ },
  ],
  webServer: {
    command: "node e2e/server.mjs",
    url: `${baseURL}/health`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: "ignore",
    stderr: "pipe",
  },
});
