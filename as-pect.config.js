// as-pect runs the AssemblyScript unit tests (kernels against their scalar references, simulator
// policies on hand-computed traces) inside wasm, with SIMD enabled like the release build.
export default {
  entries: ["tests/assembly/**/*.spec.ts"],
  include: ["tests/assembly/**/*.include.ts"],
  disclude: [/node_modules/],
  flags: { "--enable": ["simd"] },
  async instantiate(memory, createImports, instantiate, binary) {
    return instantiate(binary, createImports({ env: { memory } }));
  },
  outputBinary: false,
};
