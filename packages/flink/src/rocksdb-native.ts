import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { FlowstateError } from '@flowstate/core';
import { corrupt, FlinkUnsupportedError } from './errors.js';
import type { RawKeyedEntry } from './keyed/canonical.js';
import { keyGroupPrefixBytes } from './keyed/decode.js';
import type { KeyedStreamHeader } from './keyed/proxy.js';
import type { IncrementalKeyedHandle, StreamStateHandle } from './metadata/types.js';
import { handleSize, type ResolvedStream } from './streams.js';

/**
 * What `@flowstate/flink` needs of a RocksDB binding to read RocksDB-native (SST) keyed state.
 * Injected (the CLI passes `@flowstate/rocksdb/native`), so this package keeps no native
 * dependency: without it RocksDB-native state is inspected by its header only.
 */
export interface FlinkRocksDbAccess {
  /** Opens the RocksDB instance in `directory`: a scratch copy this package owns (RocksDB may write its LOG there). */
  open(directory: string): FlinkRocksDbInstance;
}

export interface FlinkRocksDbInstance {
  /** Column families; Flink names one per state (the state's name), plus 'default'. */
  columnFamilies(): readonly string[];
  /** The entries of a column family in key order. */
  entries(columnFamily: string): Iterable<readonly [Uint8Array, Uint8Array]>;
  close(): void;
}

/** At most this many bytes of one handle's RocksDB files are copied into scratch space. */
export const MAX_ROCKSDB_NATIVE_BYTES = 2 ** 32;

/** A name RocksDB gave one of its files (000010.sst, MANIFEST-000005, CURRENT, OPTIONS-000009): never a path. */
const ROCKSDB_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Records of one RocksDB-native handle (IncrementalRemoteKeyedStateHandle: SST files + MANIFEST,
 * CURRENT, OPTIONS), as canonical records: Flink's canonical savepoints copy RocksDB's keys and
 * values, so the same decoder reads both. The files are written under their local names into a
 * fresh scratch directory, opened there, and the directory is removed afterwards. Column families
 * are matched to the header's states by name ('default' and unknown ones are not Flink state);
 * entries outside the handle's key-group range are skipped, as Flink's restore deletes them.
 */
export async function* rocksNativeRecords(
  access: FlinkRocksDbAccess,
  handle: IncrementalKeyedHandle,
  header: KeyedStreamHeader,
  maxParallelism: number,
  resolve: (h: StreamStateHandle) => Promise<ResolvedStream>,
  label: string,
  maxBytes = MAX_ROCKSDB_NATIVE_BYTES,
): AsyncGenerator<RawKeyedEntry> {
  const dir = await mkdtemp(join(tmpdir(), 'flowstate-flink-rocksdb-'));
  let db: FlinkRocksDbInstance | undefined;
  try {
    await materialize(dir, handle, resolve, label, maxBytes);
    try {
      db = access.open(dir);
    } catch (e) {
      throw corrupt(label, 0, `its RocksDB files do not open: ${(e as Error).message}`, e);
    }
    const families = new Set(db.columnFamilies());
    const prefix = keyGroupPrefixBytes(maxParallelism);
    const [first, end] = [handle.startKeyGroup, handle.startKeyGroup + handle.numKeyGroups];
    for (let stateId = 0; stateId < header.states.length; stateId++) {
      const name = header.states[stateId]!.name;
      if (!families.has(name)) continue;
      const file = `${label} column family '${name}'`;
      let index = 0;
      for (const [key, value] of typedEntries(db, name, file)) {
        if (key.length < prefix) throw corrupt(file, 0, `entry ${index}: key of ${key.length} bytes has no ${prefix}-byte key-group prefix`);
        const keyGroup = prefix === 1 ? key[0]! : (key[0]! << 8) | key[1]!;
        index++;
        if (keyGroup < first || keyGroup >= end) continue;
        // offset -4: the decoder adds the canonical length field; errors then give the offset within the key.
        yield { keyGroup, stateId, key, value, offset: -4 };
      }
    }
  } finally {
    try {
      db?.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/**
 * Writes the handle's files (size-checked by the resolver) under their RocksDB names, at most
 * `maxBytes` in all: the cap is checked from each handle's size before its file is read.
 */
async function materialize(dir: string, h: IncrementalKeyedHandle, resolve: (h: StreamStateHandle) => Promise<ResolvedStream>, label: string, maxBytes: number): Promise<void> {
  const seen = new Set<string>();
  const sources = new Map<string, string>();
  let bytes = 0;
  for (const f of [...h.shared, ...h.private]) {
    if (!ROCKSDB_FILE_NAME.test(f.localPath) || seen.has(f.localPath)) {
      throw corrupt(label, 0, `RocksDB file name '${f.localPath.slice(0, 80)}' is not a plain file name, or is given twice`);
    }
    seen.add(f.localPath);
    if (f.handle === null) throw corrupt(label, 0, `RocksDB file '${f.localPath}' has no state handle`);
    const declared = handleSize(f.handle);
    bytes += declared;
    if (bytes > maxBytes) throw new FlinkUnsupportedError(label, `its RocksDB files exceed ${maxBytes} bytes`);
    const s = await resolve(f.handle);
    // One stored file under two RocksDB names would be copied twice: hostile metadata could multiply
    // the copy. Compared as resolved (`x`, `./x` and `file:/p/x` are one file), not as written.
    const stored = f.handle.type === 'byte-stream' ? undefined : normalize(s.file);
    if (stored !== undefined && sources.has(stored)) throw corrupt(label, 0, `RocksDB files '${sources.get(stored)}' and '${f.localPath}' are the same stored file`);
    if (stored !== undefined) sources.set(stored, f.localPath);
    // The resolver is injected (exported API): a file of another size than its handle is bad input, not a bug here.
    if (s.bytes.length !== declared) throw corrupt(label, 0, `RocksDB file '${f.localPath}' has ${s.bytes.length} bytes, its handle says ${declared}`);
    await writeFile(join(dir, f.localPath), s.bytes);
  }
  if (!seen.has('CURRENT')) throw corrupt(label, 0, 'no CURRENT file among its RocksDB files');
}

/** The entries of one column family; a failure of the injected binding that is not a FlowstateError is wrapped, so every failure stays typed. */
function* typedEntries(db: FlinkRocksDbInstance, name: string, file: string): Generator<readonly [Uint8Array, Uint8Array]> {
  const it = db.entries(name)[Symbol.iterator]();
  for (;;) {
    let r: IteratorResult<readonly [Uint8Array, Uint8Array]>;
    try {
      r = it.next();
    } catch (e) {
      throw e instanceof FlowstateError ? e : corrupt(file, 0, `reading it failed: ${(e as Error).message}`, e);
    }
    if (r.done === true) return;
    yield r.value;
  }
}
