// Where the compiled addon lives and how it is loaded. A build from source (build/Release, made
// by `npm rebuild @flowstate/rocksdb` or the monorepo's `npm run build`) wins over the prebuilt
// binary shipped in the package (prebuilds/<platform>-<arch>), as with node-gyp-build.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ADDON_FILE = 'flowstate_rocksdb.node';

/** What to do when no addon loads; valid for installed users and in the monorepo alike. */
export const BUILD_FROM_SOURCE_HINT =
  'Build it from source: install RocksDB and a C++ toolchain (Debian/Ubuntu: `apt-get install librocksdb-dev g++ make python3`; ' +
  'macOS: `brew install rocksdb`), then run `npm rebuild @flowstate/rocksdb` in your project.';

/** The directory holding this package's package.json and binding.gyp. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return fileURLToPath(new URL('../..', import.meta.url)); // dist/src -> package
    dir = parent;
  }
}

/** Every place the addon may be, in the order they are tried. FLOWSTATE_ROCKSDB_ADDON overrides. */
export function nativeAddonCandidates(): string[] {
  const override = process.env['FLOWSTATE_ROCKSDB_ADDON'];
  if (override) return [override];
  const root = packageRoot();
  return [join(root, 'build', 'Release', ADDON_FILE), join(root, 'prebuilds', `${process.platform}-${process.arch}`, ADDON_FILE)];
}

export interface LoadedAddon {
  readonly file: string;
  readonly exports: unknown;
}

/** Loads the first candidate that exists and loads; the message names every file tried and why it failed. */
export function loadNativeAddon(): LoadedAddon | { readonly message: string; readonly cause: unknown } {
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  let lastError: unknown;
  for (const file of nativeAddonCandidates()) {
    if (!existsSync(file)) {
      failures.push(`${file}: not found`);
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
