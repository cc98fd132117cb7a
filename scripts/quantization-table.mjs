// Perplexity of stories260K in each GGUF block format, run dequantized to f32 (docs/results/quantization.md):
//
//   node scripts/quantization-table.mjs [stories] [outdir]
//
// Models: the f32 GGUF; the ../shared/fixtures/gguf files (gguf-py's reference quantizers); and our
// own `dip convert --dtype q8_0|q4_0|q4_k_m` of the f32 GGUF (written to outdir, default a temp
// directory). Each runs `dip eval --dtype f32` dense and with dip at keep 0.5 on the first
// `stories` stories (default 200) of the TinyStories validation sample. Perplexity only: no
// timings, so a loaded machine does not change the numbers. Prints a markdown table.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const shared = process.env.DIP_SHARED_DIR ? resolve(process.env.DIP_SHARED_DIR) : resolve(root, "..", "shared");
const stories = process.argv[2] ?? "200";
const outDir = process.argv[3] ?? mkdtempSync(join(tmpdir(), "dip-quant-"));
const f32 = resolve(shared, "models", "stories260K", "stories260K-f32.gguf");

function dip(...args) {
  const r = spawnSync(process.execPath, [resolve(root, "bin", "dip.js"), ...args], { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`dip ${args.join(" ")}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout);
}

const models = [{ label: "f32 (reference)", file: f32, source: "stories260K-f32.gguf" }];
for (const type of ["Q8_0", "Q5_1", "Q5_0", "Q4_1", "Q4_0"]) {
  models.push({ label: type, file: resolve(shared, "fixtures", "gguf", `stories260K-${type}.gguf`), source: "fixture (gguf-py)" });
}
for (const dtype of ["q8_0", "q4_0", "q4_k_m"]) {
  const out = join(outDir, `stories260K-${dtype}.gguf`);
  const summary = dip("convert", "--model", f32, "--out", out, "--dtype", dtype, "--json");
  const types = Object.entries(summary.tensor_types).map(([t, n]) => `${n} ${t}`).join(", ");
  models.push({ label: dtype, file: out, source: `dip convert (${types})` });
}

const rows = [];
for (const m of models) {
  const info = dip("info", "--model", m.file, "--dtype", "f32", "--json");
  const dense = dip("eval", "--model", m.file, "--dtype", "f32", "--stories", stories, "--json");
  const sparse = dip("eval", "--model", m.file, "--dtype", "f32", "--stories", stories, "--method", "dip", "--keep", "0.5", "--json");
  rows.push({ ...m, bytes: info.weight_bytes, dense, sparse });
  process.stderr.write(`${m.label}: dense ${dense.ppl.toFixed(4)}, dip@0.5 ${sparse.ppl.toFixed(4)}\n`);
}
const base = rows[0];
const pct = (v, b) => `${v >= b ? "+" : ""}${((v / b - 1) * 100).toFixed(2)}%`;
const lines = [
  `| file types | source | ppl dense (f32 run) | vs f32 | ppl dip@0.5 (f32 run) | vs f32 dip@0.5 | native run (qkern) |`,
  `| --- | --- | ---: | ---: | ---: | ---: | --- |`,
  ...rows.map((r) => `| ${r.label} | ${r.source} | ${r.dense.ppl.toFixed(4)} | ${r === base ? "—" : pct(r.dense.ppl, base.dense.ppl)} | ${r.sparse.ppl.toFixed(4)} | ${r === base ? "—" : pct(r.sparse.ppl, base.sparse.ppl)} | _to be added_ |`),
];
process.stdout.write(`${stories} stories, ${base.dense.tokens} predicted tokens; dip@0.5 MLP density ${base.sparse.mlp_density.toFixed(3)}\n\n${lines.join("\n")}\n`);
