// The import graph of host/, web/ and assembly/ has no circles and keeps the layers of
// ../shared/spec/ARCHITECTURE.md: node:* only in the Node adapters (host/node/), the browser
// adapters (host/web/) reached only from the browser entry and the demo, the demo (web/) through
// the browser entry alone, kernels built from kernels only. The graph comes from TypeScript's own
// pre-processor (static, type-only, re-export and dynamic imports alike); the checks are first
// shown to fail on a small planted graph, so a quiet pass means something.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative } from "node:path";
import ts from "typescript";
import { projectRoot } from "../host/node/paths.js";

/** file (project-relative, "/"-separated) -> what it imports: project files, or "node:..." */
type ImportGraph = Map<string, string[]>;

const SOURCE_DIRS = ["host", "web", "assembly"];
const NODE_BUILTINS = new Set(builtinModules);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

/** A relative specifier as the project file it names ("./x.js" -> x.ts; AssemblyScript omits the extension). */
function resolveSpecifier(root: string, from: string, specifier: string): string {
  const base = join(dirname(join(root, from)), specifier);
  const candidates = [base.replace(/\.js$/, ".ts"), `${base}.ts`, join(base, "index.ts")];
  const found = candidates.find((c) => existsSync(c) && statSync(c).isFile());
  if (!found) throw new Error(`${from}: cannot resolve import "${specifier}"`);
  return relative(root, found).split("\\").join("/");
}

function importGraph(root: string): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const file of SOURCE_DIRS.flatMap((d) => sourceFiles(join(root, d)))) {
    const from = relative(root, file).split("\\").join("/");
    const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    const targets = info.importedFiles.flatMap(({ fileName: s }) => {
      if (s.startsWith(".")) return [resolveSpecifier(root, from, s)];
      if (s.startsWith("node:") || NODE_BUILTINS.has(s)) return [s.startsWith("node:") ? s : `node:${s}`];
      return []; // packages (yargs, @huggingface/tokenizers) and AssemblyScript's built-ins
    });
    graph.set(from, [...new Set(targets)]);
  }
  return graph;
}

/** Every circle as a path a -> b -> ... -> a (one per strongly connected component, Tarjan). */
function importCircles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)!.includes(v)) circles.push(circleThrough(graph, new Set(component), v));
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return circles;
}

/** A shortest path from `start` back to itself inside one strongly connected component. */
function circleThrough(graph: ImportGraph, component: Set<string>, start: string): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v)!) {
      if (!component.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(previous.get(path[0])!);
        return [...path, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  throw new Error(`${start} is on no circle`);
}

interface LayerRule {
  why: string;
  /** true when `from` may not import `to` */
  forbids(from: string, to: string): boolean;
}

const under = (path: string, dir: string) => path.startsWith(dir + "/");

const LAYER_RULES: LayerRule[] = [
  {
    why: "node:* modules only in the Node adapters (host/node/)",
    forbids: (from, to) => to.startsWith("node:") && !under(from, "host/node"),
  },
  {
    why: "the Node adapters are reached from the Node entry (host/index.ts) and each other only",
    forbids: (from, to) => under(to, "host/node") && !under(from, "host/node") && from !== "host/index.ts",
  },
  {
    why: "the browser adapters (host/web/) are reached from the browser entry (host/web/index.ts) and the demo only",
    forbids: (from, to) => under(to, "host/web") && !under(from, "host/web") && !under(from, "web"),
  },
  {
    why: "the demo (web/) uses the host through the browser entry (host/web/index.ts) only",
    forbids: (from, to) => under(from, "web") && under(to, "host") && to !== "host/web/index.ts",
  },
  {
    why: "the host does not import the demo",
    forbids: (from, to) => under(from, "host") && under(to, "web"),
  },
  {
    why: "kernels are pure numeric functions built from kernels and the shared ids (assembly/abi.ts) only",
    forbids: (from, to) => under(from, "assembly/kernels") && !under(to, "assembly/kernels") && to !== "assembly/abi.ts",
  },
  {
    why: "mask policies and the streaming store sit below the forward pass: they do not import assembly/model (ARCHITECTURE.md layers)",
    forbids: (from, to) => (under(from, "assembly/sparsity") || under(from, "assembly/stream")) && under(to, "assembly/model"),
  },
  {
    why: "assembly/abi.ts is the leaf both sides of the wasm boundary import: it imports nothing",
    forbids: (from) => from === "assembly/abi.ts",
  },
];

function layerViolations(graph: ImportGraph): string[] {
  return [...graph].flatMap(([from, targets]) =>
    targets.flatMap((to) => LAYER_RULES.filter((r) => r.forbids(from, to)).map((r) => `${from} imports ${to}: ${r.why}`)),
  );
}

test("the checks catch a planted circle and planted layer violations", () => {
  const planted: ImportGraph = new Map([
    ["host/a.ts", ["host/b.ts"]],
    ["host/b.ts", ["host/c.ts", "host/d.ts"]],
    ["host/c.ts", ["host/a.ts"]],
    ["host/d.ts", ["host/d.ts"]],
    ["host/core.ts", ["host/web/stream-opfs.ts", "node:fs"]],
    ["host/web/stream-opfs.ts", []],
    ["web/app.ts", ["host/engine.ts", "host/web/index.ts"]],
    ["host/engine.ts", []],
    ["host/web/index.ts", []],
  ]);
  assert.deepEqual(importCircles(planted), [["host/d.ts", "host/d.ts"], ["host/a.ts", "host/b.ts", "host/c.ts", "host/a.ts"]]);
  assert.deepEqual(layerViolations(planted), [
    "host/core.ts imports host/web/stream-opfs.ts: the browser adapters (host/web/) are reached from the browser entry (host/web/index.ts) and the demo only",
    "host/core.ts imports node:fs: node:* modules only in the Node adapters (host/node/)",
    "web/app.ts imports host/engine.ts: the demo (web/) uses the host through the browser entry (host/web/index.ts) only",
  ]);
});

test("host/, web/ and assembly/ import without circles", () => {
  const graph = importGraph(projectRoot());
  assert.ok(graph.has("host/core.ts") && graph.has("web/worker.ts") && graph.has("assembly/index.ts"), "the graph covers the three folders");
  assert.ok(graph.get("host/engine.ts")!.includes("host/wasm.ts"), "relative imports resolve to files");
  assert.deepEqual(importCircles(graph).map((c) => c.join(" -> ")), []);
});

test("host/, web/ and assembly/ keep their layers", () => {
  assert.deepEqual(layerViolations(importGraph(projectRoot())), []);
});
