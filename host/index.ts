// Library entry: the public Engine API and what it needs.
export { Engine } from "./engine.js";
export type { EngineOptions, TokenMasks, WeightBytes } from "./engine.js";
export { generate } from "./generate.js";
export type { GenerateOptions, GenerateResult } from "./generate.js";
export { perplexity, splitStories, tokenStream } from "./eval.js";
export { parseGguf } from "./formats/gguf.js";
export { parseLlama2cCheckpoint, parseLlama2cTokenizer } from "./formats/llama2c.js";
export { loadModelFile } from "./formats/load.js";
export { SentencePieceTokenizer } from "./tokenizer/sentencepiece.js";
export { HfTokenizer } from "./tokenizer/hf.js";
export type { Tokenizer, StreamDecoder } from "./tokenizer/types.js";
export { encodeGguf } from "./formats/gguf-writer.js";
export { splitKeep, METHODS } from "./sparsity.js";
export type { SparsitySpec, Method } from "./sparsity.js";
export type { LoadedModel, ModelConfig } from "./model.js";
