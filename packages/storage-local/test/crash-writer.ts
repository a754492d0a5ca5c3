/**
 * Child process for crash-gc.test.ts: completes checkpoint 1, then dies by SIGKILL in the middle
 * of checkpoint 2 (some files committed, one half-written, no _metadata).
 */
import { CompletedCheckpointStore, serializeCheckpointMetadata, type StreamStateHandle } from '@flowstate/core';
import { localCheckpointStorage } from '@flowstate/storage-local';

const root = process.argv[2]!;
const storage = localCheckpointStorage(root);
const store = await CompletedCheckpointStore.recover(storage, 1);

async function writeStream(factory: { createCheckpointStateOutputStream(s: 'EXCLUSIVE' | 'SHARED'): { write(b: Uint8Array): Promise<void>; closeAndGetHandle(): Promise<StreamStateHandle> } }, scope: 'EXCLUSIVE' | 'SHARED', fill: number, size: number): Promise<StreamStateHandle> {
  const out = factory.createCheckpointStateOutputStream(scope);
  await out.write(new Uint8Array(size).fill(fill));
  return out.closeAndGetHandle();
}

const loc1 = await storage.initializeLocationForCheckpoint(1);
const exclusive1 = await writeStream(loc1.streamFactory, 'EXCLUSIVE', 1, 1000);
const shared1 = await writeStream(loc1.streamFactory, 'SHARED', 2, 2000);
const metadata = { checkpointId: 1, kind: 'CHECKPOINT' as const, timestamp: 1, operators: [{ uid: 'op', parallelism: 1, maxParallelism: 128, subtasks: [{ subtaskIndex: 0, keyed: [{ type: 'test-incremental', keyGroupRange: { start: 0, end: 127 }, stateSize: 3000, shared: [shared1], private: [exclusive1] }], operator: [] }] }] };
await store.add({ checkpointId: 1, pointer: (await loc1.finalizeCheckpoint(serializeCheckpointMetadata(metadata))).pointer, metadata });

const loc2 = await storage.initializeLocationForCheckpoint(2);
await writeStream(loc2.streamFactory, 'EXCLUSIVE', 3, 500);
await writeStream(loc2.streamFactory, 'SHARED', 4, 700);
// A large shared upload, killed half way: the local file system leaves its temporary file behind.
const big = loc2.streamFactory.createCheckpointStateOutputStream('SHARED');
await big.write(new Uint8Array(4 << 20).fill(5));
await big.write(new Uint8Array(4 << 20).fill(6));
process.stdout.write('about to crash\n');
process.kill(process.pid, 'SIGKILL');
