/**
 * Snapshots a backend has taken but neither seen confirmed nor aborted. Past this many the oldest is
 * forgotten, and with it every reuse (see `forgetOldest`): notifications may never arrive, and the
 * bookkeeping must not grow without limit.
 */
export const MAX_UNCONFIRMED_SNAPSHOTS = 64;

interface SnapshotRecord<F> {
  /** What the snapshot was allowed to reuse (decided in its synchronous part). */
  readonly reusable: ReadonlyMap<string, F>;
  /** Every shared file it references, once its asynchronous part finished. */
  files: ReadonlyMap<string, F> | undefined;
}

/**
 * Decides, in a backend, which already uploaded shared files the next incremental checkpoint may
 * reference instead of uploading them again: only files guaranteed to outlive it. Files are keyed
 * by content (e.g. an SST's unique id); `physicalKeyOf` names the uploaded copy.
 *
 * A file may be reused by checkpoint p if
 * 1. it belongs to the newest checkpoint B this backend knows completed (notifications of older
 *    checkpoints that arrive late, out of order, are ignored); never an unconfirmed upload
 *    (FLINK-25395); and
 * 2. every snapshot taken after B and before p that may still complete references the very same
 *    copy. Otherwise one of them, completing first (its notification may be late or never come),
 *    would subsume B and delete that copy while p still points to it: two concurrent checkpoints
 *    can upload the same content twice, and the registry keeps only the copy still used.
 * The registry on the coordinator holds back deletions while a checkpoint is pending, and refuses
 * (FLINK-29913) a reuse it cannot vouch for; this rule makes that refusal not happen in practice.
 */
export class SharedFileReuseTracker<F> {
  private confirmedId = Number.NEGATIVE_INFINITY;
  private confirmed: ReadonlyMap<string, F> = new Map();
  private readonly snapshots = new Map<number, SnapshotRecord<F>>();

  constructor(private readonly physicalKeyOf: (file: F) => string) {}

  /** Called in the synchronous part of checkpoint `checkpointId`: what it may reference. */
  reusableFor(checkpointId: number): ReadonlyMap<string, F> {
    const out = new Map<string, F>();
    for (const [content, file] of this.confirmed) {
      if (this.heldByEveryLaterSnapshot(content, file, checkpointId)) out.set(content, file);
    }
    if (checkpointId > this.confirmedId) {
      this.snapshots.set(checkpointId, { reusable: out, files: undefined });
      if (this.snapshots.size > MAX_UNCONFIRMED_SNAPSHOTS) this.forgetOldest();
    }
    return out;
  }

  private heldByEveryLaterSnapshot(content: string, file: F, before: number): boolean {
    const pk = this.physicalKeyOf(file);
    for (const [id, s] of this.snapshots) {
      if (id <= this.confirmedId || id >= before) continue;
      const held = s.reusable.get(content);
      if (held === undefined || this.physicalKeyOf(held) !== pk) return false;
    }
    return true;
  }

  /**
   * Without its record, the constraint an old snapshot puts on reuse is lost: act as if it had
   * completed with nothing reusable, so that nothing is reused until a newer one is confirmed.
   */
  private forgetOldest(): void {
    const oldest = Math.min(...this.snapshots.keys());
    this.confirmedId = oldest;
    this.confirmed = new Map();
    for (const id of [...this.snapshots.keys()]) if (id <= oldest) this.snapshots.delete(id);
  }

  /** The asynchronous part finished: `files` are all shared files the snapshot references. */
  snapshotFinished(checkpointId: number, files: ReadonlyMap<string, F>): void {
    const s = this.snapshots.get(checkpointId);
    if (s !== undefined) s.files = files;
  }

  /** notifyCheckpointComplete: the files of the newest completed checkpoint become reusable. */
  checkpointCompleted(checkpointId: number): void {
    if (checkpointId <= this.confirmedId) return;
    // No record (nothing to snapshot, or taken before a restore): nothing is reusable.
    this.confirmed = this.snapshots.get(checkpointId)?.files ?? new Map();
    this.confirmedId = checkpointId;
    for (const id of [...this.snapshots.keys()]) if (id <= checkpointId) this.snapshots.delete(id);
  }

  /** notifyCheckpointAborted, or the snapshot failed: it will never complete, so it holds nothing back. */
  checkpointAborted(checkpointId: number): void {
    this.snapshots.delete(checkpointId);
  }

  /** Snapshots still tracked (for tests of the bound). */
  get unconfirmedSnapshots(): number {
    return this.snapshots.size;
  }
}
