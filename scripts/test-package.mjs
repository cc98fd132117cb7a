// npm run test:package: the package as an app gets it. Packs it (`npm pack`; the contents must be
// the built library, its types and wasm only), installs the tarball into a fresh app in a temporary
// folder offline (its dependencies come from the npm cache `npm ci` filled), then:
// - type-checks both examples (examples/) with `tsc --strict` against the shipped .d.ts;
// - runs the Node example (the `node` export condition) and compares its text with the CLI's, and
//   the same under Deno (the `deno` condition);
// - bundles the browser example with esbuild for platform=browser from the bare specifier
//   `dip-engine` (the `browser` condition: no node:* may be reached), serves it and runs it in
//   headless Chromium until its text appears (the same text as in Node), reloads it and checks the
//   model came from the browser's cache (no second download), and stops a generation by its AbortSignal;
// - imports the installed build/browser/index.js unbundled in the page: createWorkerEngine with no
//   options finds its worker and engine.wasm beside itself (new URL(..., import.meta.url)), and
//   fetchModel resumes a download cut midway from the bytes kept in OPFS (and the Cache API store,
//   the fallback without OPFS writes, serves a second load).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { basename, dirname, extname, join, resolve } from "node:path";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS } from "./browser-e2e.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const shared = process.env.DIP_SHARED_DIR ? resolve(process.env.DIP_SHARED_DIR) : resolve(root, "..", "shared");
const modelPath = resolve(shared, "models", "stories260K", "stories260K-f32.gguf");
const log = (m) => process.stderr.write(`test-package: ${m}\n`);
const run = (cmd, args, cwd, extra = {}) => execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...extra });
// The npm that runs this script (npm_execpath), not whatever `npm` is first on PATH: under `npm run`
// node_modules/.bin comes first, and a devDependency (@as-pect/cli) pulls in npm 6, which lacks
// `pack --pack-destination`.
const npmCli = process.env.npm_execpath;
const runNpm = (args, cwd) => (npmCli ? run(process.execPath, [npmCli, ...args], cwd) : run(process.platform === "win32" ? "npm.cmd" : "npm", args, cwd));
const started = Date.now();

// ---- what the package ships ----
/** Paths a package may contain: the built library, its types, the wasm builds, the CLI (and the demo `dip serve` serves), the manifests. */
const ALLOWED = [/^package\.json$/, /^README\.md$/, /^LICENSE/, /^bin\/dip\.js$/, /^build\/[a-z-]+\.wasm$/, /^build\/host\/[a-z-]+\.js$/, /^build\/browser\/[A-Za-z0-9-]+\.js$/, /^build\/types\/.+\.d\.ts$/, /^models\/[^/]+\.json$/, /^build\/web\/(app|worker)\.js$/, /^web\/index\.html$/, /^web\/style\.css$/];
const [dry] = JSON.parse(runNpm(["pack", "--dry-run", "--json", "--ignore-scripts"], root));
const paths = dry.files.map((f) => f.path);
const stray = paths.filter((p) => !ALLOWED.some((re) => re.test(p)));
assert.deepEqual(stray, [], "the package holds only the built library, types, wasm, CLI and manifests");
for (const need of ["build/host/index.js", "build/browser/index.js", "build/browser/worker.js", "build/browser/opfs.js", "build/engine.wasm", "build/thread-worker.wasm", "build/types/host/index.d.ts", "build/types/host/web/index.d.ts"]) {
  assert.ok(paths.includes(need), `the package has ${need}`);
}
log(`npm pack: ${paths.length} files, ${(dry.size / 1e3).toFixed(1)} kB packed, ${(dry.unpackedSize / 1e3).toFixed(1)} kB unpacked`);

/**
 * The app's package.json and a lockfile pinning the tarball and the package's runtime dependencies
 * at the versions and integrities of this project's lockfile (its non-dev entries), so `npm ci
 * --offline` takes every one from the npm cache that the project's `npm ci` filled (a plain `npm
 * install <tarball>` would ask the registry for the dependencies' metadata, which that cache lacks).
 */
function writeAppWithLockfile(app, tarballName) {
  const self = JSON.parse(readFileSync(resolve(root, "package.json"), "utf8"));
  const projectLock = JSON.parse(readFileSync(resolve(root, "package-lock.json"), "utf8"));
  const runtime = Object.entries(projectLock.packages).filter(([path, entry]) => path.startsWith("node_modules/") && !entry.dev && !entry.devOptional && !entry.extraneous);
  const spec = `file:${tarballName}`;
  const pkg = { name: "dip-package-app", version: "1.0.0", private: true, type: "module", dependencies: { [self.name]: spec } };
  const integrity = `sha512-${createHash("sha512").update(readFileSync(join(app, tarballName))).digest("base64")}`;
  const { name, version, license, bin, engines, dependencies } = self;
  const lock = {
    name: pkg.name,
    version: pkg.version,
    lockfileVersion: 3,
    requires: true,
    packages: {
      "": { name: pkg.name, version: pkg.version, dependencies: pkg.dependencies },
      [`node_modules/${name}`]: { version, resolved: spec, integrity, license, dependencies, bin, engines },
      ...Object.fromEntries(runtime),
    },
  };
  writeFileSync(join(app, "package.json"), JSON.stringify(pkg, null, 2));
  writeFileSync(join(app, "package-lock.json"), JSON.stringify(lock, null, 2));
}

