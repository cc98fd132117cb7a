// llama2.c checkpoints (legacy export: a 7 x int32 header, then raw f32 tensors) and tokenizer.bin.
// The layout is run.c's memory_map_weights: each weight kind is stacked over all layers, so a
// layer's matrix is a slice of one long array. Matrices are already [out x in] row-major.
import { type LayerWeights, type LoadedModel, type ModelConfig, type Vocabulary, ModelFormatError, validateConfig, validateWeights } from "../model.js";
import { BinaryReader, f32Array } from "./binary.js";

const HEADER_BYTES = 7 * 4;
/** export.py's versioned formats start with "ak42" as a little-endian u32 */
const VERSIONED_MAGIC = 0x616b3432;

function basename(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

/** Parses a legacy llama2.c checkpoint (run.c's format). The file size must match the header exactly. */
export function parseLlama2cCheckpoint(bytes: Uint8Array, file: string): LoadedModel {
  const r = new BinaryReader(bytes, file);
  if (bytes.length >= 4 && r.u32() === VERSIONED_MAGIC) {
    throw new ModelFormatError(file, 'llama2.c versioned export (magic "ak42") is not supported; export with the legacy format (version 0) that run.c reads');
  }
  r.seek(0);
  const header = {
    dim: r.i32("header dim"),
    hiddenDim: r.i32("header hidden_dim"),
    nLayers: r.i32("header n_layers"),
    nHeads: r.i32("header n_heads"),
    nKvHeads: r.i32("header n_kv_heads"),
    vocab: r.i32("header vocab_size"),
    seqLen: r.i32("header seq_len"),
  };
  // run.c: a negative vocab_size means an unshared classifier (wcls) follows the other weights.
  const sharedClassifier = header.vocab > 0;
  const vocabSize = Math.abs(header.vocab);
  const { dim, hiddenDim, nLayers, nHeads, nKvHeads, seqLen } = header;
  const fields = { dim, hidden_dim: hiddenDim, n_layers: nLayers, n_heads: nHeads, n_kv_heads: nKvHeads, vocab_size: vocabSize, seq_len: seqLen };
  for (const [k, v] of Object.entries(fields)) {
    if (!(v > 0)) throw new ModelFormatError(file, `header field ${k} is ${v}, expected a positive integer (is this a llama2.c checkpoint?)`);
  }
  const headSize = Math.floor(dim / nHeads);
  const qDim = nHeads * headSize;
  const kvDim = nKvHeads * headSize;
  // Element counts in file order, as run.c's memory_map_weights walks them.
  const sizes = {
    tokenEmbedding: vocabSize * dim,
    rmsAtt: nLayers * dim,
    wq: nLayers * dim * qDim,
    wk: nLayers * dim * kvDim,
    wv: nLayers * dim * kvDim,
    wo: nLayers * qDim * dim,
    rmsFfn: nLayers * dim,
    w1: nLayers * dim * hiddenDim,
    w2: nLayers * hiddenDim * dim,
    w3: nLayers * dim * hiddenDim,
    rmsFinal: dim,
    freqCisReal: Math.floor((seqLen * headSize) / 2), // unused RoPE tables, skipped
    freqCisImag: Math.floor((seqLen * headSize) / 2),
    wcls: sharedClassifier ? 0 : vocabSize * dim,
  };
  const expectedBytes = HEADER_BYTES + 4 * Object.values(sizes).reduce((a, b) => a + b, 0);
  if (expectedBytes !== bytes.length) {
    const shape = `dim ${dim}, hidden_dim ${hiddenDim}, n_layers ${nLayers}, n_heads ${nHeads}, n_kv_heads ${nKvHeads}, vocab_size ${header.vocab}, seq_len ${seqLen}`;
    const diff = bytes.length < expectedBytes ? `truncated: ${expectedBytes - bytes.length} bytes missing` : `${bytes.length - expectedBytes} trailing bytes`;
    throw new ModelFormatError(file, `header (${shape}) implies ${expectedBytes} bytes, file has ${bytes.length} bytes (${diff})`);
  }

  const config: ModelConfig = {
    architecture: "llama",
    dim,
    hiddenDim,
    nLayers,
    nHeads,
    nKvHeads,
    vocabSize,
    seqLen,
    ropeTheta: 10000,
    // llama2.c's export keeps Meta's layout: q/k rows rotate in adjacent pairs (2i, 2i+1).
    ropeLayout: "interleaved",
    rmsEps: 1e-5,
    tiedEmbeddings: sharedClassifier,
  };
  validateConfig(config, file);

  let at = HEADER_BYTES;
  const take = (n: number): Float32Array => {
    const a = f32Array(bytes, at, n);
    at += n * 4;
    return a;
  };
  const stacked = {
    tokenEmbedding: take(sizes.tokenEmbedding),
    rmsAtt: take(sizes.rmsAtt),
    wq: take(sizes.wq),
    wk: take(sizes.wk),
    wv: take(sizes.wv),
    wo: take(sizes.wo),
    rmsFfn: take(sizes.rmsFfn),
    w1: take(sizes.w1),
    w2: take(sizes.w2),
    w3: take(sizes.w3),
    rmsFinal: take(sizes.rmsFinal),
  };
  at += 4 * (sizes.freqCisReal + sizes.freqCisImag);
  const wcls = sharedClassifier ? undefined : take(sizes.wcls);

  const layer = (a: Float32Array, l: number): Float32Array => {
    const n = a.length / nLayers;
    return a.subarray(l * n, (l + 1) * n);
  };
  const layers: LayerWeights[] = [];
  for (let l = 0; l < nLayers; l++) {
    layers.push({
      attnNorm: layer(stacked.rmsAtt, l),
      wq: layer(stacked.wq, l),
      wk: layer(stacked.wk, l),
      wv: layer(stacked.wv, l),
      wo: layer(stacked.wo, l),
      ffnNorm: layer(stacked.rmsFfn, l),
      // SwiGLU in run.c: w2(silu(w1(x)) * w3(x))
      wGate: layer(stacked.w1, l),
      wDown: layer(stacked.w2, l),
      wUp: layer(stacked.w3, l),
    });
  }
  const model: LoadedModel = {
    name: basename(file),
    source: file,
    format: "llama2c",
    config,
    weights: {
      tokenEmbedding: stacked.tokenEmbedding,
      layers,
      finalNorm: stacked.rmsFinal,
      ...(wcls ? { lmHead: wcls } : {}),
    },
  };
  validateWeights(model);
  return model;
}

/** llama2.c tokenizer.bin: int32 max_token_length, then per token f32 score, int32 length, UTF-8 bytes. */
export function parseLlama2cTokenizer(bytes: Uint8Array, file: string, vocabSize: number): Vocabulary {
  const r = new BinaryReader(bytes, file);
  const maxTokenLength = r.i32("max_token_length");
  if (maxTokenLength <= 0) throw new ModelFormatError(file, `max_token_length is ${maxTokenLength}, expected a positive integer (is this a llama2.c tokenizer?)`);
  const pieces: string[] = [];
  const scores = new Float32Array(vocabSize);
  for (let i = 0; i < vocabSize; i++) {
    scores[i] = r.f32(`the score of token ${i}`);
    const at = r.offset;
    const len = r.i32(`the length of token ${i}`);
    if (len < 0 || len > maxTokenLength) {
      throw new ModelFormatError(file, `token ${i} at byte offset ${at} has length ${len}, expected 0 to max_token_length ${maxTokenLength}`);
    }
    pieces.push(r.utf8(len, `the bytes of token ${i}`));
  }
  if (r.remaining > 0) {
    throw new ModelFormatError(file, `${r.remaining} trailing bytes after ${vocabSize} tokens (a tokenizer for a larger vocabulary than the model's ${vocabSize}?)`);
  }
  // llama2.c hard-codes BOS = 1 and EOS = 2 (SentencePiece's Llama ids).
  return { pieces, scores, bosId: 1, eosId: 2 };
}
