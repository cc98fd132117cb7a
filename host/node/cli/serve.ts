// `dip serve`: the web demo on http://127.0.0.1:PORT/ (loopback only), with the default model.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { Argv, ArgumentsCamelCase } from "yargs";
import { resolveModelPath } from "../resolve.js";
import { startDemoServer } from "../serve.js";
import { UsageError } from "./common.js";

interface Args {
  port: number;
  model?: string;
  stream?: string;
}

export const serveCommand = {
  command: "serve",
  describe: "serve the web demo (web/) and the default model on 127.0.0.1 (COOP/COEP headers)",
  builder: (y: Argv) =>
    y
      .option("port", { type: "number", default: 8080, describe: "port on 127.0.0.1 (0: any free port)" })
      .option("model", { type: "string", describe: "the model the page loads by default (default: stories260K from the models directory)" })
      .option("stream", { type: "string", describe: "a .dipstream file the page offers to stream (dip convert --stream-layout)" }),
  handler: async (a: ArgumentsCamelCase<Args>) => {
    if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new UsageError(`--port must be an integer in 0..65535, got ${a.port}`);
    let streamPath: string | undefined;
    if (a.stream !== undefined) {
      streamPath = resolve(a.stream);
      if (!streamPath.toLowerCase().endsWith(".dipstream") || !existsSync(streamPath)) throw new UsageError(`--stream needs an existing .dipstream file (dip convert --stream-layout), got ${a.stream}`);
    }
    const s = await startDemoServer({ port: a.port, modelPath: resolveModelPath(a.model), streamPath });
    process.stderr.write(`dip demo at ${s.url} (Ctrl-C to stop)\n`);
    await new Promise<void>((done) => {
      const stop = () => void s.close().then(done);
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
  },
};