const app = mkdtempSync(join(tmpdir(), "dip-package-app-"));
let server;
let browser;
try {
  // ---- a fresh app with the tarball installed, offline ----
  const tarball = join(app, runNpm(["pack", "--ignore-scripts", "--pack-destination", app], root).trim().split("\n").pop());
  writeAppWithLockfile(app, basename(tarball));
  runNpm(["ci", "--offline", "--no-audit", "--no-fund", "--ignore-scripts"], app);
  cpSync(resolve(root, "examples"), app, { recursive: true });
  // what an app brings itself: a bundler and TypeScript (the project's own copies, linked), Node's types
  mkdirSync(join(app, "node_modules", "@types"), { recursive: true });
  symlinkSync(resolve(root, "node_modules", "esbuild"), join(app, "node_modules", "esbuild"), "dir");
  symlinkSync(resolve(root, "node_modules", "@types", "node"), join(app, "node_modules", "@types", "node"), "dir");
  const tsc = resolve(root, "node_modules", "typescript", "bin", "tsc");
  log(`installed the tarball into ${app} offline`);

  // ---- types: tsc --strict on both examples, against the shipped .d.ts ----
  run(process.execPath, [tsc, "-p", join(app, "node"), "--strict"], app);
  run(process.execPath, [tsc, "-p", join(app, "browser"), "--strict", "--noEmit"], app);
  log("tsc --strict passes on the Node and the browser example");

  // ---- the Node example (compiled by tsc above) against the CLI ----
  const prompt = "Once upon a time";
  const nodeText = run(process.execPath, [join(app, "node", "dist", "generate.js"), modelPath, prompt], app).trim();
  const cli = JSON.parse(run(process.execPath, [resolve(root, "bin", "dip.js"), "generate", "--model", modelPath, "--prompt", prompt, "--steps", "64", "--temperature", "0", "--method", "dip", "--keep", "0.5", "--json"], root));
  assert.ok(nodeText.length > prompt.length + 20, `the Node example wrote a story: ${JSON.stringify(nodeText)}`);
  assert.equal(nodeText, cli.text.trim(), "the Node example's text is the CLI's");
  log(`node example: ${JSON.stringify(nodeText.slice(0, 60))}...`);
  // the installed CLI (its yargs from the app's node_modules)
  const installedCli = JSON.parse(run(join(app, "node_modules", ".bin", "dip"), ["generate", "--model", modelPath, "--prompt", prompt, "--steps", "64", "--temperature", "0", "--method", "dip", "--keep", "0.5", "--json"], app));
  assert.deepEqual(installedCli.tokens, cli.tokens, "the installed dip command gives the checkout's tokens");
  // Deno reads the app's package.json and node_modules, and the package's `deno` condition
  const denoText = run(resolve(root, "node_modules", ".bin", "deno"), ["run", "--allow-read", "--allow-env", "--no-prompt", join(app, "node", "dist", "generate.js"), modelPath, prompt], app, {
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  }).trim();
  assert.equal(denoText, nodeText, "the same example under Deno");
  log("deno runs the Node example: same text");

  // ---- the browser example: esbuild from the bare specifier, for the browser ----
  run(process.execPath, [join(app, "browser", "build.mjs")], app);
  const dist = join(app, "browser", "dist");
  const bundled = readFileSync(join(dist, "main.js"), "utf8") + readFileSync(join(dist, "worker.js"), "utf8");
  assert.ok(!/from\s*"node:|require\("node:/.test(bundled), "the browser bundles reach no node:* module");
  const requests = { model: 0, modelBytes: 0 };
  const pkgBuild = join(app, "node_modules", "dip-engine", "build");
  const cutRequests = [];
  const CUT = 400_000;
  const model = readFileSync(modelPath);
  const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };
  server = createServer((req, res) => {
    const path = req.url.split("?")[0];
    if (path === "/stories260K-f32.gguf") {
      requests.model++;
      requests.modelBytes += model.length;
      return void res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": String(model.length) }).end(model);
    }
    if (path === "/cut/stories260K-f32.gguf") {
      // the first download breaks after CUT bytes; later ones honour Range
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
      const start = range ? Number(range[1]) : 0;
      const part = model.subarray(start);
      cutRequests.push({ range: req.headers.range ?? null });
      res.writeHead(range ? 206 : 200, { "Content-Type": "application/octet-stream", "Content-Length": String(part.length), ...(range ? { "Content-Range": `bytes ${start}-${model.length - 1}/${model.length}` } : {}) });
      const cut = cutRequests.length === 1;
      const sent = cut ? part.subarray(0, CUT) : part;
      cutRequests.at(-1).bytes = sent.length;
      if (cut) return void res.write(sent, () => setTimeout(() => res.destroy(), 50));
      return void res.end(sent);
    }
    // /pkg/: the installed package's build/ as is, for native ESM without a bundler
    const file = path.startsWith("/pkg/") ? join(pkgBuild, path.slice(5)) : join(dist, path === "/" ? "index.html" : path.slice(1));
    if (!(file.startsWith(dist) || file.startsWith(pkgBuild)) || !statSync(file, { throwIfNoEntry: false })?.isFile()) return void res.writeHead(404).end();
    res.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const url = `http://127.0.0.1:${server.address().port}/`;
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
  const page = await (await browser.newContext()).newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const finished = async () => {
    await page.waitForFunction(() => /^(done|stopped|error)/.test(document.getElementById("status")?.textContent ?? ""), null, { timeout: 60_000 });
    return { status: await page.textContent("#status"), text: (await page.textContent("#out")) ?? "" };
  };

  await page.goto(`${url}?autorun=1`);
  const first = await finished();
  assert.match(first.status, /^done: \d+ tokens/, `${first.status} ${errors.join("; ")}`);
  assert.equal(first.text.trim(), cli.text.trim(), "Chromium's text is the CLI's (greedy, same engine)");
  assert.equal(requests.model, 1, "one download");
  log(`chromium: ${JSON.stringify(first.text.slice(0, 60))}... (${first.status})`);

  // a long generation (to the story's end, about 250 tokens) stopped after 5 pieces of text, the prompt's included
  const long = JSON.parse(run(process.execPath, [resolve(root, "bin", "dip.js"), "generate", "--model", modelPath, "--prompt", prompt, "--steps", "512", "--temperature", "0", "--method", "dip", "--keep", "0.5", "--json"], root));
  await page.goto(`${url}?autorun=1&steps=512&stopAfter=5`);
  const stopped = await finished();
  assert.equal(requests.model, 1, "the second load came from the browser's cache: no network bytes");
  assert.match(stopped.status, /^stopped: \d+ tokens/, "the AbortSignal stopped the generation");
  const generated = Number(/(\d+) tokens/.exec(stopped.status)[1]);
  assert.ok(generated < long.generated_tokens, `stopped early (${generated} of ${long.generated_tokens} tokens)`);
  assert.ok(long.text.startsWith(stopped.text.trimEnd()), "the text before the stop is the start of the full text");
  log(`chromium: the reload read the model from its cache (no download); stopped after 5 pieces of text (the prompt's included): ${stopped.status} of ${long.generated_tokens}`);

  // no configuration at all: the library served as is finds its worker and wasm beside itself
  const plain = await page.evaluate(async (prompt) => {
    const dip = await import("/pkg/browser/index.js");
    const engine = await dip.createWorkerEngine("/stories260K-f32.gguf", { cache: true, sparsity: { method: "dip", keep: 0.5 } });
    let text = "";
    for await (const piece of engine.generate({ prompt, steps: 64, temperature: 0 })) text += piece;
    engine.terminate();
    return text;
  }, prompt);
  assert.equal(plain.trim(), cli.text.trim(), "the unbundled library with its default worker and wasm gives the same text");
  assert.equal(requests.model, 1, "the same URL again: from the cache");
  log("chromium: the unbundled library found its worker and engine.wasm by itself; same text");

  // in the browser too, a download cut midway resumes from what OPFS kept
  const resumed = await page.evaluate(async () => {
    const dip = await import("/pkg/browser/index.js");
    const first = await dip.fetchModel("/cut/stories260K-f32.gguf", { cache: true }).then(() => "loaded", (e) => `failed: ${e.message}`);
    const model = await dip.fetchModel("/cut/stories260K-f32.gguf", { cache: true });
    return { first, layers: model.config.nLayers };
  });
  assert.match(resumed.first, /^failed/, "the cut download fails");
  assert.equal(resumed.layers, 5);
  assert.deepEqual(cutRequests, [{ range: null, bytes: CUT }, { range: `bytes=${CUT}-`, bytes: model.length - CUT }], "the second request asked for the rest only");
  log(`chromium: a download cut at ${CUT} bytes resumed with Range (OPFS)`);

  // the Cache API store (browsers without OPFS writes): whole files, reused
  const before = requests.model;
  const viaCacheApi = await page.evaluate(async () => {
    const dip = await import("/pkg/browser/index.js");
    const store = dip.cacheApiModelStore();
    const a = await dip.fetchModel("/stories260K-f32.gguf?store=cache-api", { cache: store });
    const b = await dip.fetchModel("/stories260K-f32.gguf?store=cache-api", { cache: store });
    return [a.config.dim, b.config.dim];
  });
  assert.deepEqual(viaCacheApi, [64, 64]);
  assert.equal(requests.model, before + 1, "the Cache API store served the second load");
  log("chromium: the Cache API store serves a second load without a download");
  assert.deepEqual(errors, [], "no page errors");
} finally {
  await browser?.close();
  server?.close();
  if (!process.env.KEEP_APP) rmSync(app, { recursive: true, force: true });
}
log(`ok in ${((Date.now() - started) / 1000).toFixed(1)} s`);
