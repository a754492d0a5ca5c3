/**
 * Keyed word count on the Fs backend (heap state, asynchronous snapshots), checkpointing to a
 * local directory. It processes part of the input at parallelism 3, takes a checkpoint, keeps
 * going, "crashes" (drops every in-memory object), restores the latest completed checkpoint at
 * parallelism 2, replays the input from the checkpointed source offset, and checks that the
 * counts equal those of an uninterrupted run.
 *
 * This drives the backends by hand, the way a stream engine would; the reference runtime with
 * barriers comes in @flowstate/runtime.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '@flowstate/core';
import { deserializeCheckpointMetadata, serializeCheckpointMetadata } from '@flowstate/core/checkpoint';
import { DataOutputSerializer, Serializers } from '@flowstate/core/serialization';
import {
  assignToKeyGroup,
  CHECKPOINT,
  computeKeyGroupRangeForOperatorIndex,
  repartitionOperatorState,
  type KeyedStateBackend,
  type OperatorStateBackend,
} from '@flowstate/core/spi';
import { ListStateDescriptor, ValueStateDescriptor, VoidNamespace, type ValueState } from '@flowstate/core/state';
import type { CheckpointStorage, KeyedStateHandle, OperatorStateHandle } from '@flowstate/core/storage';
import { FsStateBackend } from '@flowstate/heap';
import { localCheckpointStorage } from '@flowstate/storage-local';

const MAX_PARALLELISM = 128;
const COUNT = new ValueStateDescriptor<number>('count', Serializers.int32, 0);
const OFFSET = new ListStateDescriptor<number>('source-offset', Serializers.int32);

/** Deterministic input: lines of words drawn with a seeded PRNG (mulberry32). */
function makeInput(seed: number, lines: number): string[] {
  const rand = mulberry32(seed);
  const vocab = 'state stream flink barrier checkpoint savepoint key group backend rocksdb heap snapshot restore offset window merge list map value union broadcast'.split(' ');
  return Array.from({ length: lines }, () => Array.from({ length: 3 + Math.floor(rand() * 8) }, () => vocab[Math.floor(rand() * rand() * vocab.length)]!).join(' '));
}

interface Subtask {
  readonly keyed: KeyedStateBackend<string>;
  readonly count: ValueState<number>;
}

class WordCountJob {
  private constructor(
    readonly parallelism: number,
    private readonly subtasks: Subtask[],
    private readonly source: OperatorStateBackend,
    public offset: number,
  ) {}

  static async start(parallelism: number, restore?: { keyed: KeyedStateHandle[]; operator: OperatorStateHandle[][]; storage: CheckpointStorage }): Promise<WordCountJob> {
    const backend = new FsStateBackend();
    const subtasks: Subtask[] = [];
    for (let i = 0; i < parallelism; i++) {
      const keyed = await backend.createKeyedStateBackend({
        operatorIdentifier: `word-count[${i}]`,
        keySerializer: Serializers.string,
        maxParallelism: MAX_PARALLELISM,
        keyGroupRange: computeKeyGroupRangeForOperatorIndex(MAX_PARALLELISM, parallelism, i),
        // Every new subtask is offered all old handles; it reads only the key groups it owns.
        restoreState: restore?.keyed ?? [],
        ...(restore ? { stateHandleReader: restore.storage } : {}),
      });
      subtasks.push({ keyed, count: keyed.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT) });
    }
    // The source runs at parallelism 1; its offset lives in operator list state, like a Kafka offset.
    const source = await backend.createOperatorStateBackend({
      operatorIdentifier: 'source',
      restoreState: restore ? repartitionOperatorState(restore.operator, 1)[0]! : [],
      ...(restore ? { stateHandleReader: restore.storage } : {}),
    });
    const offset = source.getListState(OFFSET).get()[0] ?? 0;
    return new WordCountJob(parallelism, subtasks, source, offset);
  }

  private route(word: string): Subtask {
    const out = new DataOutputSerializer(32);
    Serializers.string.serialize(word, out);
    const g = assignToKeyGroup(out.bytesView(), MAX_PARALLELISM);
    const i = Math.floor((g * this.parallelism) / MAX_PARALLELISM);
    return this.subtasks[i]!;
  }

  process(lines: readonly string[], until: number): void {
    for (; this.offset < until; this.offset++) {
      for (const word of lines[this.offset]!.split(' ')) {
        const t = this.route(word);
        t.keyed.setCurrentKey(word);
        t.count.update((t.count.value() ?? 0) + 1);
      }
    }
  }

  /** Snapshots every subtask (sync part now, async part awaited) and completes the checkpoint. */
  async checkpoint(storage: CheckpointStorage, id: number): Promise<{ pointer: string; syncMs: number; bytes: number }> {
    const location = await storage.initializeLocationForCheckpoint(id);
    this.source.getListState(OFFSET).update([this.offset]);
    const ts = Date.now();
    const keyedFutures = this.subtasks.map((t) => t.keyed.snapshot(id, ts, location.streamFactory, CHECKPOINT));
    const sourceFuture = this.source.snapshot(id, ts, location.streamFactory, CHECKPOINT);
    const syncMs = keyedFutures.reduce((a, f) => a + f.syncDurationMs, sourceFuture.syncDurationMs);
    const keyed = await Promise.all(keyedFutures.map((f) => f.result));
    const src = await sourceFuture.result;
    const metadata = serializeCheckpointMetadata({
      checkpointId: id,
      kind: 'CHECKPOINT',
      timestamp: ts,
      operators: [
        {
          uid: 'word-count',
          parallelism: this.parallelism,
          maxParallelism: MAX_PARALLELISM,
          subtasks: keyed.map((r, i) => ({ subtaskIndex: i, keyed: r.jobManagerOwnedSnapshot ? [r.jobManagerOwnedSnapshot] : [], operator: [] })),
        },
        { uid: 'source', parallelism: 1, maxParallelism: 1, subtasks: [{ subtaskIndex: 0, keyed: [], operator: src.jobManagerOwnedSnapshot ? [src.jobManagerOwnedSnapshot] : [] }] },
      ],
    });
    const done = await location.finalizeCheckpoint(metadata);
    for (const t of this.subtasks) t.keyed.notifyCheckpointComplete(id);
    return { pointer: done.pointer, syncMs, bytes: keyed.reduce((a, r) => a + r.fullSize, src.fullSize) };
  }

  counts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const t of this.subtasks) {
      for (const k of t.keyed.getKeys('count', VoidNamespace)) {
        t.keyed.setCurrentKey(k);
        out.set(k, t.count.value() ?? 0);
      }
    }
    return out;
  }

  dispose(): void {
    for (const t of this.subtasks) t.keyed.dispose();
    this.source.dispose();
  }
}

