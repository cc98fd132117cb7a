// Generates a story with dip-engine in Node: compile (tsc -p .) and run `node dist/generate.js MODEL [PROMPT]`,
// MODEL a path to a GGUF, an https:// URL or hf:OWNER/REPO/FILE (downloaded once into the model cache).
import { Engine, fetchModel, generate, loadModelFile, tokenizerOf, type LoadedModel } from "dip-engine";

const [source, prompt = "Once upon a time"] = process.argv.slice(2);
if (!source) {
  console.error("usage: node generate.js MODEL [PROMPT] (a .gguf path, an https:// URL or hf:OWNER/REPO/FILE)");
  process.exit(2);
}
const model: LoadedModel = /^(https?:\/\/|hf:)/.test(source)
  ? await fetchModel(source, { cache: true, onProgress: (got, total) => process.stderr.write(`\r${got} of ${total ?? "?"} bytes`) })
  : await loadModelFile(source);
const engine = await Engine.create(model, { sparsity: { method: "dip", keep: 0.5 } });
const out = generate(engine, tokenizerOf(model), { prompt, steps: 64, temperature: 0 });
console.log(out.text);
console.error(`${out.generated_tokens} tokens, ${out.tok_s.toFixed(0)} tok/s, MLP density ${(engine.bytesRead().mlp / (out.tokens.length - 1) / engine.denseBytesPerToken().mlp).toFixed(2)}`);
