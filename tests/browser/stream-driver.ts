// Streaming a .dipstream on the web demo, run inside the page for browsers without WebDriver
// (Firefox, WebKit): web/app.ts imports it with ?driver=/stream-driver.js. It does what
// scripts/browser-stream-e2e.mjs does through playwright in Chromium and reports what the page
// showed, which that script checks against Node: a wrong file, the .dipstream picked with "keep a
// copy" (OPFS where the browser has sync access handles, Blob slices where not, as the page
// says), the File as Blob slices with paced reads, a budget below the minimum, a corrupt column.
import { pickFile, setValue, shownStreamRun, textOf, waitForState, type ShownStreamRun } from "./demo-page.js";
import { queryArgs, reportResult } from "./report.js";

interface Args {
  settings: { prompt: string; tokens: number; method: string; keep: number; policy: string; seed: number };
  dramBytes: number;
  model: string;
  stream: string;
  corrupt: string;
}

const pageErrors: string[] = [];
addEventListener("error", (e) => pageErrors.push(e.message));
addEventListener("unhandledrejection", (e) => pageErrors.push(String((e as PromiseRejectionEvent).reason)));

const fileFrom = async (url: string) => new File([await (await fetch(url)).blob()], url.split("/").pop() ?? "file");
const generateButton = () => document.getElementById("generate") as HTMLButtonElement;
const storeCopy = (on: boolean) => ((document.getElementById("stream-store") as HTMLInputElement).checked = on);

async function ready(): Promise<void> {
  if ((await waitForState(["ready", "error"])) !== "ready") throw new Error(textOf("error"));
}

async function generate(a: Args, gbps: number | undefined): Promise<ShownStreamRun> {
  const s = a.settings;
  for (const [id, value] of [["prompt", s.prompt], ["method", s.method], ["policy", s.policy], ["tokens", s.tokens], ["temperature", 0], ["seed", s.seed], ["keep", s.keep], ["stream-dram", a.dramBytes], ["stream-gbps", gbps ?? ""]] as const) {
    setValue(id, String(value));
  }
  generateButton().click();
  await waitForState(["done", "error"]);
  return shownStreamRun();
}

/** Picks `file` in the stream picker and returns the line the page shows about the loaded model. */
async function pickStream(file: File): Promise<string> {
  pickFile("stream-file", file);
  await ready();
  return textOf("model-info");
}

void reportResult(async () => {
  const a = queryArgs() as unknown as Args;
  await ready();
  const offeredUrl = (document.getElementById("stream-url") as HTMLInputElement).value;

  storeCopy(true);
  pickFile("stream-file", await fileFrom(a.model));
  await waitForState(["error"]);
  const notAStream = textOf("error");

  const stream = await fileFrom(a.stream);
  const storedInfo = await pickStream(stream);
  const mode = document.body.dataset.mode;
  const stored = await generate(a, undefined);

  storeCopy(false);
  const blobInfo = await pickStream(stream);
  const blobPaced = await generate(a, 0.5);

  setValue("stream-dram", "100KB");
  generateButton().click();
  await waitForState(["error"]);
  const belowMinimum = textOf("error");

  await pickStream(await fileFrom(a.corrupt));
  setValue("stream-dram", String(a.dramBytes));
  generateButton().click();
  await waitForState(["error"]);
  return { offeredUrl, notAStream, storedInfo, mode, stored, blobInfo, blobPaced, belowMinimum, corrupt: textOf("error"), pageErrors };
});
