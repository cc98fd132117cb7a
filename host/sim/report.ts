// Markdown report of a simulation: the configuration, then the results with their spread over
// sequences, the DRAM partition and per-layer hit rates.
import type { SimResult, Stats } from "./simulate.js";

/** Bytes in the largest power-of-10 unit that keeps the number >= 1 (GB = 1e9). */
export function formatBytes(bytes: number): string {
  const units: [number, string][] = [[1e12, "TB"], [1e9, "GB"], [1e6, "MB"], [1e3, "KB"]];
  for (const [scale, unit] of units) if (Math.abs(bytes) >= scale) return `${(bytes / scale).toFixed(3)} ${unit}`;
  return `${Number.isInteger(bytes) ? bytes : bytes.toFixed(1)} B`;
}
const gb = formatBytes;
const mb = formatBytes;
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const num = (x: number) => (Number.isFinite(x) ? x.toPrecision(4) : String(x));

function row(cells: string[]): string {
  return `| ${cells.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`;
}

function statsRow(name: string, s: Stats, fmt: (x: number) => string): string {
  return row([name, fmt(s.mean), fmt(s.std), fmt(s.min), fmt(s.max)]);
}

export function formatSimReport(r: SimResult, title = "Flash -> DRAM simulation"): string {
  const c = r.config;
  const d = c.device;
  const bits = Object.entries(c.bits).map(([k, v]) => `${k}=${v}`).join(", ");
  const sparsity = c.sparsity ? Object.entries(c.sparsity).map(([k, v]) => `${k}=${v}`).join(", ") : "-";
  const lines: string[] = [
    `# ${title}`,
    "",
    "## Configuration",
    "",
    row(["setting", "value"]),
    row(["---", "---"]),
    row(["model", c.model ?? "-"]),
    row(["dims", `L=${c.dims.nLayers} V=${c.dims.vocabSize} H=${c.dims.dim} I=${c.dims.hiddenDim} heads=${c.dims.nHeads} kv_heads=${c.dims.nKvHeads}`]),
    row(["method", c.method]),
    row(["sparsity", sparsity]),
    row(["cache policy", c.policy]),
    row(["device", `${d.name}: DRAM ${gb(d.dramBytes)} at ${d.dramGBps} GB/s, Flash ${d.flashGBps} GB/s, ${d.concurrentIO ? "concurrent" : "serial"} I/O`]),
    row(["bits", bits]),
    row(["static groups", c.static_groups.join(", ") || "-"]),
    row(["KV positions reserved", String(c.kv_seq_len)]),
    row(["admission rule", c.admission_rule]),
    row(["trace", `${c.sequences} sequences, ${c.tokens} tokens`]),
    "",
    "## Results (over sequences)",
    "",
    row(["metric", "mean", "std", "min", "max"]),
    row(["---", "---:", "---:", "---:", "---:"]),
    statsRow("tokens / s", r.spread.tok_s, num),
    statsRow("MLP cache hit rate", r.spread.hit_rate, pct),
    statsRow("Flash bytes / token", r.spread.flash_bytes_per_token, mb),
    statsRow("DRAM bytes / token", r.spread.dram_bytes_per_token, mb),
    statsRow("MLP density read", r.spread.mlp_density, pct),
    statsRow("time to first token (s)", r.spread.ttft_s, num),
    "",
    row(["summary", "value"]),
    row(["---", "---:"]),
    row(["memory (DRAM resident)", gb(r.memory_bytes)]),
    row(["DRAM budget", gb(r.dram_budget_bytes)]),
    row(["dense footprint", gb(r.dense_footprint_bytes)]),
    row(["memory reduction vs dense footprint", pct(r.memory_reduction)]),
    row(["dense model, MLP from Flash: tokens / s", num(r.dense_flash_tok_s)]),
    row(["speed-up vs dense from Flash", `${num(r.speedup_vs_dense_flash)}x`]),
    "",
    "## DRAM partition",
    "",
    row(["group", "placement", "footprint", "in DRAM", "from Flash"]),
    row(["---", "---", "---:", "---:", "---:"]),
    ...r.partition.static.map((p) => row([p.group, p.static ? "static" : "streamed", mb(p.footprint_bytes), mb(p.dram_bytes), mb(p.flash_bytes)])),
    "",
    row(["MLP cache", "linears", "entries / layer", "of", "bytes / layer"]),
    row(["---", "---", "---:", "---:", "---:"]),
    ...r.partition.caches.map((k) => row([k.group + (k.always_full ? " (read dense)" : ""), k.linears.join(" + "), String(k.entries_per_layer), String(k.n_entries), mb(k.bytes_per_layer)])),
    "",
    `Dynamic capacity ${gb(r.partition.dynamic_capacity_bytes)}, caches use ${gb(r.partition.cache_bytes)}, static overflow ${gb(r.partition.overflow_bytes)}.`,
    "",
    "## Hit rate per layer",
    "",
    row(["layer", ...r.hit_rate.per_layer.map((_, l) => String(l))]),
    row(["---", ...r.hit_rate.per_layer.map(() => "---:")]),
    row(["hit rate", ...r.hit_rate.per_layer.map(pct)]),
    "",
    "## Notes",
    "",
    ...r.notes.map((n) => `- ${n}`),
    "",
  ];
  return lines.join("\n");
}
