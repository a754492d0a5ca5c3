import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** Fresh directories under `base` (the OS temp directory by default), removed after the test file. */
export function tempRoots(prefix: string): (base?: string) => string {
  const roots: string[] = [];
  after(() => {
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  });
  return (base = tmpdir()) => {
    const d = mkdtempSync(join(base, prefix));
    roots.push(d);
    return d;
  };
}
