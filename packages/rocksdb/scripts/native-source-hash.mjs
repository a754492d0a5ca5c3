#!/usr/bin/env node
// Prints the hash of the addon's sources (see src/native/source-hash.mjs, shared with the loader);
// the install scripts import nativeSourceHash from here.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeSourceHash } from '../src/native/source-hash.mjs';

export { nativeSourceHash };

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(nativeSourceHash(resolve(dirname(fileURLToPath(import.meta.url)), '..')));
}
