import { mkdir, open, readdir, rm, rmdir, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BackgroundDataSync, fileDataSyncable, IllegalStateUsageError, storageErrorFromErrno, syncDescriptor } from '@flowstate/core';
import { FlinkUnsupportedError } from './errors.js';
import { JavaDataOutput } from './io/java-output.js';
import { encodeCanonicalStream, encodeOperatorStream, type CanonicalRecord, type OperatorStateData } from './keyed/encode.js';
import { writeKeyedHeader, type KeyedStreamHeader } from './keyed/proxy.js';
import { CanonicalStreamEncoder } from './keyed/stream-encoder.js';
import { serializerOf } from './keyed/meta-info.js';
import { writeFlinkMetadata } from './metadata/metadata.js';
import type { KeyedStateHandle, OperatorState, OperatorStreamHandle, StreamStateHandle, SubtaskState } from './metadata/types.js';
import { readOperatorStates } from './operator/reader.js';
import type { FlinkSavepoint, KeyedStreamInfo } from './savepoint.js';
import { localHandlePath, within } from './streams.js';
import type { DecodedKeyedEntry } from './keyed/decode.js';

/** Where a rewritten stream goes: inline as before, or a file beside the new `_metadata` named by a relative handle. */
export class StreamEmitter {
  readonly written = new Set<string>();
  constructor(
    readonly outDir: string,
    /** Syncs a stream's file while it is written (core's BackgroundDataSync); tests count or fail them. */
    private readonly backgroundSync: (file: FileHandle) => BackgroundDataSync = (file) => new BackgroundDataSync(fileDataSyncable(file)),
  ) {}

  async emit(old: StreamStateHandle, bytes: Uint8Array): Promise<StreamStateHandle> {
    switch (old.type) {
      case 'byte-stream':
        return { ...old, data: bytes };
      case 'relative-file':
        await this.write(old.relativePath, bytes);
        return { ...old, size: bytes.length };
      case 'file': {
        // The new file is beside the new `_metadata`, so the handle names it relative to that (the
        // RelativeFileStateHandle Flink 1.11+ writes, and reads from metadata V2 on): the old path
        // names the input's file, which need not exist where the output is restored.
        const relativePath = basename(localHandlePath(old.path, this.outDir));
        await this.write(relativePath, bytes);
        return { type: 'relative-file', relativePath, size: bytes.length };
      }
      default:
        throw new FlinkUnsupportedError(this.outDir, `cannot write a ${old.type} stream handle`);
    }
  }

  /** Writes a new file (never over an existing one) and fsyncs it: `_metadata` comes last and must find its files durable. */
  async write(rel: string, bytes: Uint8Array): Promise<void> {
    await this.writeStreaming(rel, (write) => write(bytes));
  }

  /**
   * Writes a new file as `fill` produces it, chunk by chunk (e.g. a CanonicalStreamEncoder's
   * sink), then fsyncs it. A chunk is written before `write` resolves, so the caller may reuse it.
   */
  async writeStreaming<T>(rel: string, fill: (write: (chunk: Uint8Array) => Promise<void>) => Promise<T>): Promise<T> {
    if (this.written.has(rel)) throw new IllegalStateUsageError(undefined, `two streams would be written to '${rel}'`);
    this.written.add(rel);
    const fh = await open(join(this.outDir, rel), 'wx');
    const background = this.backgroundSync(fh);
    try {
      const result = await fill((chunk) => background.write(chunk));
      await background.finish();
      // Not fh.sync(): that holds a pool thread for the whole device write whatever else waits for one (syncDescriptor).
      await syncDescriptor(fh.fd, false);
      return result;
    } finally {
      // After a failed write or fill a background sync may still run on the raw descriptor
      // (optionalSync), which FileHandle.close does not wait for: it is awaited first. Its failure
      // no longer matters then.
      await background.finish().catch(() => {});
      await fh.close();
    }
  }
}

