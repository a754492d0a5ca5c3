// The cycle check must be able to fail: it finds file and package cycles, and passes a clean graph.
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkRepository, findCycles, importsOf } from './check-cycles.mjs';

const dirs = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function repo(files, packages = {}) {
  const root = mkdtempSync(join(tmpdir(), 'flowstate-cycles-'));
  dirs.push(root);
  const workspaces = [];
  for (const [dir, deps] of Object.entries(packages)) {
    mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, dir, 'package.json'), JSON.stringify({ name: dir, dependencies: Object.fromEntries(deps.map((d) => [d, '0'])) }));
    workspaces.push(dir);
  }
  writeFileSync(join(root, 'package.json'), JSON.stringify({ workspaces }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('check-cycles', () => {
  it('reads static, type-only, re-export and dynamic relative imports, not package imports', () => {
    const text = "import { a } from './a.js';\nimport type { B } from '../b.js';\nexport * from './c.js';\nconst d = await import('./d.js');\nimport './e.js';\nimport { x } from '@flowstate/core';";
    assert.deepEqual(importsOf(text), ['./a.js', '../b.js', './c.js', './d.js', './e.js']);
  });

  it('finds a three-file circle, even when one edge is type-only', () => {
    const root = repo({
      'packages/p/src/a.ts': "import { b } from './b.js';\nexport const a = b;",
      'packages/p/src/b.ts': "import { c } from './c.js';\nexport const b = c;",
      'packages/p/src/c.ts': "import type { A } from './a.js';\nexport const c = 1;",
      'packages/p/src/d.ts': "import { a } from './a.js';",
    });
    const r = checkRepository(root);
    assert.deepEqual(r.fileCycles, [['packages/p/src/a.ts', 'packages/p/src/b.ts', 'packages/p/src/c.ts']]);
  });

  it('passes an acyclic graph and reports a self-import', () => {
    const root = repo({ 'packages/p/src/a.ts': "import { b } from './b.js';", 'packages/p/src/b.ts': 'export const b = 1;' });
    assert.deepEqual(checkRepository(root).fileCycles, []);
    assert.deepEqual(findCycles(new Map([['x', ['x']]])), [['x']]);
  });

  it('finds a cycle between workspace packages through their dependencies', () => {
    const root = repo({}, { 'packages/a': ['packages/b'], 'packages/b': ['packages/a'], 'packages/c': ['packages/a'] });
    assert.deepEqual(checkRepository(root).packageCycles, [['packages/a', 'packages/b']]);
  });

  it('this repository has no cycle', () => {
    const r = checkRepository(new URL('..', import.meta.url).pathname);
    assert.ok(r.files > 100, `read the sources (${r.files} files)`);
    assert.deepEqual(r.fileCycles, []);
    assert.deepEqual(r.packageCycles, []);
  });
});
