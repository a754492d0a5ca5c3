// The SHA-256 of the addon's sources: a prebuilt addon counts only when its BUILD_INFO.json
// records the hash of the sources shipped next to it (test/crc32c.test.ts checks this).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const NATIVE_SOURCES = ['native/crc32c.c'];

export function nativeSourceHash(pkgRoot) {
  const hash = createHash('sha256');
  for (const file of NATIVE_SOURCES) hash.update(file).update('\0').update(readFileSync(join(pkgRoot, file))).update('\0');
  return hash.digest('hex');
}
