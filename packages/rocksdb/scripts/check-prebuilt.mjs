#!/usr/bin/env node
// Checks the prebuilt addon of this platform before it ships (npm "prepublishOnly"; also run by
// test/prebuilt.test.ts): it exists, was built from the current sources (BUILD_INFO.json),
// links neither RocksDB nor snappy/lz4 dynamically, and loads and reports its RocksDB version.
// Exit 0: fine; 3: built from older sources (rebuild it); 4: there is none; 1: anything else wrong.
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeSourceHash } from './native-source-hash.mjs';

const pkgRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(pkgRoot, 'prebuilds', `${process.platform}-${process.arch}`);
const addon = join(dir, 'flowstate_rocksdb.node');
const REBUILD = 'rebuild it: packages/rocksdb/scripts/build-static-rocksdb.sh, then node packages/rocksdb/scripts/prebuild.mjs <dir> (see NATIVE.md)';

function fail(code, message) {
  console.error(`check-prebuilt: ${message}`);
  process.exit(code);
}

if (!existsSync(addon)) fail(4, `${addon} is missing; ${REBUILD}`);
let info;
try {
  info = JSON.parse(readFileSync(join(dir, 'BUILD_INFO.json'), 'utf8'));
} catch (e) {
  fail(1, `${join(dir, 'BUILD_INFO.json')} unreadable: ${e.message}`);
}
const current = nativeSourceHash(pkgRoot);
if (info.sourceHash !== current) fail(3, `${addon} was built from other sources (sourceHash ${info.sourceHash}, native/ now ${current}); ${REBUILD}`);
const ldd = spawnSync('ldd', [addon], { encoding: 'utf8' });
if (ldd.status !== 0 || /librocksdb|libsnappy|liblz4/.test(ldd.stdout)) fail(1, `${addon} is not linked statically:\n${ldd.stdout}${ldd.stderr}`);
// Loaded with an empty library path, so that nothing but the system's base libraries can help.
const r = spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(addon)}).rocksdbVersion)`], {
  encoding: 'utf8',
  env: { ...process.env, LD_LIBRARY_PATH: '' },
});
if (r.status !== 0) fail(1, `${addon} does not load: ${r.stderr}`);
if (r.stdout.trim() !== info.rocksdb) fail(1, `${addon} reports RocksDB ${r.stdout.trim()}, BUILD_INFO.json says ${info.rocksdb}`);
console.log(`check-prebuilt: ${addon} is current, static, loads (RocksDB ${info.rocksdb}, ${(info.bytes / 1048576).toFixed(1)} MiB)`);
