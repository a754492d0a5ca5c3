import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, mkdirSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import {
  assert,
  byteStreamStateHandle,
  KvPriorityQueues,
  kvSnapshotEncoder,
  settleAll,
  writeQueueStream,
  type QueueSnapshotWriter,
  type CheckpointedStateScope,
  type CheckpointOptions,
  type CheckpointStateOutputStream,
  type FileChecksum,
  type KeyedStateHandle,
  type SnapshotContext,
  type SnapshotResources,
  type SnapshotResult,
  type SnapshotStrategy,
  type StreamStateHandle,
} from '@flowstate/core';
import { ROCKSDB_NATIVE_FORMAT_VERSION, type IncrementalRocksDBStateHandle, type RocksDBFileHandle, type RocksDBSharedFileHandle } from './handles.js';
import { CHECKPOINT_LINKS_DIR, localCheckpointFiles, removePinnedFiles, RocksDbSyncedSsts, startDataSyncs, type LocalCheckpointFiles } from './local-checkpoint-files.js';
import type { RocksSnapshotSource } from './rocksdb-snapshot.js';
import { checkUploadIsVerified, verifySstBeforeUpload } from './sst-verification.js';
import type { LiveFileMetaData, SstFileVerification } from '../native.js';
import { UploadLimiter } from './upload-limiter.js';

/** Files of one incremental checkpoint uploaded at the same time. */
const UPLOAD_CONCURRENCY = 4;

/**
 * The meta file and private files (CURRENT, MANIFEST, OPTIONS) up to this size are kept inline in
 * the handle, i.e. in the checkpoint's metadata, instead of one file each: like Flink, whose
 * stream factory keeps streams under state.storage.fs.memory-threshold (20 KB by default) as
 * ByteStreamStateHandles. On local disk each file costs a create, an fsync, a rename and a
 * directory fsync (four of five files of a 1%-churn checkpoint); on remote storage a round trip.
 * They become durable with the metadata, which is written after the snapshot completes and
 * before the checkpoint counts as complete, so nothing that a completed checkpoint needs is
 * ever less durable than before.
 */
export const INLINE_FILE_MAX_BYTES = 20 * 1024;

/** What the synchronous part captured: the pinned files of a RocksDB checkpoint and what it may reuse. */
interface RocksNativeSnapshotResources extends SnapshotResources {
  readonly checkpointId: number;
  /** Key-groups stream header: the states' meta info, uploaded as the snapshot's meta file. */
  readonly header: Uint8Array;
  /** Heap priority queues (HEAP timers), written as a key-group stream of their own. */
  readonly heapQueues: readonly QueueSnapshotWriter[];
  /** SST name -> content id, from RocksDB's unique SST ids. */
  readonly contentIds: ReadonlyMap<string, string>;
  /** Confirmed uploads this snapshot may reference. */
  readonly reusable: ReadonlyMap<string, RocksDBSharedFileHandle>;
  /** A savepoint belongs to the user: it never references (or becomes a source of) checkpoint files. */
  readonly isCheckpoint: boolean;
  /** Set when the asynchronous part told the reuse tracker which files the snapshot references. */
  finished: boolean;
  /** The checkpoint's files: the bytes of its small private files, where the others are pinned (see pinLiveFiles). */
  readonly files: LocalCheckpointFiles;
  /** SSTs RocksDB fsynced itself: their upload needs no data sync of its own. */
  readonly synced: ReadonlySet<string>;
  /** Data syncs of the SSTs whose sync the pinning deferred, started in the synchronous part (see startDataSyncs). */
  readonly syncing: ReadonlyMap<string, Promise<void>>;
  /** SST name -> size and whole-file CRC32C RocksDB computed while writing it (LiveFileMetaData.fileChecksum). */
  readonly written: ReadonlyMap<string, FileChecksum>;
}

/** An uploaded file of the checkpoint, by kind. */
type Upload = { readonly shared: RocksDBSharedFileHandle; readonly uploaded: number } | { readonly private: RocksDBFileHandle; readonly uploaded: number };

/**
 * Native (incremental) snapshots of a RocksDB backend (Flink's RocksIncrementalSnapshotStrategy):
 * the synchronous part flushes and pins the files of a RocksDB checkpoint (RocksDB.pinLiveFiles:
 * hard links of the SSTs, the bytes of MANIFEST, CURRENT and OPTIONS), and decides
 * which uploaded SSTs it may reuse (SharedFileReuseTracker: files of the last *confirmed*
 * checkpoint that every later, still pending snapshot also references); the asynchronous part
 * uploads the other SSTs (identified by RocksDB's unique SST id, else by SHA-256 of the content,
 * never by name and size), marking reused ones as such, plus MANIFEST, CURRENT and OPTIONS as
 * private files. Each new SST's block checksums are verified as part of its upload
 * (sst-verification.ts; on linking storage through its new name, see uploadSst).
 */
