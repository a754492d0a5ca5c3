import type { CheckpointStorage, CheckpointStorageLocation, CompletedCheckpointStore } from '@flowstate/core';
import { discardExclusiveFiles, discardUnregisteredShared, type AcknowledgedHandles } from '../discard.js';
import { describe } from '../errors.js';

/** What an aborted checkpoint left: its location and the acknowledgements (their shared files). */
export interface AbortedCheckpoint {
  readonly checkpointId: number;
  readonly storage: CheckpointStorage;
  readonly location: CheckpointStorageLocation;
  readonly acks: readonly AcknowledgedHandles[];
}

/**
 * Ids as disjoint ranges, ascending: consecutive aborted checkpoints (a run of expiries) take one
 * entry. At most `max` ranges: beyond, the oldest is forgotten (an acknowledgement that late leaks
 * its files until collectGarbage runs).
 */
class IdRanges {
  private readonly ranges: Array<{ from: number; to: number }> = [];
  constructor(private readonly max: number) {}

  has(id: number): boolean {
    return this.ranges.some((r) => r.from <= id && id <= r.to);
  }

  /** Adds `id`; returns the range forgotten to keep the bound, if any. */
  add(id: number): { from: number; to: number } | undefined {
    const i = this.ranges.findIndex((r) => id <= r.to + 1);
    const r = this.ranges[i];
    if (r !== undefined && r.from <= id && id <= r.to) return undefined;
    if (r !== undefined && id === r.to + 1) {
      r.to = id;
      const next = this.ranges[i + 1];
      if (next !== undefined && next.from === id + 1) r.to = this.ranges.splice(i + 1, 1)[0]!.to;
    } else if (r !== undefined && id === r.from - 1) r.from = id;
    else this.ranges.splice(i < 0 ? this.ranges.length : i, 0, { from: id, to: id });
    return this.ranges.length > this.max ? this.ranges.shift() : undefined;
  }
}

/**
 * Deletes what failed checkpoints wrote, in an order that never leaves a complete-looking
 * checkpoint behind, and retries what could not be deleted after the next completion.
 */
export class CheckpointDisposal {
  /** Ranges of aborted checkpoints kept (a few numbers each). */
  static readonly ABORTED_RANGES = 1024;
  private readonly failed: AbortedCheckpoint[] = [];
  /** Recently aborted checkpoints and savepoints, with their locations (a late write may recreate the directory). */
  private readonly aborted = new Map<number, { storage: CheckpointStorage; location: CheckpointStorageLocation }>();
  /**
   * Every aborted checkpoint of the store's storage, also once it left `aborted`: a late
   * acknowledgement of it is deleted however many were aborted since (as Flink discards any
   * acknowledgement of a checkpoint that is not pending). The aborted ids themselves, not "every id
   * not pending": an id that completed never enters, so nothing a completed checkpoint references
   * is deleted (handle paths are relative to a storage, so unknown ids cannot be discarded either).
   */
  private readonly abortedIds = new IdRanges(CheckpointDisposal.ABORTED_RANGES);

  constructor(
    private readonly store: CompletedCheckpointStore | undefined,
    /** Files of a restored checkpoint this run does not own: never deleted. */
    private readonly unowned: ReadonlySet<string>,
    private readonly log: (line: string) => void,
  ) {}

  rememberAborted(checkpointId: number, storage: CheckpointStorage, location: CheckpointStorageLocation): void {
    this.aborted.set(checkpointId, { storage, location });
    if (storage === this.store?.storage) {
      const forgotten = this.abortedIds.add(checkpointId);
      if (forgotten !== undefined) this.log(`late acknowledgements of aborted checkpoints ${forgotten.from}..${forgotten.to} are no longer recognised (their files are left to collectGarbage)`);
    }
    if (this.aborted.size > 64) this.aborted.delete(this.oldestAbortedEntry());
  }

  wasAborted(checkpointId: number): boolean {
    return this.aborted.has(checkpointId) || this.abortedIds.has(checkpointId);
  }

  /** The oldest entry a late acknowledgement can do without (one abortedIds still knows), else the oldest. */
  private oldestAbortedEntry(): number {
    for (const id of this.aborted.keys()) if (this.abortedIds.has(id)) return id;
    return this.aborted.keys().next().value!;
  }

  /**
   * Its location (`_metadata` first, then the exclusive files) and, only once that succeeded, the
   * shared files it uploaded that no completed checkpoint uses. A failure is retried later.
   */
  async disposeAborted(d: AbortedCheckpoint): Promise<void> {
    try {
      await d.location.disposeOnFailure();
    } catch (e) {
      this.failed.push(d);
      throw e;
    }
    for (const ack of d.acks) await this.discardUnregisteredShared(d.storage, ack);
  }

  /** Files written after an abort disposed the location: the directory again, then the files. */
  async discardLate(checkpointId: number, handles: AcknowledgedHandles): Promise<void> {
    const aborted = this.aborted.get(checkpointId);
    if (aborted !== undefined) {
      await this.disposeAborted({ checkpointId, storage: aborted.storage, location: aborted.location, acks: [handles] });
      await discardExclusiveFiles(aborted.storage, handles);
      return;
    }
    const storage = this.store?.storage;
    if (storage === undefined || !this.abortedIds.has(checkpointId)) return;
    // Its location is forgotten: the storage deletes the checkpoint's directory as disposeOnFailure did (metadata first).
    await storage.discardCheckpoint(checkpointId);
    await this.discardUnregisteredShared(storage, handles);
    await discardExclusiveFiles(storage, handles);
  }

  /**
   * The exclusive files an acknowledgement references, and the shared files it uploaded that no
   * completed checkpoint uses (files of incremental checkpoints it merely reused stay).
   */
  async discardAck(storage: CheckpointStorage, ack: AcknowledgedHandles): Promise<void> {
    await discardExclusiveFiles(storage, ack);
    await this.discardUnregisteredShared(storage, ack);
  }

  async retryFailed(): Promise<void> {
    for (const d of this.failed.splice(0)) {
      await this.disposeAborted(d).catch((e: unknown) => this.log(`could not delete aborted checkpoint ${d.checkpointId} (will retry): ${describe(e)}`));
    }
  }

  private async discardUnregisteredShared(storage: CheckpointStorage, ack: object): Promise<void> {
    await discardUnregisteredShared(storage, ack, this.store?.registry, this.unowned);
  }
}
