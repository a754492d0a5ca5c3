import { randomUUID } from 'node:crypto';
import { IllegalStateUsageError, repartitionOperatorState as repartitionCore, type OperatorStateHandle as CoreOperatorStateHandle } from '@flowstate/core';
import { FlinkUnsupportedError } from './errors.js';
import { keyGroupForHash, keyGroupRangeForOperator } from './hash/key-groups.js';
import { KeyedEntryDecoder, keyGroupPrefixBytes } from './keyed/decode.js';
import { encodeOperatorStream, type CanonicalRecord, type OperatorStateData } from './keyed/encode.js';
import type { StateMetaInfo } from './keyed/meta-info.js';
import type { KeyedStreamHeader, OperatorStreamHeader } from './keyed/proxy.js';
import { writeFlinkMetadata } from './metadata/metadata.js';
import type { OperatorState, OperatorStateHandleEntry, OperatorStateMode, SubtaskState } from './metadata/types.js';
import { readOperatorStates } from './operator/reader.js';
import type { FlinkSavepoint } from './savepoint.js';
import type { FlinkSerializerSnapshot } from './serializers/types.js';
import { addToKeyGroup, rewriteOperatorUnchanged, inputDirectoryOf, withOutputDirectory, writeCanonicalFile, type StreamEmitter } from './writer.js';

export interface FlinkRescaleOptions {
  /** New parallelism of every selected operator (default: unchanged, capped at the new maxParallelism). */
  readonly parallelism?: number;
  /**
   * New parallelism of the operators with managed keyed state only (wins over `parallelism`):
   * sources and sinks without keyed state keep theirs, as the CLI's `--parallelism` promises.
   */
  readonly keyedParallelism?: number;
  /** New parallelism of single operators by uid or hex ID (wins over the two above). */
  readonly operatorParallelism?: Readonly<Record<string, number>>;
  /** New maxParallelism, i.e. number of key groups (default: unchanged). Flink itself cannot change it. */
  readonly maxParallelism?: number;
  /** Only these operators (uid or hex ID; default all). Others are written back unchanged. */
  readonly operators?: readonly string[];
}

/**
 * Offline rescale of a Flink savepoint: keys are assigned to key groups exactly as Flink does
 * (Java hashCode of the decoded key, MathUtils.murmurHash, modulo the new maxParallelism) and key
 * groups to subtasks with KeyGroupRangeAssignment; keyed state is written canonical (every Flink
 * backend restores it), RocksDB-native input included when the savepoint was opened with a RocksDB binding. Operator state is redistributed like RoundRobinOperatorStateRepartitioner:
 * split lists pooled and divided into contiguous parts, union lists given whole to every subtask,
 * broadcast state copied. Values are carried as bytes, so opaque value serializers are fine; the
 * key serializer must be one whose Java hashCode flowstate knows.
 */
export async function rescaleFlinkSavepoint(sp: FlinkSavepoint, outDir: string, options: FlinkRescaleOptions): Promise<{ files: string[] }> {
  return withOutputDirectory(outDir, async (em) => {
    const selected = (op: OperatorState): boolean => options.operators === undefined || options.operators.some((x) => x === op.uid || x === op.operatorId);
    const operators: OperatorState[] = [];
    for (const op of sp.operators) operators.push(selected(op) && !op.fullyFinished ? await rescaleOperator(sp, em, op, options) : await rewriteOperatorUnchanged(sp, em, op));
    await em.write('_metadata', writeFlinkMetadata({ ...sp.metadata, operators }));
    return { files: [...em.written] };
  }, inputDirectoryOf(sp));
}

function label(op: OperatorState): string {
  return op.uid !== undefined && op.uid !== '' ? op.uid : op.operatorId;
}

