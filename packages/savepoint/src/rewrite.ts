import { mkdtemp, appendFile, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  assert,
  assignToKeyGroup,
  computeKeyGroupRangeForOperatorIndex,
  CorruptCheckpointError,
  DataInputDeserializer,
  DataOutputSerializer,
  KeyedStateStreamEncoder,
  type KeyedStateMetaInfo,
  type KeyGroupsStateHandle,
  type TypeSerializerSnapshot,
} from '@flowstate/core';
import type { SavepointOutput } from './directory.js';
import { keyGroupBlocks } from './keyed.js';
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

function writeRecord(encoder: KeyedStateStreamEncoder, index: number, isMap: boolean, r: RawRecord): void {
  if (isMap) encoder.writeMapEntry(index, r.key, r.namespace, r.userKey!, r.value);
  else encoder.writeEntry(index, r.key, r.namespace, r.value!);
}

/**
 * Rewrites the keyed state of one operator into canonical streams for `spec.parallelism`
 * subtasks, one key-group block at a time. When neither maxParallelism nor the key bytes change,
 * every output block is built from the single input block of the same key group (verbatim when no
 * state is transformed). Otherwise key groups are recomputed from the serialized keys: a first
 * pass buckets records by new key group (spilling to disk beyond a memory budget), a second
 * pass writes the blocks.
 */
export async function rewriteKeyedState(
  reader: SavepointReader,
  uid: string,
  spec: KeyedRewriteSpec,
  output: SavepointOutput,
  options: { onBytes?: (n: number) => void; spillBudget?: number } = {},
): Promise<KeyGroupsStateHandle[]> {
  const op = reader.operator(uid);
  const { sources, merged } = await reader.keyedSources(uid);
  assert(merged === undefined || spec.states.length === merged.states.length, 'one plan per merged state');
  const outStates: KeyedStateMetaInfo[] = [];
  const outIndex: number[] = spec.states.map((p) => (p === null ? -1 : outStates.push(p.meta) - 1));
  const isMap = outStates.map((m) => m.kind === 'MAP');
  const repartition = spec.maxParallelism !== op.maxParallelism || spec.convertKey !== undefined;

  const mapRecord = (srcIndex: number, r: { stateIndex: number } & RawRecord, origin: RecordOrigin): { index: number; rec: RawRecord } | null => {
    const m = merged!.indexMaps[srcIndex]![r.stateIndex]!;
    const o = outIndex[m]!;
    if (o < 0) return null;
    const plan = spec.states[m]!;
    const rec = plan.transform === undefined ? r : plan.transform(r, origin);
    return rec === null ? null : { index: o, rec };
  };

  const openSubtask = async (s: number) => {
    const range = computeKeyGroupRangeForOperatorIndex(spec.maxParallelism, spec.parallelism, s);
    const encoder = new KeyedStateStreamEncoder(range, spec.keySerializerSnapshot, outStates);
    const out = output.newStream();
    await out.write(encoder.encodeHeader());
    return { range, encoder, out };
  };

  const handles: KeyGroupsStateHandle[] = [];
  if (!repartition) {
    const owner = new Int32Array(op.maxParallelism).fill(-1);
    sources.forEach((src, i) => {
      for (let g = src.handle.keyGroupRange.start; g <= src.handle.keyGroupRange.end; g++) {
        if (owner[g] !== -1) {
          throw new CorruptCheckpointError(reader.metadataFile, `operator '${uid}': key group ${g} is covered by both '${sources[owner[g]!]!.file}' and '${src.file}'`);
        }
        owner[g] = i;
      }
    });
    for (let s = 0; s < spec.parallelism; s++) {
      const { range, encoder, out } = await openSubtask(s);
      try {
        for (const g of range) {
          encoder.beginKeyGroup(g);
          const i = owner[g]!;
          if (i >= 0) {
            const src = sources[i]!;
            for await (const block of keyGroupBlocks(reader.dir.reader, src.handle, src.header, { from: g, to: g, maxParallelism: op.maxParallelism })) {
              for (let j = 0; j < block.records.length; j++) {
                const m = mapRecord(i, block.records[j]!, { file: src.file, offset: block.recordOffsets[j]! });
                if (m !== null) writeRecord(encoder, m.index, isMap[m.index]!, m.rec);
              }
              options.onBytes?.(block.length);
            }
          }
          await out.write(encoder.endKeyGroup());
        }
        handles.push(encoder.finish(await out.closeAndGetHandle()));
      } catch (e) {
        await out.abort();
        throw e;
      }
    }
    return handles;
  }

  const spill = new KeyGroupSpill(options.spillBudget ?? DEFAULT_SPILL_BUDGET);
  try {
    const buf = new DataOutputSerializer(256);
    for (let i = 0; i < sources.length; i++) {
      const src = sources[i]!;
      for await (const block of keyGroupBlocks(reader.dir.reader, src.handle, src.header, { maxParallelism: op.maxParallelism })) {
        for (let j = 0; j < block.records.length; j++) {
          const origin = { file: src.file, offset: block.recordOffsets[j]! };
          const m = mapRecord(i, block.records[j]!, origin);
          if (m === null) continue;
          const key = spec.convertKey === undefined ? m.rec.key : spec.convertKey(m.rec.key, origin);
          buf.clear();
          buf.writeVarUint(m.index + 1);
          buf.writeLengthPrefixed(key);
          buf.writeLengthPrefixed(m.rec.namespace);
          if (isMap[m.index]) {
            buf.writeLengthPrefixed(m.rec.userKey!);
            buf.writeBoolean(m.rec.value !== null);
            if (m.rec.value !== null) buf.writeLengthPrefixed(m.rec.value);
          } else {
            buf.writeLengthPrefixed(m.rec.value!);
          }
          await spill.add(assignToKeyGroup(key, spec.maxParallelism), buf.toBytes());
        }
        options.onBytes?.(block.length);
      }
    }
    for (let s = 0; s < spec.parallelism; s++) {
      const { range, encoder, out } = await openSubtask(s);
      try {
        for (const g of range) {
          encoder.beginKeyGroup(g);
          // Our own bytes from the first pass; a decoding failure here is a bug, hence asserts.
          const input = new DataInputDeserializer(await spill.take(g));
          while (input.remaining > 0) {
            const index = input.readVarUint() - 1;
            assert(index >= 0 && index < outStates.length, 'spilled record refers to a known state');
            const key = input.readLengthPrefixed();
            const namespace = input.readLengthPrefixed();
            if (isMap[index]) {
              const userKey = input.readLengthPrefixed();
              const value = input.readBoolean() ? input.readLengthPrefixed() : null;
              encoder.writeMapEntry(index, key, namespace, userKey, value);
            } else {
              encoder.writeEntry(index, key, namespace, input.readLengthPrefixed());
            }
          }
          await out.write(encoder.endKeyGroup());
        }
        handles.push(encoder.finish(await out.closeAndGetHandle()));
      } catch (e) {
        await out.abort();
        throw e;
      }
    }
  } finally {
    await spill.dispose();
  }
  return handles;
}
