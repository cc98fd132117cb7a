// Real streaming vs the simulator on one .dipstream (docs/results/streaming.md):
//
//   node scripts/streaming-table.mjs run F.dipstream OUT.jsonl [rounds] [dram]   runs every row (of one --dram) `rounds` times
//   node scripts/streaming-table.mjs table OUT.jsonl                       prints the markdown tables
//
// `run` waits (up to 45 s) for a quiet 3 s window before each run and records how many cores
// other processes used during it (Linux /proc/stat: machine busy time minus this run's CPU time),
// since timings on a shared machine mean little without it. Each row is one
// `dip generate --stream --flash-gbps X --json` (24 steps, greedy).
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const [mode, ...args] = process.argv.slice(2);

const METHODS = ["dense", "dip --keep 0.5", "dip-ca --keep 0.5 --gamma 0.5", "dip-ca --keep 0.5 --gamma 0.9"];
const ROWS = [
  ...["1GB", "700MB", "1.5GB"].flatMap((dram) => ["1", "2"].flatMap((gbps) => METHODS.map((m) => ({ dram, gbps, m, io: "thread" })))),
  ...["1", "2"].flatMap((gbps) => METHODS.slice(0, 3).map((m) => ({ dram: "1GB", gbps, m, io: "inline" }))),
];

/** [all jiffies, idle jiffies] of the machine, or undefined off Linux. */
function cpuTimes() {
  if (!existsSync("/proc/stat")) return undefined;
  const v = readFileSync("/proc/stat", "utf8").split("\n")[0].split(/\s+/).slice(1, 9).map(Number);
  return [v.reduce((a, b) => a + b, 0), v[3] + v[4]];
}
const HZ = 100; // USER_HZ on Linux
const busyCores = (a, b, seconds) => (b[0] - a[0] - (b[1] - a[1])) / HZ / seconds;

function waitQuiet() {
  for (let i = 0; i < 15; i++) {
    const a = cpuTimes();
    if (!a) return;
    spawnSync("sleep", ["3"]);
    if (busyCores(a, cpuTimes(), 3) < 0.4) return;
  }
}

function run(file, out, rounds, dram) {
  for (let round = 0; round < rounds; round++) {
    for (const r of ROWS.filter((x) => dram === undefined || x.dram === dram)) {
      waitQuiet();
      const cmd = ["bin/dip.js", "generate", "--model", file, "--stream", "--dram", r.dram, "--method", ...r.m.split(" "), "--flash-gbps", r.gbps, "--stream-io", r.io, "--steps", "24", "--temperature", "0", "--json"];
      const a = cpuTimes();
      const t0 = performance.now();
      // bash's `time` gives the run's own CPU seconds (all its threads), to subtract from the machine's
      const p = spawnSync("bash", ["-c", `TIMEFORMAT='cpu %U %S'; time "${process.execPath}" ${cmd.join(" ")}`], { cwd: root, encoding: "utf8" });
      const seconds = (performance.now() - t0) / 1e3;
      const b = cpuTimes();
      if (p.status !== 0) {
        console.error(`${cmd.join(" ")}: ${p.stderr}`);
        continue;
      }
      const j = JSON.parse(p.stdout);
      const cpu = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(p.stderr);
      const ours = cpu ? (Number(cpu[1]) + Number(cpu[2])) / seconds : 0;
      const machine = a ? busyCores(a, b, seconds) : null;
      const rec = { time: new Date().toISOString().slice(11, 19), dram: r.dram, flash_gbps: Number(r.gbps), method: j.method, io: r.io, ours_cores: ours, others_cores: machine === null ? null : Math.max(0, machine - ours), cmd: `node ${cmd.join(" ")}`, result: j };
      appendFileSync(out, JSON.stringify(rec) + "\n");
      console.log(`${rec.time} ${j.method} ${r.dram} ${r.gbps} GB/s ${r.io}: measured/predicted ${j.measured_over_simulated.toFixed(3)}`);
    }
  }
}

const fmt = (x, d = 3) => x.toFixed(d);

function table(file) {
  const recs = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const rows = new Map();
  for (const r of recs) {
    const k = `${r.io}|${r.dram}|${r.flash_gbps}|${r.method}`;
    if (!rows.has(k)) rows.set(k, []);
    rows.get(k).push(r);
  }
  const order = (r) => [r.io === "thread" ? 0 : 1, r.result.dram_budget_bytes, r.flash_gbps, METHODS.findIndex((m) => m.startsWith(r.result.method.split("@")[0])), r.result.method];
  const cmp = (a, b) => {
    const x = order(a);
    const y = order(b);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
  };
  const groups = [...rows.values()].map((rs) => rs.sort((a, b) => (a.others_cores ?? 0) - (b.others_cores ?? 0))).sort((a, b) => cmp(a[0], b[0]));
  console.log("| reads | method | --dram | --flash-gbps | held: LM head rows, slots/layer (input, hidden) | hit rate (real = simulated) | storage MB/token (simulated Flash) | reads/token | measured tok/s | predicted tok/s, this machine | **measured / predicted** (every run) | Flash s/token | main thread waiting s/token | rest s/token | predicted DRAM s/token (probe GB/s) | peak wasm MB | other processes, cores |");
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const rs of groups) {
    const r = rs[0];
    const j = r.result;
    const flash = j.simulated_flash_bytes_per_token / 1e9 / j.flash_gbps;
    const dramS = (j.simulated_dram_bytes_per_token / 1e9) / j.dram_read_gbps;
    const all = rs.map((x) => fmt(x.result.measured_over_simulated, 2)).join(", ");
    const held = `${j.resident_rows.lm_head === j.resident_rows.vocab ? "all" : j.resident_rows.lm_head}, ${j.cache_entries.input}, ${j.cache_entries.hidden}`;
    console.log(
      `| ${r.io} | ${j.method} | ${r.dram} | ${j.flash_gbps} | ${held} | ${fmt(100 * j.hit_rate, 2)}% | ${fmt(j.storage_bytes_per_token / 1e6, 1)} (${fmt(j.simulated_flash_bytes_per_token / 1e6, 1)}) | ${fmt(j.storage_reads_per_token, 0)} | ${fmt(j.tok_s)} | ${fmt(j.simulated_tok_s)} | **${fmt(j.measured_over_simulated, 2)}** (${all}) | ${fmt(flash)} | ${fmt(j.fetch_seconds_per_token)} | ${fmt(1 / j.tok_s - j.fetch_seconds_per_token)} | ${fmt(dramS)} (${fmt(j.dram_read_gbps, 1)}) | ${fmt(j.peak_wasm_memory_bytes / 1e6, 1)} | ${r.others_cores === null ? "?" : fmt(r.others_cores, 2)} |`,
    );
  }
}

if (mode === "run" && args.length >= 2) run(resolve(args[0]), resolve(args[1]), Number(args[2] ?? 1), args[3]);
else if (mode === "table" && args.length === 1) table(args[0]);
else {
  console.error("usage: node scripts/streaming-table.mjs run F.dipstream OUT.jsonl [rounds] [dram] | table OUT.jsonl");
  process.exit(2);
}
