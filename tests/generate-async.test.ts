// generateAsync: the same tokens as generate(), a turn for the event loop while it runs (so a
// worker receives messages), and an AbortSignal that stops it after the current step.
import { test } from "node:test";
import assert from "node:assert/strict";
import "../host/node/wasm.js";
import { Engine } from "../host/engine.js";
import { generate, generateAsync } from "../host/generate.js";
import { SentencePieceTokenizer } from "../host/tokenizer/sentencepiece.js";
import { tokenizerOf } from "../host/tokenizer/for-model.js";
import { ModelFormatError } from "../host/model.js";
import { storiesModel } from "./helpers.js";

test("generateAsync gives generate()'s tokens and stops on an abort with a prefix of them", async () => {
  const model = await storiesModel();
  const engine = await Engine.create(model);
  const tokenizer = new SentencePieceTokenizer(model.vocab!);
  const opts = { prompt: "Once upon a time", steps: 48, temperature: 0.8, seed: 7 };
  const full = generate(engine, tokenizer, opts);
  assert.equal(full.aborted, undefined);
  const same = await generateAsync(engine, tokenizer, { ...opts, yieldEveryMs: 0 });
  assert.deepEqual(same.tokens, full.tokens);
  assert.equal(same.text, full.text);

  // the abort comes from a timer: it can only fire because generateAsync yields to the event loop
  const controller = new AbortController();
  let steps = 0;
  const stopped = await generateAsync(engine, tokenizer, {
    ...opts,
    yieldEveryMs: 0,
    signal: controller.signal,
    onStep: () => {
      if (++steps === 12) setTimeout(() => controller.abort(), 0);
    },
  });
  assert.equal(stopped.aborted, true);
  assert.ok(stopped.tokens.length < full.tokens.length, `stopped early: ${stopped.tokens.length} of ${full.tokens.length} tokens`);
  assert.ok(stopped.tokens.length >= 12, "not before the abort");
  assert.deepEqual(stopped.tokens, full.tokens.slice(0, stopped.tokens.length), "a prefix of the full generation");
  assert.ok(full.text.startsWith(stopped.text));

  // aborted before it starts: the first step runs, then it stops
  const before = await generateAsync(engine, tokenizer, { ...opts, signal: AbortSignal.abort() });
  assert.equal(before.aborted, true);
  assert.equal(before.generated_tokens, 0);
});

test("tokenizerOf: the model's own vocabulary, or a clear error naming the model", async () => {
  const model = await storiesModel();
  const t = tokenizerOf(model);
  assert.deepEqual(t.encode("Once upon a time", { bos: true }), new SentencePieceTokenizer(model.vocab!).encode("Once upon a time", { bos: true }));
  assert.throws(() => tokenizerOf({ ...model, vocab: undefined, name: "bare.gguf" }), (e: Error) => e instanceof ModelFormatError && /^bare\.gguf: the file has no vocabulary/.test(e.message));
});
