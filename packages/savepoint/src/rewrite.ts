import { mkdtemp, appendFile, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  assert,
  assignToKeyGroup,
  computeKeyGroupRangeForOperatorIndex,
  DataInputDeserializer,
  DataOutputSerializer,
  KeyedStateStreamEncoder,
  readKeyGroupBlocks,
  settleAll,
  type CheckpointStateOutputStream,
  type KeyGroupRange,
  type KeyedStateMetaInfo,
  type KeyGroupsStateHandle,
  type TypeSerializerSnapshot,
} from '@flowstate/core';
import type { SavepointOutput } from './output.js';
import type { SavepointReader } from './reader.js';

/** A keyed record as bytes, in the shape of the canonical stream. */
export interface RawRecord {
  readonly key: Uint8Array;
  readonly namespace: Uint8Array;
  /** MAP states only. */
  readonly userKey: Uint8Array | undefined;
  /** null only for a MAP entry whose user value is null. */
  readonly value: Uint8Array | null;
}

/** Where a record came from, for error messages. */
export interface RecordOrigin {
  readonly file: string;
  readonly offset: number;
}

/** What one state of the input becomes in the output. */
export interface StatePlan {
  readonly meta: KeyedStateMetaInfo;
  /** Rewrites a record (bytes to bytes); null drops it. Absent: records are copied verbatim. */
  readonly transform?: (r: RawRecord, origin: RecordOrigin) => RawRecord | null;
}

export interface KeyedRewriteSpec {
  readonly keySerializerSnapshot: TypeSerializerSnapshot<unknown>;
  /** Converts serialized keys (key serializer change); the key groups are then recomputed. */
  readonly convertKey?: (key: Uint8Array, origin: RecordOrigin) => Uint8Array;
  /** Per state of the merged input header: its plan, or null to drop the state. */
  readonly states: readonly (StatePlan | null)[];
  readonly parallelism: number;
  readonly maxParallelism: number;
}

/** Bytes of spilled records kept in memory before they go to temporary files. */
export const DEFAULT_SPILL_BUDGET = 64 << 20;

/**
 * Records bucketed by their new key group, for re-partitioning: memory holds at most `budget`
 * bytes; beyond that every bucket is appended to its own temporary file. Taking a bucket yields
 * one key group's records, so the second pass holds one key-group block at a time.
 */
class KeyGroupSpill {
  private mem = new Map<number, Uint8Array[]>();
  private memBytes = 0;
  private dir: string | undefined;
  private readonly onDisk = new Set<number>();

  constructor(private readonly budget: number) {}

  async add(g: number, bytes: Uint8Array): Promise<void> {
    let list = this.mem.get(g);
    if (list === undefined) this.mem.set(g, (list = []));
    list.push(bytes);
    this.memBytes += bytes.length;
    if (this.memBytes >= this.budget) await this.flush();
  }

  private async flush(): Promise<void> {
    this.dir ??= await mkdtemp(join(tmpdir(), 'flowstate-spill-'));
    for (const [g, chunks] of this.mem) {
      await appendFile(join(this.dir, String(g)), Buffer.concat(chunks));
      this.onDisk.add(g);
    }
    this.mem = new Map();
    this.memBytes = 0;
  }

