// Checks that run in every browser through tests/browser/tasks.html (scripts/browser-pages.mjs),
// for scripts/test-runtimes.mjs: the optional engine builds (threads bit-identical where
// SharedArrayBuffer is allowed, a message naming the COOP/COEP headers on a page served without
// them; relaxed SIMD close to the default where the engine has it, refused with a clear message
// where not), and the memory cap's message (host/memory-cap.ts).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { Engine, loadModelFromBytes } from "../build/web/dip.js";
import { reportFromPage, runTask } from "./browser-pages.mjs";

const log = (m) => process.stderr.write(`browser-checks: ${m}\n`);

export async function checkBuilds(name, server, reports, { modelPath, tokens }) {
  const features = await runTask(name, server, reports, "features");
  const r = await runTask(name, server, reports, "builds", { model: `/models/${basename(modelPath)}`, tokens });
  assert.ok(features.cross_origin_isolated, `${name}: the page is cross-origin isolated (COOP/COEP)`);
  if (features.shared_array_buffer) {
    assert.equal(r.threads2_identical_dense, true, `${name}: threads at 2 give the logits of 1 thread (dense): ${JSON.stringify(r)}`);
    assert.equal(r.threads2_identical_dip, true, `${name}: threads at 2 give the logits of 1 thread (dip)`);
    assert.equal(r.threads2_identical_prompt, true, `${name}: threads at 2 give the logits of 1 thread (a long prompt and decode after it)`);
    log(`${name}: threads at 2 bit-identical to 1 thread`);
  } else {
    assert.match(r.threads_error ?? "", /^threads need SharedArrayBuffer, which this runtime does not offer.*; run with threads: 1$/, `${name}: the threads build refused with a clear message`);
    log(`${name}: no SharedArrayBuffer here, threads refused: ${r.threads_error}`);
  }
  // the same page without COOP/COEP: the threads build says which headers it needs
  const plain = await runTask(name, server, reports, "builds", { model: `/models/${basename(modelPath)}`, tokens }, { isolated: false });
  assert.match(plain.threads_error ?? "", /^threads need SharedArrayBuffer, which this runtime does not offer to this page: serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp; run with threads: 1$/, `${name}: without COOP/COEP: ${JSON.stringify(plain)}`);
  log(`${name}, a page without COOP/COEP: ${plain.threads_error}`);
  if (features.relaxed_simd) {
    assert.ok(r.relaxed_max_abs_diff < 1e-4, `${name}: relaxed SIMD within 1e-4 of the default: ${JSON.stringify(r)}`);
    log(`${name}: relaxed SIMD runs, max |diff| ${r.relaxed_max_abs_diff}`);
  } else {
    assert.match(r.relaxed_error ?? "", /^this runtime cannot run the relaxed-SIMD engine \(build\/engine-relaxed\.wasm uses f32x4\.relaxed_madd\)/, `${name}: the relaxed build refused with a clear message`);
    log(`${name}: no relaxed SIMD here, refused: ${r.relaxed_error}`);
  }
}

/** A cap below the model's need: the same one line in the browser as in Node, from the API and on the demo. */
export async function checkMemoryCap(name, server, reports, { modelPath }) {
  const model = loadModelFromBytes(readFileSync(modelPath), basename(modelPath));
  // half the f32 file: below what the model needs in f32 (its weights and more), above its q8 size
  const maxMemoryBytes = Math.floor(readFileSync(modelPath).length / 2);
  let want;
  await Engine.create(model, { wasmBytes: new Uint8Array(readFileSync(new URL("../build/engine.wasm", import.meta.url))), maxMemoryBytes }).catch((e) => (want = e.message));
  assert.match(want ?? "", /needs .* MB of wasm memory in f32 .* options: load it in dtype q8 .*, or stream it from a \.dipstream with a DRAM budget/);
  const got = await runTask(name, server, reports, "memory-cap", { model: `/models/${basename(modelPath)}`, maxMemoryBytes });
  assert.equal(got.message, want, `${name}: the memory cap's message`);
  log(`${name}: under a ${maxMemoryBytes}-byte cap: ${got.message}`);
  // the demo with the same cap (?maxMemory=): the line instead of a model, Generate disabled
  const page = await reportFromPage(name, server, reports, `?maxMemory=${maxMemoryBytes}&driver=/demo-driver.js`);
  assert.deepEqual(page, { state: "error", error: want, errorVisible: true, generateDisabled: true }, `${name}: the demo under the cap`);
}
