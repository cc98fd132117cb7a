// The fuzz suite in CI: a fixed seed and a time budget of about 45 s over every reader
// (tests/fuzz.ts). By hand, longer or from another seed: npm run fuzz -- --seconds 600 --seed 7
import { test } from "node:test";
import assert from "node:assert/strict";
import { fuzz, fuzzArgs } from "./fuzz.js";

const { seconds, seed } = fuzzArgs(process.argv, { seconds: 45, seed: 1 });

test(`fuzz: every reader ends each mutated file in a clear error or a correct result (${seconds} s, seed ${seed})`, { timeout: (seconds + 120) * 1000 }, async () => {
  const report = await fuzz(seconds, seed, (line) => console.log(line));
  console.log(`${report.cases} cases: ${Object.entries(report.perTarget).map(([name, s]) => `${name} ${s.cases} (${s.accepted} accepted)`).join(", ")}`);
  for (const [name, s] of Object.entries(report.perTarget)) assert.ok(s.cases > 0, `no case ran for ${name}`);
  assert.deepEqual(report.failures, []);
});
