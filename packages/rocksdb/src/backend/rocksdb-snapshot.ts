import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  kvSnapshotEncoder,
  runSnapshotPart,
  type CheckpointedStateScope,
  type CheckpointOptions,
  type CheckpointStreamFactory,
  type KeyedStateHandle,
  type KvSnapshotSource,
  type SharedFileReuseTracker,
  type SnapshotFuture,
  type SnapshotResult,
  type StreamStateHandle,
} from '@flowstate/core';
import type { RocksDB } from '../native.js';
import { ROCKSDB_NATIVE_FORMAT_VERSION, type IncrementalRocksDBStateHandle, type RocksDBFileHandle, type RocksDBSharedFileHandle } from './handles.js';
import { checkUploadIsVerified, verifySstBeforeUpload } from './sst-verification.js';

/** Files of one incremental checkpoint uploaded at the same time. */
const UPLOAD_CONCURRENCY = 4;

/** What a native RocksDB snapshot needs from its backend, and no more. */
export interface RocksSnapshotSource extends KvSnapshotSource {
  readonly maxParallelism: number;
  readonly backendIdentifier: string;
  /** Where the native checkpoint directory is created. */
  readonly instanceDir: string;
  readonly db: RocksDB;
  /** Check every new SST's checksums and properties before it is uploaded (see sst-verification.ts). */
  readonly verifySstsBeforeUpload: boolean;
  readonly sharedFiles: SharedFileReuseTracker<RocksDBSharedFileHandle>;
}

/**
 * Starts a native (incremental) snapshot of a RocksDB keyed backend; canonical full snapshots are
 * core's (startKvFullSnapshot). The synchronous part flushes and creates a hard-linked RocksDB
 * checkpoint directory, and decides which uploaded SSTs it may reuse (SharedFileReuseTracker:
 * files of the last *confirmed* checkpoint that every later, still pending snapshot also
 * references); the asynchronous part uploads the other SSTs (identified by RocksDB's unique SST
 * id, else by SHA-256 of the content, never by name and size), marking reused ones as such, plus
 * MANIFEST, CURRENT and OPTIONS as private files. Each SST's block checksums are verified before
 * its upload (sst-verification.ts).
 */
