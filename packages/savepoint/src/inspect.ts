import { isKeyGroupsStateHandle, type OperatorStateDistributionMode, type StateKind } from '@flowstate/core';
import { FORMAT_READERS } from './format.js';
import { describeSnapshot } from './serializers.js';
import type { SavepointReader } from './reader.js';

export interface StateReport {
  readonly name: string;
  readonly kind: StateKind;
  readonly namespaceSerializer: string;
  readonly stateSerializer: string;
  /** Records in the canonical stream (MAP: one per user key); undefined without a scan. */
  readonly entries: number | undefined;
  /** Bytes of those records' keys, namespaces and values; undefined without a scan. */
  readonly bytes: number | undefined;
}

export interface OperatorStateReport {
  readonly name: string;
  readonly mode: OperatorStateDistributionMode;
  readonly serializer: string;
  readonly valueSerializer: string | undefined;
  readonly elements: number;
}

export interface OperatorReport {
  readonly uid: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly stateSize: number;
  readonly keySerializer: string | undefined;
  /** Key groups covered by canonical keyed handles, as ranges like "0-63"; gaps/overlaps counted. */
  readonly keyGroups: { readonly covered: number; readonly total: number; readonly ranges: readonly string[]; readonly overlapping: number } | undefined;
  readonly nativeKeyedHandles: number;
  readonly keyedStates: readonly StateReport[];
  readonly operatorStates: readonly OperatorStateReport[];
}

export interface InspectReport {
  readonly directory: string;
  readonly formatVersion: number;
  readonly formatDescription: string;
  readonly checkpointId: number;
  readonly kind: string;
  readonly timestamp: number;
  readonly properties: Readonly<Record<string, string | number | boolean>>;
  readonly totalBytes: number;
  readonly operators: readonly OperatorReport[];
}

/** Describes a savepoint; with `scan`, reads every key-group block (streaming) to count entries. */
export async function inspectSavepoint(reader: SavepointReader, options: { scan?: boolean; onProgress?: (done: number, total: number) => void } = {}): Promise<InspectReport> {
  const scan = options.scan ?? true;
  const infos = reader.operators();
  const total = infos.reduce((a, o) => a + o.stateSize, 0);
  let done = 0;
  const operators: OperatorReport[] = [];
  for (const info of infos) {
    const op = reader.operator(info.uid);
    const canonical = op.subtasks.flatMap((s) => s.keyed).filter(isKeyGroupsStateHandle);
    let keyedStates: StateReport[] = [];
    let keySerializer: string | undefined;
    let keyGroups: OperatorReport['keyGroups'];
    if (canonical.length > 0 && info.nativeKeyedHandles === 0) {
      const { merged } = await reader.keyedSources(info.uid);
      keySerializer = merged === undefined ? undefined : describeSnapshot(merged.keySerializerSnapshot);
      const counts = (merged?.states ?? []).map(() => ({ entries: 0, bytes: 0 }));
      if (scan) {
        for await (const { block, stateIndexMap } of reader.keyedBlocks(info.uid)) {
          for (const r of block.records) {
            const c = counts[stateIndexMap[r.stateIndex]!]!;
            c.entries++;
            c.bytes += r.key.length + r.namespace.length + (r.userKey?.length ?? 0) + (r.value?.length ?? 0);
          }
          done += block.length;
          options.onProgress?.(done, total);
        }
      }
      keyedStates = (merged?.states ?? []).map((s, i) => ({
        name: s.name,
        kind: s.kind,
        namespaceSerializer: describeSnapshot(s.namespaceSerializerSnapshot),
        stateSerializer: describeSnapshot(s.stateSerializerSnapshot),
        entries: scan ? counts[i]!.entries : undefined,
        bytes: scan ? counts[i]!.bytes : undefined,
      }));
      const cover = new Uint16Array(op.maxParallelism);
      for (const h of canonical) for (let g = h.keyGroupRange.start; g <= h.keyGroupRange.end; g++) cover[g]!++;
      const ranges: string[] = [];
      for (let g = 0; g < cover.length; ) {
        if (cover[g] === 0) {
          g++;
          continue;
        }
        let e = g;
        while (e + 1 < cover.length && cover[e + 1]! > 0) e++;
        ranges.push(e === g ? `${g}` : `${g}-${e}`);
        g = e + 1;
      }
      keyGroups = { covered: cover.filter((c) => c > 0).length, total: op.maxParallelism, ranges, overlapping: cover.filter((c) => c > 1).length };
    }
    const operatorStates = info.operatorHandles > 0 ? await reader.operatorStates(info.uid) : [];
    operators.push({
      uid: info.uid,
      parallelism: info.parallelism,
      maxParallelism: info.maxParallelism,
      stateSize: info.stateSize,
      keySerializer,
      keyGroups,
      nativeKeyedHandles: info.nativeKeyedHandles,
      keyedStates,
      operatorStates,
    });
  }
  const m = reader.metadata;
  return {
    directory: reader.directory,
    formatVersion: reader.formatVersion,
    formatDescription: FORMAT_READERS.get(reader.formatVersion)?.description ?? '',
    checkpointId: m.checkpointId,
    kind: m.kind,
    timestamp: m.timestamp,
    properties: m.properties ?? {},
    totalBytes: total,
    operators,
  };
}
