import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  crc32c,
  deserializeCheckpointMetadata,
  isKeyGroupsStateHandle,
  serializeCheckpointMetadata,
  type CheckpointMetadata,
  type KeyGroupsStateHandle,
} from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { ROCKSDB_NATIVE_FORMAT } from '@flowstate/rocksdb';
// Registers file:// and plain paths with core's FileSystemRegistry (the savepoint package itself depends on no storage).
import '@flowstate/storage-local';
import { SavepointReader } from '../src/index.js';

/** What bootstrapping runs on in these tests (the savepoint package depends on no backend). */
export const HEAP = { stateBackend: new FsStateBackend() } as const;
/** The native formats conversion and validation know in these tests. */
export const NATIVE = { nativeFormats: [ROCKSDB_NATIVE_FORMAT] } as const;

/** The committed fixture (source tree, not dist). */
export const FIXTURE_V1 = fileURLToPath(new URL('../../test/fixtures/v1', import.meta.url));

export function tempDir(prefix = 'flowstate-sp-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A maker of temp directories (made by `make`: empty by default) that are all removed after the calling test file's tests. */
export function freshDirs(make: () => string = () => tempDir()): () => string {
  const dirs: string[] = [];
  after(() => dirs.forEach(cleanup));
  return () => {
    const d = make();
    dirs.push(d);
    return d;
  };
}

export function copyFixture(to = tempDir()): string {
  cpSync(FIXTURE_V1, to, { recursive: true });
  return to;
}

export function readMeta(dir: string): CheckpointMetadata {
  return deserializeCheckpointMetadata(readFileSync(join(dir, '_metadata')), '_metadata');
}

/** Writes metadata with a valid frame and CRC, whatever its content: for tests of deeper checks. */
export function writeMeta(dir: string, m: CheckpointMetadata): void {
  writeFileSync(join(dir, '_metadata'), serializeCheckpointMetadata(m));
}

export function keyedHandles(m: CheckpointMetadata): KeyGroupsStateHandle[] {
  return m.operators.flatMap((o) => o.subtasks.flatMap((s) => s.keyed)).filter(isKeyGroupsStateHandle);
}

/** Re-seals the _metadata frame CRC after a raw edit of its bytes. */
export function resealMetadataFrame(bytes: Uint8Array): Uint8Array {
  const out = Buffer.from(bytes);
  if (out.length >= 16) out.writeUInt32BE(crc32c(out.subarray(0, out.length - 4)), out.length - 4);
  return out;
}

/**
 * Replaces a state file's bytes and fixes every checksum the metadata holds for it (file CRC,
 * header and block CRCs), so that the decoders behind the checksums get to see the bytes.
 */
export function replaceFileResealed(dir: string, path: string, data: Uint8Array): void {
  writeFileSync(join(dir, path), data);
  const m = readMeta(dir) as unknown as { operators: Array<{ subtasks: Array<{ keyed: Array<Record<string, unknown>>; operator: Array<Record<string, unknown>> }> }> };
  for (const op of m.operators) {
    for (const s of op.subtasks) {
      for (const h of [...s.keyed, ...s.operator]) {
        const stream = h.stream as { path: string; size: number; checksum: number };
        if (stream.path !== path) continue;
        stream.size = data.length;
        stream.checksum = crc32c(data);
        if (h.type === 'key-groups') {
          const offs = h.keyGroupOffsets as number[];
          const hl = h.headerLength as number;
          h.headerChecksum = crc32c(data.subarray(0, Math.min(hl, data.length)));
          h.keyGroupChecksums = (h.keyGroupChecksums as number[]).map((c, i) => crc32c(data.subarray(Math.min(offs[i]!, data.length), Math.min(offs[i + 1]!, data.length))));
        }
      }
    }
  }
  writeMeta(dir, m as unknown as CheckpointMetadata);
}

export function stateFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f !== '_metadata').sort();
}

function show(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x instanceof Map ? [...x] : x));
}

/** Everything a savepoint holds, decoded, as one canonical string (sorted per state). */
export async function readEverything(dir: string): Promise<string> {
  const r = await SavepointReader.load(dir);
  const parts: string[] = [`v${r.formatVersion} ${r.metadata.checkpointId} ${r.metadata.timestamp}`];
  for (const op of r.operators()) {
    parts.push(`op ${op.uid} ${op.parallelism} ${op.maxParallelism}`);
    if (op.keyedHandles > 0) {
      for (const s of await r.keyedStates(op.uid)) {
        const rows: string[] = [];
        if (s.kind === 'MAP') for await (const e of r.readMapState(op.uid, s.name)) rows.push(show(e));
        else for await (const e of r.readKeyedState(op.uid, s.name)) rows.push(show(e));
        parts.push(`keyed ${s.name} ${s.kind} ${s.stateSerializer} ${rows.sort().join('|')}`);
      }
    }
    if (op.operatorHandles > 0) {
      for (const s of await r.operatorStates(op.uid)) {
        const rows: string[] = [];
        if (s.mode === 'BROADCAST') for await (const e of r.readBroadcastState(op.uid, s.name)) rows.push(show(e));
        else if (s.mode === 'UNION') for await (const e of r.readUnionState(op.uid, s.name)) rows.push(show(e));
        else for await (const e of r.readListState(op.uid, s.name)) rows.push(show(e));
        parts.push(`operator ${s.name} ${s.mode} ${rows.sort().join('|')}`);
      }
    }
  }
  return parts.join('\n');
}
