// Reading and driving the web demo from inside the page (build/browser-tests/demo-page.js), shared
// by the end-to-end tests: Chromium's (playwright, scripts/browser-e2e.mjs) reads what a run shows
// with shownRun(); Firefox's and WebKit's run demo-driver.ts, which acts through these helpers too.

/** What the page shows after a generation: the last run's message and the rendered numbers. */
export interface ShownRun {
  /** the worker's "done" message (web/protocol.ts), kept as window.dipLastRun */
  run: unknown;
  error: string;
  text: string;
  /** heights of the hit-rate chart's bars, one per layer */
  bars: number[];
  hit: string;
  flashLines: number;
}

const byId = (id: string) => document.getElementById(id) as HTMLElement;

export function shownRun(): ShownRun {
  return {
    run: (window as unknown as { dipLastRun?: unknown }).dipLastRun,
    error: byId("error").textContent ?? "",
    text: byId("text").textContent ?? "",
    bars: Array.from(document.querySelectorAll("#hit-chart rect.bar"), (r) => Number(r.getAttribute("height"))),
    hit: byId("s-hit").textContent ?? "",
    flashLines: document.querySelectorAll("#flash-chart polyline").length,
  };
}

/** What the page shows after a streamed run: the run, the measured/simulated table and summary. */
export interface ShownStreamRun extends ShownRun {
  tableHit: string;
  tableSimHit: string;
  summary: string;
}

export function shownStreamRun(): ShownStreamRun {
  return { ...shownRun(), tableHit: textOf("t-hit"), tableSimHit: textOf("t-sim-hit"), summary: textOf("stream-summary") };
}

/** Sets a control's value as a user would (input and change events). */
export function setValue(id: string, value: string): void {
  const el = byId(id) as HTMLInputElement | HTMLSelectElement;
  el.value = value;
  el.dispatchEvent(new Event("input", { bubbles: true }));
  el.dispatchEvent(new Event("change", { bubbles: true }));
}

/** Picks `file` in the file input `id` (the File path, as the picker gives it). */
export function pickFile(id: string, file: File): void {
  const input = byId(id) as HTMLInputElement;
  const picked = new DataTransfer();
  picked.items.add(file);
  input.files = picked.files;
  input.dispatchEvent(new Event("change", { bubbles: true }));
}

/** Resolves when the page's state (body[data-state]) is one of `states`. */
export function waitForState(states: string[], timeoutMs = 60000): Promise<string> {
  return new Promise((ok, fail) => {
    const t0 = performance.now();
    const poll = () => {
      const state = document.body.dataset.state ?? "";
      if (states.includes(state)) return ok(state);
      if (performance.now() - t0 > timeoutMs) return fail(new Error(`the page stayed "${state}" for ${timeoutMs / 1000} s (waiting for ${states.join(" or ")}): ${byId("error").textContent}`));
      setTimeout(poll, 20);
    };
    poll();
  });
}

export const isVisible = (id: string) => {
  const el = byId(id);
  return !el.hidden && el.getClientRects().length > 0;
};
export const textOf = (id: string) => byId(id).textContent ?? "";
