// What the page shows, computed from a checkpoint directory: every checkpoint that has
// `_metadata` (complete or not, via the storage's own completeness scan, so the page never calls
// a damaged checkpoint whole), its operators and subtasks, the files it references and which of
// them are shared, plus the persisted statistics (durations) where a history source gives them.
import {
  collectSharedFileReferences,
  collectStreamHandles,
  streamHandleName,
  readCheckpointHistory,
  FsCheckpointStorage,
  type CheckpointHistoryEntry,
  type CheckpointMetadata,
  type CheckpointStorage,
  type StreamStateHandle,
  type SubtaskStateMetadata,
} from '@flowstate/core';

/** Where persisted statistics come from; absent when the writer kept none. */
export type CheckpointHistorySource = () => Promise<readonly CheckpointHistoryEntry[]>;

export interface FileView {
  readonly path: string;
  readonly size: number;
  /** Under `shared/`: may be referenced by later checkpoints too (incremental snapshots). */
  readonly shared: boolean;
  /** Shared and reused from an earlier checkpoint rather than written by this one. */
  readonly reused: boolean;
  /** Bytes kept inside `_metadata` (small files of native RocksDB checkpoints): no file on disk. */
  readonly inline: boolean;
}

export interface SubtaskView {
  readonly index: number;
  readonly keyedBytes: number;
  readonly operatorBytes: number;
  readonly channelBytes: number;
  readonly finished: boolean;
  readonly files: number;
}

export interface OperatorView {
  readonly uid: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly stateBytes: number;
  readonly subtasks: readonly SubtaskView[];
}

export interface CheckpointView {
  readonly checkpointId: number;
  readonly pointer: string;
  readonly status: 'COMPLETED' | 'INCOMPLETE';
  /** Why an incomplete checkpoint cannot be trusted (missing files, unreadable metadata). */
  readonly problem?: string;
  readonly kind?: string;
  readonly timestamp?: number;
  /** Bytes of every file the checkpoint references (Flink's full size). */
  readonly fullSize: number;
  /** Bytes this checkpoint wrote itself: full size minus reused shared files (Flink's checkpointed size). */
  readonly checkpointedSize: number;
  readonly files: readonly FileView[];
  readonly operators: readonly OperatorView[];
  readonly history?: CheckpointHistoryEntry;
}

export interface CheckpointsOverview {
  readonly storage: string;
  readonly generatedAt: number;
  readonly checkpoints: readonly CheckpointView[];
  /** Every persisted statistics entry (core's CheckpointHistoryEntry), including failed checkpoints that left no `_metadata`. */
  readonly history: readonly CheckpointHistoryEntry[];
}

/**
 * The history the coordinator persisted under the checkpoint root (`_history/`, see
 * docs/formats.md), for checkpoint storages on a file system; none otherwise. Unreadable entries
 * are left out here; `flowstate checkpoint history` reports them.
 */
export function persistedHistory(storage: CheckpointStorage): CheckpointHistorySource | undefined {
  if (!(storage instanceof FsCheckpointStorage) || storage.layout !== 'checkpoints') return undefined;
  return async () => (await readCheckpointHistory(storage.fs)).entries;
}

export async function loadCheckpointsOverview(storage: CheckpointStorage, history: CheckpointHistorySource | undefined = persistedHistory(storage)): Promise<CheckpointsOverview> {
  const scan = await storage.scanCheckpoints();
  const entries = history === undefined ? [] : await history();
  const byId = new Map(entries.map((e) => [e.checkpointId, e]));
  const complete = scan.complete.map((c) => completedView(c.pointer, c.metadata, byId.get(c.checkpointId)));
  const incomplete = scan.incomplete.map((c): CheckpointView => {
    const h = byId.get(c.checkpointId);
    return { checkpointId: c.checkpointId, pointer: c.pointer, status: 'INCOMPLETE', problem: `${c.reason}: ${c.error.message}`, fullSize: 0, checkpointedSize: 0, files: [], operators: [], ...(h ? { history: h } : {}) };
  });
  const checkpoints = [...complete, ...incomplete].sort((a, b) => a.checkpointId - b.checkpointId);
  return { storage: storage.description, generatedAt: Date.now(), checkpoints, history: entries };
}

function completedView(pointer: string, metadata: CheckpointMetadata, history: CheckpointHistoryEntry | undefined): CheckpointView {
  const files = fileViews(metadata);
  const fullSize = sum(files.map((f) => f.size));
  const checkpointedSize = sum(files.filter((f) => !f.reused).map((f) => f.size));
  return {
    checkpointId: metadata.checkpointId,
    pointer,
    status: 'COMPLETED',
    kind: metadata.kind,
    timestamp: metadata.timestamp,
    fullSize,
    checkpointedSize,
    files,
    operators: metadata.operators.map((o) => ({
      uid: o.uid,
      parallelism: o.parallelism,
      maxParallelism: o.maxParallelism,
      stateBytes: sum(o.subtasks.map((s) => subtaskBytes(s).total)),
      subtasks: o.subtasks.map(subtaskView),
    })),
    ...(history ? { history } : {}),
  };
}

function fileViews(metadata: CheckpointMetadata): FileView[] {
  const shared = new Map(collectSharedFileReferences(metadata).map((r) => [streamHandleName(r.handle), r.use]));
  const seen = new Map<string, FileView>();
  for (const h of collectStreamHandles(metadata)) {
    const path = streamHandleName(h);
    if (seen.has(path)) continue;
    const use = shared.get(path);
    seen.set(path, { path, size: h.size, shared: use !== undefined, reused: use === 'reused', inline: h.type !== 'file' });
  }
  return [...seen.values()].sort((a, b) => a.path.localeCompare(b.path));
}

function subtaskView(s: SubtaskStateMetadata): SubtaskView {
  const b = subtaskBytes(s);
  return { index: s.subtaskIndex, keyedBytes: b.keyed, operatorBytes: b.operator, channelBytes: b.channel, finished: s.finished === true, files: new Set(collectStreamHandles(s).map(streamHandleName)).size };
}

function subtaskBytes(s: SubtaskStateMetadata): { keyed: number; operator: number; channel: number; total: number } {
  const keyed = sum(s.keyed.map((h) => h.stateSize));
  const operator = sum(s.operator.map((h) => h.stateSize));
  const channel = sum((s.channelState ?? []).map((h: StreamStateHandle) => h.size));
  return { keyed, operator, channel, total: keyed + operator + channel };
}

function sum(xs: readonly number[]): number {
  let t = 0;
  for (const x of xs) t += x;
  return t;
}