/**
 * A canonical keyed stream (the same bytes as encodeCanonicalStream) written to the new file `rel`
 * as it is encoded: no buffer for the whole stream. Returns the handle's offsets and the size.
 */
export function writeCanonicalFile(
  em: StreamEmitter,
  rel: string,
  header: Omit<KeyedStreamHeader, 'length'>,
  startKeyGroup: number,
  numKeyGroups: number,
  recordsOf: (keyGroup: number) => readonly CanonicalRecord[],
): Promise<{ offsets: number[]; size: number }> {
  return em.writeStreaming(rel, async (write) => {
    const encoder = new CanonicalStreamEncoder(header, startKeyGroup, numKeyGroups, write);
    for (let kg = startKeyGroup; kg < startKeyGroup + numKeyGroups; kg++) {
      const records = recordsOf(kg);
      if (records.length === 0) continue;
      await encoder.beginKeyGroup(kg);
      for (const r of records) encoder.writeRecord(r.stateId, r.key, r.value);
    }
    return encoder.finish();
  });
}

/**
 * Creates `outDir` for a savepoint (with its missing parents), which must not exist or be empty;
 * returns the first directory this created (`outDir` or a parent), or undefined when it existed.
 * `inputDir` is the directory of the savepoint read: the output must not be it or lie inside it
 * (its files would land among the input's). A path that cannot be a directory or may not be
 * written is a usage error naming it; other failures (EIO, ENOSPC, EMFILE) are the storage's.
 */