export class RocksNativeSnapshotStrategy implements SnapshotStrategy<KeyedStateHandle, RocksNativeSnapshotResources> {
  private readonly syncedSsts = new RocksDbSyncedSsts();
  /**
   * Whether the storage adopted (linked) the last new SST: only then does the synchronous part
   * start the deferred SSTs' data syncs itself. Storage that copies (S3, HDFS) reads them from
   * the page cache and needs no sync; its first upload tells. A guess either way is safe: a sync
   * started for a storage that copies is wasted (its copy does not wait for it), and a storage that
   * links an SST nobody synced syncs it first (sourceSynced false), as before; a savepoint to
   * other storage may cost one such guess.
   */
  private storageLinks = false;

  constructor(private readonly source: RocksSnapshotSource) {}

  /**
   * The backend's CHECKPOINT_LINKS_DIR. Made on every checkpoint: an existing directory costs
   * a failed mkdir and no inode, and one removed from outside is made again instead of failing
   * every later checkpoint.
   */
  private pinDirectory(): string {
    const dir = join(this.source.instanceDir, CHECKPOINT_LINKS_DIR);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /**
   * Pins the checkpoint's files where its uploads find them (a link per SST), not in a checkpoint
   * directory of their own; MANIFEST, CURRENT and OPTIONS come back as bytes, to be inlined in the
   * handle, up to the inline limit (a larger one is pinned and uploaded; see pinLiveFiles). The
   * flush's SSTs are synced before their upload completes, in the asynchronous part: the
   * synchronous part no longer waits for the disk (an 11 MB memtable: ~19 ms without the fsync,
   * ~30 with). Where the storage links, their syncs start here (startDataSyncs) and the upload
   * links each SST while its sync runs (sourceSyncing).
   */
  private pinFiles(checkpointId: number): { files: LocalCheckpointFiles; unsyncedSsts: readonly string[]; syncing: Map<string, Promise<void>>; live: LiveFileMetaData[] } {
    const db = this.source.db;
    // What a failure after the pinning removes.
    let pinnedPaths: ReadonlyMap<string, string> = new Map();
    try {
      const prefix = `chk-${checkpointId}-${randomUUID().slice(0, 8)}-`;
      const pinned = db.pinLiveFiles(this.pinDirectory(), prefix, { deferSstSyncs: true, inlineMaxBytes: INLINE_FILE_MAX_BYTES });
      const files = localCheckpointFiles(pinned);
      pinnedPaths = files.paths;
      const syncing = this.storageLinks ? startDataSyncs(files.paths, pinned.unsyncedSsts) : new Map<string, Promise<void>>();
      const live = db.getLiveFilesMetaData({ uniqueIds: true }).map((f) => ({ ...f, name: f.name.replace(/^\//, '') }));
      return { files, unsyncedSsts: pinned.unsyncedSsts, syncing, live };
    } catch (e) {
      // SSTs whose sync was deferred may be live, or installed later, and unlisted (a failed
      // pinning loses its list): every SST of the database counts as not synced from now on.
      this.syncedSsts.forget(db);
      for (const path of pinnedPaths.values()) rmSync(path, { force: true });
      throw e;
    }
  }

  syncPrepareResources(checkpointId: number, options: CheckpointOptions): RocksNativeSnapshotResources | null {
    const source = this.source;
    const states = [...source.states.values()];
    // Queues in the store are column families of the checkpoint; heap ones are captured now.
    const kvQueues = source.queues instanceof KvPriorityQueues ? source.queues.metaInfos() : [];
    const heapQueues = source.queues instanceof KvPriorityQueues ? [] : source.queues.capture(undefined);
    if (states.length === 0 && kvQueues.length === 0 && heapQueues.length === 0) return null;
    const { header } = kvSnapshotEncoder(source, states, kvQueues);
    const { files, unsyncedSsts, syncing, live } = this.pinFiles(checkpointId);
    const contentIds = new Map<string, string>();
    const written = new Map<string, FileChecksum>();
    for (const f of live) {
      if (f.uniqueId !== undefined) contentIds.set(f.name, `sst-id:${f.uniqueId}`);
      if (f.fileChecksum !== undefined) written.set(f.name, { size: f.size, checksum: f.fileChecksum });
    }
    this.syncedSsts.observe(source.db, live.map((f) => f.name), files.names, unsyncedSsts);
    // A database that skips every fsync (syncLocalFiles: false) synced no SST: its uploads sync each one.
    const synced = new Set(source.rocksDbSyncsSsts ? files.names.filter((n) => this.syncedSsts.isSynced(n)) : []);
    const isCheckpoint = options.checkpointType === 'CHECKPOINT';
    const reusable = isCheckpoint ? source.sharedFiles.reusableFor(checkpointId) : new Map<string, RocksDBSharedFileHandle>();
    const resources: RocksNativeSnapshotResources = {
      checkpointId,
      header,
      heapQueues,
      contentIds,
      reusable,
      isCheckpoint,
      finished: false,
      files,
      synced,
      syncing,
      written,
      release: () => {
        // The pinned files are only needed until they are uploaded. Removed in the background (a
        // synchronous rm blocked the event loop), starting once the result is delivered (release
        // runs just before it): thread-pool jobs submitted first woke pool threads that, on a busy
        // machine, took the CPU from the thread delivering the result. A failure leaves files that
        // dispose() removes with instanceDir.
        setImmediate(() => void removePinnedFiles(files.paths.values()).catch(() => {}));
        // A checkpoint that can never complete no longer holds back what later ones reuse.
        if (isCheckpoint && !resources.finished) source.sharedFiles.checkpointAborted(checkpointId);
      },
    };
    return resources;
  }

  async asyncSnapshot(resources: RocksNativeSnapshotResources, context: SnapshotContext): Promise<SnapshotResult<KeyedStateHandle>> {
    const names = resources.files.names;
    // Everything starts at once, SST uploads limited to UPLOAD_CONCURRENCY: the small files
    // (MANIFEST, CURRENT, OPTIONS, the meta file) no longer wait for a free slot or for each other,
    // and each upload ends in fsyncs whose latency would otherwise add up on every checkpoint.
    const limiter = new UploadLimiter(UPLOAD_CONCURRENCY);
    const [meta, ...uploads] = await settleAll<[StreamStateHandle, ...Upload[]]>([uploadOrInlineBytes(resources.header, context), ...names.map((n) => this.uploadOne(resources, n, context, limiter))]);
    const sharedFiles = uploads.flatMap((u) => ('shared' in u ? [u.shared] : []));
    const privateFiles = uploads.flatMap((u) => ('private' in u ? [u.private] : []));
    const queues = resources.heapQueues.length === 0 ? undefined : await writeQueueStream(context, this.source.keyGroupRange, this.source.keySerializer, resources.heapQueues);
    const uploaded = uploads.reduce((n, u) => n + u.uploaded, meta.size + (queues?.stateSize ?? 0));
    const full = [...sharedFiles, ...privateFiles].reduce((n, f) => n + f.handle.size, meta.size + (queues?.stateSize ?? 0));
    context.throwIfCancelled();
    if (resources.isCheckpoint) this.source.sharedFiles.snapshotFinished(resources.checkpointId, new Map(sharedFiles.map((f) => [f.contentId, f])));
    resources.finished = true;
    const handle: IncrementalRocksDBStateHandle = {
      type: 'rocksdb-incremental',
      formatVersion: ROCKSDB_NATIVE_FORMAT_VERSION,
      keyGroupRange: this.source.keyGroupRange.toJSON(),
      stateSize: full,
      checkpointId: resources.checkpointId,
      backendIdentifier: this.source.backendIdentifier,
      maxParallelism: this.source.maxParallelism,
      meta,
      sharedFiles,
      privateFiles,
      ...(queues === undefined ? {} : { heapPriorityQueues: queues }),
    };
    return { jobManagerOwnedSnapshot: handle, checkpointedSize: uploaded, fullSize: full };
  }

  /** Uploads one file of the checkpoint, or references a confirmed upload of the same SST. */
  private async uploadOne(r: RocksNativeSnapshotResources, name: string, context: SnapshotContext, limiter: UploadLimiter): Promise<Upload> {
    const small = r.files.small.get(name);
    // Inline bytes are in the metadata: this checkpoint stores them, like an uploaded file.
    if (small !== undefined) return { private: { name, handle: byteStreamStateHandle(randomUUID(), small) }, uploaded: small.length };
    const path = r.files.paths.get(name);
    assert(path !== undefined, 'every file of the checkpoint was read or pinned');
    if (!name.endsWith('.sst')) {
      const handle = await uploadFile(path, 'EXCLUSIVE', context);
      return { private: { name, handle }, uploaded: handle.size };
    }
    const contentId = r.contentIds.get(name) ?? (await sha256File(path));
    const reuse = r.reusable.get(contentId);
    if (reuse !== undefined) return { shared: { name, contentId, handle: reuse.handle, reused: true }, uploaded: 0 };
    return await limiter.run(async () => {
      const { handle, adopted } = await uploadSst(path, name, r, this.source.verifySstsBeforeUpload, context);
      this.storageLinks = adopted;
      return { shared: { name, contentId, handle }, uploaded: handle.size };
    });
  }
}

/**
 * Uploads a new SST, verified (sst-verification.ts) unless verification is off. Adopted (hard-
 * linked) where the storage can: the verification then reads the file through its new name once
 * the link exists, while the link is made durable, and its CRC32C is the handle's: the uploaded
 * bytes are the verified ones, read once (the stream's own read-back is skipped); an SST whose
 * sync the synchronous part started is linked while that sync runs, and the adoption waits for
 * it (a failed sync removes the link; else the storage syncs the SST before the link). Copied
 * otherwise: verified first, and the copy's CRC32C must be the verified one.
 */
async function uploadSst(path: string, name: string, r: RocksNativeSnapshotResources, verify: boolean, context: SnapshotContext): Promise<{ readonly handle: StreamStateHandle; readonly adopted: boolean }> {
  const out = context.openStream(r.isCheckpoint ? 'SHARED' : 'EXCLUSIVE');
  const checksum = verify ? async (linkedPath: string) => toChecksum(await verifySstBeforeUpload(linkedPath, name, r.checkpointId, true)) : writtenChecksum(r.written.get(name));
  // A sync the synchronous part started runs on while the link is made (sourceSyncing).
  const syncing = r.syncing.get(name);
  const adopted = (await out.adoptLocalFile?.(path, { sourceSynced: r.synced.has(name), ...(syncing === undefined ? {} : { sourceSyncing: syncing }), ...(checksum === undefined ? {} : { checksum }) })) ?? null;
  if (adopted !== null) return { handle: adopted, adopted: true };
  const verified = await verifySstBeforeUpload(path, name, r.checkpointId, verify);
  const handle = await copyFile(path, out);
  checkUploadIsVerified(handle, verified, name, r.checkpointId);
  return { handle, adopted: false };
}

/**
 * Without verification, the size and CRC32C RocksDB computed while it wrote the SST: the adoption
 * then reads nothing back (a 64 MiB native conversion read every byte again, issue 16). The local
 * file is trusted as far as the unverified upload trusts it anyway; the handle still lets every
 * restore check the uploaded bytes. Undefined (read back) for an SST RocksDB wrote no checksum for.
 */
function writtenChecksum(written: FileChecksum | undefined): ((linkedPath: string) => Promise<FileChecksum>) | undefined {
  return written === undefined ? undefined : () => Promise.resolve(written);
}

function toChecksum(v: SstFileVerification | undefined): FileChecksum {
  assert(v !== undefined, 'verification ran');
  return { size: v.size, checksum: v.crc32c };
}

/** Files up to this size are read in one call (a small SST or MANIFEST); larger ones are streamed. */
const READ_WHOLE_MAX_BYTES = 1 << 20;

/**
 * Uploads a pinned private file over the inline limit (a MANIFEST, OPTIONS). Where the checkpoint
 * storage can adopt a local file (a hard link on the same local disk, see
 * CheckpointStateOutputStream.adoptLocalFile) its bytes are not copied: pinned files are never
 * modified (links to RocksDB's immutable files, or copies made for this checkpoint), and the
 * adopted handle's CRC32C is read back through the new name.
 */
async function uploadFile(path: string, scope: CheckpointedStateScope, context: SnapshotContext): Promise<StreamStateHandle> {
  const out = context.openStream(scope);
  return (await out.adoptLocalFile?.(path)) ?? (await copyFile(path, out));
}

/** Writes the local file's bytes to `out` and closes it. */
async function copyFile(path: string, out: CheckpointStateOutputStream): Promise<StreamStateHandle> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    if (size <= READ_WHOLE_MAX_BYTES) await out.write(await fh.readFile());
    // Streamed from the handle already open (no second open); the handle stays ours to close.
    else for await (const chunk of fh.createReadStream({ highWaterMark: 1 << 20, autoClose: false, start: 0 })) await out.write(chunk as Buffer);
  } finally {
    await fh.close();
  }
  return await out.closeAndGetHandle();
}

/** The meta file's bytes: inline up to INLINE_FILE_MAX_BYTES, else uploaded. */
async function uploadOrInlineBytes(bytes: Uint8Array, context: SnapshotContext): Promise<StreamStateHandle> {
  // A copy: the handle owns its bytes (the header may be a view of a larger buffer).
  if (bytes.length <= INLINE_FILE_MAX_BYTES) return byteStreamStateHandle(randomUUID(), new Uint8Array(bytes));
  const out = context.openStream('EXCLUSIVE');
  await out.write(bytes);
  return await out.closeAndGetHandle();
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}`;
}
