// The ids that cross the wasm boundary, defined once (../shared/spec/ARCHITECTURE.md, "One source
// of truth across the wasm boundary"). The engine's AssemblyScript imports this file and the host
// imports the very same file (through host/abi.ts; esbuild bundles it), so neither side keeps a
// copy. It holds only `export const NAME = <int literal>;` lines: the common subset of
// AssemblyScript (an i32 compile-time constant) and TypeScript (a literal type), which is simpler
// and harder to get wrong than a module generated from a table at build time.

// ---- layer weight table fields (assembly/model/state.ts setLayerWeight): a pointer and a dtype each ----
export const ATTN_NORM = 0; // (dim)
export const WQ = 1; // (qDim, dim) row-major
export const WK = 2; // (kvDim, dim) row-major
export const WV = 3; // (kvDim, dim) row-major
export const WO = 4; // (dim, qDim) row-major
export const BQ = 5; // (qDim) or 0
export const BK = 6; // (kvDim) or 0
export const BV = 7; // (kvDim) or 0
export const FFN_NORM = 8; // (dim)
export const W_GATE_T = 9; // (dim, hiddenDim): input-major, row j = column j of W_gate
export const W_UP = 10; // input-major (dim, hiddenDim), or row-major (hiddenDim, dim) when upRowMajor
export const W_DOWN_T = 11; // (hiddenDim, dim): input-major, row j = column j of W_down
export const LAYER_FIELDS = 12;

// ---- weight dtypes, one per matrix (assembly/model/linear.ts dispatches on them) ----
export const DTYPE_F32 = 0;
export const DTYPE_Q8 = 1; // int8 blocks of Q8_BLOCK with a scale each (assembly/kernels/q8.ts)
// ggml's blocks exactly as a GGUF file stores them, row-major, each row its cols / block values'
// blocks back to back (assembly/kernels/q4.ts, kquants.ts); Q4_0 and Q4_K also have input-major
// layouts (the file's values transposed exactly, q4.ts / kquants.ts) for the MLP matrices
export const DTYPE_Q4_0 = 2; // 32 values in 18 bytes: f16 d, 16 bytes of 4-bit q; w = d * (q - 8)
export const DTYPE_Q4_K = 3; // 256 values in 144 bytes: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 of 4-bit q
export const DTYPE_Q6_K = 4; // 256 values in 210 bytes: 128 bytes low 4 bits, 64 high 2 bits, i8 scales[16], f16 d
export const DTYPE_Q5_0 = 5; // 32 values in 22 bytes: f16 d, u32 qh (bit i: value i's 5th bit), 16 bytes of low 4 bits; w = d * (q - 16)
export const DTYPE_Q4_1 = 6; // 32 values in 20 bytes: f16 d, f16 m, 16 bytes of 4-bit q; w = d * q + m
export const DTYPE_Q5_1 = 7; // 32 values in 24 bytes: f16 d, f16 m, u32 qh, 16 bytes of low 4 bits; w = d * q + m
export const DTYPE_Q5_K = 8; // 256 values in 176 bytes: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, qh[32], 128 of low 4 bits
export const DTYPE_Q2_K = 9; // 256 values in 84 bytes: 16 scale/min nibble pairs, 64 bytes of 2-bit q, f16 d, f16 dmin
export const DTYPE_Q3_K = 10; // 256 values in 110 bytes: hmask[32] (3rd bits), 64 bytes of 2-bit q, 12 bytes of 6-bit scales, f16 d
export const QK4_0 = 32; // values per Q4_0 block (and Q5_0's, Q4_1's, Q5_1's)
export const Q5_0_BLOCK_BYTES = 22;
export const Q4_0_BLOCK_BYTES = 18;
export const QK_K = 256; // values per k-quant super-block
export const Q4_K_BLOCK_BYTES = 144;
export const Q6_K_BLOCK_BYTES = 210;

// ---- q8 layouts (assembly/kernels/q8.ts): the host quantizes into them at load ----
export const Q8_BLOCK = 32; // values per scale, along the input dimension
export const Q8_TILE_ROWS = 8; // row-major layout: rows per tile
export const Q8_TILE_BYTES = 288; // int8[8][32] quants, then f32[8] scales

// ---- rotary layouts (assembly/kernels/rope.ts, engineConfigure) ----
export const ROPE_INTERLEAVED = 0; // pairs (2i, 2i+1) rotate together (GGUF, llama2.c)
export const ROPE_HALF = 1; // i rotates with i + headDim/2 (Hugging Face)

// ---- sparsity methods (assembly/sparsity/policy.ts setMethod) ----
export const METHOD_DENSE = 0;
export const METHOD_GLU = 1;
export const METHOD_DIP = 2;
export const METHOD_CATS = 3;
export const METHOD_DIP_THRESHOLD = 4;
export const METHOD_DIP_CA = 5;
export const METHOD_PREDICTOR = 6; // Deja Vu style: a trained low-rank predictor picks the hidden units (docs/predictor.md)

// ---- column cache policies (assembly/sim/state.ts simSetPolicy) ----
export const POLICY_NONE = 0;
export const POLICY_LRU = 1;
export const POLICY_LFU = 2;
export const POLICY_BELADY = 3;

// ---- mask groups (the simulator's and the stream's caches) and streamed row ranges ----
export const GROUP_INPUT = 0; // the MLP input mask: a W_gate column and a W_up column per entry
export const GROUP_HIDDEN = 1; // the hidden mask: a W_down column per entry
export const ROWS_LM_HEAD = 2; // streamed rows of the LM head (and of the tied embedding)
export const ROWS_EMBEDDING = 3; // streamed rows of an untied embedding

// ---- LoRA targets (assembly/model/adapters.ts loraA / loraB; bit t of loraConfigure's mask) ----
export const LORA_GATE = 0; // A (dim, r), B (r, hiddenDim)
export const LORA_UP = 1; // A (dim, r), B (r, hiddenDim)
export const LORA_DOWN = 2; // A (hiddenDim, r), B (r, dim)
export const LORA_TARGETS = 3;

// ---- training losses (assembly/train/loss.ts; trainLoss / trainWindow) ----
export const LOSS_CE = 0; // next-token cross-entropy
export const LOSS_KD = 1; // KL(teacher || student), teacher = the dense base model (distillation)

// ---- return codes of the allocating exports (0 = ok) ----
export const ERR_OUT_OF_MEMORY = -1;
export const ERR_NO_ADAPTERS = -2; // trainInit before loraConfigure
export const ERR_WINDOW_TOO_LONG = -3; // trainInit beyond the model's context

// ---- mask trace words (docs/trace-format.md): the host writes them, assembly/sim replays them ----
export const TRACE_VERSION = 1;
export const TRACE_FIXED_HEADER_BYTES = 28; // magic (8), version, header JSON length, ... before the JSON
export const TRACE_FULL_MASK = 0xffffffff; // a count word meaning "every column of the group"; no indices follow
