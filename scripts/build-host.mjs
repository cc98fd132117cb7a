// Bundles the TypeScript host (CLI and library entry) into build/host/.
import { build } from "esbuild";

await build({
  entryPoints: { cli: "host/cli/main.ts", index: "host/index.ts" },
  outdir: "build/host",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: "linked",
  logLevel: "warning",
});
