// `npm ci` / `npm install` run this (package.json "prepare"): the full build (`npm run build`,
// about a minute) only when a source is newer than an output, and a line on stderr saying which
// it did. `npm run build` itself always rebuilds.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(fileURLToPath(import.meta.url), "..", "..");

/** What the build reads: the engine, the host, the demo, and the build's own configuration. */
export const BUILD_SOURCES = ["assembly", "host", "web", "tests/browser", "asconfig.json", "package.json", "scripts/build-host.mjs", "tsconfig.json", "tsconfig.types.json"];
/** What it writes (one file per build step). */
export const BUILD_OUTPUTS = [
  "build/engine.wasm",
  "build/engine-relaxed.wasm",
  "build/engine-threads.wasm",
  "build/thread-worker.wasm",
  "build/replay.wasm",
  "build/host/cli.js",
  "build/host/index.js",
  "build/web/app.js",
  "build/browser/index.js",
  "build/types/host/index.d.ts",
  "build/browser-tests/probe.js",
];

function newestMtime(path) {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return readdirSync(path).reduce((m, f) => Math.max(m, newestMtime(join(path, f))), s.mtimeMs);
}

/** Why a build is needed (an output missing, or a source newer than the oldest output), or undefined. */
export function staleReason(dir = root, sources = BUILD_SOURCES, outputs = BUILD_OUTPUTS) {
  const missing = outputs.find((f) => !existsSync(join(dir, f)));
  if (missing) return `${missing} is missing`;
  const oldest = Math.min(...outputs.map((f) => statSync(join(dir, f)).mtimeMs));
  const newer = sources.filter((f) => existsSync(join(dir, f))).find((f) => newestMtime(join(dir, f)) > oldest);
  return newer ? `${newer} changed since the last build` : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const reason = staleReason();
  if (!reason) {
    process.stderr.write("dip: the build is up to date (npm run build rebuilds anyway)\n");
  } else {
    process.stderr.write(`dip: building the engine and host (${reason}; about a minute)...\n`);
    const r = spawnSync("npm", ["run", "build"], { cwd: root, stdio: "inherit", shell: process.platform === "win32" });
    process.exit(r.status ?? 1);
  }
}
