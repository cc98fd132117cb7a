// A new user's first hour with the CLI (issue #17): option values are checked, an unknown command
// is named, flags that would do nothing are refused, a model folder names the files it holds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { projectRoot } from "../host/node/paths.js";
import { STORIES_BIN, STORIES_GGUF } from "./helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "dip-options-"));

function dip(...args: string[]) {
  const r = spawnSync(process.execPath, [resolve(projectRoot(), "bin", "dip.js"), ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertRefused(args: string[], message: RegExp) {
  const r = dip(...args);
  assert.equal(r.code, 1, `${args.join(" ")}: expected exit 1, got ${r.code}: ${r.stderr}`);
  assert.match(r.stderr, message, args.join(" "));
  assert.equal(r.stdout, "", `${args.join(" ")} ran: ${r.stdout}`);
}

test("a flag that takes a value and gets none is an error, not the default", () => {
  assertRefused(["generate", "--steps"], /--steps needs a value/);
  assertRefused(["generate", "--model", "--steps", "4"], /--model needs a value/);
  assertRefused(["generate", "--prompt", "--steps", "4"], /--prompt needs a value/);
  assertRefused(["eval", "--stories", "--json"], /--stories needs a value/);
});

test("numbers are checked: NaN and words are refused, negative numbers are values", () => {
  assertRefused(["generate", "--seed", "NaN", "--steps", "4"], /--seed must be a number, got NaN/);
  assertRefused(["generate", "--steps", "abc"], /--steps must be a number/);
  assertRefused(["generate", "--temperature", "Infinity", "--steps", "4"], /--temperature must be a number/);
  const r = dip("generate", "--model", STORIES_GGUF(), "--seed", "-1", "--steps", "4", "--temperature", "0");
  assert.equal(r.code, 0, r.stderr);
});

test("an unknown command is named, with the list of commands", () => {
  const r = dip("gen", "--steps", "3");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command "gen"/);
  assert.match(r.stderr, /generate, logits, encode, eval/);
  assert.doesNotMatch(r.stderr, /Unknown arguments/);
});

test("flags that would do nothing are refused: --keep on the dense model, --gammas without dip-ca", () => {
  assertRefused(["generate", "--keep", "0.5", "--steps", "4"], /--keep has no effect on the dense model/);
  assertRefused(["logits", "--method", "dense", "--keep", "0.5", "--tokens", "1", "--out", join(tmp, "x.f32")], /--keep has no effect/);
  assertRefused(["sweep", "--methods", "dip", "--gammas", "0.1", "--out", join(tmp, "s.csv")], /--gammas sets dip-ca's penalty; add dip-ca to --methods/);
  const help = dip("sweep", "--help");
  assert.match(help.stdout, /dip-ca/, "the sweep help names dip-ca");
});

test("--model DIR without Hugging Face weights lists the model files it holds", () => {
  const dir = mkdtempSync(join(tmp, "models-"));
  copyFileSync(STORIES_GGUF(), join(dir, "stories260K-f32.gguf"));
  copyFileSync(STORIES_BIN(), join(dir, "stories260K.bin"));
  copyFileSync(resolve(STORIES_BIN(), "..", "tok512.bin"), join(dir, "tok512.bin"));
  assertRefused(["info", "--model", dir], /no model\.safetensors .*model files here: stories260K-f32\.gguf, stories260K\.bin \(pass one as --model\)/);
});

test("first hour: npm ci's build (prepare) runs only when a source is newer than an output, and says so", () => {
  const dir = mkdtempSync(join(tmp, "build-"));
  mkdirSync(join(dir, "src"));
  const reason = () => {
    const script = pathToFileURL(resolve(projectRoot(), "scripts", "build-if-stale.mjs")).href;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", `const m = await import(${JSON.stringify(script)}); console.log(m.staleReason(${JSON.stringify(dir)}, ["src"], ["out.wasm"]) ?? "up to date")`], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  assert.equal(reason(), "out.wasm is missing");
  writeFileSync(join(dir, "src", "a.ts"), "");
  writeFileSync(join(dir, "out.wasm"), "");
  utimesSync(join(dir, "src", "a.ts"), 1000, 1000);
  utimesSync(join(dir, "src"), 1000, 1000);
  assert.equal(reason(), "up to date");
  utimesSync(join(dir, "src", "a.ts"), new Date(), new Date(Date.now() + 60_000));
  assert.equal(reason(), "src changed since the last build");
  // in this checkout, just built by the test run: nothing to do, in well under the minute a build takes
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [resolve(projectRoot(), "scripts", "build-if-stale.mjs")], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /dip: the build is up to date/);
  assert.ok(Date.now() - t0 < 10_000);
});
