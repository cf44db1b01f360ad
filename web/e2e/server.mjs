// Starts a real `parley serve` for the end-to-end run: fresh var dir (SQLite, in-process jobs, the
// offline model), the built web app, an admin account; migrated first. Stops with the test run.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const web = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repo = resolve(web, "..");
const parley = process.env.PARLEY_BIN ?? join(repo, ".venv", "bin", "parley");
const varDir = mkdtempSync(join(tmpdir(), "parley-e2e-"));
const env = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  APP_ENV: "development",
  PARLEY_VAR_DIR: varDir,
  WEB_DIST_DIR: join(web, "dist"),
  ADMIN_EMAIL: "admin@example.com",
  ADMIN_PASSWORD: "admin-password-e2e-42",
  OFFLINE_TOKEN_DELAY_MS: process.env.OFFLINE_TOKEN_DELAY_MS ?? "25",
  RATE_LIMIT_ENABLED: "false",
  LOG_LEVEL: "WARNING",
};
execFileSync(parley, ["db", "upgrade"], { env, cwd: repo, stdio: "ignore" });
const server = spawn(parley, ["serve", "--host", "127.0.0.1", "--port", process.env.PARLEY_E2E_PORT], {
  env,
  cwd: repo,
  stdio: ["ignore", "inherit", "inherit"],
});
const stop = () => {
  server.kill("SIGTERM");
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
server.on("exit", (code) => {
  rmSync(varDir, { recursive: true, force: true });
  process.exit(code ?? 0);
});
