// GGUF files as people download them (../shared/fixtures/gguf): the qwen2 / phi3 / llama
// architectures against the manifest's float64 logits, GPT-2 byte-level BPE and SentencePiece
// vocabularies against its tokenizer cases, rope_freqs, end-of-generation tokens, and chat
// (`dip template`, `dip chat`, `generate --chat`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fixturesDir, projectRoot } from "../host/node/paths.js";
import { loadModelFile } from "../host/node/load.js";
import { loadTokenizerOnly, tokenizerFor } from "../host/node/cli/common.js";
import { parseGguf, readGgufHeader } from "../host/formats/gguf.js";
import { encodeGguf } from "../host/formats/gguf-writer.js";
import { ggufTokenizer } from "../host/formats/gguf-tokenizer.js";
import { ropeInverseFrequencies } from "../host/rope.js";
import { ModelFormatError, type LoadedModel } from "../host/model.js";
import { Engine } from "../host/engine.js";
import { generate } from "../host/generate.js";
import { ChatTemplate, encodeChatText } from "../host/chat.js";
import { SentencePieceTokenizer } from "../host/tokenizer/sentencepiece.js";
import { runChatTurn, startChat } from "../web/session.js";
import { maxAbsDiff, readF32, readJson, runLogits } from "./helpers.js";

const GGUF_DIR = resolve(fixturesDir(), "gguf");
const manifest = readJson(resolve(GGUF_DIR, "manifest.json"));
const entry = (file: string) => manifest.files.find((f: { file: string }) => f.file === file);
const QWEN2 = resolve(GGUF_DIR, "tiny-qwen2-Q8_0.gguf");
const tmp = mkdtempSync(join(tmpdir(), "dip-gguf-chat-"));

