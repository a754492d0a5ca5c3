#!/usr/bin/env node
// sha256 over the addon's sources (binding.gyp and every file in native/, by name and content).
// A prebuilt binary records the hash of the sources it was built from (prebuilds/<tag>/BUILD_INFO.json);
// the installer and the loader use it only while the hash still matches, so a binary that
// predates a source change never ships or loads. src/native/addon-location.ts computes the same hash
// (test/prebuilt.test.ts checks that both agree).
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function nativeSourceHash(pkgRoot) {
  const hash = createHash('sha256');
  const files = ['binding.gyp', ...readdirSync(join(pkgRoot, 'native')).sort().map((n) => `native/${n}`)];
  for (const f of files) {
    hash.update(`${f}\0`);
    hash.update(readFileSync(join(pkgRoot, f)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(nativeSourceHash(resolve(dirname(fileURLToPath(import.meta.url)), '..')));
}
