// The web demo's end-to-end scenario run inside the page, for browsers without WebDriver (Firefox,
// WebKit): web/app.ts imports this module when the page is opened with ?driver=/demo-driver.js.
// It does what scripts/browser-e2e.mjs does through playwright in Chromium (generate with each
// run's settings, pick a wrong file, pick the model file) and reports what the page showed (without
// runs, only the state after the default model's load: a memory cap's message);
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

/** The page's state with its error line and whether Generate can be clicked. */
export interface PageState {
  state: string;
  error: string;
  errorVisible: boolean;
  generateDisabled: boolean;
}

export interface DriverReport {
  /** after the default model's load (the whole report when the test gives no runs) */
  loaded: PageState;
  modelInfo: string;
  runs: ShownRun[];
  wrongFile: PageState;
  pickedModel: PageState;
  pageErrors: string[];
}

const pageErrors: string[] = [];
addEventListener("error", (e) => pageErrors.push(e.message));
addEventListener("unhandledrejection", (e) => pageErrors.push(String((e as PromiseRejectionEvent).reason)));

const pageState = (state: string): PageState => ({ state, error: textOf("error"), errorVisible: isVisible("error"), generateDisabled: (document.getElementById("generate") as HTMLButtonElement).disabled });

void reportResult(async (): Promise<DriverReport | PageState> => {
  const args = queryArgs() as { runs?: Run[]; model: string; wrongFile: { name: string; type: string; bytes: number[] } };
  const loaded = pageState(await waitForState(["ready", "error"]));
  if (!args.runs) return loaded;
  if (loaded.state !== "ready") throw new Error(`the default model did not load: ${loaded.error}`);
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
  const wrongFile = pageState(await waitForState(["error"]));

  const bytes = await (await fetch(args.model)).blob();
  pickFile("model-file", new File([bytes], args.model.split("/").pop() ?? "model"));
  const pickedModel = pageState(await waitForState(["ready", "error"]));
  return { loaded, modelInfo, runs, wrongFile, pickedModel, pageErrors };
});
