// Prints the gzipped size of the JavaScript the chat route loads (the entry and its static imports),
// and of every lazily loaded chunk; writes dist/bundle-size.json. The budget: chat route <= 200 KB gzipped.
import { readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const manifest = JSON.parse(readFileSync("dist/.vite/manifest.json", "utf8"));
const gz = (file) => gzipSync(readFileSync(`dist/${file}`), { level: 9 }).length;
const entry = Object.entries(manifest).find(([, chunk]) => chunk.isEntry);
const seen = new Set();
const walk = (key) => {
  if (seen.has(key)) return;
  seen.add(key);
  for (const child of manifest[key].imports ?? []) walk(child);
};
walk(entry[0]);
const chatFiles = [...seen].map((key) => manifest[key].file).filter((f) => f.endsWith(".js"));
const chatBytes = chatFiles.reduce((sum, file) => sum + gz(file), 0);
const lazy = Object.values(manifest)
  .filter((chunk) => chunk.isDynamicEntry)
  .map((chunk) => ({ name: chunk.name ?? chunk.src, file: chunk.file, gzip_bytes: gz(chunk.file) }));
const budget = 200 * 1024;
console.log(`chat route JavaScript: ${(chatBytes / 1024).toFixed(1)} KB gzipped (budget ${budget / 1024} KB) ${chatBytes <= budget ? "OK" : "OVER BUDGET"}`);
for (const chunk of lazy) console.log(`  lazy chunk ${chunk.name}: ${(chunk.gzip_bytes / 1024).toFixed(1)} KB gzipped`);
writeFileSync("dist/bundle-size.json", JSON.stringify({ chat_route_gzip_bytes: chatBytes, budget_bytes: budget, chat_files: chatFiles, lazy }, null, 2));
if (chatBytes > budget) process.exitCode = 1;
