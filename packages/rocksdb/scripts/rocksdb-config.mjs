#!/usr/bin/env node
// Locates the system RocksDB development files and prints compiler/linker flags
// for binding.gyp (`<!@(node scripts/rocksdb-config.mjs --libs)`), and is
// imported by build-native.mjs for the "headers present?" check.
//
//   --include-dirs   include directories (node-addon-api + RocksDB if non-default)
//   --libs           linker inputs
//   --rtti           -frtti, or -fno-rtti with FLOWSTATE_ROCKSDB_NO_RTTI=1 (--rtti-excluded: the other one)
//   --mode           prints "static" or "dynamic"
//   --json           everything, as JSON
//
// Linux, FLOWSTATE_ROCKSDB_LINK=auto (default): links librocksdb.a and its
// compression libraries statically *if* a probe shows the archive can go into
// a shared object (it must be compiled with -fPIC); otherwise links
// librocksdb.so dynamically. Debian 12's librocksdb.a fails that probe (see
// staticLinkWorks), so on Debian/Ubuntu the addon links librocksdb.so.
// FLOWSTATE_ROCKSDB_LINK=static|dynamic forces a mode.
// macOS: links Homebrew's librocksdb dynamically.
// Overrides: ROCKSDB_INCLUDE_DIR, ROCKSDB_LIB_DIR, FLOWSTATE_ROCKSDB_SHARED_DEPS.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkgRoot = resolve(here, '..');

/** stdout + stderr of a command ('' if it cannot be run); gcc -v prints to stderr. */
function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) return '';
  return `${r.stdout ?? ''}${r.stderr ?? ''}`;
}

function cxx() {
  return process.env.CXX || (process.platform === 'darwin' ? 'clang++' : 'c++');
}

function brewPrefix() {
  if (process.platform !== 'darwin') return undefined;
  const out = run('brew', ['--prefix']).trim();
  return out && existsSync(out) ? out : undefined;
}

/** Directories the C++ compiler searches for `#include <...>`, plus common extras. */
function compilerIncludeDirs() {
  const out = run(cxx(), ['-E', '-x', 'c++', '-', '-v']);
  const dirs = [];
  let inList = false;
  for (const line of out.split('\n')) {
    if (line.startsWith('#include <...> search starts here')) { inList = true; continue; }
    if (line.startsWith('End of search list')) break;
    if (inList) dirs.push(line.trim().replace(/ \(framework directory\)$/, ''));
  }
  return dirs;
}

export function findRocksdbIncludeDir() {
  const candidates = [];
  if (process.env.ROCKSDB_INCLUDE_DIR) candidates.push(process.env.ROCKSDB_INCLUDE_DIR);
  const brew = brewPrefix();
  if (brew) candidates.push(join(brew, 'include'));
  candidates.push(...compilerIncludeDirs(), '/usr/local/include', '/opt/homebrew/include', '/usr/include');
  for (const dir of candidates) {
    if (dir && existsSync(join(dir, 'rocksdb', 'db.h'))) return dir;
  }
  return undefined;
}

function defaultIncludeDirs() {
  return new Set(compilerIncludeDirs().map((d) => resolve(d)));
}

/** Full path of a static archive the linker would find, or undefined. */
function findArchive(name) {
  const libDir = process.env.ROCKSDB_LIB_DIR;
  if (libDir && existsSync(join(libDir, name))) return join(libDir, name);
  const r = spawnSync(cxx(), [`-print-file-name=${name}`], { encoding: 'utf8' });
  const p = r.error ? '' : (r.stdout ?? '').trim();
  return p && p !== name && existsSync(p) ? resolve(p) : undefined;
}

/**
 * Can a shared object (the addon) be linked against these static archives?
 * Answered by actually linking a tiny shared library that calls DB::Open.
 * Debian 12's librocksdb.a, for one, is built as PIE rather than PIC: its
 * thread_locals use the local-exec TLS model (R_X86_64_TPOFF32), which ld
 * refuses in a shared object ("recompile with -fPIC").
 */
