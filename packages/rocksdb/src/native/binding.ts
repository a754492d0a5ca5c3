// Loads the compiled addon once and installs the error factory and the get() scratch buffer, so
// that every native call throws RocksDBError and small values need no per-call Buffer.
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

// get() copies values up to this size into `scratch` natively and slices them
// out here: much cheaper than creating a Buffer in native code per call.
const SCRATCH_BYTES = 64 * 1024;
/** @internal Shared with RocksDB.get(), which slices small values out of it. */
export const scratch = new Uint8Array(SCRATCH_BYTES);

/** @internal The loaded addon; throws ROCKSDB_NATIVE_UNAVAILABLE when none loads. */
export function loadBinding(): NativeBinding {
  if (binding) return binding;
  const addon = loadNativeAddon();
  if (!('file' in addon)) throw new RocksDBError('ROCKSDB_NATIVE_UNAVAILABLE', addon.message, { cause: addon.cause });
  const loaded = addon.exports as NativeBinding;
  loaded.setErrorFactory(
    (code, message, path, status) => new RocksDBError(code as RocksDBErrorCode, message, { path, status }),
  );
  loaded.setScratch(scratch);
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