/** The operator's parallelism after rescaling: its own (by uid, then operator ID), else the job-wide option. */
export function newParallelism(op: OperatorState, o: FlinkRescaleOptions): number {
  const own = ownParallelism(o.operatorParallelism, op.uid ?? '') ?? ownParallelism(o.operatorParallelism, op.operatorId);
  if (own !== undefined) return own;
  const keyed = op.subtasks.some((s) => s.managedKeyedState !== null);
  return (keyed ? o.keyedParallelism : undefined) ?? o.parallelism ?? op.parallelism;
}

/** Own properties only: a uid such as `constructor` must not find Object.prototype's. */
function ownParallelism(byOperator: Readonly<Record<string, number>> | undefined, id: string): number | undefined {
  return byOperator !== undefined && Object.hasOwn(byOperator, id) ? byOperator[id] : undefined;
}

async function rescaleOperator(sp: FlinkSavepoint, em: StreamEmitter, op: OperatorState, o: FlinkRescaleOptions): Promise<OperatorState> {
  const maxParallelism = o.maxParallelism ?? op.maxParallelism;
  const p = Math.min(newParallelism(op, o), maxParallelism);
  if (!Number.isInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > 32768) throw new IllegalStateUsageError(undefined, `maxParallelism must be in [1, 32768], got ${maxParallelism}`);
  if (!Number.isInteger(p) || p < 1) throw new IllegalStateUsageError(undefined, `parallelism must be >= 1, got ${p}`);
  for (const s of op.subtasks) {
    if (s.rawKeyedState !== null || s.rawOperatorState !== null) throw new FlinkUnsupportedError(sp.metadataFile, `operator ${label(op)}: raw keyed/operator state (user bytes) cannot be rescaled`);
    if (s.inputChannelState.length + s.resultSubpartitionState.length > 0) throw new FlinkUnsupportedError(sp.metadataFile, `operator ${label(op)}: unaligned checkpoint channel state cannot be rescaled`);
  }
  const keyed = await repartitionKeyed(sp, op, maxParallelism);
  const opStates = await repartitionOperatorState(sp, op, p);
  const subtasks: SubtaskState[] = [];
  for (let i = 0; i < p; i++) {
    const range = keyGroupRangeForOperator(maxParallelism, p, i);
    let managedKeyedState: SubtaskState['managedKeyedState'] = null;
    if (keyed !== undefined) {
      const n = range.end - range.start + 1;
      const name = randomUUID();
      const enc = await writeCanonicalFile(em, name, keyed.header, range.start, n, (kg) => keyed.byKeyGroup.get(kg) ?? []);
      managedKeyedState = { type: 'key-groups', tag: 7, startKeyGroup: range.start, offsets: enc.offsets, stream: { type: 'relative-file', relativePath: name, size: enc.size } };
    }
    let managedOperatorState: SubtaskState['managedOperatorState'] = null;
    if (opStates !== undefined) {
      const states = opStates.perSubtask[i]!;
      const enc = encodeOperatorStream(opStates.header, states);
      const name = randomUUID();
      await em.write(name, enc.bytes);
      const entries: OperatorStateHandleEntry[] = states.map((s) => ({ name: s.name, mode: s.mode, offsets: enc.offsets.get(s.name) ?? [] }));
      managedOperatorState = { type: 'operator-stream', tag: 4, states: entries, stream: { type: 'relative-file', relativePath: name, size: enc.bytes.length } };
    }
    subtasks.push({
      index: i, finished: false, managedOperatorState, rawOperatorState: null, managedKeyedState, rawKeyedState: null, inputChannelState: [], resultSubpartitionState: [],
      ...(sp.metadata.version === 2 ? { legacyDuration: -1n } : {}),
      operatorStateFlags: [managedOperatorState === null ? 0 : 1, 0],
    });
  }
  return { ...op, parallelism: p, maxParallelism, subtasks };
}

