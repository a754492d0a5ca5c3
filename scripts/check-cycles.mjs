#!/usr/bin/env node
// Fails when the TypeScript sources have an import cycle: between files of one package (relative
// imports, `import type` included, because a type-only circle is still a structural one) and
// between workspace packages (their `dependencies`). Run by scripts/run-tests.mjs before the tests.
//
// Why a script and not madge or dpdm (both are in the npm registry): they parse TypeScript through
// the `typescript` package's JS compiler API, which TypeScript 7 (the native compiler used here)
// no longer ships, so they would pull in a second TypeScript. Relative imports ending in `.js`
// (NodeNext) are all this repository uses, so a regular expression over them is exact enough.
// Usage: node scripts/check-cycles.mjs [root]
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE_ROOTS = ['packages', 'conformance', 'test', 'bench', 'examples', 'testing'];
const SPECIFIER = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Relative import specifiers of one source text. */
export function importsOf(text) {
  const found = [];
  for (const m of text.matchAll(SPECIFIER)) {
    const s = m[1] ?? m[2] ?? m[3];
    if (s.startsWith('.')) found.push(s);
  }
  return found;
}

/** The file graph: each .ts file to the .ts files it imports relatively. */
export function fileGraph(files, read = (f) => readFileSync(f, 'utf8')) {
  const known = new Set(files);
  const graph = new Map();
  for (const f of files) {
    const targets = [];
    for (const s of importsOf(read(f))) {
      const target = resolve(dirname(f), s.replace(/\.js$/, '.ts'));
      if (known.has(target)) targets.push(target);
      else if (known.has(join(target, 'index.ts'))) targets.push(join(target, 'index.ts'));
    }
    graph.set(f, targets);
  }
  return graph;
}

/** Strongly connected components with more than one node, or a node importing itself (Tarjan). */
export function findCycles(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const cycles = [];
  const visit = (v) => {
    // Iterative, so deep import chains cannot overflow the call stack.
    const work = [[v, 0]];
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const [node, i] = frame;
      const edges = graph.get(node) ?? [];
      if (i < edges.length) {
        frame[1]++;
        const w = edges[i];
        if (!idx.has(w)) {
          idx.set(w, index);
          low.set(w, index++);
          stack.push(w);
          onStack.add(w);
          work.push([w, 0]);
        } else if (onStack.has(w)) low.set(node, Math.min(low.get(node), idx.get(w)));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1][0];
        low.set(parent, Math.min(low.get(parent), low.get(node)));
      }
      if (low.get(node) === idx.get(node)) {
        const component = [];
        let w;
        do {
          w = stack.pop();
          onStack.delete(w);
          component.push(w);
        } while (w !== node);
        if (component.length > 1 || edges.includes(node)) cycles.push(component.sort());
      }
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return cycles;
}

/** Workspace packages to the workspace packages they depend on at runtime. */
export function packageGraph(root) {
  const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const byName = new Map();
  for (const w of rootPkg.workspaces ?? []) {
    const p = join(root, w, 'package.json');
    if (existsSync(p)) byName.set(JSON.parse(readFileSync(p, 'utf8')).name, JSON.parse(readFileSync(p, 'utf8')));
  }
  const graph = new Map();
  for (const [name, pkg] of byName) graph.set(name, Object.keys(pkg.dependencies ?? {}).filter((d) => byName.has(d)));
  return graph;
}

export function checkRepository(root) {
  const files = SOURCE_ROOTS.map((r) => join(root, r)).filter(existsSync).flatMap((d) => walk(d, []));
  const fileCycles = findCycles(fileGraph(files)).map((c) => c.map((f) => relative(root, f)));
  return { files: files.length, fileCycles, packageCycles: findCycles(packageGraph(root)) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url)));
  const { files, fileCycles, packageCycles } = checkRepository(root);
  for (const c of fileCycles) console.error(`check-cycles: import cycle among files: ${c.join(' <-> ')}`);
  for (const c of packageCycles) console.error(`check-cycles: dependency cycle among packages: ${c.join(' <-> ')}`);
  const n = fileCycles.length + packageCycles.length;
  console.log(`check-cycles: ${files} TypeScript files, ${n} cycle(s)`);
  process.exit(n === 0 ? 0 : 1);
}
