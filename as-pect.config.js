// as-pect runs the AssemblyScript unit tests (kernels against their scalar references, simulator
// policies on hand-computed traces, the stream store on faked storage) inside wasm, with SIMD
// enabled like the release build.

/** The host's storage reads for the stream store (assembly/stream/store.ts), faked: each listed
 *  (column, destination) pair gets the f32 value column + 1 at its destination, at once. The test
 *  module keeps its own memory, known once it is instantiated. */
function fakeStorage(instance) {
  let tickets = 0;
  return {
    streamIssue(layer, group, listPtr, count) {
      const memory = instance.exports.memory;
      const list = new Uint32Array(memory.buffer, listPtr, 2 * count);
      const view = new DataView(memory.buffer);
      for (let k = 0; k < count; k++) view.setFloat32(list[2 * k + 1], list[2 * k] + 1, true);
      return ++tickets;
    },
    streamAwait() {},
  };
}

export default {
  entries: ["tests/assembly/**/*.spec.ts"],
  include: ["tests/assembly/**/*.include.ts"],
  disclude: [/node_modules/],
  flags: { "--enable": ["simd"] },
  async instantiate(memory, createImports, instantiate, binary) {
    const instance = {};
    const module = await instantiate(binary, createImports({ env: { memory, ...fakeStorage(instance) } }));
    instance.exports = module.instance.exports;
    return module;
  },
  outputBinary: false,
};
