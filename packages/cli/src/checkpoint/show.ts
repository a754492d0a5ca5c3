import { IllegalStateUsageError, SHARED_STATE_DIR, type CheckpointMetadata, type KeyedStateHandle, type OperatorStateHandle, type StreamStateHandle } from '@flowstate/core';
import { bytes } from '../format.js';
import type { CheckpointSummary, RootScan } from './root.js';

export interface HandleFile {
  readonly path: string;
  readonly size: number;
  /** The name a backend gives the file (e.g. a RocksDB SST's name), when its handle has one. */
  readonly name?: string;
  readonly shared: boolean;
}

export interface HandleReport {
  readonly category: 'keyed' | 'operator' | 'channel';
  readonly type: string;
  readonly keyGroups?: { readonly start: number; readonly end: number };
  readonly stateSize: number;
  readonly states?: readonly string[];
  readonly files: readonly HandleFile[];
  /** Bytes kept inline in the metadata. */
  readonly inlineBytes: number;
}

export interface ShowReport {
  readonly checkpoint: CheckpointSummary;
  readonly operators: ReadonlyArray<{
    readonly uid: string;
    readonly parallelism: number;
    readonly maxParallelism: number;
    readonly subtasks: ReadonlyArray<{ readonly subtaskIndex: number; readonly finished: boolean; readonly handles: readonly HandleReport[] }>;
  }>;
  /** Its files in `shared/`, with every checkpoint here that references each. */
  readonly sharedFiles: ReadonlyArray<{ readonly path: string; readonly size: number; readonly referencedBy: readonly number[] }>;
}

/** Files of a handle, with the names backends pair them with (`{ name, handle }`, as RocksDB's SSTs). */
function handleFiles(h: object): { files: HandleFile[]; inline: number } {
  const names = new Map<StreamStateHandle, string>();
  const streams: StreamStateHandle[] = [];
  const seen = new Set<unknown>();
  const walk = (v: unknown, depth: number): void => {
    if (v === null || typeof v !== 'object' || seen.has(v) || depth > 64 || v instanceof Uint8Array) return;
    seen.add(v);
    const o = v as Record<string, unknown>;
    if ((o['type'] === 'file' && typeof o['path'] === 'string') || (o['type'] === 'bytes' && o['data'] instanceof Uint8Array)) streams.push(o as unknown as StreamStateHandle);
    const inner = o['handle'];
    if (typeof o['name'] === 'string' && inner !== null && typeof inner === 'object') names.set(inner as StreamStateHandle, o['name']);
    for (const x of Array.isArray(v) ? v : Object.values(o)) walk(x, depth + 1);
  };
  walk(h, 0);
  const files: HandleFile[] = [];
  let inline = 0;
  for (const s of streams) {
    if (s.type === 'bytes') inline += s.size;
    else files.push({ path: s.path, size: s.size, ...(names.has(s) ? { name: names.get(s)! } : {}), shared: s.path.startsWith(`${SHARED_STATE_DIR}/`) });
  }
  return { files, inline };
}

function keyedHandle(h: KeyedStateHandle): HandleReport {
  const { files, inline } = handleFiles(h);
  return { category: 'keyed', type: h.type, keyGroups: { start: h.keyGroupRange.start, end: h.keyGroupRange.end }, stateSize: h.stateSize, files, inlineBytes: inline };
}

function operatorHandle(h: OperatorStateHandle): HandleReport {
  const { files, inline } = handleFiles(h);
  return { category: 'operator', type: h.type, stateSize: h.stateSize, states: Object.entries(h.states).map(([n, m]) => `${n} (${m.mode})`), files, inlineBytes: inline };
}

function channelHandle(h: StreamStateHandle): HandleReport {
  const { files, inline } = handleFiles(h);
  return { category: 'channel', type: h.type, stateSize: h.size, files, inlineBytes: inline };
}

