import type { Argv, ArgumentsCamelCase } from "yargs";
import { openModel, withModel, type ModelArgs } from "./common.js";

interface Args extends ModelArgs {
  json: boolean;
}

export const infoCommand = {
  command: "info",
  describe: "print the architecture and weight bytes by group",
  builder: (y: Argv) => withModel(y).option("json", { type: "boolean", default: false }),
  handler: async (a: ArgumentsCamelCase<Args>) => {
    const o = await openModel(a);
    const bytes = o.engine.weightBytes();
    const total = bytes.embedding + bytes.attention + bytes.mlp + bytes.lm_head;
    const info = {
      model: o.model.name,
      file: o.path,
      format: o.model.format,
      dtype: o.engine.dtype,
      // GGUF: tensors per stored ggml type (null for other formats)
      tensor_types: o.model.tensorTypes ?? null,
      config: o.model.config,
      weight_bytes: { ...bytes, total },
      dense_bytes_read_per_token: o.engine.denseBytesPerToken(),
      wasm_memory_bytes: o.engine.memoryBytes(),
    };
    if (a.json) {
      process.stdout.write(JSON.stringify(info, null, 2) + "\n");
      return;
    }
    const c = o.model.config;
    const mb = (n: number) => `${(n / 1e6).toFixed(3)} MB`;
    process.stdout.write(
      [
        `model        ${o.model.name} (${o.model.format}) ${o.path}`,
        ...(o.model.tensorTypes ? [`tensors      ${Object.entries(o.model.tensorTypes).map(([type, n]) => `${n} ${type}`).join(", ")} (as stored; in wasm memory as ${o.engine.dtype})`] : []),
        `architecture ${c.architecture}: dim ${c.dim}, ${c.nLayers} layers, ${c.nHeads} heads (${c.nKvHeads} kv), head dim ${c.dim / c.nHeads}, MLP hidden ${c.hiddenDim}`,
        `             vocab ${c.vocabSize}, context ${c.seqLen}, rope theta ${c.ropeTheta} (${c.ropeLayout}), rms eps ${c.rmsEps}, ${c.tiedEmbeddings ? "tied" : "separate"} embeddings`,
        `weights (${o.engine.dtype}) embedding ${mb(bytes.embedding)}, attention ${mb(bytes.attention)}, mlp ${mb(bytes.mlp)}, lm_head ${mb(bytes.lm_head)}, total ${mb(total)}`,
        `wasm memory  ${mb(o.engine.memoryBytes())} (weights, KV cache, activations)`,
      ].join("\n") + "\n",
    );
  },
};