/** Merges the states of every subtask's header by name (same snapshot bytes required) and maps old ids to new. */
function mergeStates(lists: readonly (readonly StateMetaInfo[])[], where: string): { states: StateMetaInfo[]; ids: Map<string, number> } {
  const states: StateMetaInfo[] = [];
  const ids = new Map<string, number>();
  const sig = (m: StateMetaInfo): string => JSON.stringify([m.backendStateType, m.options, m.serializers.map(([k, s]) => [k, s.className, s.version, Buffer.from(s.payload).toString('hex')])]);
  const sigs = new Map<string, string>();
  for (const list of lists) for (const m of list) {
    const existing = sigs.get(m.name);
    if (existing === undefined) {
      ids.set(m.name, states.length);
      states.push(m);
      sigs.set(m.name, sig(m));
    } else if (existing !== sig(m)) {
      throw new FlinkUnsupportedError(where, `state '${m.name}' has different meta infos in different subtasks`);
    }
  }
  return { states, ids };
}

function sameSnapshot(a: FlinkSerializerSnapshot, b: FlinkSerializerSnapshot): boolean {
  return a.className === b.className && a.version === b.version && Buffer.compare(Buffer.from(a.payload), Buffer.from(b.payload)) === 0;
}

async function repartitionKeyed(sp: FlinkSavepoint, op: OperatorState, maxParallelism: number): Promise<{ header: Omit<KeyedStreamHeader, 'length'>; byKeyGroup: Map<number, CanonicalRecord[]> } | undefined> {
  const infos = (await sp.keyedStreams(op)).filter((i) => i.format !== 'none');
  if (infos.length === 0) return undefined;
  for (const i of infos) {
    if (!sp.readsRecords(i)) throw new FlinkUnsupportedError(sp.metadataFile, `operator ${label(op)}: ${i.format} keyed state cannot be rescaled${i.format === 'rocksdb-native' ? ' without a RocksDB binding' : ''} (convert it to a canonical savepoint in Flink first)`);
  }
  const first = infos[0]!.header!;
  for (const i of infos) if (!sameSnapshot(i.header!.keySerializer, first.keySerializer)) throw new FlinkUnsupportedError(sp.metadataFile, `operator ${label(op)}: subtasks disagree on the key serializer`);
  const { states, ids } = mergeStates(infos.map((i) => i.header!.states), sp.metadataFile);
  const header = { version: first.version, compression: infos.every((i) => i.header!.compression), keySerializer: first.keySerializer, states };
  const keySer = first.keySerializer.serializer;
  if (keySer.hashCode === undefined) {
    throw new FlinkUnsupportedError(sp.metadataFile, `operator ${label(op)}: the Java hashCode() of keys of ${keySer.serializerClass} is not known to flowstate, so their key groups cannot be recomputed`);
  }
  const outDecoder = new KeyedEntryDecoder({ ...header, length: 0 }, maxParallelism);
  const oldPrefix = keyGroupPrefixBytes(op.maxParallelism);
  const newPrefix = keyGroupPrefixBytes(maxParallelism);
  const byKeyGroup = new Map<number, CanonicalRecord[]>();
  const add = (kg: number, r: CanonicalRecord): void => addToKeyGroup(byKeyGroup, kg, r);
  for (const info of infos) {
    const dec = new KeyedEntryDecoder(info.header!, op.maxParallelism);
    const newId = (old: number): number => ids.get(info.header!.states[old]!.name)!;
    if (info.format === 'canonical' || info.format === 'rocksdb-native') {
      // RocksDB-native entries are canonical records (RocksDB's keys and values): re-keyed the same way.
      const file = info.format === 'canonical' ? info.stream!.file : sp.nativeLabel(info);
      const records = info.format === 'canonical' ? sp.canonicalRecords(info) : sp.rocksNativeRecords(info, op.maxParallelism);
      for await (const r of records) {
        const key = dec.decodeKey(r, file);
        const hash = keySer.hashCode(key);
        if (keyGroupForHash(hash, op.maxParallelism) !== r.keyGroup) {
          throw new FlinkUnsupportedError(file, `key ${String(key)} is stored in key group ${r.keyGroup}, but its Java hashCode puts it in ${keyGroupForHash(hash, op.maxParallelism)}: flowstate's hashCode of ${keySer.serializerClass} does not match this job's`, r.offset);
        }
        const kg = keyGroupForHash(hash, maxParallelism);
        const prefix = newPrefix === 2 ? [kg >> 8, kg & 0xff] : [kg];
        add(kg, { stateId: newId(r.stateId), key: Buffer.concat([Uint8Array.from(prefix), r.key.subarray(oldPrefix)]), value: r.value });
      }
    } else {
      for (const g of sp.heapKeyGroups(info)) {
        for (const e of g.entries) {
          const kg = keyGroupForHash(keySer.hashCode(e.key), maxParallelism);
          for (const r of outDecoder.encode({ ...e, keyGroup: kg }, ids.get(e.state)!)) add(kg, r);
        }
      }
    }
  }
  // RocksDB's order within a key group: by state id, then by key bytes (what a RocksDB canonical savepoint holds).
  for (const list of byKeyGroup.values()) list.sort((a, b) => a.stateId - b.stateId || Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  return { header, byKeyGroup };
}

/**
 * Operator state goes where Flink's RoundRobinOperatorStateRepartitioner would put it: the
 * assignment is core's `repartitionOperatorState` (one implementation for both formats), run on
 * stand-in handles whose offsets are element indexes; the elements themselves move as bytes.
 */
async function repartitionOperatorState(sp: FlinkSavepoint, op: OperatorState, p: number): Promise<{ header: Omit<OperatorStreamHeader, 'length'>; perSubtask: OperatorStateData[][] } | undefined> {
  const read: ({ header: OperatorStreamHeader; states: { name: string; mode: OperatorStateMode; raw: Uint8Array[] }[] } | undefined)[] = [];
  for (let i = 0; i < op.parallelism; i++) {
    const h = op.subtasks.find((s) => s.index === i && !s.finished)?.managedOperatorState ?? null;
    read.push(h === null || h.stream === null ? undefined : readOperatorStates(h, await sp.resolve(h.stream), sp.registry));
  }
  const present = read.filter((r) => r !== undefined);
  if (present.length === 0) return undefined;
  const ops = mergeStates(present.map((x) => x.header.operatorStates), sp.metadataFile);
  const bcs = mergeStates(present.map((x) => x.header.broadcastStates), sp.metadataFile);
  const header = { version: present[0]!.header.version, compression: false, operatorStates: ops.states, broadcastStates: bcs.states };
  const standIns: CoreOperatorStateHandle[][] = read.map((r, i) => {
    if (r === undefined) return [];
    const states: Record<string, { mode: OperatorStateMode; offsets: number[] }> = {};
    for (const st of r.states) states[st.name] = { mode: st.mode, offsets: st.raw.map((_, k) => k) };
    return [{ type: 'operator', stream: { type: 'bytes', name: String(i), data: new Uint8Array(0), size: 0, checksum: 0 }, stateSize: 0, states }];
  });
  const order = [...ops.states, ...bcs.states].map((m) => m.name);
  const perSubtask = repartitionCore(standIns, p).map((handles) => {
    const byName = new Map<string, OperatorStateData>();
    for (const h of handles) {
      const source = read[Number((h.stream as { name: string }).name)]!;
      for (const [name, entry] of Object.entries(h.states)) {
        const raw = source.states.find((x) => x.name === name)!.raw;
        const prev = byName.get(name);
        const elements = entry.offsets.map((k) => raw[k]!);
        byName.set(name, { name, mode: entry.mode, elements: [...(prev?.elements ?? []), ...elements] });
      }
    }
    return order.map((n) => byName.get(n)).filter((x) => x !== undefined);
  });
  return { header, perSubtask };
}
