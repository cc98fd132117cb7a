// Node adapter: calibration files (the thresholds themselves are computed in host/calibration.ts).
import { readFile } from "node:fs/promises";
import { writeOutputFile } from "./atomic-file.js";
import type { Engine } from "../engine.js";
import { checkCalibration } from "../calibration.js";
import type { Calibration } from "../thresholds.js";
import { SparsityError, type SparsitySpec } from "../sparsity.js";
import { printable } from "../model.js";

/** Reads a calibration file and checks it belongs to this model and method. */
export async function readCalibration(file: string, engine: Engine, spec: SparsitySpec): Promise<Calibration> {
  let parsed: Calibration;
  try {
    parsed = JSON.parse(await readFile(file, "utf8")) as Calibration;
  } catch (e) {
    throw new SparsityError(printable(`${file}: not a readable calibration file (${(e as Error).message})`));
  }
  return checkCalibration(parsed, file, engine, spec);
}

export async function writeCalibration(file: string, cal: Calibration): Promise<void> {
  await writeOutputFile(file, JSON.stringify(cal, null, 1));
}