function dip(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [resolve(projectRoot(), "bin", "dip.js"), ...args], { encoding: "utf8", ...(input !== undefined ? { input } : {}) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A user error: exit code 1, one line on stderr naming what is wrong, no stack. */
function assertOneLineError(r: ReturnType<typeof dip>, pattern: RegExp) {
  assert.equal(r.code, 1, `expected exit 1, got ${r.code}: ${r.stderr}`);
  assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /RuntimeError|unreachable|    at /);
}

for (const name of ["tiny-qwen2-Q8_0", "tiny-phi3-F16", "tiny-llama-F16"]) {
  test(`${name}: dip logits --dtype f32 within 1e-3 of the float64 reference`, () => {
    const e = entry(`${name}.gguf`);
    const out = join(tmp, `${name}.f32`);
    const r = dip(["logits", "--model", resolve(GGUF_DIR, e.file), "--dtype", "f32", "--tokens", e.tokens.join(","), "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    const ours = readF32(out);
    const ref = readF32(resolve(GGUF_DIR, e.logits_file));
    assert.equal(ours.length, e.logits_shape[0] * e.logits_shape[1]);
    assert.ok(maxAbsDiff(ours, ref) < 1e-3, `max abs diff ${maxAbsDiff(ours, ref)}`);
  });
}

test("the architectures read as llama.cpp lays them out: rope layout, fused tensors split, biases", async () => {
  const qwen = await loadModelFile(QWEN2);
  assert.equal(qwen.config.architecture, "qwen2");
  assert.equal(qwen.config.ropeLayout, "half");
  assert.ok(qwen.config.tiedEmbeddings);
  assert.ok(qwen.weights.layers.every((l) => l.bq && l.bk && l.bv));
  const phi = await loadModelFile(resolve(GGUF_DIR, "tiny-phi3-F16.gguf"));
  assert.equal(phi.config.ropeLayout, "half");
  // the halves of the fused ffn_up are two different matrices of hiddenDim rows each
  const l0 = phi.weights.layers[0];
  assert.equal(l0.wGate.length, phi.config.hiddenDim * phi.config.dim);
  assert.notDeepEqual(l0.wGate, l0.wUp);
  const llama = await loadModelFile(resolve(GGUF_DIR, "tiny-llama-F16.gguf"));
  assert.equal(llama.config.ropeLayout, "interleaved");
});

test("every tokenizer case of the GGUF manifest is exact (dip encode's tokenizer, read from the header)", async () => {
  let cases = 0;
  for (const f of manifest.files) {
    const path = resolve(GGUF_DIR, f.file);
    const { tokenizer } = await loadTokenizerOnly(path);
    for (const c of f.tokenizer.cases) {
      assert.deepEqual(tokenizer.encode(c.text, { bos: true }), c.ids, `${f.file}: ${JSON.stringify(c.text)}`);
      cases++;
    }
  }
  assert.ok(cases >= 4 * manifest.files.length);
});

test("dip encode prints the manifest's ids for a gpt2, a llama and a quantized stories file", () => {
  for (const file of ["tiny-qwen2-Q8_0.gguf", "tiny-phi3-F16.gguf", "stories260K-Q4_0.gguf"]) {
    const c = entry(file).tokenizer.cases[1];
    const r = dip(["encode", "--model", resolve(GGUF_DIR, file), "--text", c.text]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), c.ids, file);
  }
});

test("a gpt2 vocabulary: no BOS when add_bos_token is false, control tokens and EOS end generation and decode to nothing", async () => {
  const { tokenizer } = await loadTokenizerOnly(QWEN2);
  assert.equal(tokenizer.bosId, -1);
  assert.equal(tokenizer.eosId, 2);
  // token 0 is <|endoftext|>, the file's one control token: llama.cpp ends generation there too
  assert.equal(tokenizer.tokenText(0), "<|endoftext|>");
  assert.deepEqual([...tokenizer.stopIds].sort((a, b) => a - b), [0, 2]);
  const ids = entry("tiny-qwen2-Q8_0.gguf").tokenizer.cases[0].ids;
  assert.equal(tokenizer.decode([0, ...ids]), "Once upon a time, there was a tiny robot.");
  // the control token's text in a chat prompt is the token
  assert.deepEqual(encodeChatText(tokenizer, "<|endoftext|>", true), [0]);
});

test("end-of-generation ids from the metadata: eot/eom ids and the texts llama.cpp knows; control text splits only with `special`", () => {
  const header = readGgufHeader(readFileSync(resolve(GGUF_DIR, "tiny-llama-F16.gguf")), "tiny-llama-F16.gguf");
  const meta = new Map(header.metadata);
  const tokens = [...(meta.get("tokenizer.ggml.tokens") as string[])];
  tokens[300] = "<|im_end|>";
  meta.set("tokenizer.ggml.tokens", tokens);
  meta.set("tokenizer.ggml.eot_token_id", 301);
  const { vocab } = ggufTokenizer(meta, tokens.length, "m.gguf");
  assert.deepEqual(vocab!.endIds, [300, 301]);
  assert.ok(vocab!.controlIds!.includes(300));
  const tokenizer = new SentencePieceTokenizer(vocab!);
  assert.deepEqual(tokenizer.stopIds, [2, 300, 301]);
  assert.notDeepEqual(tokenizer.encode("<|im_end|>", { bos: false }), [300]);
  assert.deepEqual(tokenizer.encode("<|im_end|>", { bos: false, special: true }), [300]);
  assert.equal(tokenizer.decode([1, 300]), "");
});

test("a merges entry naming unknown tokens: one line naming the entry", () => {
  const bytes = new Uint8Array(readFileSync(QWEN2));
  const header = readGgufHeader(bytes, "q.gguf");
  const tokens = new Set(header.metadata.get("tokenizer.ggml.tokens") as string[]);
  const merges = header.metadata.get("tokenizer.ggml.merges") as string[];
  // rewrite one merge in place, same byte length, so it merges into a token the vocabulary lacks
  const i = merges.findIndex((m) => /^[a-z] [a-z]$/.test(m) && !tokens.has(m[0] + "q"));
  const original = merges[i];
  const changed = `${original[0]} q`;
  const at = Buffer.from(bytes).indexOf(Buffer.concat([Buffer.from([original.length, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(original)]));
  assert.ok(i >= 0 && at > 0);
  bytes.set(Buffer.from(changed), at + 8);
  const bad = join(tmp, "bad-merges.gguf");
  writeFileSync(bad, bytes);
  const r = dip(["encode", "--model", bad, "--text", "hello"]);
  assertOneLineError(r, new RegExp(`tokenizer\\.ggml\\.merges\\[${i}\\] "${original[0]} q" names "${original[0]}q", which is not in tokenizer\\.ggml\\.tokens`));
});

test("unsupported architecture, tokenizer model and pre-tokenizer are refused by name with the supported list", () => {
  const bytes = Buffer.from(readFileSync(QWEN2));
  const replaceValue = (key: string, from: string, to: string): Buffer => {
    const pattern = Buffer.concat([Buffer.from(key), Buffer.from([8, 0, 0, 0, from.length, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(from)]);
    const at = bytes.indexOf(pattern);
    assert.ok(at > 0, key);
    const out = Buffer.from(bytes);
    out.write(to, at + pattern.length - from.length);
    return out;
  };
  const cases: [Buffer, RegExp][] = [
    [replaceValue("general.architecture", "qwen2", "qwen3"), /unsupported architecture "qwen3"; supported: llama, qwen2, phi3/],
    [replaceValue("tokenizer.ggml.pre", "qwen2", "tekkn"), /tokenizer\.ggml\.pre "tekkn" is not supported; supported: default, gpt-2, gpt2, llama-bpe/],
    [replaceValue("tokenizer.ggml.model", "gpt2", "bert"), /tokenizer\.ggml\.model "bert" is not supported; supported: llama, gpt2/],
  ];
  for (const [file, pattern] of cases) {
    assert.throws(() => parseGguf(file, "x.gguf"), (e: unknown) => e instanceof ModelFormatError && pattern.test(e.message));
  }
});

test("rope_freqs.weight divides the rotary frequencies: a Llama 3 scaling written as factors runs as the scaling itself", async () => {
  const base = await loadModelFile(resolve(GGUF_DIR, "tiny-llama-F16.gguf"));
  const scaled: LoadedModel = { ...base, config: { ...base.config, ropeScaling: { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 32 } } };
  // llama.cpp's converter stores exactly these divisors for Llama 3.1 (exact / scaled frequencies)
  const exact = ropeInverseFrequencies(base.config);
  const wanted = ropeInverseFrequencies(scaled.config);
  const factors = Array.from(exact, (f, i) => Math.fround(f / wanted[i]));
  assert.ok(factors.some((f) => f > 1.5) && factors.some((f) => f === 1), "the test needs both scaled and kept frequencies");
  const withFactors: LoadedModel = { ...base, config: { ...base.config, ropeFreqFactors: factors } };
  const reread = parseGguf(encodeGguf(withFactors, "f32"), "rope-freqs.gguf");
  assert.deepEqual(reread.config.ropeFreqFactors, factors);
  const tokens = entry("tiny-llama-F16.gguf").tokens;
  const a = runLogits(await Engine.create(scaled), tokens);
  const b = runLogits(await Engine.create(reread), tokens);
  const plain = runLogits(await Engine.create(base), tokens);
  assert.ok(maxAbsDiff(a, b) < 1e-4, `scaling vs factors: ${maxAbsDiff(a, b)}`);
  assert.ok(maxAbsDiff(a, plain) > 1e-3, "the scaling must change the logits for the test to mean anything");
  // a divisor that is no divisor is refused by name
  const zero = factors.map((f, i) => (i === 0 ? 0 : f));
  assert.throws(() => parseGguf(encodeGguf({ ...base, config: { ...base.config, ropeFreqFactors: zero } }, "f32"), "zero.gguf"), /rope_freqs\.weight holds 0, expected finite divisors > 0/);
});

test("a generated end-of-generation token ends generate(), whichever id it is", async () => {
  const model = await loadModelFile(resolve(GGUF_DIR, "tiny-llama-F16.gguf"));
  const engine = await Engine.create(model);
  const tokenizer = await tokenizerFor(model, "tiny-llama-F16.gguf");
  const free = generate(engine, tokenizer, { prompt: "Once upon a time", steps: 12, temperature: 0 });
  const first = free.tokens[free.prompt_tokens];
  assert.ok(free.generated_tokens > 1 && !tokenizer.stopIds.includes(first));
  // the same tokenizer, with that first token declared an end of generation
  const stopping = Object.assign(Object.create(tokenizer), { stopIds: [first] });
  const stopped = generate(engine, stopping, { prompt: "Once upon a time", steps: 12, temperature: 0 });
  assert.equal(stopped.generated_tokens, 0);
});

// ---------------------------------------------------------------------------------------------
// Chat

test("dip template prints the manifest's chat template case exactly", () => {
  const c = entry("tiny-qwen2-Q8_0.gguf").tokenizer.chat_template_case;
  const r = dip(["template", "--model", QWEN2, "--messages", JSON.stringify(c.messages)]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, c.rendered);
});

test("a chat template that fails to parse or render, bad --messages, a model without a template: one line each", () => {
  const raising = join(tmp, "raise.jinja");
  writeFileSync(raising, "{% if messages[0]['role'] != 'system' %}{{ raise_exception('a system message first') }}{% endif %}");
  assertOneLineError(dip(["template", "--model", QWEN2, "--chat-template", raising, "--messages", '[{"role":"user","content":"hi"}]']), /raise\.jinja fails to render: .*a system message first/);
  const unparsable = join(tmp, "broken.jinja");
  writeFileSync(unparsable, "{% for m in messages %}{{ m.content }\n");
  assertOneLineError(dip(["template", "--model", QWEN2, "--chat-template", unparsable, "--messages", '[{"role":"user","content":"hi"}]']), /broken\.jinja cannot be parsed/);
  assertOneLineError(dip(["template", "--model", QWEN2, "--messages", '{"role":"user"}']), /--messages: expected a non-empty JSON array/);
  assertOneLineError(dip(["template", "--model", QWEN2, "--messages", '[{"role":"user"}]']), /--messages\[0\]: expected \{"role": string, "content": string\}/);
  assertOneLineError(dip(["template", "--model", resolve(GGUF_DIR, "tiny-llama-F16.gguf"), "--messages", '[{"role":"user","content":"hi"}]']), /has no chat template.*--chat-template/);
});

test("dip chat from piped input: turns keep the KV cache (only the new turn is fed), as a fresh run over the same tokens; sparsity applies", async () => {
  const r = dip(["chat", "--model", QWEN2, "--temperature", "0", "--max-tokens", "6", "--json", "--method", "dip", "--keep", "0.5"], "Hello!\nHow are you?\n");
  assert.equal(r.code, 0, r.stderr);
  const turns = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(turns.length, 2);
  assert.equal(turns[0].cache_kept, false);
  assert.equal(turns[1].cache_kept, true);
  assert.ok(turns.every((t) => t.mlp_density < 0.9 && t.tokens.length > 0));

  // the same conversation from scratch on one fresh engine: turn 2's greedy reply must be the same
  const model = await loadModelFile(QWEN2);
  const tokenizer = await tokenizerFor(model, QWEN2);
  const template = ChatTemplate.forTokenizer(model.chatTemplate!, tokenizer);
  const first = template.render([{ role: "user", content: "Hello!" }]);
  const second = template.render([{ role: "user", content: "Hello!" }, { role: "assistant", content: turns[0].reply }, { role: "user", content: "How are you?" }]);
  assert.ok(second.startsWith(first + turns[0].reply));
  const delta = encodeChatText(tokenizer, second.slice(first.length + turns[0].reply.length), false);
  assert.equal(turns[1].prompt_tokens, delta.length);
  const engine = await Engine.create(model, { dtype: "q8", sparsity: { method: "dip", keep: 0.5 } });
  engine.reset();
  // each turn's prompt runs dense (prefill), the reply's tokens under the method
  engine.prefill(encodeChatText(tokenizer, first, true));
  for (const t of turns[0].tokens) engine.step(t);
  engine.prefill(delta);
  const reply: number[] = [];
  for (let i = 0; i < 6; i++) {
    const next = engine.sample(0, 1);
    reply.push(next);
    engine.step(next);
  }
  assert.deepEqual(turns[1].tokens, reply);
});

test("dip chat says when the context is full; /exit ends; --prompt-file gives the first message", () => {
  const long = join(tmp, "long.txt");
  writeFileSync(long, "Once upon a time there was a tiny robot. ".repeat(40));
  const full = dip(["chat", "--model", QWEN2, "--temperature", "0", "--prompt-file", long], "");
  assert.equal(full.code, 0, full.stderr);
  assert.match(full.stderr, /the context of 256 tokens is full/);
  const exit = dip(["chat", "--model", QWEN2, "--temperature", "0", "--max-tokens", "3", "--json"], "/exit\nHello!\n");
  assert.equal(exit.code, 0, exit.stderr);
  assert.equal(exit.stdout, "");
});

test("generate --chat applies the template to the prompt; --prompt-file equals --prompt", async () => {
  const promptFile = join(tmp, "prompt.txt");
  writeFileSync(promptFile, "Hello!");
  const viaFile = dip(["generate", "--model", QWEN2, "--chat", "--prompt-file", promptFile, "--steps", "80", "--temperature", "0", "--json"]);
  const viaArg = dip(["generate", "--model", QWEN2, "--chat", "--prompt", "Hello!", "--steps", "80", "--temperature", "0", "--json"]);
  assert.equal(viaFile.code, 0, viaFile.stderr);
  const a = JSON.parse(viaFile.stdout);
  assert.deepEqual(a.tokens, JSON.parse(viaArg.stdout).tokens);
  const model = await loadModelFile(QWEN2);
  const tokenizer = await tokenizerFor(model, QWEN2);
  const rendered = entry("tiny-qwen2-Q8_0.gguf").tokenizer.chat_template_case.rendered;
  assert.deepEqual(a.tokens.slice(0, a.prompt_tokens), encodeChatText(tokenizer, rendered, true));
  assertOneLineError(dip(["generate", "--model", QWEN2, "--prompt", "a", "--prompt-file", promptFile]), /give --prompt or --prompt-file, not both/);
});

test("the web demo's chat mode (web/session.ts, as its worker runs it): turns continue one sequence, the page's sparsity applies", async () => {
  const model = await loadModelFile(QWEN2);
  const tokenizer = await tokenizerFor(model, QWEN2);
  const engine = await Engine.create(model, { dtype: "q8" });
  const settings = { prompt: "Hello!", tokens: 5, method: "dip" as const, keep: 0.5, gamma: 0.5, policy: "lru" as const, dramFraction: 1, temperature: 0, seed: 42 };
  const chat = startChat(engine, tokenizer, model.chatTemplate!, model.name, settings.seed);
  let streamed = "";
  const first = runChatTurn(chat, engine, settings, (t) => (streamed += t));
  assert.equal(streamed, first.reply.text);
  assert.equal(first.reply.tokens.length, 5);
  assert.ok(first.info.mlpDensity < 0.9, `density ${first.info.mlpDensity}`);
  const posAfterFirst = engine.pos;
  const second = runChatTurn(chat, engine, { ...settings, prompt: "How are you?", method: "dense" }, undefined);
  assert.ok(second.reply.cacheKept);
  assert.equal(engine.pos, posAfterFirst + second.reply.promptTokens + second.reply.tokens.length);
  assert.equal(second.info.contextLeft, engine.config.seqLen - engine.pos);
  assert.ok(Math.abs(second.info.mlpDensity - 1) < 1e-9);
  // the same two turns through dip chat (same settings per turn: dip, then dip) agree on turn one
  const cli = dip(["chat", "--model", QWEN2, "--temperature", "0", "--max-tokens", "5", "--json", "--method", "dip", "--keep", "0.5"], "Hello!\n");
  assert.deepEqual(JSON.parse(cli.stdout.trim()).tokens, first.reply.tokens);
});

test("a sliding window shorter than the context cuts the context to it (attention stays exact)", () => {
  const bytes = Buffer.from(readFileSync(resolve(GGUF_DIR, "tiny-phi3-F16.gguf")));
  const key = Buffer.from("phi3.attention.sliding_window");
  const at = bytes.indexOf(key);
  assert.ok(at > 0);
  assert.equal(bytes.readUInt32LE(at + key.length), 4); // GGUF u32
  bytes.writeUInt32LE(100, at + key.length + 4);
  assert.equal(parseGguf(bytes, "swa.gguf").config.seqLen, 100);
  assert.equal(parseGguf(readFileSync(resolve(GGUF_DIR, "tiny-phi3-F16.gguf")), "phi3.gguf").config.seqLen, 256);
});

test("a gpt2 vocabulary with add_bos_token true starts every encoding with BOS", async () => {
  const bytes = Buffer.from(readFileSync(QWEN2));
  const key = Buffer.from("tokenizer.ggml.add_bos_token");
  const at = bytes.indexOf(key);
  assert.equal(bytes.readUInt32LE(at + key.length), 7); // GGUF bool
  assert.equal(bytes[at + key.length + 4], 0);
  bytes[at + key.length + 4] = 1;
  const file = join(tmp, "bos.gguf");
  writeFileSync(file, bytes);
  const { tokenizer } = await loadTokenizerOnly(file);
  const c = entry("tiny-qwen2-Q8_0.gguf").tokenizer.cases[0];
  assert.equal(tokenizer.bosId, 1);
  assert.deepEqual(tokenizer.encode(c.text, { bos: true }), [1, ...c.ids]);
  assert.deepEqual(tokenizer.encode(c.text, { bos: false }), c.ids);
});

test("a chat template that writes BOS itself (as Llama 3's does) gets no second one", async () => {
  const { tokenizer } = await loadTokenizerOnly(resolve(GGUF_DIR, "tiny-llama-F16.gguf"));
  const bos = tokenizer.tokenText(tokenizer.bosId);
  assert.equal(bos, "<s>");
  const plain = encodeChatText(tokenizer, "Hello", true);
  assert.equal(plain[0], tokenizer.bosId);
  assert.deepEqual(encodeChatText(tokenizer, `${bos}Hello`, true), plain);
});
