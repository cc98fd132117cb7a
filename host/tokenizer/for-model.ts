// The tokenizer a loaded model carries: its Hugging Face tokenizer files when it has them (a HF
// folder, a .dipstream made from one), else its SentencePiece vocabulary (GGUF, llama2.c).
import { ModelFormatError, type LoadedModel } from "../model.js";
import { HfTokenizer } from "./hf.js";
import { SentencePieceTokenizer } from "./sentencepiece.js";
import type { Tokenizer } from "./types.js";

/** The model's own tokenizer; throws (naming the model) when the file has none. */
export function tokenizerOf(model: LoadedModel): Tokenizer {
  if (model.hfTokenizer) return HfTokenizer.fromFiles(model.hfTokenizer, `${model.name} (its tokenizer.json)`);
  if (!model.vocab) throw new ModelFormatError(model.name, "the file has no vocabulary (tokenizer.ggml.tokens) or tokenizer.json: load one with it");
  return new SentencePieceTokenizer(model.vocab);
}
