// The tokenizer a GGUF carries in its tokenizer.ggml.* metadata, as llama.cpp reads it
// (src/llama-vocab.cpp): "llama" is SentencePiece (pieces and scores, run by
// host/tokenizer/sentencepiece.ts); "gpt2" is byte-level BPE (tokens, token types, merges and a
// pre-tokenizer regex named by tokenizer.ggml.pre), handed to @huggingface/tokenizers as the
// tokenizer.json it amounts to, so there is one BPE implementation in the project.
//
// Also read here: BOS/EOS and whether encoding adds them, the tokens that end generation (EOS,
// EOT, EOM and the end-of-turn tokens llama.cpp recognizes by their text), control tokens, and
// tokenizer.chat_template.
import { type HfTokenizerFiles, type Vocabulary, ModelFormatError, quote } from "../model.js";
import { type GgufMetadata, metaBool, metaInt, metaString } from "./gguf-meta.js";

/** llama.cpp's llama_token_type values in tokenizer.ggml.token_type */
const TOKEN_TYPE_CONTROL = 3;
const TOKEN_TYPE_USER_DEFINED = 4;

/**
 * Tokens llama.cpp treats as end of generation by their text (llama_vocab::impl::load, the
 * special_eog_ids list), whatever the file's token type says.
 */
const END_OF_GENERATION_TEXTS = [
  "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>", "<|endoftext|>",
  "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
];

/** Splits one pattern ("isolated" pieces between matches kept), as llama.cpp's unicode_regex_split. */
const GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const LLAMA3_REGEX =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_REGEX =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/**
 * Pre-tokenizers by tokenizer.ggml.pre: the regexes llama.cpp's llm_tokenizer_bpe applies in turn
 * (each splits the pieces the previous one left), the adapted forms it uses (no inline (?i:)).
 */
const PRE_TOKENIZERS: Record<string, { regexes: string[]; ignoreMerges?: boolean; addBos?: boolean }> = {
  default: { regexes: ["[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2_REGEX, "\\p{N}+", "[0-9][0-9][0-9]"] },
  "gpt-2": { regexes: [GPT2_REGEX] },
  gpt2: { regexes: [GPT2_REGEX] },
  // llama.cpp: Llama 3 looks a whole word up before merging it, and adds BOS by default
  "llama-bpe": { regexes: [LLAMA3_REGEX], ignoreMerges: true, addBos: true },
  "llama-v3": { regexes: [LLAMA3_REGEX], ignoreMerges: true, addBos: true },
  llama3: { regexes: [LLAMA3_REGEX], ignoreMerges: true, addBos: true },
  qwen2: { regexes: [QWEN2_REGEX] },
  smollm: { regexes: ["\\p{N}", GPT2_REGEX] },
  starcoder: { regexes: ["\\p{N}", GPT2_REGEX] },
};
export const SUPPORTED_BPE_PRE_TOKENIZERS = Object.keys(PRE_TOKENIZERS);
export const SUPPORTED_TOKENIZER_MODELS = ["llama", "gpt2"];

export interface GgufTokenizer {
  /** a SentencePiece vocabulary ("llama") */
  vocab?: Vocabulary;
  /** a byte-level BPE ("gpt2") as the tokenizer.json files it amounts to */
  hfTokenizer?: HfTokenizerFiles;
  /** tokenizer.chat_template (a Jinja template) */
  chatTemplate?: string;
}

/** The tokenizer in tokenizer.ggml.*, or {} when the file has none. */
export function ggufTokenizer(meta: GgufMetadata, vocabSize: number, file: string): GgufTokenizer {
  const chatTemplate = metaString(meta, "tokenizer.chat_template", file);
  const withTemplate = chatTemplate !== undefined ? { chatTemplate } : {};
  const model = metaString(meta, "tokenizer.ggml.model", file);
  const tokens = meta.get("tokenizer.ggml.tokens");
  if (tokens === undefined) return withTemplate;
  if (model !== undefined && !SUPPORTED_TOKENIZER_MODELS.includes(model)) {
    throw new ModelFormatError(file, `tokenizer.ggml.model ${quote(model)} is not supported; supported: ${SUPPORTED_TOKENIZER_MODELS.join(", ")}`);
  }
  if (!Array.isArray(tokens) || tokens.some((t) => typeof t !== "string")) {
    throw new ModelFormatError(file, "metadata tokenizer.ggml.tokens must be an array of strings");
  }
  if (tokens.length !== vocabSize) {
    throw new ModelFormatError(file, `tokenizer.ggml.tokens has ${tokens.length} pieces, but token_embd.weight has ${vocabSize} rows`);
  }
  const common = commonSettings(meta, tokens as string[], file);
  if (model === "gpt2") return { hfTokenizer: bpeTokenizerFiles(meta, tokens as string[], common, chatTemplate, file), ...withTemplate };
  return { vocab: sentencePieceVocabulary(meta, tokens as string[], common, file), ...withTemplate };
}

interface CommonSettings {
  bosId: number;
  eosId: number;
  /** undefined when the file does not say (each tokenizer model has its own default) */
  addBos: boolean | undefined;
  addEos: boolean;
  endIds: number[];
  controlIds: number[];
  userDefinedIds: number[];
}

function numbers(meta: GgufMetadata, key: string, length: number, file: string): number[] | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length !== length || v.some((x) => typeof x !== "number")) {
    throw new ModelFormatError(file, `metadata ${key} must be an array of ${length} numbers, like tokenizer.ggml.tokens`);
  }
  return v as number[];
}

