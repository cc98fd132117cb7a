// The web demo's end-to-end scenario run inside the page, for browsers without WebDriver (Firefox,
// WebKit): web/app.ts imports this module when the page is opened with ?driver=/demo-driver.js.
// It does what scripts/browser-e2e.mjs does through playwright in Chromium (generate with each
// run's settings, pick a wrong file, pick the model file) and reports what the page showed;
// scripts/browser-e2e.mjs checks the report against Node's run with the same assertions.
import { isVisible, pickFile, setValue, shownRun, textOf, waitForState, type ShownRun } from "./demo-page.js";
import { queryArgs, reportResult } from "./report.js";

/** The demo's run settings (web/protocol.ts RunSettings) as the test gives them. */
interface Run {
  prompt: string;
  tokens: number;
  method: string;
  keep: number;
  gamma: number;
  policy: string;
  dramFraction: number;
  temperature: number;
  seed: number;
}

export interface DriverReport {
  modelInfo: string;
  runs: ShownRun[];
  wrongFile: { state: string; message: string; errorVisible: boolean; generateDisabled: boolean };
  pickedModel: { state: string; error: string; errorVisible: boolean };
  pageErrors: string[];
}

const pageErrors: string[] = [];
addEventListener("error", (e) => pageErrors.push(e.message));
addEventListener("unhandledrejection", (e) => pageErrors.push(String((e as PromiseRejectionEvent).reason)));

void reportResult(async (): Promise<DriverReport> => {
  const args = queryArgs() as { runs: Run[]; model: string; wrongFile: { name: string; type: string; bytes: number[] } };
  const loaded = await waitForState(["ready", "error"]);
  if (loaded !== "ready") throw new Error(`the default model did not load: ${textOf("error")}`);
  const modelInfo = textOf("model-info");

  const runs: ShownRun[] = [];
  for (const run of args.runs) {
    for (const [id, value] of [["prompt", run.prompt], ["method", run.method], ["tokens", run.tokens], ["temperature", run.temperature], ["seed", run.seed], ["policy", run.policy], ["keep", run.keep], ["gamma", run.gamma], ["dram", run.dramFraction * 100]] as const) {
      setValue(id, String(value));
    }
    (document.getElementById("generate") as HTMLButtonElement).click();
    await waitForState(["done", "error"]);
    runs.push(shownRun());
  }

  pickFile("model-file", new File([new Uint8Array(args.wrongFile.bytes)], args.wrongFile.name, { type: args.wrongFile.type }));
  const wrongState = await waitForState(["error"]);
  const wrongFile = { state: wrongState, message: textOf("error"), errorVisible: isVisible("error"), generateDisabled: (document.getElementById("generate") as HTMLButtonElement).disabled };

  const bytes = await (await fetch(args.model)).blob();
  pickFile("model-file", new File([bytes], args.model.split("/").pop() ?? "model"));
  const pickedState = await waitForState(["ready", "error"]);
  return { modelInfo, runs, wrongFile, pickedModel: { state: pickedState, error: textOf("error"), errorVisible: isVisible("error") }, pageErrors };
});
