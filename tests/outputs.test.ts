// Outputs never destroy inputs and are never half-written (issue #17): every output flag refuses
// the command's own inputs, every write is atomic (also when it fails or is interrupted), and two
// sweep shards cannot share one --out.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { lockOutput, writeFileAtomically } from "../host/node/atomic-file.js";
import { projectRoot } from "../host/node/paths.js";
import { STORIES_BIN } from "./helpers.js";

/** Set in the child process of the interruption test: the file it writes and never finishes. */
const INTERRUPTED_OUT = process.env.DIP_TEST_INTERRUPTED_WRITE;

if (INTERRUPTED_OUT) {
  setInterval(() => undefined, 1000); // stay alive until the parent sends the signal
  await writeFileAtomically(INTERRUPTED_OUT, async (fh) => {
    await fh.write(new Uint8Array(1 << 20));
    process.stdout.write("writing\n");
    await new Promise(() => undefined);
  });
} else {
  const tmp = mkdtempSync(join(tmpdir(), "dip-outputs-"));

  const dip = (...args: string[]) => {
    const r = spawnSync(process.execPath, [resolve(projectRoot(), "bin", "dip.js"), ...args], { encoding: "utf8" });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  /** A private copy of stories260K.bin and its tokenizer (so a failing test can only damage the copy). */
  const modelCopy = (name: string): string => {
    const dir = join(tmp, name);
    mkdirSync(dir);
    const model = join(dir, "stories260K.bin");
    copyFileSync(STORIES_BIN(), model);
    copyFileSync(resolve(STORIES_BIN(), "..", "tok512.bin"), join(dir, "tok512.bin"));
    return model;
  };

  test("logits --out, generate --trace-out, simulate --report and eval --trace-out refuse the command's inputs", () => {
    const model = modelCopy("inputs");
    const tokenizer = join(model, "..", "tok512.bin");
    const before = readFileSync(model);
    const text = join(tmp, "stories.txt");
    writeFileSync(text, "Once upon a time there was a cat.<|endoftext|>The cat sat.");
    const textBefore = readFileSync(text);
    const cases: [string[], RegExp][] = [
      [["logits", "--model", model, "--tokens", "1,2", "--out", model], /--out .*stories260K\.bin is an input/],
      [["logits", "--model", model, "--tokens", "1,2", "--out", tokenizer], /--out .*tok512\.bin is an input/],
      [["logits", "--model", model, "--tokens", "1,2", "--out", join(tmp, "inputs", "..", "inputs", "stories260K.bin")], /refusing to overwrite/],
      [["generate", "--model", model, "--steps", "4", "--trace-out", model], /--trace-out .* is an input/],
      [["simulate", "--model", model, "--text", text, "--stories", "1", "--report", text], /--report .*stories\.txt is an input/],
      [["eval", "--model", model, "--text", text, "--stories", "1", "--trace-out", text], /--trace-out .* is an input/],
      [["logits", "--model", model, "--tokens", "1,2", "--out", tmp], /is a directory/],
    ];
    for (const [args, message] of cases) {
      const r = dip(...args);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    assert.deepEqual(readFileSync(model), before, "the model is intact");
    assert.deepEqual(readFileSync(text), textBefore, "the text is intact");
    // an output that is not an input is still written
    const ok = dip("logits", "--model", model, "--tokens", "1,2", "--out", join(tmp, "inputs-logits.f32"));
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(readFileSync(join(tmp, "inputs-logits.f32")).length, 2 * 512 * 4);
  });

  test("a failing write leaves the old file intact and no temporary file", async () => {
    const dir = mkdtempSync(join(tmp, "fail-"));
    const out = join(dir, "out.bin");
    writeFileSync(out, "old contents");
    await assert.rejects(
      writeFileAtomically(out, async (fh) => {
        await fh.write(new Uint8Array(4096));
        throw new Error("ENOSPC: no space left on device (simulated)");
      }),
      /ENOSPC/,
    );
    assert.equal(readFileSync(out, "utf8"), "old contents");
    assert.deepEqual(readdirSync(dir), ["out.bin"]);
  });

  for (const [signal, status] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
    test(`${signal} during a write removes the temporary file, keeps the old file, exits ${status}`, async () => {
      const dir = mkdtempSync(join(tmp, "signal-"));
      const out = join(dir, "model.gguf");
      writeFileSync(out, "old model");
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], { env: { ...process.env, DIP_TEST_INTERRUPTED_WRITE: out }, stdio: ["ignore", "pipe", "inherit"] });
      await new Promise<void>((done) => child.stdout.on("data", (d: Buffer) => d.toString().includes("writing") && done()));
      assert.equal(readdirSync(dir).length, 2, "the temporary file exists while writing");
      child.kill(signal);
      const code = await new Promise<number | null>((done) => child.on("exit", (c) => done(c)));
      assert.equal(code, status);
      assert.deepEqual(readdirSync(dir), ["model.gguf"], "no temporary file left behind");
      assert.equal(readFileSync(out, "utf8"), "old model");
    });
  }

  test("sweep: a second shard given the first shard's --out is refused; a held lock refuses a concurrent run", async () => {
    const dir = mkdtempSync(join(tmp, "shards-"));
    const out = join(dir, "sweep.csv");
    const text = join(dir, "stories.txt");
    writeFileSync(text, "Once upon a time there was a cat.<|endoftext|>The cat sat on the mat.");
    const args = ["sweep", "--model", STORIES_BIN(), "--text", text, "--stories", "1", "--methods", "glu", "--keeps", "0.5,0.9", "--out", out];
    const first = dip(...args, "--shard", "1/2");
    assert.equal(first.code, 0, first.stderr);
    const rows = readFileSync(out, "utf8");
    const second = dip(...args, "--shard", "2/2");
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, /holds rows this run does not produce .*dip merge/);
    assert.equal(readFileSync(out, "utf8"), rows, "the first shard's rows are kept");
    // the same shard again may overwrite its own rows
    assert.equal(dip(...args, "--shard", "1/2").code, 0);

    const release = await lockOutput(out);
    const locked = dip(...args, "--shard", "1/2");
    await release();
    assert.equal(locked.code, 1);
    assert.match(locked.stderr, /being written by another run/);
    assert.ok(!existsSync(`${out}.lock`));
    // a lock left by a run that was killed (its process is gone) does not block the next run
    writeFileSync(`${out}.lock`, `${spawnSync(process.execPath, ["-e", ""]).pid}\n`);
    const after = dip(...args, "--shard", "1/2");
    assert.equal(after.code, 0, after.stderr);
    assert.ok(!existsSync(`${out}.lock`));
  });
}
