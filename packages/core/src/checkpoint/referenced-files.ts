import { SHARED_STATE_DIR } from '../storage/paths.js';
import type { FileStateHandle, StreamStateHandle } from '../storage/handles.js';
import type { CheckpointMetadata } from './metadata.js';
import type { SharedFileReference } from './shared-state-registry.js';

/**
 * Every stream handle in a checkpoint's metadata, found structurally (any object with
 * `type: 'file'` and a string `path`, or `type: 'bytes'`), so that handle types added by other
 * backends (e.g. RocksDB's incremental handles) are covered without registering them here.
 */
export function collectStreamHandles(metadata: CheckpointMetadata | object): StreamStateHandle[] {
  const out: StreamStateHandle[] = [];
  const seen = new Set<unknown>();
  const walk = (v: unknown, depth: number): void => {
    if (v === null || typeof v !== 'object' || seen.has(v) || depth > 64 || v instanceof Uint8Array) return;
    seen.add(v);
    if (Array.isArray(v)) {
      for (const x of v) walk(x, depth + 1);
      return;
    }
    const o = v as Record<string, unknown>;
    if (o['type'] === 'file' && typeof o['path'] === 'string' && typeof o['size'] === 'number') out.push(o as unknown as StreamStateHandle);
    else if (o['type'] === 'bytes' && o['data'] instanceof Uint8Array) out.push(o as unknown as StreamStateHandle);
    for (const x of Object.values(o)) walk(x, depth + 1);
  };
  walk(metadata, 0);
  return out;
}

/** The files (not inline bytes) a checkpoint's metadata references, once each, with the sizes their handles record. */
export function referencedFileSizes(metadata: CheckpointMetadata | object): Map<string, number> {
  const out = new Map<string, number>();
  for (const h of collectStreamHandles(metadata)) if (h.type === 'file') out.set(h.path, h.size);
  return out;
}

/**
 * The shared files (under `shared/`) that a checkpoint's metadata, or one acknowledgement,
 * references, once each. A backend marks a file it reused rather than wrote by wrapping the
 * handle as `{ ..., handle, reused: true }` (Flink's placeholder); on recovery every file counts as
 * 'restored', since only completed checkpoints are read back.
 */
export function collectSharedFileReferences(metadata: CheckpointMetadata | object, recovered = false): SharedFileReference[] {
  const reused = new Set<string>();
  const seen = new Set<unknown>();
  const walk = (v: unknown, depth: number): void => {
    if (v === null || typeof v !== 'object' || seen.has(v) || depth > 64 || v instanceof Uint8Array) return;
    seen.add(v);
    const o = v as Record<string, unknown>;
    const inner = o['handle'];
    if (o['reused'] === true && inner !== null && typeof inner === 'object' && isSharedFile(inner as StreamStateHandle)) reused.add((inner as FileStateHandle).path);
    for (const x of Array.isArray(v) ? v : Object.values(o)) walk(x, depth + 1);
  };
  walk(metadata, 0);
  const out = new Map<string, SharedFileReference>();
  for (const h of collectStreamHandles(metadata)) {
    if (!isSharedFile(h) || out.has(h.path)) continue;
    out.set(h.path, { handle: h, use: recovered ? 'restored' : reused.has(h.path) ? 'reused' : 'new' });
  }
  return [...out.values()];
}

function isSharedFile(h: StreamStateHandle): h is FileStateHandle {
  return h.type === 'file' && typeof h.path === 'string' && h.path.startsWith(`${SHARED_STATE_DIR}/`);
}
