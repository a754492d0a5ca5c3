import type { StreamStateHandle } from '../storage/handles.js';
import type { CheckpointMetadata } from './metadata.js';

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
