// sha256 over the addon's sources (binding.gyp and every file in native/, by name and content).
// A prebuilt binary records the hash of the sources it was built from (prebuilds/<tag>/BUILD_INFO.json);
// the installer and the loader use it only while the hash still matches, so a binary that
// predates a source change never ships or loads. Plain JavaScript, not TypeScript, because the
// install scripts need it before anything is compiled (scripts/native-source-hash.mjs); the loader
// (addon-location.ts) imports the same file, so both hash the same way by construction.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * @param {string} pkgRoot the directory holding binding.gyp and native/
 * @returns {string} the hex sha256 of the sources
 */
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
