// Checks every command's option values once, before any handler runs (yargs middleware): a flag
// that takes a value must get one (yargs otherwise falls back to the default: `--steps` alone ran
// 256 steps, `--model` alone the default model), and a number must be a finite number (`--seed
// NaN` ran as seed 0).
import { UsageError } from "./common.js";

/** The declared options of the command being run (yargs' getOptions(), which @types/yargs omits). */
export interface DeclaredOptions {
  string: string[];
  number: string[];
  alias: Record<string, string[]>;
}

/** A token that is the next flag rather than a value ("-1" and "-.5" are values). */
const isFlag = (token: string): boolean => /^--?[^\d.-]/.test(token) || token === "--";

/** Throws a UsageError for a value-taking flag given without a value, or a number option that is not a finite number. */
export function checkOptionValues(rawArgs: readonly string[], argv: Record<string, unknown>, options: DeclaredOptions): void {
  const takesValue = new Set([...options.string, ...options.number]);
  for (const [name, aliases] of Object.entries(options.alias)) if (takesValue.has(name)) for (const a of aliases) takesValue.add(a);
  const end = rawArgs.indexOf("--");
  const args = end >= 0 ? rawArgs.slice(0, end) : rawArgs;
  // an explicit empty value (--prompt "" or --prompt=) is a value
  for (const [i, token] of args.entries()) {
    const m = /^--?([^=]+)$/.exec(token);
    if (!m || !takesValue.has(m[1])) continue;
    const value = args[i + 1];
    if (value === undefined || isFlag(value)) throw new UsageError(`--${m[1]} needs a value`);
  }
  for (const name of options.number) {
    const values = [argv[name]].flat();
    const bad = values.find((v) => v !== undefined && !(typeof v === "number" && Number.isFinite(v)));
    if (bad !== undefined) throw new UsageError(`--${name} must be a number, got ${String(bad)}`);
  }
}
