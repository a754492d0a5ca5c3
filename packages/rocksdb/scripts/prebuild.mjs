#!/usr/bin/env node
// Builds the prebuilt addon shipped in the package: prebuilds/<platform>-<arch>/flowstate_rocksdb.node
// with RocksDB linked in statically, plus BUILD_INFO.json (RocksDB version, link mode, the hash
// of the sources it was built from, size). Then rebuilds the ordinary development addon.
//
//   node scripts/prebuild.mjs <rocksdb-source-dir>
//
// <rocksdb-source-dir> holds RocksDB's include/ and a position-independent librocksdb.a in
// build-pic/ (scripts/build-static-rocksdb.sh makes both from Debian's source package).
// snappy, lz4 and zlib are linked statically too; zstd and bz2 dynamically (Debian's archives
// are not position-independent; both libraries are on every Debian/Ubuntu system).
import { copyFileSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeSourceHash } from './native-source-hash.mjs';

const pkgRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = process.argv[2];
if (!src || !existsSync(join(src, 'build-pic', 'librocksdb.a')) || !existsSync(join(src, 'include', 'rocksdb', 'db.h'))) {
  console.error('usage: node scripts/prebuild.mjs <rocksdb-source-dir with include/ and build-pic/librocksdb.a>');
  process.exit(2);
}
const tag = `${process.platform}-${process.arch}`;
const outDir = join(pkgRoot, 'prebuilds', tag);
const built = join(pkgRoot, 'build', 'Release', 'flowstate_rocksdb.node');
const out = join(outDir, 'flowstate_rocksdb.node');

function run(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { cwd: pkgRoot, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) {
    console.error(`prebuild: ${cmd} ${args.join(' ')} failed (exit ${r.status})\n${r.stdout}`);
    process.exit(1);
  }
  return r.stdout;
}

const started = Date.now();
run(process.execPath, ['scripts/build-native.mjs', '--force'], {
  FLOWSTATE_ROCKSDB_LINK: 'static',
  FLOWSTATE_ROCKSDB_SHARED_DEPS: 'zstd,bz2',
  FLOWSTATE_ROCKSDB_NO_RTTI: '1', // CMake Release builds of RocksDB have no RTTI
  ROCKSDB_LIB_DIR: resolve(src, 'build-pic'),
  ROCKSDB_INCLUDE_DIR: resolve(src, 'include'),
});
const libs = run('ldd', [built]);
if (/librocksdb|libsnappy|liblz4/.test(libs)) {
  console.error(`prebuild: ${built} still links RocksDB or its compression libraries dynamically:\n${libs}`);
  process.exit(1);
}
mkdirSync(outDir, { recursive: true });
copyFileSync(built, out);
run('strip', ['--strip-unneeded', out]);
const version = run(process.execPath, ['-e', `console.log(require(${JSON.stringify(out)}).rocksdbVersion)`]).trim();
const info = {
  rocksdb: version,
  link: 'static (RocksDB, snappy, lz4, zlib); dynamic: libzstd.so.1, libbz2.so.1.0, libstdc++, glibc',
  builtOn: run('sh', ['-c', '. /etc/os-release && echo "$PRETTY_NAME"']).trim(),
  napiVersion: 8,
  sourceHash: nativeSourceHash(pkgRoot),
  bytes: statSync(out).size,
};
writeFileSync(join(outDir, 'BUILD_INFO.json'), `${JSON.stringify(info, null, 2)}\n`);
console.log(`prebuild: ${out} (${(info.bytes / 1048576).toFixed(1)} MiB, RocksDB ${version}) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
console.log(libs);
// Back to the development addon (the system RocksDB, linked as rocksdb-config.mjs decides).
run(process.execPath, ['scripts/build-native.mjs', '--force']);
