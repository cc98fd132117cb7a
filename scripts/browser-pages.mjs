// Pages in Chromium (V8), Firefox (SpiderMonkey) and WebKit (JavaScriptCore) without WebDriver:
// each browser, from its Debian package, opens one URL of the test server in a fresh profile, the
// page does its work and POSTs its result to /report on the same server, and the browser is
// killed. Used by scripts/test-runtimes.mjs and bench/browsers.mjs; the pages are
// tests/browser/tasks.html (build/browser-tests/tasks.js).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The browsers and the Debian packages that give them (.ci/run installs them). */
export const PAGE_BROWSERS = {
  chromium: { bin: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", apt: "chromium" },
  firefox: { bin: process.env.FIREFOX_PATH ?? "/usr/bin/firefox-esr", apt: "firefox-esr" },
  // python3-gi from Debian: /usr/bin/python3, not a python3 earlier on PATH
  webkit: { bin: "/usr/bin/python3", apt: "gir1.2-webkit2-4.1 python3-gi xvfb xauth" },
};

/** A page that does not report within this time fails (a hung browser). */
export const PAGE_TIMEOUT_MS = Number(process.env.DIP_PAGE_TIMEOUT_MS ?? 180000);

// Firefox: no updates, telemetry, first-run pages or network beyond loopback (every other host
// goes to a proxy on a closed port; loopback bypasses proxies).
const FIREFOX_PREFS = {
  "app.update.auto": false,
  "app.update.enabled": false,
  "app.normandy.enabled": false,
  "browser.shell.checkDefaultBrowser": false,
  "browser.startup.homepage_override.mstone": "ignore",
  "browser.aboutwelcome.enabled": false,
  "startup.homepage_welcome_url": "",
  "browser.safebrowsing.malware.enabled": false,
  "browser.safebrowsing.phishing.enabled": false,
  "browser.region.update.enabled": false,
  "datareporting.policy.dataSubmissionEnabled": false,
  "datareporting.healthreport.uploadEnabled": false,
  "toolkit.telemetry.enabled": false,
  "extensions.update.enabled": false,
  "network.captive-portal-service.enabled": false,
  "network.connectivity-service.enabled": false,
  "network.proxy.type": 1,
  "network.proxy.http": "127.0.0.1",
  "network.proxy.http_port": 9,
  "network.proxy.ssl": "127.0.0.1",
  "network.proxy.ssl_port": 9,
  "services.settings.server": "http://127.0.0.1:9/",
};

const CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** The command line that opens `url` in `name` with its profile in `profile`. */
function command(name, url, profile) {
  const { bin } = PAGE_BROWSERS[name];
  if (name === "chromium") return { file: bin, args: [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, url], env: {} };
  if (name === "firefox") {
    writeFileSync(join(profile, "user.js"), Object.entries(FIREFOX_PREFS).map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});\n`).join(""));
    return { file: bin, args: ["--headless", "--no-remote", "--profile", profile, url], env: { MOZ_CRASHREPORTER_DISABLE: "1" } };
  }
  // WebKitGTK's sandbox (bubblewrap) and GPU compositing are not available as root in a container
  return { file: "xvfb-run", args: ["-a", bin, resolve(root, "scripts", "webkit-page.py"), url], env: { WEBKIT_DISABLE_SANDBOX_THIS_IS_DANGEROUS: "1", WEBKIT_DISABLE_COMPOSITING_MODE: "1", HOME: profile, XDG_CACHE_HOME: profile, XDG_DATA_HOME: profile } };
}

/** The browser's version line, or undefined when it is not installed. */
export function browserVersion(name) {
  const { bin } = PAGE_BROWSERS[name];
  if (!existsSync(bin)) return undefined;
  if (name === "webkit") {
    const r = spawnSync(bin, ["-c", 'import gi; gi.require_version("WebKit2", "4.1"); from gi.repository import WebKit2 as W; print(f"WebKitGTK {W.get_major_version()}.{W.get_minor_version()}.{W.get_micro_version()}")'], { encoding: "utf8" });
    return r.status === 0 && spawnSync("which", ["xvfb-run", "xauth"]).status === 0 ? r.stdout.trim() : undefined;
  }
  const r = spawnSync(bin, ["--version"], { encoding: "utf8", env: { ...process.env, MOZ_HEADLESS: "1" } });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** A page as a server without COOP/COEP would send it: not cross-origin isolated, so no SharedArrayBuffer. */
function withoutIsolation(res) {
  const writeHead = res.writeHead.bind(res);
  const isolating = new Set(["cross-origin-opener-policy", "cross-origin-embedder-policy"]);
  res.writeHead = (status, headers = {}) => writeHead(status, Object.fromEntries(Object.entries(headers).filter(([k]) => !isolating.has(k.toLowerCase()))));
}

/**
 * Lets `server` (startDemoServer's) take the pages' reports: POST /report?id=<id> with a JSON body
 * resolves the waiter of that id. The demo server itself serves GET and HEAD only. A page asked
 * for with isolation=off in its query comes without the COOP/COEP headers.
 */
export function acceptReports(server) {
  const http = server.server;
  const [serve] = http.listeners("request");
  http.removeAllListeners("request");
  const waiters = new Map();
  http.on("request", (req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.searchParams.get("isolation") === "off") withoutIsolation(res);
    if (req.method !== "POST" || url.pathname !== "/report") return serve(req, res);
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      res.writeHead(204, { "Cross-Origin-Resource-Policy": "same-origin" }).end();
      const waiter = waiters.get(url.searchParams.get("id"));
      if (!waiter) return;
      try {
        waiter(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch (e) {
        waiter({ ok: false, message: `unreadable report: ${e.message}` });
      }
    });
  });
  return {
    /** Resolves with the next report of `id`, or rejects after `ms`. */
    wait(id, ms, what) {
      return new Promise((ok, fail) => {
        const timer = setTimeout(() => {
          waiters.delete(id);
          fail(new Error(`${what}: no report within ${ms / 1000} s (the browser hung or the page failed to load)`));
        }, ms);
        waiters.set(id, (r) => {
          clearTimeout(timer);
          waiters.delete(id);
          ok(r);
        });
      });
    },
  };
}

let nextId = 0;
/** Browsers still running; killed if this process exits first (an uncaught error, process.exit). */
const running = new Set();
process.on("exit", () => {
  for (const child of running) signalGroup(child, "SIGKILL");
});

function signalGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Opens `path` (relative to the server, with its query) in `name` with a fresh profile and
 * resolves with the report the page POSTs; the browser (its whole process group) is killed
 * afterwards, on failure and on timeout. `reports` is acceptReports(server).
 */
export async function reportFromPage(name, server, reports, path, { timeoutMs = PAGE_TIMEOUT_MS } = {}) {
  const id = `${name}-${process.pid}-${nextId++}`;
  const url = `${server.url}${path}${path.includes("?") ? "&" : "?"}report=${encodeURIComponent(id)}`;
  const profile = mkdtempSync(join(tmpdir(), `dip-${name}-`));
  const { file, args, env } = command(name, url, profile);
  // its own process group, so that killing it reaches its helpers (content processes, Xvfb)
  const child = spawn(file, args, { env: { ...process.env, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  const what = `${name} ${path.replace(/&args=[^&]*/, "")}`;
  let output = "";
  const keep = (d) => (output = (output + d).slice(-4000));
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise((_, fail) => child.on("exit", (code, signal) => fail(new Error(`${name} exited (${signal ?? code}) before the page reported:\n${output}`))));
  exited.catch(() => {});
  try {
    const report = await Promise.race([reports.wait(id, timeoutMs, what), exited]);
    if (!report.ok) throw new Error(`${what}: ${report.message}`);
    return report.result;
  } finally {
    await kill(child);
    running.delete(child);
    rmSync(profile, { recursive: true, force: true });
  }
}

/**
 * Runs `task` of tests/browser/tasks.ts in browser `name` and resolves with its result;
 * `isolated: false` serves the page without COOP/COEP.
 */
export const runTask = (name, server, reports, task, args = {}, { isolated = true, ...opts } = {}) =>
  reportFromPage(name, server, reports, `tasks.html?task=${task}&args=${encodeURIComponent(JSON.stringify(args))}${isolated ? "" : "&isolation=off"}`, opts);

/** SIGTERM to the process group, SIGKILL if it is still there after 3 s. */
async function kill(child) {
  if (child.exitCode === null && child.signalCode === null) {
    const gone = new Promise((ok) => child.once("exit", ok));
    signalGroup(child, "SIGTERM");
    const timer = setTimeout(() => signalGroup(child, "SIGKILL"), 3000);
    await gone;
    clearTimeout(timer);
  }
  signalGroup(child, "SIGKILL"); // helpers left in the group after the leader exited
}