  async take(g: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    // File first: it holds the records that arrived earlier, so the input order is preserved.
    if (this.onDisk.has(g)) parts.push(await readFile(join(this.dir!, String(g))));
    parts.push(...(this.mem.get(g) ?? []));
    this.mem.delete(g);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  async dispose(): Promise<void> {
    if (this.dir !== undefined) await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * Writes one canonical keyed stream (docs/savepoint-format.md section 4) with core's encoder:
 * blocks are either encoded record by record or copied verbatim from an input stream whose layout
 * is unchanged (the CRC32C of such a block is already known and verified).
 */
class KeyedStreamWriter {
  private readonly encoder: KeyedStateStreamEncoder;

  constructor(
    private readonly out: CheckpointStateOutputStream,
    range: KeyGroupRange,
    keySnapshot: TypeSerializerSnapshot<unknown>,
    states: readonly KeyedStateMetaInfo[],
  ) {
    this.encoder = new KeyedStateStreamEncoder(range, keySnapshot, states);
  }

  writeHeader(): Promise<void> {
    return this.out.write(this.encoder.encodeHeader());
  }

  begin(g: number): void {
    this.encoder.beginKeyGroup(g);
  }

  record(index: number, isMap: boolean, r: RawRecord): void {
    if (isMap) this.encoder.writeMapEntry(index, r.key, r.namespace, r.userKey!, r.value);
    else this.encoder.writeEntry(index, r.key, r.namespace, r.value!);
  }

  end(): Promise<void> {
    return this.encoder.endKeyGroupTo(this.out);
  }

  /** The block of a key group without records. */
  async emptyBlock(g: number): Promise<void> {
    this.begin(g);
    await this.end();
  }

  /** A whole block copied from an input stream with the same header. */
  raw(g: number, bytes: Uint8Array, checksum: number): Promise<void> {
    return this.out.write(this.encoder.copyKeyGroup(g, bytes, checksum), checksum);
  }

  async finish(): Promise<KeyGroupsStateHandle> {
    return this.encoder.finish(await this.out.closeAndGetHandle());
  }
}

type KeyedSources = Awaited<ReturnType<SavepointReader['keyedSources']>>;
type RewriteOptions = { onBytes?: (n: number) => void; spillBudget?: number };

/** What every pass of a rewrite shares: the input, the output states and the record mapping. */
interface Rewrite {
  readonly reader: SavepointReader;
  readonly uid: string;
  readonly maxParallelism: number;
  readonly spec: KeyedRewriteSpec;
  readonly output: SavepointOutput;
  readonly options: RewriteOptions;
  readonly sources: KeyedSources['sources'];
  readonly outStates: readonly KeyedStateMetaInfo[];
  readonly isMap: readonly boolean[];
  /** Maps an input record (of source `srcIndex`) to its output state index and bytes; null drops it. */
  readonly mapRecord: (srcIndex: number, r: { stateIndex: number } & RawRecord, origin: RecordOrigin) => { index: number; rec: RawRecord } | null;
  /** Whether source i's states map one to one, untransformed, onto the output: its blocks are copied. */
  readonly verbatim: readonly boolean[];
}

/**
 * Rewrites the keyed state of one operator into canonical streams for `spec.parallelism`
 * subtasks, one key-group block at a time. When neither maxParallelism nor the key bytes change,
 * every output block is built from the single input block of the same key group (verbatim when no
 * state is transformed). Otherwise key groups are recomputed from the serialized keys: a first
 * pass buckets records by new key group (spilling to disk beyond a memory budget), a second
 * pass writes the blocks.
 */
export async function rewriteKeyedState(reader: SavepointReader, uid: string, spec: KeyedRewriteSpec, output: SavepointOutput, options: RewriteOptions = {}): Promise<KeyGroupsStateHandle[]> {
  const maxParallelism = reader.operator(uid).maxParallelism;
  const { sources, merged } = await reader.keyedSources(uid);
  assert(merged === undefined || spec.states.length === merged.states.length, 'one plan per merged state');
  const outStates: KeyedStateMetaInfo[] = [];
  const outIndex: number[] = spec.states.map((p) => (p === null ? -1 : outStates.push(p.meta) - 1));
  const rw: Rewrite = {
    reader,
    uid,
    maxParallelism,
    spec,
    output,
    options,
    sources,
    outStates,
    isMap: outStates.map((m) => m.kind === 'MAP'),
    mapRecord: (srcIndex, r, origin) => {
      const m = merged!.indexMaps[srcIndex]![r.stateIndex]!;
      const o = outIndex[m]!;
      if (o < 0) return null;
      const plan = spec.states[m]!;
      const rec = plan.transform === undefined ? r : plan.transform(r, origin);
      return rec === null ? null : { index: o, rec };
    },
    verbatim: sources.map((_, i) =>
      merged!.indexMaps[i]!.length === outStates.length && merged!.indexMaps[i]!.every((m, j) => m === j && outIndex[m] === j && spec.states[m]!.transform === undefined),
    ),
  };
  const repartition = spec.maxParallelism !== maxParallelism || spec.convertKey !== undefined;
  return repartition ? rewriteRepartitioned(rw) : rewriteInPlace(rw);
}

async function openSubtask(rw: Rewrite, s: number): Promise<{ range: KeyGroupRange; writer: KeyedStreamWriter; out: CheckpointStateOutputStream }> {
  const range = computeKeyGroupRangeForOperatorIndex(rw.spec.maxParallelism, rw.spec.parallelism, s);
  const out = rw.output.newStream();
  const writer = new KeyedStreamWriter(out, range, rw.spec.keySerializerSnapshot, rw.outStates);
  await writer.writeHeader();
  return { range, writer, out };
}

/** Which source covers each key group (-1: none). The sources' ranges are disjoint: SavepointReader.keyedHandles rejects overlaps. */
function keyGroupOwners(rw: Rewrite): Int32Array {
  const owner = new Int32Array(rw.maxParallelism).fill(-1);
  rw.sources.forEach((src, i) => owner.fill(i, src.handle.keyGroupRange.start, src.handle.keyGroupRange.end + 1));
  return owner;
}

/** Same key groups: every output block comes from the input block of the same key group. */
async function rewriteInPlace(rw: Rewrite): Promise<KeyGroupsStateHandle[]> {
  const owner = keyGroupOwners(rw);
  // Streams are opened in subtask order (file names stay deterministic for a seeded writer),
  // then written concurrently so that one subtask's fsync overlaps another's reads.
  const opened = [];
  for (let s = 0; s < rw.spec.parallelism; s++) opened.push(await openSubtask(rw, s));
  return settleAll(
    opened.map(async ({ range, writer, out }) => {
      try {
        for (let g = range.startKeyGroup; g <= range.endKeyGroup; ) {
          const i = owner[g]!;
          // A run of key groups of one source is read as one sequence (with read-ahead).
          let end = g;
          while (end < range.endKeyGroup && owner[end + 1] === i) end++;
          if (i >= 0) await copyRun(rw, i, g, end, writer);
          else for (let e = g; e <= end; e++) await writer.emptyBlock(e);
          g = end + 1;
        }
        return await writer.finish();
      } catch (e) {
        await out.abort();
        throw e;
      }
    }),
  );
}

/** Key groups [from, to] of source i into the writer: verbatim blocks, or record by record. */
async function copyRun(rw: Rewrite, i: number, from: number, to: number, writer: KeyedStreamWriter): Promise<void> {
  const src = rw.sources[i]!;
  const blocks = readKeyGroupBlocks(rw.reader.dir.reader, src.handle, src.header, { range: { startKeyGroup: from, endKeyGroup: to }, maxParallelism: rw.maxParallelism });
  for await (const block of blocks) {
    const g = block.keyGroup;
    if (rw.verbatim[i]) {
      await writer.raw(g, block.bytes, src.handle.keyGroupChecksums[g - src.handle.keyGroupRange.start]!);
    } else {
      writer.begin(g);
      for (let j = 0; j < block.records.length; j++) {
        const m = rw.mapRecord(i, block.records[j]!, { file: src.file, offset: block.recordOffsets[j]! });
        if (m !== null) writer.record(m.index, rw.isMap[m.index]!, m.rec);
      }
      await writer.end();
    }
    rw.options.onBytes?.(block.length);
  }
}

/** New key groups: bucket every record by its new key group, then write the blocks in order. */
async function rewriteRepartitioned(rw: Rewrite): Promise<KeyGroupsStateHandle[]> {
  const spill = new KeyGroupSpill(rw.options.spillBudget ?? DEFAULT_SPILL_BUDGET);
  try {
    for (let i = 0; i < rw.sources.length; i++) await bucketSource(rw, i, spill);
    const handles: KeyGroupsStateHandle[] = [];
    for (let s = 0; s < rw.spec.parallelism; s++) {
      const { range, writer, out } = await openSubtask(rw, s);
      try {
        for (const g of range) {
          writer.begin(g);
          writeSpilled(rw, writer, await spill.take(g));
          await writer.end();
        }
        handles.push(await writer.finish());
      } catch (e) {
        await out.abort();
        throw e;
      }
    }
    return handles;
  } finally {
    await spill.dispose();
  }
}

/** First pass: every record of source i, mapped and re-keyed, into the bucket of its new key group. */
async function bucketSource(rw: Rewrite, i: number, spill: KeyGroupSpill): Promise<void> {
  const src = rw.sources[i]!;
  const buf = new DataOutputSerializer(256);
  for await (const block of readKeyGroupBlocks(rw.reader.dir.reader, src.handle, src.header, { maxParallelism: rw.maxParallelism })) {
    for (let j = 0; j < block.records.length; j++) {
      const origin = { file: src.file, offset: block.recordOffsets[j]! };
      const m = rw.mapRecord(i, block.records[j]!, origin);
      if (m === null) continue;
      const key = rw.spec.convertKey === undefined ? m.rec.key : rw.spec.convertKey(m.rec.key, origin);
      buf.clear();
      buf.writeVarUint(m.index + 1);
      buf.writeLengthPrefixed(key);
      buf.writeLengthPrefixed(m.rec.namespace);
      if (rw.isMap[m.index]) {
        buf.writeLengthPrefixed(m.rec.userKey!);
        buf.writeBoolean(m.rec.value !== null);
        if (m.rec.value !== null) buf.writeLengthPrefixed(m.rec.value);
      } else {
        buf.writeLengthPrefixed(m.rec.value!);
      }
      await spill.add(assignToKeyGroup(key, rw.spec.maxParallelism), buf.toBytes());
    }
    rw.options.onBytes?.(block.length);
  }
}

/** Second pass: the records of one new key group, from the first pass's bytes. */
function writeSpilled(rw: Rewrite, writer: KeyedStreamWriter, bytes: Uint8Array): void {
  // Our own bytes from the first pass; a decoding failure here is a bug, hence asserts.
  const input = new DataInputDeserializer(bytes);
  while (input.remaining > 0) {
    const index = input.readVarUint() - 1;
    assert(index >= 0 && index < rw.outStates.length, 'spilled record refers to a known state');
    const key = input.readLengthPrefixed();
    const namespace = input.readLengthPrefixed();
    if (rw.isMap[index]) {
      const userKey = input.readLengthPrefixed();
      const value = input.readBoolean() ? input.readLengthPrefixed() : null;
      writer.record(index, true, { key, namespace, userKey, value });
    } else {
      writer.record(index, false, { key, namespace, userKey: undefined, value: input.readLengthPrefixed() });
    }
  }
}

