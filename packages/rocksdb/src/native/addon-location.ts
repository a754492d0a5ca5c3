// Where the compiled addon lives and how it is loaded. A build from source (build/Release, made
// by `npm rebuild @flowstate/rocksdb` or the monorepo's `npm run build`) wins over the prebuilt
// binary shipped in the package (prebuilds/<platform>-<arch>), as with node-gyp-build. A
// prebuilt binary is used only if its BUILD_INFO.json says it was built from exactly the
// sources in native/: a binary older than a source change never loads.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeSourceHash as sourceHash } from './source-hash.mjs';

const ADDON_FILE = 'flowstate_rocksdb.node';
/** BUILD_INFO.json is a few hundred bytes; read no more than this of it. */
const MAX_BUILD_INFO_BYTES = 64 * 1024;

/** What to do when no addon loads; valid for installed users and in the monorepo alike. */
export const BUILD_FROM_SOURCE_HINT =
  'Build it from source: install RocksDB and a C++ toolchain (Debian/Ubuntu: `apt-get install librocksdb-dev g++ make python3`; ' +
  'macOS: `brew install rocksdb`), then run `npm rebuild @flowstate/rocksdb` in your project.';

interface Candidate {
  readonly file: string;
  /** Shipped in prebuilds/: subject to the BUILD_INFO.json source check. */
  readonly prebuilt: boolean;
}

/** The directory holding this package's package.json and binding.gyp. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return fileURLToPath(new URL('../../..', import.meta.url)); // dist/src/native -> package
    dir = parent;
  }
}

/** sha256 over binding.gyp and native/*, by name and content; the install scripts use the same code. */
export function nativeSourceHash(root: string = packageRoot()): string {
  return sourceHash(root);
}

/** Why a prebuilt binary must not be used, or undefined when it may. */
function stalePrebuilt(file: string): string | undefined {
  const infoFile = join(dirname(file), 'BUILD_INFO.json');
  let recorded: unknown;
  try {
    recorded = (JSON.parse(readFileSync(infoFile, 'utf8').slice(0, MAX_BUILD_INFO_BYTES)) as { sourceHash?: unknown }).sourceHash;
  } catch (e) {
    return `${infoFile} unreadable (${e instanceof Error ? e.message : String(e)}); not used`;
  }
  const current = nativeSourceHash();
  if (recorded === current) return undefined;
  return `built from other sources than this package's native/ (BUILD_INFO.json sourceHash ${String(recorded)}, sources ${current}); not used`;
}

function candidates(): Candidate[] {
  const override = process.env['FLOWSTATE_ROCKSDB_ADDON'];
  if (override) return [{ file: override, prebuilt: false }];
  const root = packageRoot();
  return [
    { file: join(root, 'build', 'Release', ADDON_FILE), prebuilt: false },
    { file: join(root, 'prebuilds', `${process.platform}-${process.arch}`, ADDON_FILE), prebuilt: true },
  ];
}

/** Every place the addon may be, in the order they are tried. FLOWSTATE_ROCKSDB_ADDON overrides. */
export function nativeAddonCandidates(): string[] {
  return candidates().map((c) => c.file);
}

export interface LoadedAddon {
  readonly file: string;
  readonly exports: unknown;
}

/** Loads the first candidate that exists, may be used and loads; otherwise says, per file, why not. */
export function loadNativeAddon(): LoadedAddon | { readonly message: string; readonly cause: unknown } {
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  let lastError: unknown;
  for (const { file, prebuilt } of candidates()) {
    if (!existsSync(file)) {
      failures.push(`${file}: not found`);
      continue;
    }
    const stale = prebuilt ? stalePrebuilt(file) : undefined;
    if (stale !== undefined) {
      failures.push(`${file}: ${stale}`);
      continue;
    }
    try {
      return { file, exports: require(file) };
    } catch (e) {
      lastError = e;
      failures.push(`${file}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
  }
  const message =
    `flowstate: the native RocksDB addon does not load on Node.js ${process.version} (${process.platform}-${process.arch}); ` +
    `tried ${failures.join('; ')}. ${BUILD_FROM_SOURCE_HINT}`;
  return { message, cause: lastError };
}