function staticLinkWorks(archives) {
  const dir = mkdtempSync(join(tmpdir(), 'flowstate-rocksdb-probe-'));
  try {
    const src = join(dir, 'probe.cc');
    writeFileSync(
      src,
      '#include <rocksdb/db.h>\n' +
        'extern "C" int flowstate_probe() { rocksdb::DB* db = nullptr; rocksdb::Options o;\n' +
        '  rocksdb::Status s = rocksdb::DB::Open(o, "/nonexistent", &db); delete db; return s.ok(); }\n',
    );
    const inc = findRocksdbIncludeDir();
    const r = spawnSync(
      cxx(),
      ['-std=c++17', '-fPIC', '-shared', '-o', join(dir, 'probe.so'), src, ...(inc ? [`-I${inc}`] : []),
        ...archives, '-lpthread', '-ldl'],
      { encoding: 'utf8' },
    );
    const ok = !r.error && r.status === 0;
    const firstError = ((r.stderr ?? '').split('\n').find((l) => /relocation|error/.test(l)) ?? '').trim();
    return { ok, reason: ok ? '' : firstError || 'link failed' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function rocksdbConfig({ probe = true } = {}) {
  const includeDir = findRocksdbIncludeDir();
  const require = createRequire(join(pkgRoot, 'package.json'));
  const napiDir = dirname(require.resolve('node-addon-api/package.json'));
  const includeDirs = [napiDir];
  if (includeDir && !defaultIncludeDirs().has(resolve(includeDir))) includeDirs.push(includeDir);

  let mode = 'dynamic';
  let staticRejected = '';
  const libs = [];
  const wanted = process.env.FLOWSTATE_ROCKSDB_LINK ?? 'auto'; // auto | static | dynamic
  if (process.platform === 'linux' && wanted !== 'dynamic') {
    const rocks = findArchive('librocksdb.a');
    if (rocks) {
      // librocksdb.a's own dependencies (Debian builds it with snappy, lz4,
      // zstd, bzip2 and zlib). Use each archive where present.
      // FLOWSTATE_ROCKSDB_SHARED_DEPS (e.g. "zstd,bz2") links those dynamically even where an
      // archive exists: Debian's libzstd.a is not position-independent, and libzstd/libbz2 are
      // on every Debian/Ubuntu system anyway (dpkg needs them).
      const sharedDeps = new Set((process.env.FLOWSTATE_ROCKSDB_SHARED_DEPS ?? '').split(',').map((d) => d.trim()).filter(Boolean));
      const archives = [rocks];
      for (const dep of ['snappy', 'lz4', 'zstd', 'bz2', 'z']) archives.push((sharedDeps.has(dep) ? undefined : findArchive(`lib${dep}.a`)) ?? `-l${dep}`);
      const check = probe ? staticLinkWorks(archives) : { ok: wanted === 'static', reason: 'not probed' };
      if (check.ok || wanted === 'static') {
        mode = 'static';
        libs.push(...archives, '-lpthread', '-ldl');
      } else {
        staticRejected = `${rocks} cannot be linked into a shared object: ${check.reason}`;
      }
    } else if (wanted === 'static') {
      throw new Error('FLOWSTATE_ROCKSDB_LINK=static but librocksdb.a was not found');
    }
  }
  if (mode === 'dynamic') {
    const brew = brewPrefix();
    if (process.env.ROCKSDB_LIB_DIR) libs.push(`-L${process.env.ROCKSDB_LIB_DIR}`);
    else if (brew) libs.push(`-L${join(brew, 'lib')}`);
    // lz4 directly too: the bulk load's compression probe (native/compression_probe.cc) calls it.
    libs.push('-lrocksdb', '-llz4');
  }
  return { includeDir, includeDirs, libs, mode, staticRejected };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const cfg = rocksdbConfig();
  const flag = process.argv[2];
  if (flag === '--include-dirs') console.log(cfg.includeDirs.join(' '));
  else if (flag === '--libs') console.log(cfg.libs.join(' '));
  // A RocksDB built with CMake's Release defaults has no RTTI (-fno-rtti): subclassing its
  // classes (the merge operator) then needs -fno-rtti too, or the addon references typeinfo
  // symbols that do not exist. The addon itself uses no dynamic_cast or typeid.
  else if (flag === '--rtti') console.log(process.env.FLOWSTATE_ROCKSDB_NO_RTTI === '1' ? '-fno-rtti' : '-frtti');
  else if (flag === '--rtti-excluded') console.log(process.env.FLOWSTATE_ROCKSDB_NO_RTTI === '1' ? '-frtti' : '-fno-rtti');
  else if (flag === '--mode') console.log(cfg.mode + (cfg.staticRejected ? ` (${cfg.staticRejected})` : ''));
  else console.log(JSON.stringify(cfg, null, 2));
}
