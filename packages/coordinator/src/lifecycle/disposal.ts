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
 * Deletes what failed checkpoints wrote, in an order that never leaves a complete-looking
 * checkpoint behind, and retries what could not be deleted after the next completion.
 */
export class CheckpointDisposal {
  private readonly failed: AbortedCheckpoint[] = [];
  /** Recently aborted checkpoints: acknowledgements that arrive late still get their files deleted. */
  private readonly aborted = new Map<number, { storage: CheckpointStorage; location: CheckpointStorageLocation }>();

  constructor(
    private readonly store: CompletedCheckpointStore | undefined,
    /** Files of a restored checkpoint this run does not own: never deleted. */
    private readonly unowned: ReadonlySet<string>,
    private readonly log: (line: string) => void,
  ) {}

  rememberAborted(checkpointId: number, storage: CheckpointStorage, location: CheckpointStorageLocation): void {
    this.aborted.set(checkpointId, { storage, location });
    if (this.aborted.size > 64) this.aborted.delete(this.aborted.keys().next().value!);
  }

  wasAborted(checkpointId: number): boolean {
    return this.aborted.has(checkpointId);
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
    if (aborted === undefined) return;
    await this.disposeAborted({ checkpointId, storage: aborted.storage, location: aborted.location, acks: [handles] });
    await discardExclusiveFiles(aborted.storage, handles);
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
