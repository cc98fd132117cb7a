// What a calibration is (host/calibration.ts computes and checks one): per-layer thresholds for
// cats and dip-threshold (DIP.md). A module of its own so that the Engine, which takes a
// Calibration, does not import the calibration code that drives an Engine.

export interface LayerThresholds {
  /** dip-threshold: |x| threshold of the MLP input (0 for cats) */
  input: number;
  /** dip-threshold: |h| threshold; cats: |silu(gate)| threshold */
  hidden: number;
}

export interface Calibration {
  version: 1;
  /** identifies the model: name and a hash of its config and first weights */
  modelKey: string;
  method: "cats" | "dip-threshold";
  keep: number;
  /** hash of the calibration token ids */
  dataKey: string;
  tokens: number;
  thresholds: LayerThresholds[];
}
