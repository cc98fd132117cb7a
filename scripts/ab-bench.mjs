// Interleaved A/B of end-to-end decode between two built checkouts of this project (for example the
// commit before a refactor and after it): `dip bench --synthetic SHAPE --method dip --keep K --json`
// runs alternately in A and B, so both see the same machine state, and the medians and B/A ratios of
// dense and method tok/s are printed with the load average at the start and end.
//
//   node scripts/ab-bench.mjs --a ../old --b . [--shapes stories110m,qwen2.5-0.5b] [--pairs 3] [--keep 0.5] [--dtype f32|q8]
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { recordLoad } from "../build/host/index.js";

const { values } = parseArgs({
  options: {
    a: { type: "string" },
    b: { type: "string", default: "." },
    shapes: { type: "string", default: "stories110m,qwen2.5-0.5b" },
    pairs: { type: "string", default: "3" },
    keep: { type: "string", default: "0.5" },
    method: { type: "string", default: "dip" },
    dtype: { type: "string", default: "f32" },
  },
});
if (!values.a) {
  console.error("ab-bench: --a DIR (the baseline checkout, built) is required");
  process.exit(1);
}
const pairs = Number(values.pairs);
if (!Number.isInteger(pairs) || pairs < 1) {
  console.error(`ab-bench: --pairs must be a positive integer, got ${values.pairs}`);
  process.exit(1);
}
const dirs = { A: resolve(values.a), B: resolve(values.b) };
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function benchOnce(dir, shape) {
  const out = execFileSync(
    process.execPath,
    [resolve(dir, "bin/dip.js"), "bench", "--synthetic", shape, "--method", values.method, "--keep", values.keep, "--dtype", values.dtype, "--rounds", "3", "--json"],
    { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 1 << 24 },
  );
  const row = JSON.parse(out).rows[0];
  return { dense: row.dense_tok_s, method: row.tok_s };
}

const loadStart = recordLoad("ab-bench", "start");
const results = [];
for (const shape of values.shapes.split(",")) {
  const runs = { A: [], B: [] };
  for (let i = 0; i < pairs; i++) {
    // alternate which side goes first, so neither always gets the warmer machine
    for (const side of i % 2 === 0 ? ["A", "B"] : ["B", "A"]) {
      const r = benchOnce(dirs[side], shape);
      runs[side].push(r);
      console.error(`${shape} ${side} dense ${r.dense.toFixed(2)} ${values.method} ${r.method.toFixed(2)} tok/s`);
    }
  }
  const med = (side, key) => median(runs[side].map((r) => r[key]));
  results.push({
    shape,
    a_dense_tok_s: med("A", "dense"),
    b_dense_tok_s: med("B", "dense"),
    dense_b_over_a: med("B", "dense") / med("A", "dense"),
    a_method_tok_s: med("A", "method"),
    b_method_tok_s: med("B", "method"),
    method_b_over_a: med("B", "method") / med("A", "method"),
  });
}
const loadEnd = recordLoad("ab-bench", "end");
console.log(JSON.stringify({ a: dirs.A, b: dirs.B, method: values.method, keep: Number(values.keep), dtype: values.dtype, pairs, load_start: loadStart, load_end: loadEnd, results }, null, 1));
