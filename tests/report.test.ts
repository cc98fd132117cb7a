// Sweep tables and plots: CSV quoting against hand-written RFC 4180 text, shard merging against an
// unsharded run of the real engine, and the SVG checked structurally (balanced tags, every point
// inside the frame, hand-computed ticks).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CsvError, formatCsv, parseCsv, type CsvTable } from "../host/report/csv.js";
import { mergeCsv, writeCsvFile } from "../host/node/csv-file.js";
import { defaultGroup, plotTable } from "../host/report/plot-table.js";
import { formatTick, linePlot, logTicks, niceTicks } from "../host/report/svg.js";
import { parseKeeps, parseMethods, parseShard, runSweep, sweepGrid, SWEEP_HEADER } from "../host/node/cli/sweep.js";
import { parseRange } from "../host/node/cli/plot.js";
import { checkOverwrite } from "../host/node/cli/table-files.js";
import { UsageError } from "../host/node/cli/common.js";

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "dip-report-"));
}

// ---------------------------------------------------------------------------------------------
// CSV

test("CSV: quoting follows RFC 4180 (hand-written text)", () => {
  const t: CsvTable = {
    header: ["name", "note", "n"],
    rows: [
      ["plain", "a,b", "1"],
      ["quote", 'say "hi"', "2"],
      ["multi", "line1\nline2", "3"],
      ["empty", "", "4"],
      ["space", " padded ", "5"],
    ],
  };
  const expected = 'name,note,n\nplain,"a,b",1\nquote,"say ""hi""",2\nmulti,"line1\nline2",3\nempty,,4\nspace," padded ",5\n';
  assert.equal(formatCsv(t), expected);
  assert.deepEqual(parseCsv(expected), t);
});

test("CSV: parses CRLF, a BOM, a last line without a line end, and quoted empty fields", () => {
  const t = parseCsv('\uFEFFa,b\r\n"",x\r\n"1,2","3"');
  assert.deepEqual(t, { header: ["a", "b"], rows: [["", "x"], ["1,2", "3"]] });
});

test("CSV: round trip of awkward fields", () => {
  const awkward = ['"', '""', ",", "\r\n", "a\"b,c\nd", "tail ", "ünïcödé", "=1+2"];
  const t: CsvTable = { header: ["k", "v"], rows: awkward.map((v, i) => [String(i), v]) };
  assert.deepEqual(parseCsv(formatCsv(t)), t);
});

test("CSV: malformed input is rejected with the source named", () => {
  assert.throws(() => parseCsv('a,b\n"open,1\n', "f.csv"), (e: Error) => e instanceof CsvError && /f\.csv: unterminated/.test(e.message));
  assert.throws(() => parseCsv("a,b\n1,2,3\n", "f.csv"), /f\.csv: row 1 has 3 fields, the header has 2/);
  assert.throws(() => parseCsv('a,b\n"x"y,1\n', "f.csv"), /f\.csv: line 2: unexpected "y" after a closing quote/);
  assert.throws(() => parseCsv("a,a\n", "f.csv"), /column "a" appears twice/);
  assert.throws(() => parseCsv("", "f.csv"), /f\.csv: empty file/);
});

// ---------------------------------------------------------------------------------------------
// merge

const H = ["model", "method", "keep", "up_keep", "down_keep", "ppl"];

test("merge: joins, deduplicates identical rows, sorts by (method, keep)", async () => {
  const dir = await tempDir();
  try {
    const a = join(dir, "a.csv");
    const b = join(dir, "b.csv");
    await writeCsvFile(a, { header: H, rows: [["m", "dip", "0.9", "0.92", "0.86", "3.78"], ["m", "dense", "1", "1", "1", "3.76"], ["m", "glu", "0.5", "1", "0.5", "3.87"]] });
    await writeCsvFile(b, { header: H, rows: [["m", "dip", "0.5", "0.57", "0.35", "5.59"], ["m", "dense", "1", "1", "1", "3.76"], ["m", "glu", "0.10", "1", "0.1", "9"]] });
    const merged = mergeCsv([a, b]);
    assert.deepEqual(merged.header, H);
    // dense first, then glu, then dip (paper's baseline order); keeps numerically ("0.10" < "0.5")
    assert.deepEqual(
      merged.rows.map((r) => `${r[1]}@${r[2]}`),
      ["dense@1", "glu@0.10", "glu@0.5", "dip@0.5", "dip@0.9"],
    );
  } finally {
    await rm(dir, { recursive: true });
  }
});

