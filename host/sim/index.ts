// The Flash -> DRAM simulator's host API (SIMULATOR.md). Node-only file helpers live in
// host/node/trace-file.ts; everything here runs in any JS runtime.
export { PRESETS, PRESET_NAMES, DEFAULT_BITS, PRECISION_GROUPS, footprint, footprintFromConfig, presetByName, kvCacheBytes, validateDims } from "./presets.js";
export type { ModelDims, PresetName, Precision, WeightGroup, Footprint } from "./presets.js";
export { maskGroupsFor, MASK_METHODS } from "./groups.js";
export type { MaskGroup, MaskMethod } from "./groups.js";
export { DEVICES, DEFAULT_DEVICE, hostDevice, resolveDevice, parseSize, parseBits, SimSettingsError } from "./devices.js";
export type { DeviceProfile, DeviceOverrides } from "./devices.js";
export { partitionDram, STATIC_GROUPS } from "./partition.js";
export type { DramPartition, CachePlan, GroupPlacement, StaticGroup } from "./partition.js";
export { TraceBuilder, TraceFormatError, encodeTrace, decodeTrace, checkTraceMatchesModel, forEachMask, traceTokens, FULL_MASK, TRACE_VERSION } from "./trace.js";
export type { MaskTrace, TraceHeader, TraceSequence, MaskInput } from "./trace.js";
export { simulateTrace, simulateTraceWith, LiveSimulator } from "./simulate.js";
export type { SimSettings, SimResult, SequenceResult, Stats, LiveSimOptions } from "./simulate.js";
export { formatSimReport } from "./report.js";
export { CACHE_POLICIES, POLICY_ID, simWasm } from "./wasm-sim.js";
export type { CachePolicy, SimLayout, SimWasm } from "./wasm-sim.js";
