// Loads the compiled addon once and installs the error factory, so that every native call throws
// RocksDBError.
import { loadNativeAddon, nativeAddonCandidates } from './addon-location.js';
import { RocksDBError, type RocksDBErrorCode } from './errors.js';
import type { NativeBinding } from './native-types.js';

/**
 * The addon file that loads (or, when none does, the first candidate): a build from source in
 * build/Release, else the prebuilt binary in prebuilds/<platform>-<arch>. FLOWSTATE_ROCKSDB_ADDON
 * overrides the location.
 */
export function nativeAddonPath(): string {
  const loaded = loadNativeAddon();
  return 'file' in loaded ? loaded.file : nativeAddonCandidates()[0]!;
}

let binding: NativeBinding | undefined;

/** @internal The loaded addon; throws ROCKSDB_NATIVE_UNAVAILABLE when none loads. */
export function loadBinding(): NativeBinding {
  if (binding) return binding;
  const addon = loadNativeAddon();
  if (!('file' in addon)) throw new RocksDBError('ROCKSDB_NATIVE_UNAVAILABLE', addon.message, { cause: addon.cause });
  const loaded = addon.exports as NativeBinding;
  loaded.setErrorFactory(
    (code, message, path, status) => new RocksDBError(code as RocksDBErrorCode, message, { path, status }),
  );
  binding = loaded;
  return loaded;
}

/** True when the native addon is built and loads. */
export function isNativeAvailable(): boolean {
  try {
    loadBinding();
    return true;
  } catch {
    return false;
  }
}

/** Version of the RocksDB library the addon was compiled against, e.g. "7.8.3". */
export function rocksdbVersion(): string {
  return loadBinding().rocksdbVersion;
}

