import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { DataInputDeserializer, DataOutputSerializer } from '../src/index.js';

it('DataOutputSerializer with initial capacity 0 grows (it used to double 0 forever)', async () => {
  // In a worker: the old growth loop never returned, and only a worker can be stopped from outside.
  const url = new URL('../src/index.js', import.meta.url).href;
  const worker = new Worker(`import(${JSON.stringify(url)}).then(({ DataOutputSerializer }) => { const o = new DataOutputSerializer(0); o.writeUint32(7); require('node:worker_threads').parentPort.postMessage(o.length); });`, { eval: true });
  const length = await Promise.race([
    new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    }),
    new Promise<string>((resolve) => setTimeout(() => resolve('still growing after 5 s'), 5000).unref()),
  ]);
  await worker.terminate();
  assert.equal(length, 4);
});

it('writeFloat32 writes a big-endian IEEE float', () => {
  const o = new DataOutputSerializer();
  o.writeFloat32(1.5);
  assert.deepEqual([...o.toBytes()], [0x3f, 0xc0, 0, 0]);
  assert.equal(new DataView(o.toBytes().buffer).getFloat32(0), 1.5);
  assert.equal(new DataInputDeserializer(o.toBytes()).readUint32(), 0x3fc00000);
});
