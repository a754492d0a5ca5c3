import { isKeyGroupsStateHandle, type KeyGroupsStateHandle, type OperatorStateDistributionMode, type SnapshotStateKind } from '@flowstate/core';
import { FORMAT_READERS } from './format.js';
import { describeSnapshot } from './serializers.js';
import type { OperatorInfo, SavepointReader } from './reader.js';

export interface StateReport {
  readonly name: string;
  readonly kind: SnapshotStateKind;
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
  const infos = reader.operators();
  const total = infos.reduce((a, o) => a + o.stateSize, 0);
  const progress = { done: 0, total, ...(options.onProgress ? { report: options.onProgress } : {}) };
  const operators: OperatorReport[] = [];
  for (const info of infos) operators.push(await inspectOperator(reader, info, options.scan ?? true, progress));
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

interface ScanProgress {
  done: number;
  readonly total: number;
  readonly report?: (done: number, total: number) => void;
}

async function inspectOperator(reader: SavepointReader, info: OperatorInfo, scan: boolean, progress: ScanProgress): Promise<OperatorReport> {
  const op = reader.operator(info.uid);
  const canonical = op.subtasks.flatMap((s) => s.keyed).filter(isKeyGroupsStateHandle);
  // Keyed state is described only when it is all canonical; native handles are only counted.
  const keyed = canonical.length > 0 && info.nativeKeyedHandles === 0 ? await inspectCanonicalKeyed(reader, info.uid, scan, progress) : undefined;
  return {
    uid: info.uid,
    parallelism: info.parallelism,
    maxParallelism: info.maxParallelism,
    stateSize: info.stateSize,
    keySerializer: keyed?.keySerializer,
    keyGroups: keyed === undefined ? undefined : keyGroupCoverage(canonical, op.maxParallelism),
    nativeKeyedHandles: info.nativeKeyedHandles,
    keyedStates: keyed?.states ?? [],
    operatorStates: info.operatorHandles > 0 ? await reader.operatorStates(info.uid) : [],
  };
}

/** The merged keyed header's states; with `scan`, their entry counts and sizes from every block. */
async function inspectCanonicalKeyed(reader: SavepointReader, uid: string, scan: boolean, progress: ScanProgress): Promise<{ keySerializer: string | undefined; states: StateReport[] }> {
  const { merged } = await reader.keyedSources(uid);
  const counts = (merged?.states ?? []).map(() => ({ entries: 0, bytes: 0 }));
  if (scan) {
    for await (const { block, stateIndexMap } of reader.keyedBlocks(uid)) {
      for (const r of block.records) {
        const c = counts[stateIndexMap[r.stateIndex]!]!;
        c.entries++;
        c.bytes += r.key.length + r.namespace.length + (r.userKey?.length ?? 0) + (r.value?.length ?? 0);
      }
      progress.done += block.length;
      progress.report?.(progress.done, progress.total);
    }
  }
  return {
    keySerializer: merged === undefined ? undefined : describeSnapshot(merged.keySerializerSnapshot),
    states: (merged?.states ?? []).map((s, i) => ({
      name: s.name,
      kind: s.kind,
      namespaceSerializer: describeSnapshot(s.namespaceSerializerSnapshot),
      stateSerializer: describeSnapshot(s.stateSerializerSnapshot),
      entries: scan ? counts[i]!.entries : undefined,
      bytes: scan ? counts[i]!.bytes : undefined,
    })),
  };
}

/** Which key groups the canonical handles cover, as ranges ("0-63"), with gaps and overlaps counted. */
function keyGroupCoverage(handles: readonly KeyGroupsStateHandle[], maxParallelism: number): NonNullable<OperatorReport['keyGroups']> {
  const cover = new Uint16Array(maxParallelism);
  for (const h of handles) for (let g = h.keyGroupRange.start; g <= h.keyGroupRange.end; g++) cover[g]!++;
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
  return { covered: cover.filter((c) => c > 0).length, total: maxParallelism, ranges, overlapping: cover.filter((c) => c > 1).length };
}