test("merge: refuses mismatched headers naming the file, and conflicting duplicates", async () => {
  const dir = await tempDir();
  try {
    const a = join(dir, "a.csv");
    const b = join(dir, "other.csv");
    const c = join(dir, "c.csv");
    await writeCsvFile(a, { header: H, rows: [["m", "dense", "1", "1", "1", "3.76"]] });
    await writeCsvFile(b, { header: [...H.slice(0, 5), "perplexity"], rows: [["m", "dense", "1", "1", "1", "3.76"]] });
    await writeCsvFile(c, { header: H, rows: [["m", "dense", "1", "1", "1", "4.00"]] });
    assert.throws(() => mergeCsv([a, b]), (e: Error) => e instanceof CsvError && e.message.startsWith(`${b}: its header differs`));
    assert.throws(() => mergeCsv([a, c]), (e: Error) => e instanceof CsvError && e.message.includes(c) && e.message.includes(a) && /method=dense/.test(e.message));
    assert.throws(() => mergeCsv([a, join(dir, "missing.csv")]), /missing\.csv: cannot read/);
  } finally {
    await rm(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// argument parsing and the grid

test("shard: i/n parsed, bad syntax and ranges rejected", () => {
  assert.deepEqual(parseShard("2/4"), { index: 2, count: 4 });
  assert.deepEqual(parseShard("1/1"), { index: 1, count: 1 });
  for (const bad of ["0/2", "3/2", "1/0", "a/b", "1-2", "2", "-1/2", "1.5/2", ""]) {
    assert.throws(() => parseShard(bad), (e: Error) => e instanceof UsageError && /--shard/.test(e.message), bad);
  }
});

test("grid: shards partition the grid, dense only in shard 1", () => {
  const methods = parseMethods("dip,glu,cats");
  const keeps = parseKeeps("0.2,0.5,0.9");
  const all = sweepGrid(methods, keeps);
  assert.equal(all.length, 1 + 9);
  assert.deepEqual(all[0], { method: "dense" });
  for (const n of [1, 2, 3, 4, 11]) {
    const parts = Array.from({ length: n }, (_, i) => sweepGrid(methods, keeps, { index: i + 1, count: n }));
    const flat = parts.flat().map((p) => `${p.method}@${p.keep}`);
    assert.equal(new Set(flat).size, flat.length, `n=${n}: shards overlap`);
    assert.deepEqual([...flat].sort(), all.map((p) => `${p.method}@${p.keep}`).sort(), `n=${n}`);
    parts.slice(1).forEach((p) => assert.ok(p.every((q) => q.method !== "dense")));
  }
  // shard 2/3 takes grid points 1, 4, 7 (0-based, methods outer): dip@0.5, glu@0.5, cats@0.5
  assert.deepEqual(sweepGrid(methods, keeps, { index: 2, count: 3 }), [
    { method: "dip", keep: 0.5 },
    { method: "glu", keep: 0.5 },
    { method: "cats", keep: 0.5 },
  ]);
});

test("methods and keeps: bad entries rejected", () => {
  assert.deepEqual(parseMethods(" dip , dip-threshold "), ["dip", "dip-threshold"]);
  assert.throws(() => parseMethods("dip,foo"), /unknown method "foo"/);
  assert.throws(() => parseMethods("dip,dip"), /listed twice/);
  assert.throws(() => parseMethods("dense"), /dense/);
  assert.throws(() => parseMethods("dip-ca"), /simulator/);
  assert.throws(() => parseMethods(","), /no methods/);
  assert.deepEqual(parseKeeps("0.2, 1,.5"), [0.2, 1, 0.5]);
  for (const bad of ["0", "1.1", "-0.5", "abc", "0.5,NaN", "Infinity", "0x1"]) {
    assert.throws(() => parseKeeps(bad), (e: Error) => e instanceof UsageError && /not a fraction in \(0, 1\]/.test(e.message), bad);
  }
  assert.throws(() => parseKeeps("0.5,0.50"), /listed twice/);
});

test("overwrite: allowed over a table with the same header, refused otherwise", async () => {
  const dir = await tempDir();
  try {
    const same = join(dir, "same.csv");
    const other = join(dir, "other.csv");
    const notes = join(dir, "notes.txt");
    await writeCsvFile(same, { header: [...SWEEP_HEADER], rows: [] });
    await writeCsvFile(other, { header: ["a", "b"], rows: [["1", "2"]] });
    await writeFile(notes, "precious notes\n");
    checkOverwrite(same, SWEEP_HEADER);
    checkOverwrite(join(dir, "new.csv"), SWEEP_HEADER);
    assert.throws(() => checkOverwrite(other, SWEEP_HEADER), /refusing to overwrite/);
    assert.throws(() => checkOverwrite(notes, SWEEP_HEADER), /refusing to overwrite/);
    assert.throws(() => checkOverwrite(dir, SWEEP_HEADER), /is a directory/);
  } finally {
    await rm(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// a real sweep on stories260K (dim 64, hidden 172)

test("sweep: merged shards equal the unsharded table; densities and bytes match hand counts", async () => {
  const dir = await tempDir();
  const savedCache = process.env.DIP_CACHE_DIR;
  process.env.DIP_CACHE_DIR = join(dir, "cache"); // calibrate afresh, leave the project cache alone
  try {
    const base = { stories: 2, methods: parseMethods("dip,glu,cats"), keeps: parseKeeps("0.5,0.9") };
    const whole = await runSweep(base);
    const s1 = await runSweep({ ...base, shard: parseShard("1/2") });
    const s2 = await runSweep({ ...base, shard: parseShard("2/2") });
    assert.deepEqual(whole.header, [...SWEEP_HEADER]);
    assert.equal(whole.rows.length, 1 + 3 * 2);
    assert.equal(s1.rows.length + s2.rows.length, whole.rows.length);
    const f1 = join(dir, "s1.csv");
    const f2 = join(dir, "s2.csv");
    await writeCsvFile(f1, s1);
    await writeCsvFile(f2, s2);
    // shard 2 first: merge order must not matter
    const merged = mergeCsv([f2, f1]);
    assert.deepEqual(merged, whole);
    assert.deepEqual(parseCsv(readFileSync(f1, "utf8")), s1); // what was written reads back exactly

    const rows = whole.rows.map((r) => Object.fromEntries(whole.header.map((h, i) => [h, r[i]])));
    const at = (m: string, k: string) => rows.find((r) => r.method === m && r.keep === k)!;
    const D = 64;
    const I = 172;
    // dense: every MLP weight; bytes per token = embedding row + attention + MLP + LM head, f32
    const dense = at("dense", "1");
    assert.equal(Number(dense.mlp_density), 1);
    const attention = 5 * (2 * D * D + 2 * 32 * D); // wq, wo: D x D; wk, wv: 32 x D (4 kv heads of 8)
    assert.equal(Number(dense.weight_bytes_per_token), 4 * (D + attention + 5 * 3 * D * I + 512 * D));
    // glu: W_gate and W_up dense, floor(keep I) columns of W_down
    for (const k of ["0.5", "0.9"]) {
      const kept = Math.floor(Number(k) * I);
      assert.ok(Math.abs(Number(at("glu", k).mlp_density) - (2 + kept / I) / 3) < 1e-12, `glu@${k}`);
      assert.equal(Number(at("glu", k).down_keep), Number(k));
    }
    // dip: floor(up D) input columns of W_gate and W_up, floor(down I) columns of W_down
    for (const k of ["0.5", "0.9"]) {
      const r = at("dip", k);
      const expected = (2 * Math.floor(Number(r.up_keep) * D) / D + Math.floor(Number(r.down_keep) * I) / I) / 3;
      assert.ok(Math.abs(Number(r.mlp_density) - expected) < 1e-12, `dip@${k}`);
      assert.ok(Math.abs((2 * Number(r.up_keep) + Number(r.down_keep)) / 3 - Number(k)) < 1e-12, `dip@${k} split`);
    }
    // cats at keep 0.5 reads the dense gate and about half of W_up rows and W_down columns
    const cats = Number(at("cats", "0.5").mlp_density);
    assert.ok(cats > 1 / 3 + 0.5 * (2 / 3) - 0.1 && cats < 1 / 3 + 0.5 * (2 / 3) + 0.1, `cats@0.5 density ${cats}`);
    for (const r of rows) {
      assert.ok(Math.abs(Math.exp(Number(r.mean_nll)) - Number(r.ppl)) < 1e-9 * Number(r.ppl));
      assert.equal(r.tokens, dense.tokens);
      assert.equal(r.stories, "2");
      assert.equal(Number(r.ppl) >= Number(dense.ppl) * 0.99, true, `${r.method}@${r.keep} better than dense by > 1%?`);
    }
  } finally {
    if (savedCache === undefined) delete process.env.DIP_CACHE_DIR;
    else process.env.DIP_CACHE_DIR = savedCache;
    await rm(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// SVG

test("ticks: nice round numbers, hand-computed", () => {
  assert.deepEqual(niceTicks(0, 1).ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]);
  // range 1.9 / 5 = 0.38 -> step 0.5
  assert.deepEqual(niceTicks(3.7, 5.6), { ticks: [3.5, 4, 4.5, 5, 5.5, 6], step: 0.5 });
  assert.deepEqual(niceTicks(0.49, 1).ticks, [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
  // a single value is padded by 10% (4.5..5.5): 1 / 5 = 0.2 -> step 0.2, outward to 4.4..5.6
  assert.deepEqual(niceTicks(5, 5).ticks, [4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6]);
  // 1..9 per decade would be 13 ticks inside 3..60, so 1-2-5, plus one tick either side
  assert.deepEqual(logTicks(3, 60), [2, 5, 10, 20, 50, 100]);
  // data on a tick: no extra tick beyond it
  assert.deepEqual(logTicks(1, 1000), [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]);
  assert.deepEqual(logTicks(3.5, 6), [3, 4, 5, 6]);
  assert.deepEqual(logTicks(0.5, 5e6), [0.1, 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000]);
  assert.equal(formatTick(0.30000000000000004, 0.1), "0.3");
  assert.equal(formatTick(1200000, 200000), "1.2e6");
});

/** Checks that tags nest properly; returns the element names in document order. */
function checkBalanced(svg: string): string[] {
  const body = svg.replace(/^<\?xml[^>]*\?>\s*/, "");
  const stack: string[] = [];
  const names: string[] = [];
  for (const m of body.matchAll(/<(\/?)([A-Za-z][\w-]*)([^>]*?)(\/?)>/g)) {
    const [, close, name, , selfClose] = m;
    if (close) {
      assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
    } else {
      names.push(name);
      if (!selfClose) stack.push(name);
    }
  }
  assert.deepEqual(stack, [], "unclosed elements");
  assert.equal(names[0], "svg");
  // no stray markup characters in text content
  assert.ok(!/<(?![\/A-Za-z?])/.test(body), "a bare < in the document");
  return names;
}

test("SVG: well formed, labels, one path per series, legend, all points inside the frame", () => {
  const svg = linePlot({
    title: "Perplexity vs MLP density",
    xLabel: "MLP density",
    yLabel: "perplexity",
    series: [
      { name: "dip", points: [[0.49, 5.6], [0.89, 3.78]] },
      { name: "glu", points: [[0.83, 3.87], [0.97, 3.77]] },
      { name: "a<b & \"c\"", points: [[0.67, 4.8]] },
    ],
    references: [{ name: "dense (3.764)", y: 3.764 }],
  });
  const names = checkBalanced(svg);
  assert.equal(names.filter((n) => n === "path").length, 3);
  assert.match(svg, /width="800" height="500"/);
  assert.match(svg, /class="x-label"[^>]*>MLP density</);
  assert.match(svg, /class="y-label"[^>]*>perplexity</);
  assert.match(svg, />Perplexity vs MLP density</);
  const legend = svg.slice(svg.indexOf('<g class="legend">'));
  for (const n of ["dip", "glu", "a&lt;b &amp; &quot;c&quot;", "dense (3.764)"]) assert.ok(legend.includes(`>${n}</text>`), n);
  // three series, three distinct colours
  const strokes = [...svg.matchAll(/<path d="[^"]*" fill="none" stroke="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(new Set(strokes).size, 3);
  // every path vertex lies inside the plot frame
  const frame = /class="frame" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"/.exec(svg)!;
  const [fx, fy, fw, fh] = frame.slice(1).map(Number);
  const d = [...svg.matchAll(/<path d="([^"]+)"/g)].map((m) => m[1]);
  const vertices = d.flatMap((s) => [...s.matchAll(/[ML]([\d.]+),([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]));
  assert.equal(vertices.length, 2 + 2 + 1);
  for (const [x, y] of vertices) assert.ok(x >= fx && x <= fx + fw && y >= fy && y <= fy + fh, `${x},${y} outside the frame`);
  // larger y is higher on the page: dip's first vertex (5.6) above its second (3.78)
  const dip = [...d[0].matchAll(/[ML]([\d.]+),([\d.]+)/g)].map((m) => Number(m[2]));
  assert.ok(dip[0] < dip[1]);
});

test("SVG: log axis refuses non-positive values; non-finite points refused", () => {
  assert.throws(() => linePlot({ title: "t", xLabel: "x", yLabel: "y", logY: true, series: [{ name: "s", points: [[1, 0]] }] }), /log axis/);
  assert.throws(() => linePlot({ title: "t", xLabel: "x", yLabel: "y", series: [{ name: "s", points: [[1, NaN]] }] }), /non-finite/);
  const svg = linePlot({ title: "t", xLabel: "x", yLabel: "y", logY: true, series: [{ name: "s", points: [[1, 3], [2, 60]] }] });
  checkBalanced(svg);
  for (const t of ["2", "5", "10", "20", "50", "100"]) assert.ok(svg.includes(`>${t}</text>`), t);
});

test("plot: one line per method, dense as a reference line, columns checked", () => {
  const t: CsvTable = {
    header: ["model", "method", "keep", "mlp_density", "ppl", "stories"],
    rows: [
      ["m", "dense", "1", "1", "3.76", "2"],
      ["m", "dip", "0.9", "0.89", "3.78", "2"],
      ["m", "dip", "0.5", "0.49", "5.59", "2"],
      ["m", "glu", "0.5", "0.83", "3.87", "2"],
    ],
  };
  const svg = plotTable(t, { x: "mlp_density", y: "ppl" });
  checkBalanced(svg);
  assert.equal((svg.match(/<path /g) ?? []).length, 2);
  assert.equal((svg.match(/class="reference"/g) ?? []).length, 1);
  assert.ok(svg.includes(">dense (3.76)</text>"));
  assert.ok(svg.includes("(m, 2 stories)"));
  // dip's points are drawn in x order (0.49 before 0.89)
  const dipPath = /<path d="M([\d.]+),[\d.]+ L([\d.]+),/.exec(svg)!;
  assert.ok(Number(dipPath[1]) < Number(dipPath[2]));
  // a zoom drops rows outside the ranges: dip keeps only its 0.89 point, dense stays a reference
  const zoom = plotTable(t, { x: "mlp_density", y: "ppl", yRange: [3, 4] });
  assert.match(zoom, /<path d="M[\d.]+,[\d.]+" /);
  assert.equal((zoom.match(/class="reference"/g) ?? []).length, 1);
  assert.throws(() => plotTable(t, { x: "mlp_density", y: "ppl", yRange: [10, 20] }), /no rows inside/);
  assert.deepEqual(parseRange(" 0.5, 1 ", "--x-range"), [0.5, 1]);
  for (const bad of ["1,0.5", "1", "a,b", "0,1,2", ",1"]) assert.throws(() => parseRange(bad, "--x-range"), /--x-range must be lo,hi/, bad);
  assert.throws(() => plotTable(t, { x: "nope", y: "ppl" }), /no column "nope"/);
  assert.throws(() => plotTable(t, { x: "method", y: "ppl" }), /column method is "dense", not a number/);
});

test("plot: by default one line per combination of the settings that vary (no zig-zag across policies); bytes in KB/MB/GB", () => {
  const t: CsvTable = {
    header: ["model", "method", "keep", "policy", "dram_bytes", "ppl", "hit_rate", "tok_s", "flash_bytes_per_token"],
    rows: [
      ["m", "dip", "0.5", "lru", "300000", "5.6", "0.50", "10", "2000000"],
      ["m", "dip", "0.9", "lru", "300000", "3.8", "0.40", "8", "4000000"],
      ["m", "dip", "0.5", "lfu", "300000", "5.6", "0.60", "12", "1500000"],
      ["m", "dip", "0.9", "lfu", "300000", "3.8", "0.45", "9", "3500000"],
      ["m", "dip", "0.5", "lru", "600000", "5.6", "0.70", "14", "1000000"],
      ["m", "dip", "0.9", "lru", "600000", "3.8", "0.55", "11", "3000000"],
    ],
  };
  assert.deepEqual(defaultGroup(t, "ppl"), ["method", "policy", "dram_bytes"]);
  // along a setting axis the keeps are lines of their own
  assert.deepEqual(defaultGroup(t, "dram_bytes"), ["method", "keep", "policy"]);
  const svg = plotTable(t, { x: "ppl", y: "tok_s" });
  assert.equal((svg.match(/<path /g) ?? []).length, 3, "dip lru 300000, dip lfu 300000, dip lru 600000");
  for (const path of svg.match(/<path d="[^"]*"/g) ?? []) assert.equal(path.match(/[ML]/g)!.length, 2, `two keeps per line: ${path}`);
  const bytes = plotTable(t, { x: "dram_bytes", y: "flash_bytes_per_token" });
  assert.ok(bytes.includes(">DRAM budget (KB)</text>"), "x axis in KB");
  assert.ok(bytes.includes(">Flash bytes read per token (MB)</text>"), "y axis in MB");
  assert.ok(bytes.includes(">300</text>") && bytes.includes(">600</text>"), "ticks in KB");
  // an explicit --group is kept as given
  assert.equal((plotTable(t, { x: "ppl", y: "tok_s", group: "method" }).match(/<path /g) ?? []).length, 1);
});

test("plot --where keeps only the rows with the given values, and names an unknown column or an empty selection", async () => {
  const { rowsWhere } = await import("../host/node/cli/plot.js");
  const t = { header: ["method", "device", "ppl"], rows: [["dip", "mobile", "4"], ["dip", "budget", "4"], ["glu", "mobile", "5"]] };
  assert.deepEqual(rowsWhere(t, "device=mobile").rows, [["dip", "mobile", "4"], ["glu", "mobile", "5"]]);
  assert.deepEqual(rowsWhere(t, "device=mobile, method=glu").rows, [["glu", "mobile", "5"]]);
  assert.equal(rowsWhere(t, undefined), t);
  assert.throws(() => rowsWhere(t, "colour=red"), /--where: no column "colour"/);
  assert.throws(() => rowsWhere(t, "device=phone"), /no row matches/);
  assert.throws(() => rowsWhere(t, "device"), /expected col=value/);
});
