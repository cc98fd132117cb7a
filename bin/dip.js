#!/usr/bin/env node
// The `dip` command (npx dip ...): the bundled CLI built by `npm run build` (runs on npm ci).
import { existsSync } from "node:fs";
const cli = new URL("../build/host/cli.js", import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write("dip: the engine is not built yet; run `npm run build` (npm ci does it)\n");
  process.exit(1);
}
await import(cli.href);