async function main(): Promise<void> {
  const lines = makeInput(42, 20_000);
  const expected = new Map<string, number>();
  for (const l of lines) for (const w of l.split(' ')) expected.set(w, (expected.get(w) ?? 0) + 1);

  const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'flowstate-demo-'));
  const storage = localCheckpointStorage(dir);
  console.log(`flowstate word count demo: ${lines.length} lines, checkpoints in ${dir}`);

  const job = await WordCountJob.start(3);
  job.process(lines, 6_000);
  const c1 = await job.checkpoint(storage, 1);
  console.log(`checkpoint 1 at offset 6000 (parallelism 3): ${c1.bytes} bytes, synchronous part ${c1.syncMs.toFixed(2)} ms -> ${dir}/${c1.pointer}`);
  job.process(lines, 11_000);
  const c2 = await job.checkpoint(storage, 2);
  console.log(`checkpoint 2 at offset 11000 (parallelism 3): ${c2.bytes} bytes, synchronous part ${c2.syncMs.toFixed(2)} ms -> ${dir}/${c2.pointer}`);
  job.process(lines, 14_500);
  // A checkpoint that never completes: its files exist, its _metadata does not.
  const orphan = await storage.initializeLocationForCheckpoint(3);
  const stream = orphan.streamFactory.createCheckpointStateOutputStream('EXCLUSIVE');
  await stream.write(new Uint8Array(1024));
  await stream.closeAndGetHandle();
  console.log('crash at offset 14500 while checkpoint 3 was being written (in-memory state is lost)');
  job.dispose();

  const completed = await storage.listCompletedCheckpoints();
  const latest = completed[completed.length - 1]!;
  const resolved = await storage.resolveCheckpoint(latest);
  const meta = deserializeCheckpointMetadata(resolved.metadata, `${dir}/${latest}/_metadata`);
  const wc = meta.operators.find((o) => o.uid === 'word-count')!;
  const src = meta.operators.find((o) => o.uid === 'source')!;
  const restored = await WordCountJob.start(2, {
    keyed: wc.subtasks.flatMap((s) => [...s.keyed]),
    operator: src.subtasks.map((s) => [...s.operator]),
    storage: resolved.reader as CheckpointStorage,
  });
  console.log(`restored ${latest} (completed checkpoints: ${completed.join(', ')}) at parallelism 2, source offset ${restored.offset}`);
  restored.process(lines, lines.length);
  const counts = restored.counts();
  restored.dispose();

  const words = [...expected.keys()].sort((a, b) => expected.get(b)! - expected.get(a)! || a.localeCompare(b));
  console.log('\nword         restored  uninterrupted');
  for (const w of words.slice(0, 10)) console.log(`${w.padEnd(12)} ${String(counts.get(w)).padStart(8)}  ${String(expected.get(w)).padStart(13)}`);
  const identical = counts.size === expected.size && words.every((w) => counts.get(w) === expected.get(w));
  console.log(`\n${words.length} distinct words; counts identical to an uninterrupted run: ${identical}`);
  if (!identical) process.exit(1);
}

await main();
