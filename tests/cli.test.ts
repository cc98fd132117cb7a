// The CLI contract end to end: `node bin/dip.js ...` as a user runs it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { projectRoot } from "../host/node/paths.js";
import { maxAbsDiff, readF32, readJson, storiesFixture, STORIES_BIN, STORIES_GGUF } from "./helpers.js";

const manifest = readJson(storiesFixture("manifest.json"));
const tmp = mkdtempSync(join(tmpdir(), "dip-cli-"));

function dip(...args: string[]) {
  const r = spawnSync(process.execPath, [resolve(projectRoot(), "bin", "dip.js"), ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A user error: exit code 1, one clear line on stderr, no wasm or stack noise. */
function assertUserError(r: ReturnType<typeof dip>, pattern: RegExp) {
  assert.equal(r.code, 1, `expected exit 1, got ${r.code}: ${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /RuntimeError|unreachable|wasm-function|    at /);
}

test("encode prints the fixture's ids", () => {
  const cases = readJson(storiesFixture("tokenizer.json")).cases;
  const r = dip("encode", "--text", cases[1].text);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), cases[1].ids);
});

test("logits writes T x V float32 matching the reference", () => {
  const out = join(tmp, "logits.f32");
  const r = dip("logits", "--model", STORIES_GGUF(), "--tokens", manifest.tokens.join(","), "--out", out);
  assert.equal(r.code, 0, r.stderr);
  const got = readF32(out);
  assert.equal(got.length, manifest.tokens.length * 512);
  assert.ok(maxAbsDiff(got, readF32(storiesFixture(manifest.logits_file))) < 1e-4);
});

test("generate --json gives tokens, text and tok_s; greedy matches the fixture", () => {
  const r = dip("generate", "--temperature", "0", "--steps", "200", "--json");
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(j.tokens, manifest.greedy_from_bos.tokens);
  assert.equal(j.text, manifest.greedy_from_bos.text);
  assert.ok(j.tok_s > 0);
});

test("eval --json reports ppl, tokens, mean_nll, mlp_density and bytes per token", () => {
  const r = dip("eval", "--stories", "2", "--method", "dip", "--keep", "0.5", "--json");
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.ok(j.ppl > 1 && Math.abs(Math.log(j.ppl) - j.mean_nll) < 1e-12);
  assert.ok(j.tokens > 0);
  assert.ok(Math.abs(j.mlp_density - (2 * 36 / 64 + 60 / 172) / 3) < 1e-12);
  assert.ok(j.weight_bytes_per_token < j.dense_weight_bytes_per_token);
});

test("info prints the architecture and weight bytes", () => {
  const r = dip("info", "--model", STORIES_BIN(), "--json");
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.config.dim, 64);
  assert.equal(j.config.nLayers, 5);
  assert.equal(j.weight_bytes.mlp, 4 * 5 * 3 * 64 * 172);
});

test("bad input gives a clear error, never a wasm trap", () => {
  assertUserError(dip("logits", "--tokens", "1,9999", "--out", join(tmp, "x.f32")), /token id 9999 is out of the vocabulary \(0\.\.511\)/);
  assertUserError(dip("logits", "--tokens", "1,abc", "--out", join(tmp, "x.f32")), /"abc" is not an integer token id/);
  assertUserError(dip("generate", "--prompt", "a b c d e f g ".repeat(120)), /longer than the model's context of 512/);
  assertUserError(dip("generate", "--method", "dip", "--keep", "1.5"), /--keep must be in \(0, 1\]/);
  assertUserError(dip("eval", "--method", "foo", "--keep", "0.5", "--stories", "1"), /unknown method "foo"/);
  assertUserError(dip("info", "--model", join(tmp, "missing.gguf")), /model file not found/);

  const truncated = join(tmp, "truncated.gguf");
  writeFileSync(truncated, readFileSync(STORIES_GGUF()).subarray(0, 5000));
  assertUserError(dip("info", "--model", truncated), /truncated\.gguf: /);
  const notModel = join(tmp, "notes.gguf");
  writeFileSync(notModel, "hello, this is not a model");
  assertUserError(dip("info", "--model", notModel), /notes\.gguf: /);

  // a llama2.c checkpoint with no tokenizer beside it
  const lonely = join(tmp, "model.bin");
  copyFileSync(STORIES_BIN(), lonely);
  assertUserError(dip("generate", "--model", lonely), /no tokenizer found/);

  // a calibration file made for another method is refused
  const calib = join(tmp, "calib.json");
  assert.equal(dip("eval", "--stories", "1", "--method", "cats", "--keep", "0.5", "--calib", calib, "--json").code, 0);
  assertUserError(dip("eval", "--stories", "1", "--method", "dip-threshold", "--keep", "0.5", "--calib", calib), /calibration is for method cats/);
});

test("a corrupted default-model file fails its manifest sha256", () => {
  const dir = mkdtempSync(join(tmpdir(), "dip-shared-"));
  const models = join(dir, "models", "stories260K");
  spawnSync("mkdir", ["-p", models]);
  const bytes = readFileSync(STORIES_GGUF());
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(join(models, "stories260K-f32.gguf"), bytes);
  const r = spawnSync(process.execPath, [resolve(projectRoot(), "bin", "dip.js"), "generate", "--steps", "3"], {
    encoding: "utf8",
    env: { ...process.env, DIP_SHARED_DIR: dir },
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /sha256 .* does not match the manifest stories260K/);
});