export function showReport(scan: RootScan, checkpointId: number): ShowReport {
  const checkpoint = scan.checkpoints.find((c) => c.checkpointId === checkpointId);
  if (checkpoint === undefined) {
    throw new IllegalStateUsageError(undefined, `no checkpoint ${checkpointId} in ${scan.root} (there: ${scan.checkpoints.map((c) => c.checkpointId).join(', ') || 'none'})`);
  }
  const metadata: CheckpointMetadata | undefined = scan.metadata.get(checkpointId);
  const operators = (metadata?.operators ?? []).map((op) => ({
    uid: op.uid,
    parallelism: op.parallelism,
    maxParallelism: op.maxParallelism,
    subtasks: op.subtasks.map((s) => ({
      subtaskIndex: s.subtaskIndex,
      finished: s.finished === true,
      handles: [...s.keyed.map(keyedHandle), ...s.operator.map(operatorHandle), ...(s.channelState ?? []).map(channelHandle)],
    })),
  }));
  const shared = new Map<string, number>();
  for (const op of operators) for (const s of op.subtasks) for (const h of s.handles) for (const f of h.files) if (f.shared) shared.set(f.path, f.size);
  const sharedFiles = [...shared].sort(([a], [b]) => (a < b ? -1 : 1)).map(([path, size]) => ({ path, size, referencedBy: scan.sharedFileUsers.get(path) ?? [checkpointId] }));
  return { checkpoint, operators, sharedFiles };
}

export function formatShow(r: ShowReport, root: string): string {
  const c = r.checkpoint;
  const out = [`checkpoint ${c.checkpointId} at ${c.location}: ${c.status.toLowerCase()}${c.retained ? ', retained' : ''}${c.kind === undefined ? '' : `, ${c.kind}`}${c.timestamp === undefined ? '' : ` taken ${new Date(c.timestamp).toISOString()}`}`];
  out.push(`  ${c.files} file(s), ${bytes(c.bytes)}: ${bytes(c.exclusiveBytes)} in ${c.pointer}/, ${bytes(c.sharedBytes)} in ${SHARED_STATE_DIR}/`);
  if (c.problem !== undefined) out.push(`  problem: ${c.problem}`);
  if (c.status === 'IN_PROGRESS') out.push('  no _metadata: nothing describes these files (see `flowstate checkpoint gc`)');
  for (const op of r.operators) {
    out.push('', `operator '${op.uid}': parallelism ${op.parallelism}, maxParallelism ${op.maxParallelism}`);
    for (const s of op.subtasks) {
      out.push(`  subtask ${s.subtaskIndex}${s.finished ? ' (finished)' : ''}:${s.handles.length === 0 ? ' no state' : ''}`);
      for (const h of s.handles) {
        const what = h.category === 'keyed' ? `key groups ${h.keyGroups!.start}-${h.keyGroups!.end}` : h.category === 'operator' ? `states ${h.states!.join(', ')}` : 'in-flight records';
        const label = h.category === 'operator' ? 'operator state' : h.category === 'channel' ? 'channel state' : `keyed ${h.type}`;
        out.push(`    ${label}, ${what}, ${bytes(h.stateSize)}${h.inlineBytes > 0 ? ` (${bytes(h.inlineBytes)} inline)` : ''}`);
        for (const f of h.files) out.push(`      ${root}/${f.path}  ${bytes(f.size)}${f.name === undefined ? '' : `  ${f.name}`}`);
      }
    }
  }
  if (r.sharedFiles.length > 0) {
    const withOthers = r.sharedFiles.filter((f) => f.referencedBy.some((id) => id !== c.checkpointId));
    out.push('', `shared files: ${r.sharedFiles.length} (${bytes(r.sharedFiles.reduce((a, f) => a + f.size, 0))}), ${withOthers.length} also referenced by other checkpoints`);
    for (const f of r.sharedFiles) {
      const others = f.referencedBy.filter((id) => id !== c.checkpointId);
      out.push(`  ${f.path}  ${bytes(f.size)}${others.length === 0 ? '' : `  also in ${others.map((id) => `chk-${id}`).join(', ')}`}`);
    }
  }
  return out.join('\n');
}
