#!/usr/bin/env node
// Builds packages/rocksdb/build/Release/flowstate_rocksdb.node with node-gyp.
//
//   node scripts/build-native.mjs            # rebuild only if out of date
//   node scripts/build-native.mjs --force    # always rebuild
//   node scripts/build-native.mjs -- <extra node-gyp args>
//   node scripts/build-native.mjs --optional # (npm "install" hook) exit 0 with a
//                                            # notice when RocksDB is not installed
//
// "Out of date" = the .node is missing or older than binding.gyp, any file in
// native/, or scripts/rocksdb-config.mjs (which decides the link flags).
// Exits non-zero with a single clear message when the RocksDB development
// headers (rocksdb/db.h) are not installed.
//
// npm's "install" hook (scripts/install.mjs) calls this with --optional when
// the prebuilt addon does not load: without an explicit install script npm
// would run a bare `node-gyp rebuild` for this package on every install
// (because binding.gyp exists), failing the whole install on machines without
// librocksdb-dev and rebuilding even when up to date. Concurrent builds in one checkout are serialized with
// a lock file (.build-native.lock) because node-gyp rebuild wipes build/.
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findRocksdbIncludeDir, rocksdbConfig } from './rocksdb-config.mjs';

const pkgRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(pkgRoot, 'build', 'Release', 'flowstate_rocksdb.node');
const MISSING_HEADERS =
  'flowstate: RocksDB development files not found. Install them and a C++ toolchain: Debian/Ubuntu `apt-get install librocksdb-dev g++ make python3`, macOS `brew install rocksdb`.';

const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
const ownArgs = sep === -1 ? argv : argv.slice(0, sep);
const gypExtra = sep === -1 ? [] : argv.slice(sep + 1);
const force = ownArgs.includes('--force');
const optional = ownArgs.includes('--optional');

if (!findRocksdbIncludeDir()) {
  if (optional) {
    console.log(`${MISSING_HEADERS} Skipping the native build for now; install them, then run \`npm rebuild @flowstate/rocksdb\`.`);
    process.exit(0);
  }
  console.error(MISSING_HEADERS);
  process.exit(1);
}

function newestInput() {
  const inputs = [join(pkgRoot, 'binding.gyp'), join(pkgRoot, 'scripts', 'rocksdb-config.mjs')];
  const nativeDir = join(pkgRoot, 'native');
  for (const name of readdirSync(nativeDir)) inputs.push(join(nativeDir, name));
  let newest = 0;
  for (const f of inputs) {
    const st = statSync(f);
    if (st.isFile()) newest = Math.max(newest, st.mtimeMs);
  }
  return newest;
}

function upToDate() {
  return existsSync(addon) && statSync(addon).mtimeMs >= newestInput();
}

// ---- serialize concurrent builds in this checkout --------------------------
const lockPath = join(pkgRoot, '.build-native.lock');
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}
function acquireLock() {
  const deadline = Date.now() + 15 * 60 * 1000;
  let announced = false;
  for (;;) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    let holder = NaN;
    try {
      holder = Number(readFileSync(lockPath, 'utf8').trim());
    } catch {
      continue; // released meanwhile
    }
    if (!Number.isInteger(holder) || !pidAlive(holder)) {
      rmSync(lockPath, { force: true }); // stale
      continue;
    }
    if (Date.now() > deadline) {
      console.error(`flowstate: timed out waiting for the native build of pid ${holder} (${lockPath})`);
      process.exit(1);
    }
    if (!announced) {
      console.log(`flowstate: another native build (pid ${holder}) is running; waiting for it`);
      announced = true;
    }
    sleep(500);
  }
}
function releaseLock() {
  try {
    if (Number(readFileSync(lockPath, 'utf8').trim()) === process.pid) rmSync(lockPath, { force: true });
  } catch {
    // already gone
  }
}
acquireLock();
process.on('exit', releaseLock);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    releaseLock();
    process.exit(130);
  });
}
// Checked under the lock, so a build in progress elsewhere is waited for.
if (!force && upToDate()) {
  console.log(`flowstate: native addon is up to date (${addon})`);
  process.exit(0);
}

/**
 * node-gyp's entry script, resolved like any dependency (it is one of this package's
 * dependencies), run with the current node: no reliance on node_modules/.bin or on PATH.
 */
function findNodeGyp() {
  try {
    return createRequire(join(pkgRoot, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return undefined;
  }
}

const nodeGyp = findNodeGyp();
if (!nodeGyp) {
  const msg = 'flowstate: node-gyp is not installed next to @flowstate/rocksdb (it is a dependency: reinstall with `npm install`).';
  if (optional) {
    console.log(msg);
    process.exit(0);
  }
  console.error(msg);
  process.exit(1);
}

const args = ['rebuild', '--jobs', 'max'];
// Build against the headers of the running Node when they are installed next
// to it (as on Debian/NodeSource installs); otherwise node-gyp uses its cache
// or downloads them. An explicit npm_config_nodedir wins.
const localHeaders = resolve(dirname(process.execPath), '..', 'include', 'node');
if (!process.env.npm_config_nodedir && existsSync(join(localHeaders, 'node_api.h'))) {
  args.push(`--nodedir=${resolve(localHeaders, '..', '..')}`);
}
args.push(...gypExtra);

const cfg = rocksdbConfig();
console.log(`flowstate: building native addon (RocksDB headers in ${cfg.includeDir}, ${cfg.mode} link)`);
if (cfg.staticRejected) console.log(`flowstate: static link not possible, using librocksdb shared library: ${cfg.staticRejected}`);
const started = process.hrtime.bigint();
const res = spawnSync(process.execPath, [nodeGyp, ...args], { cwd: pkgRoot, stdio: 'inherit' });
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
if (res.error) {
  console.error(`flowstate: failed to run node-gyp: ${res.error.message}`);
  process.exit(1);
}
if (res.status !== 0) {
  console.error(`flowstate: node-gyp failed (exit ${res.status ?? res.signal}) after ${seconds.toFixed(1)} s`);
  if (optional) {
    console.error('flowstate: continuing without the native RocksDB addon; fix the build above, then run `npm rebuild @flowstate/rocksdb`.');
    process.exit(0);
  }
  process.exit(res.status ?? 1);
}
if (!existsSync(addon)) {
  console.error(`flowstate: node-gyp succeeded but ${addon} is missing`);
  process.exit(1);
}
console.log(`flowstate: built ${addon} in ${seconds.toFixed(1)} s`);
