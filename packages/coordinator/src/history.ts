import { checkpointHistoryEntry, CheckpointHistoryWriter, FsCheckpointStorage, type CheckpointHistoryEntry, type CheckpointHistorySubtask, type CheckpointStorage, type FileSystem } from '@flowstate/core';
import { describe } from './errors.js';

/** The history's file system: the given one, none (`false`), or by default that of a checkpoint-layout FsCheckpointStorage. */
export function historyFileSystemOf(storage: CheckpointStorage | undefined, explicit?: FileSystem | false): FileSystem | undefined {
  if (explicit !== undefined) return explicit || undefined;
  return storage instanceof FsCheckpointStorage && storage.layout === 'checkpoints' ? storage.fs : undefined;
}

/**
 * Records every completed and failed checkpoint in the persisted history (see docs/formats.md).
 * Writing it is best effort: a storage failure is logged, never fails the checkpoint.
 */
export class CheckpointHistoryRecorder {
  private readonly writer: CheckpointHistoryWriter | undefined;

  constructor(
    fs: FileSystem | undefined,
    private readonly log: (line: string) => void,
  ) {
    this.writer = fs && new CheckpointHistoryWriter(fs);
  }

  async record(base: Parameters<typeof checkpointHistoryEntry>[0], subtasks: readonly CheckpointHistorySubtask[]): Promise<CheckpointHistoryEntry | undefined> {
    if (this.writer === undefined) return undefined;
    const entry = checkpointHistoryEntry(base, subtasks);
    try {
      await this.writer.write(entry);
    } catch (e) {
      this.log(`could not write the history of checkpoint ${base.checkpointId}: ${describe(e)}`);
    }
    return entry;
  }
}
