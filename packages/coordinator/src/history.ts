import { checkpointHistoryEntry, CheckpointHistoryWriter, FsCheckpointStorage, type CheckpointHistoryEntry, type CheckpointHistorySubtask, type CheckpointStorage, type FileSystem } from '@flowstate/core';
import { describe } from './errors.js';

/** The history's file system: the given one, none (`false`), or by default that of a checkpoint-layout FsCheckpointStorage. */
export function historyFileSystemOf(storage: CheckpointStorage | undefined, explicit?: FileSystem | false): FileSystem | undefined {
  if (explicit !== undefined) return explicit || undefined;
  return storage instanceof FsCheckpointStorage && storage.layout === 'checkpoints' ? storage.fs : undefined;
}

/**
 * Told about every checkpoint as it happens (e.g. @flowstate/metrics' CheckpointMetrics, which
 * exports Flink's checkpoint metrics). Called synchronously; a listener that throws is logged and
 * never fails a checkpoint.
 */
export interface CheckpointEventListener {
  checkpointTriggered?(checkpointId: number): void;
  checkpointCompleted?(entry: CheckpointHistoryEntry): void;
  checkpointFailed?(entry: CheckpointHistoryEntry): void;
  /** State was restored from a checkpoint or savepoint at `timestampMs` (Flink's lastCheckpointRestoreTimestamp). */
  restored?(timestampMs: number): void;
}

/**
 * Records every completed and failed checkpoint in the persisted history (see docs/formats.md) and
 * tells the listener. Writing is best effort: a storage failure is logged, never fails the checkpoint.
 */
export class CheckpointHistoryRecorder {
  private readonly writer: CheckpointHistoryWriter | undefined;

  constructor(
    fs: FileSystem | undefined,
    private readonly log: (line: string) => void,
    private readonly listener: CheckpointEventListener = {},
  ) {
    this.writer = fs && new CheckpointHistoryWriter(fs);
  }

  triggered(checkpointId: number): void {
    this.notify(() => this.listener.checkpointTriggered?.(checkpointId));
  }

  restored(timestampMs: number): void {
    this.notify(() => this.listener.restored?.(timestampMs));
  }

  async record(base: Parameters<typeof checkpointHistoryEntry>[0], subtasks: readonly CheckpointHistorySubtask[]): Promise<CheckpointHistoryEntry> {
    const entry = checkpointHistoryEntry(base, subtasks);
    this.notify(() => (entry.status === 'COMPLETED' ? this.listener.checkpointCompleted?.(entry) : this.listener.checkpointFailed?.(entry)));
    if (this.writer === undefined) return entry;
    try {
      await this.writer.write(entry);
    } catch (e) {
      this.log(`could not write the history of checkpoint ${base.checkpointId}: ${describe(e)}`);
    }
    return entry;
  }

  private notify(call: () => void): void {
    try {
      call();
    } catch (e) {
      this.log(`checkpoint event listener failed: ${describe(e)}`);
    }
  }
}