function commonSettings(meta: GgufMetadata, tokens: string[], file: string): CommonSettings {
  const vocabSize = tokens.length;
  const types = numbers(meta, "tokenizer.ggml.token_type", vocabSize, file);
  const tokenId = (key: string, fallback?: number): number | undefined => {
    if (!meta.has(key) && fallback === undefined) return undefined;
    const id = metaInt(meta, key, file, fallback);
    if (id < 0 || id >= vocabSize) throw new ModelFormatError(file, `${key} ${id} is outside the vocabulary of ${vocabSize}`);
    return id;
  };
  const bosId = tokenId("tokenizer.ggml.bos_token_id", 1)!;
  const eosId = tokenId("tokenizer.ggml.eos_token_id", 2)!;
  const ends = new Set<number>([eosId]);
  for (const key of ["tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"]) {
    const id = tokenId(key);
    if (id !== undefined) ends.add(id);
  }
  const control = new Set<number>();
  const userDefined: number[] = [];
  types?.forEach((t, id) => {
    if (t === TOKEN_TYPE_CONTROL) control.add(id);
    else if (t === TOKEN_TYPE_USER_DEFINED) userDefined.push(id);
  });
  // llama.cpp marks these end-of-generation and control, whatever their type says
  const eogTexts = new Set(END_OF_GENERATION_TEXTS);
  tokens.forEach((t, id) => {
    if (eogTexts.has(t)) {
      ends.add(id);
      control.add(id);
    }
  });
  const userDefinedIds = userDefined.filter((id) => !control.has(id));
  return {
    bosId,
    eosId,
    addBos: metaBool(meta, "tokenizer.ggml.add_bos_token", file),
    addEos: metaBool(meta, "tokenizer.ggml.add_eos_token", file) ?? false,
    endIds: [...ends].sort((a, b) => a - b),
    controlIds: [...control].sort((a, b) => a - b),
    userDefinedIds,
  };
}

function sentencePieceVocabulary(meta: GgufMetadata, tokens: string[], s: CommonSettings, file: string): Vocabulary {
  const scores = numbers(meta, "tokenizer.ggml.scores", tokens.length, file);
  return {
    // SentencePiece marks spaces with U+2581 "▁"; llama2.c's tokenizer.bin already uses ' '.
    pieces: tokens.map((t) => t.replaceAll("\u2581", " ")),
    scores: scores ? Float32Array.from(scores) : new Float32Array(tokens.length),
    bosId: s.bosId,
    eosId: s.eosId,
    // llama.cpp adds BOS to SentencePiece text unless the file says otherwise
    addBos: s.addBos ?? true,
    addEos: s.addEos,
    endIds: s.endIds.filter((id) => id !== s.eosId),
    controlIds: s.controlIds,
  };
}

