import { readFile } from 'node:fs/promises';
import { assert, ListStateDescriptor, MsgpackSerializer, type ListState } from '@flowstate/core';
import type { RuntimeContext, SnapshotContext, SourceFunction } from './functions.js';

/**
 * A bounded, partitioned log that can be read again from any offset (a Kafka topic as far as a
 * source cares): exactly-once sources store offsets in checkpoints and replay from them.
 */
export interface ReplayableLog<T> {
  readonly partitions: number;
  length(partition: number): number;
  read(partition: number, offset: number): T;
}

/** A log whose records are computed from (partition, offset): deterministic and free to replay. */
export function sequenceLog<T>(partitions: number, recordsPerPartition: number, make: (partition: number, offset: number) => T): ReplayableLog<T> {
  assert(Number.isInteger(partitions) && partitions >= 1, `partitions ${partitions} >= 1`);
  return { partitions, length: () => recordsPerPartition, read: make };
}

/** An in-memory log over arrays, one array per partition. */
export function arrayLog<T>(partitions: readonly (readonly T[])[]): ReplayableLog<T> {
  return { partitions: partitions.length, length: (p) => partitions[p]!.length, read: (p, o) => partitions[p]![o]! };
}

interface PartitionOffset {
  partition: number;
  offset: number;
}

const OFFSETS = new ListStateDescriptor<PartitionOffset>('source-partition-offsets', new MsgpackSerializer<PartitionOffset>());

/**
 * Reads a ReplayableLog. Offsets of the partitions a subtask owns live in operator list state, so
 * after rescaling the partitions (with their offsets) are split evenly over the new subtasks.
 */
export class LogSource<T> implements SourceFunction<T> {
  private state: ListState<PartitionOffset> | undefined;
  private assigned: PartitionOffset[] = [];
  private log: ReplayableLog<T> | undefined;

  constructor(private readonly openLog: () => ReplayableLog<T> | Promise<ReplayableLog<T>>) {}

  async initializeState(ctx: RuntimeContext): Promise<void> {
    this.log = await this.openLog();
    this.state = ctx.getListState(OFFSETS);
    if (ctx.isRestored) {
      this.assigned = this.state.get().map((e) => ({ partition: e.partition, offset: e.offset }));
      for (const a of this.assigned) assert(a.partition < this.log.partitions && a.offset <= this.log.length(a.partition), `restored offset ${a.offset} of partition ${a.partition} is inside the log`);
    } else {
      for (let p = ctx.subtaskIndex; p < this.log.partitions; p += ctx.parallelism) this.assigned.push({ partition: p, offset: 0 });
    }
  }

  /**
   * The next record of the owned partition furthest behind (the first of equals), so that the
   * partitions advance evenly: from equal offsets that is round robin. The choice depends on the
   * offsets alone, which the checkpoint holds: a restore resumes the failure-free run's order.
   * A turn position kept beside them (session 35 and before) restarted at the first partition on
   * every restore, so each failover with a barrier between two partitions' reads put one partition
   * a record further ahead, for good: past the watermark's out-of-orderness bound the other
   * partition's records came late and windows dropped them.
   */
  pollNext(): T | undefined {
    const log = this.log!;
    let behind: PartitionOffset | undefined;
    for (const a of this.assigned) {
      if (a.offset < log.length(a.partition) && (behind === undefined || a.offset < behind.offset)) behind = a;
    }
    if (behind === undefined) return undefined;
    const v = log.read(behind.partition, behind.offset);
    behind.offset++;
    return v;
  }

  snapshotState(_ctx: SnapshotContext): void {
    this.state!.update(this.assigned.map((a) => ({ ...a })));
  }

  /** Current offsets, for tests and demos. */
  offsets(): ReadonlyArray<Readonly<PartitionOffset>> {
    return this.assigned;
  }
}

/** Lines of text files, one partition per file, the line number as the offset. */
export function fileLinesLog(paths: readonly string[]): () => Promise<ReplayableLog<string>> {
  return async () => {
    const files = await Promise.all(
      paths.map(async (p) => {
        const text = await readFile(p, 'utf8');
        const lines = text.split('\n');
        if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
        return lines;
      }),
    );
    return arrayLog(files);
  };
}
