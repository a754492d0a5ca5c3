#!/usr/bin/env node
// npm "install" hook of @flowstate/rocksdb. Uses the prebuilt addon shipped in
// prebuilds/<platform>-<arch>/ when it loads on this machine (linux-x64 glibc: RocksDB is
// linked into it statically, so neither a compiler nor librocksdb is needed); otherwise
// builds the addon from source against the system RocksDB (scripts/build-native.mjs).
// A failed or impossible source build does not fail the installation: it prints what to
// install and the command to run, and loading the addon later fails with the same advice.
//
//   FLOWSTATE_ROCKSDB_BUILD_FROM_SOURCE=1   ignore the prebuilt binary and build from source
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeSourceHash } from './native-source-hash.mjs';

const pkgRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const prebuilt = join(pkgRoot, 'prebuilds', `${process.platform}-${process.arch}`, 'flowstate_rocksdb.node');

/** A prebuilt binary counts only if it was built from exactly the sources in native/ (BUILD_INFO.json). */
function sameSources(file) {
  try {
    const info = JSON.parse(readFileSync(join(dirname(file), 'BUILD_INFO.json'), 'utf8'));
    return info.sourceHash === nativeSourceHash(pkgRoot);
  } catch {
    return false;
  }
}

/** Loads the addon in a child process, so that a crash or a missing library cannot take this one down. */
function loads(file) {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)})`], { encoding: 'utf8' });
  return { ok: r.status === 0, reason: (r.stderr ?? '').split('\n').find((l) => l.trim() !== '' && !l.startsWith('node:')) ?? `exit ${r.status}` };
}

if (process.env.FLOWSTATE_ROCKSDB_BUILD_FROM_SOURCE !== '1' && existsSync(prebuilt)) {
  const check = sameSources(prebuilt) ? loads(prebuilt) : { ok: false, reason: 'it was built from other sources than native/' };
  if (check.ok) {
    console.log(`flowstate: using the prebuilt RocksDB addon ${prebuilt}`);
    process.exit(0);
  }
  console.log(`flowstate: the prebuilt RocksDB addon does not load here (${check.reason.trim()}); building from source`);
}
const r = spawnSync(process.execPath, [join(pkgRoot, 'scripts', 'build-native.mjs'), '--optional'], { stdio: 'inherit' });
process.exit(r.status ?? 1);