/** The tokenizer.json (and settings) of a GGUF "gpt2" vocabulary, for HfTokenizer.fromFiles. */
function bpeTokenizerFiles(meta: GgufMetadata, tokens: string[], s: CommonSettings, chatTemplate: string | undefined, file: string): HfTokenizerFiles {
  const preName = metaString(meta, "tokenizer.ggml.pre", file) ?? "default";
  const pre = Object.hasOwn(PRE_TOKENIZERS, preName) ? PRE_TOKENIZERS[preName] : undefined;
  if (!pre) throw new ModelFormatError(file, `tokenizer.ggml.pre ${quote(preName)} is not supported; supported: ${SUPPORTED_BPE_PRE_TOKENIZERS.join(", ")}`);
  const vocab: Record<string, number> = {};
  // the first id wins for a duplicated token, as llama.cpp's token_to_id
  tokens.forEach((t, id) => {
    if (!Object.hasOwn(vocab, t)) vocab[t] = id;
  });
  const rawMerges = meta.get("tokenizer.ggml.merges");
  if (rawMerges === undefined) throw new ModelFormatError(file, "missing metadata tokenizer.ggml.merges (a gpt2 vocabulary needs its BPE merges)");
  if (!Array.isArray(rawMerges)) throw new ModelFormatError(file, "metadata tokenizer.ggml.merges must be an array of strings");
  const merges: [string, string][] = rawMerges.map((m, i) => {
    if (typeof m !== "string") throw new ModelFormatError(file, `tokenizer.ggml.merges[${i}] is ${quote(m)}, expected a string "left right"`);
    // llama.cpp: the separating space is searched from the second character (a token may start with one)
    const at = m.indexOf(" ", 1);
    if (at < 0) throw new ModelFormatError(file, `tokenizer.ggml.merges[${i}] is ${quote(m)}, expected two tokens separated by a space`);
    const left = m.slice(0, at);
    const right = m.slice(at + 1);
    for (const t of [left, right, left + right]) {
      if (!Object.hasOwn(vocab, t)) throw new ModelFormatError(file, `tokenizer.ggml.merges[${i}] ${quote(m)} names ${quote(t)}, which is not in tokenizer.ggml.tokens`);
    }
    return [left, right];
  });
  const addBos = s.addBos ?? pre.addBos ?? false;
  const special = (id: number, isSpecial: boolean) => ({ id, content: tokens[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: isSpecial });
  // control tokens are special: split out of text, skipped when decoding; user-defined ones are
  // split out too but decode to their text (llama.cpp's special-token partition, by token type:
  // a BOS or EOS of type NORMAL is ordinary text there, and here)
  const addedTokens = [...s.controlIds.map((id) => special(id, true)), ...s.userDefinedIds.map((id) => special(id, false))].sort((a, b) => a.id - b.id);
  const bos = tokens[s.bosId];
  const eos = tokens[s.eosId];
  const single = [
    ...(addBos ? [{ SpecialToken: { id: bos, type_id: 0 } }] : []),
    { Sequence: { id: "A", type_id: 0 } },
    ...(s.addEos ? [{ SpecialToken: { id: eos, type_id: 0 } }] : []),
  ];
  const specialTokens: Record<string, unknown> = {};
  if (addBos) specialTokens[bos] = { id: bos, ids: [s.bosId], tokens: [bos] };
  if (s.addEos) specialTokens[eos] = { id: eos, ids: [s.eosId], tokens: [eos] };
  const tokenizer = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        ...pre.regexes.map((r) => ({ type: "Split", pattern: { Regex: r }, behavior: "Isolated", invert: false })),
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
      ],
    },
    post_processor: { type: "TemplateProcessing", single, pair: [...single, { Sequence: { id: "B", type_id: 1 } }], special_tokens: specialTokens },
    decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: pre.ignoreMerges ?? false,
      vocab,
      merges,
    },
  };
  return {
    tokenizer,
    // what transformers' tokenizer_config.json would say: no clean-up of spaces (llama.cpp does
    // none), and the chat template (so a .dipstream made from this model keeps it)
    tokenizerConfig: { eos_token: eos, clean_up_tokenization_spaces: false, ...(chatTemplate !== undefined ? { chat_template: chatTemplate } : {}) },
    // every end-of-generation id, as a generation_config.json lists several
    generationConfig: { eos_token_id: [s.eosId, ...s.endIds.filter((id) => id !== s.eosId)] },
  };
}
