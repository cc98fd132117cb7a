// The load average every benchmark records at its start and end (ARCHITECTURE.md: measure speed
// only on an idle machine, load under 0.5, and record the load with every figure). One helper, so
// every bench output names the load the same way and warns the same way.
import { loadavg } from "node:os";

/** Above this 1-minute load average the machine is not idle: timings and ratios are suspect. */
export const IDLE_LOAD = 0.5;

/**
 * The 1, 5 and 15-minute load averages now (2 decimals); writes a warning naming `bench` to
 * stderr when the 1-minute one is above IDLE_LOAD.
 */
export function recordLoad(bench: string, when: "start" | "end"): number[] {
  const load = loadavg().map((x) => Number(x.toFixed(2)));
  if (load[0] > IDLE_LOAD) {
    process.stderr.write(`${bench}: warning: load average ${load.join(" ")} at the ${when}, above ${IDLE_LOAD}: other processes share the machine, timings and ratios are not an idle machine's\n`);
  }
  return load;
}