export function startRocksSnapshot(backend: RocksSnapshotSource, checkpointId: number, streamFactory: CheckpointStreamFactory, options: CheckpointOptions): SnapshotFuture<KeyedStateHandle> {
  const t0 = performance.now();
  const states = [...backend.states.values()];
  if (states.length === 0) {
    const empty: SnapshotResult<KeyedStateHandle> = { jobManagerOwnedSnapshot: null, checkpointedSize: 0, fullSize: 0 };
    return { checkpointId, result: Promise.resolve(empty), syncDurationMs: performance.now() - t0, cancel() {} };
  }
  const { header } = kvSnapshotEncoder(backend, states);
  const dir = join(backend.instanceDir, `chk-${checkpointId}-${randomUUID().slice(0, 8)}`);
  backend.db.createCheckpoint(dir);
  const contentIds = new Map<string, string>();
  for (const f of backend.db.getLiveFilesMetaData({ uniqueIds: true })) if (f.uniqueId !== undefined) contentIds.set(f.name.replace(/^\//, ''), `sst-id:${f.uniqueId}`);
  // A savepoint belongs to the user: it never references (or becomes a source of) checkpoint files.
  const isCheckpoint = options.checkpointType === 'CHECKPOINT';
  const reusable = isCheckpoint ? backend.sharedFiles.reusableFor(checkpointId) : new Map<string, RocksDBSharedFileHandle>();
  return runSnapshotPart(backend.runningSnapshots, checkpointId, t0, (checkCancelled) =>
    uploadIncremental(backend, checkpointId, dir, contentIds, reusable, isCheckpoint, header, streamFactory, checkCancelled),
  );
}

async function uploadFile(path: string, scope: CheckpointedStateScope, streamFactory: CheckpointStreamFactory, checkCancelled: () => void): Promise<StreamStateHandle> {
  const out = streamFactory.createCheckpointStateOutputStream(scope);
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      checkCancelled();
      await out.write(chunk as Buffer);
    }
    checkCancelled();
    return await out.closeAndGetHandle();
  } catch (e) {
    await out.abort();
    throw e;
  }
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}`;
}

async function uploadIncremental(
  backend: RocksSnapshotSource,
  checkpointId: number,
  dir: string,
  contentIds: ReadonlyMap<string, string>,
  /** Confirmed uploads this snapshot may reference, captured in the synchronous part. */
  reusable: ReadonlyMap<string, RocksDBSharedFileHandle>,
  isCheckpoint: boolean,
  header: Uint8Array,
  streamFactory: CheckpointStreamFactory,
  checkCancelled: () => void,
): Promise<SnapshotResult<KeyedStateHandle>> {
  const sharedFiles: RocksDBSharedFileHandle[] = [];
  const privateFiles: RocksDBFileHandle[] = [];
  const uploads = new Map<string, RocksDBSharedFileHandle>();
  /** Files this attempt wrote (not reused ones): deleted again if the snapshot fails. */
  const created: StreamStateHandle[] = [];
  let uploaded = 0;
  let full = 0;
  try {
    checkCancelled();
    const names = readdirSync(dir)
      .filter((n) => statSync(join(dir, n)).isFile())
      .sort();
    // Files upload concurrently (bounded): on remote storage each file is a round trip, and on
    // local disk each is an fsync; results are collected by index so the handle stays ordered.
    const sharedSlots: Array<RocksDBSharedFileHandle | undefined> = new Array(names.length);
    const privateSlots: Array<RocksDBFileHandle | undefined> = new Array(names.length);
    const uploadOne = async (i: number): Promise<void> => {
      checkCancelled();
      const name = names[i]!;
      const path = join(dir, name);
      if (name.endsWith('.sst')) {
        const contentId = contentIds.get(name) ?? (await sha256File(path));
        const reuse = reusable.get(contentId);
        if (reuse !== undefined) {
          sharedSlots[i] = { name, contentId, handle: reuse.handle, reused: true };
          return;
        }
        const verified = await verifySstBeforeUpload(path, name, checkpointId, backend.verifySstsBeforeUpload);
        checkCancelled();
        const handle = await uploadFile(path, isCheckpoint ? 'SHARED' : 'EXCLUSIVE', streamFactory, checkCancelled);
        created.push(handle);
        checkUploadIsVerified(handle, verified, name, checkpointId);
        uploaded += handle.size;
        sharedSlots[i] = { name, contentId, handle };
      } else {
        const handle = await uploadFile(path, 'EXCLUSIVE', streamFactory, checkCancelled);
        created.push(handle);
        uploaded += handle.size;
        privateSlots[i] = { name, handle };
      }
    };
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      // After one upload failed the others stop taking files; what was written is deleted below.
      while (!failed && next < names.length) {
        try {
          await uploadOne(next++);
        } catch (e) {
          failed = true;
          throw e;
        }
      }
    };
    const results = await Promise.allSettled(Array.from({ length: Math.min(UPLOAD_CONCURRENCY, names.length) }, worker));
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected !== undefined) throw rejected.reason;
    for (const e of sharedSlots) {
      if (e === undefined) continue;
      sharedFiles.push(e);
      uploads.set(e.contentId, e);
      full += e.handle.size;
    }
    for (const e of privateSlots) {
      if (e === undefined) continue;
      privateFiles.push(e);
      full += e.handle.size;
    }
    const metaOut = streamFactory.createCheckpointStateOutputStream('EXCLUSIVE');
    let meta: StreamStateHandle;
    try {
      await metaOut.write(header);
      meta = await metaOut.closeAndGetHandle();
    } catch (e) {
      await metaOut.abort();
      throw e;
    }
    created.push(meta);
    uploaded += meta.size;
    full += meta.size;
    checkCancelled();
    if (isCheckpoint) backend.sharedFiles.snapshotFinished(checkpointId, uploads);
    const handle: IncrementalRocksDBStateHandle = {
      type: 'rocksdb-incremental',
      formatVersion: ROCKSDB_NATIVE_FORMAT_VERSION,
      keyGroupRange: backend.keyGroupRange.toJSON(),
      stateSize: full,
      checkpointId,
      backendIdentifier: backend.backendIdentifier,
      maxParallelism: backend.maxParallelism,
      meta,
      sharedFiles,
      privateFiles,
    };
    return { jobManagerOwnedSnapshot: handle, checkpointedSize: uploaded, fullSize: full };
  } catch (e) {
    // This checkpoint can never complete: it no longer holds back what later ones reuse.
    if (isCheckpoint) backend.sharedFiles.checkpointAborted(checkpointId);
    // A failed or cancelled snapshot leaves nothing behind that no checkpoint will ever reference.
    await Promise.all(created.map((h) => streamFactory.discardStateHandle(h).catch(() => {})));
    // Cancelled (e.g. by dispose(), which also deletes the local files): say so, not ENOENT.
    checkCancelled();
    throw e;
  } finally {
    // The local checkpoint directory is only needed until its files are uploaded.
    rmSync(dir, { recursive: true, force: true });
  }
}
