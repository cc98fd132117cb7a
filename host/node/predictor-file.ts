// Node adapter: predictor files (the codec is host/predictor.ts), written atomically.
import { readFile } from "node:fs/promises";
import { decodePredictor, encodePredictor, PredictorError, type Predictor } from "../predictor.js";
import { writeOutputFile } from "./atomic-file.js";

export async function writePredictorFile(file: string, predictor: Predictor): Promise<void> {
  await writeOutputFile(file, encodePredictor(predictor));
}

/** Reads a predictor file; errors name the file and what is wrong with it. */
export async function readPredictorFile(file: string): Promise<Predictor> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch {
    throw new PredictorError(`--predictor: cannot read ${file}`);
  }
  return decodePredictor(bytes, file);
}