export async function createOutputDirectory(outDir: string, inputDir?: string): Promise<string | undefined> {
  const unusable = (detail: string): IllegalStateUsageError => new IllegalStateUsageError(undefined, `cannot write a savepoint to '${outDir}': ${detail}`);
  if (inputDir !== undefined) {
    if (resolve(outDir) === resolve(inputDir)) throw unusable('it is the input savepoint');
    if (within(inputDir, resolve(outDir))) throw unusable(`it is inside the input savepoint '${inputDir}'`);
  }
  let created: string | undefined;
  let entries: string[];
  try {
    created = await mkdir(outDir, { recursive: true });
    entries = await readdir(outDir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw unusable('it is a file, or below a file');
    // A place the user may not write is theirs to fix; anything else is the storage's.
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw unusable(`it cannot be created (${(e as Error).message})`);
    throw storageErrorFromErrno(outDir, 'creating the output directory', e);
  }
  if (entries.length > 0) throw unusable('the directory exists and is not empty');
  return created;
}

/**
 * Runs `write` against a new, empty output directory (createOutputDirectory). On failure, exactly
 * the files it wrote are removed, and the directories this call created, so no half savepoint is
 * left behind.
 */
export async function withOutputDirectory<T>(outDir: string, write: (em: StreamEmitter) => Promise<T>, inputDir?: string): Promise<T> {
  const created = await createOutputDirectory(outDir, inputDir);
  const em = new StreamEmitter(outDir);
  try {
    return await write(em);
  } catch (e) {
    // `_metadata` first: a directory must never look like a complete savepoint without its files.
    const files = [...em.written].sort((a, b) => (a === '_metadata' ? -1 : b === '_metadata' ? 1 : 0));
    for (const f of files) await rm(join(outDir, f), { force: true }).catch(() => {});
    if (created !== undefined) await removeCreatedDirectories(outDir, created);
    throw e;
  }
}

/** Removes `outDir` and its parents up to `created` (the first one created), each only if empty. */
async function removeCreatedDirectories(outDir: string, created: string): Promise<void> {
  const top = resolve(created);
  for (let d = resolve(outDir); d.startsWith(top); d = dirname(d)) {
    if (!(await rmdir(d).then(() => true, () => false))) return;
    if (d === top) return;
  }
}

/**
 * The directory of `sp` when it was read from a `_metadata` file: the savepoint's own directory,
 * which an output must not lie in. A lone file (an OperatorSnapshotUtil file) may sit in any
 * directory: none.
 */
export function inputDirectoryOf(sp: FlinkSavepoint): string | undefined {
  return basename(sp.metadataFile) === '_metadata' ? sp.directory : undefined;
}

/**
 * Writes a savepoint re-encoded from what flowstate read: canonical keyed streams from their
 * records, heap-native ones through the serializers, operator streams from their elements, and
 * `_metadata` from its model. RocksDB-native and changelog files are copied unchanged. Reading a
 * Flink savepoint and writing it back this way yields Flink's bytes (see the round-trip tests).
 */
export async function writeFlinkSavepoint(sp: FlinkSavepoint, outDir: string): Promise<{ files: string[] }> {
  return withOutputDirectory(outDir, async (em) => {
    const operators: OperatorState[] = [];
    for (const op of sp.operators) operators.push(await rewriteOperatorUnchanged(sp, em, op));
    await em.write('_metadata', writeFlinkMetadata({ ...sp.metadata, operators }));
    return { files: [...em.written] };
  }, inputDirectoryOf(sp));
}

/** Writes one operator's streams again, re-encoded, with its layout unchanged. */
export async function rewriteOperatorUnchanged(sp: FlinkSavepoint, em: StreamEmitter, op: OperatorState): Promise<OperatorState> {
  const rewritten = await rewriteRunningSubtasks(sp, op, async (s, info) => ({
    ...s,
    managedKeyedState: await rewriteKeyed(sp, em, s.managedKeyedState, info, op.maxParallelism),
    rawKeyedState: await copyKeyed(sp, em, s.rawKeyedState),
    managedOperatorState: await rewriteOperator(sp, em, s.managedOperatorState),
    rawOperatorState: await copyOperator(sp, em, s.rawOperatorState),
  }));
  return { ...rewritten, coordinatorState: op.coordinatorState };
}

/**
 * `op` with each subtask that has not finished replaced by `rewrite(subtask, its keyed stream)`, in
 * order; finished subtasks hold no state and are kept as they are.
 */
export async function rewriteRunningSubtasks(
  sp: FlinkSavepoint,
  op: OperatorState,
  rewrite: (s: SubtaskState, keyedStream: KeyedStreamInfo | undefined) => Promise<SubtaskState>,
): Promise<OperatorState> {
  const infos = new Map((await sp.keyedStreams(op)).map((i) => [i.subtask, i]));
  const subtasks: SubtaskState[] = [];
  for (const s of op.subtasks) subtasks.push(s.finished ? s : await rewrite(s, infos.get(s.index)));
  return { ...op, subtasks };
}

async function copyStream(sp: FlinkSavepoint, em: StreamEmitter, h: StreamStateHandle | null): Promise<StreamStateHandle | null> {
  if (h === null || h.type === 'empty-segment-file') return h;
  return em.emit(h, (await sp.resolve(h)).bytes);
}

export async function copyKeyed(sp: FlinkSavepoint, em: StreamEmitter, h: KeyedStateHandle | null): Promise<KeyedStateHandle | null> {
  if (h === null) return null;
  if (h.type === 'key-groups') return { ...h, stream: await copyStream(sp, em, h.stream) };
  if (h.type === 'incremental') {
    const copyList = async (l: typeof h.shared) => Promise.all(l.map(async (x) => ({ ...x, handle: await copyStream(sp, em, x.handle) })));
    return { ...h, meta: await copyStream(sp, em, h.meta), shared: await copyList(h.shared), private: await copyList(h.private) };
  }
  throw new FlinkUnsupportedError(sp.metadataFile, `writing ${h.type} keyed state handles`);
}

export async function copyOperator(sp: FlinkSavepoint, em: StreamEmitter, h: OperatorStreamHandle | null): Promise<OperatorStreamHandle | null> {
  return h === null ? null : { ...h, stream: await copyStream(sp, em, h.stream) };
}

async function rewriteKeyed(sp: FlinkSavepoint, em: StreamEmitter, h: KeyedStateHandle | null, info: KeyedStreamInfo | undefined, maxParallelism: number): Promise<KeyedStateHandle | null> {
  if (h === null || h.type !== 'key-groups' || h.stream === null || info === undefined) return copyKeyed(sp, em, h);
  const header = info.header!;
  let encoded: { bytes: Uint8Array; offsets: number[] };
  if (info.format === 'canonical') {
    const byKg = new Map<number, CanonicalRecord[]>();
    for (const r of sp.canonicalRecords(info)) addToKeyGroup(byKg, r.keyGroup, r);
    encoded = encodeCanonicalStream(header, h.startKeyGroup, h.offsets.length, (kg) => byKg.get(kg) ?? []);
    // Canonical offsets of empty key groups are 0, as read.
  } else {
    encoded = encodeHeapNative(sp, info, h.startKeyGroup, h.offsets.length, maxParallelism);
  }
  return { ...h, offsets: encoded.offsets, stream: await em.emit(h.stream, encoded.bytes) };
}

/** Appends `r` to its key group's records in place: a copy of the list per record is quadratic in records per key group. */
export function addToKeyGroup(byKg: Map<number, CanonicalRecord[]>, kg: number, r: CanonicalRecord): void {
  const records = byKg.get(kg);
  if (records === undefined) byKg.set(kg, [r]);
  else records.push(r);
}

/** HeapSnapshotStrategy layout: per key group i32 id, then per state u16 id, i32 count, entries via the serializers. */
function encodeHeapNative(sp: FlinkSavepoint, info: KeyedStreamInfo, start: number, n: number, maxParallelism: number): { bytes: Uint8Array; offsets: number[] } {
  const header = info.header!;
  if (header.compression) throw new FlinkUnsupportedError(sp.metadataFile, 'writing compressed heap-native key groups');
  const byKg = new Map<number, { order: number[]; entries: DecodedKeyedEntry[] }>();
  for (const g of sp.heapKeyGroups(info)) byKg.set(g.keyGroup, { order: g.sectionOrder, entries: g.entries });
  void maxParallelism;
  const out = new JavaDataOutput(4096);
  writeKeyedHeader(out, header);
  const offsets: number[] = [];
  const key = header.keySerializer.serializer;
  for (let kg = start; kg < start + n; kg++) {
    offsets.push(out.length);
    out.writeInt(kg);
    const g = byKg.get(kg);
    const entries = g?.entries ?? [];
    const order = g?.order ?? header.states.map((_, i) => i);
    order.forEach((id) => {
      const m = header.states[id]!;
      const mine = entries.filter((e) => e.state === m.name);
      out.writeShort(id);
      out.writeInt(mine.length);
      const value = serializerOf(m, 'VALUE_SERIALIZER')!.serializer;
      const ns = serializerOf(m, 'NAMESPACE_SERIALIZER')?.serializer;
      for (const e of mine) {
        if (m.backendStateType === 'PRIORITY_QUEUE') {
          value.serialize(e.value, out);
          continue;
        }
        ns!.serialize(e.namespace, out);
        key.serialize(e.key, out);
        value.serialize(e.value, out);
      }
    });
  }
  return { bytes: out.toBytes(), offsets };
}

async function rewriteOperator(sp: FlinkSavepoint, em: StreamEmitter, h: OperatorStreamHandle | null): Promise<OperatorStreamHandle | null> {
  if (h === null || h.stream === null) return h;
  const { header, states } = readOperatorStates(h, await sp.resolve(h.stream), sp.registry);
  // Data follows the order in which Flink wrote the states: by their first offset.
  const firstOffset = new Map(h.states.map((s) => [s.name, s.offsets[0] ?? Number.MAX_SAFE_INTEGER]));
  const data: OperatorStateData[] = [...states].sort((a, b) => firstOffset.get(a.name)! - firstOffset.get(b.name)!).map((s) => ({ name: s.name, mode: s.mode, elements: s.raw }));
  const { bytes, offsets } = encodeOperatorStream(header, data);
  return { ...h, states: h.states.map((s) => ({ ...s, offsets: offsets.get(s.name) ?? [] })), stream: await em.emit(h.stream, bytes) };
}
