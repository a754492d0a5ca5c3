import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BytesSerializer, DataInputDeserializer, Serializers, ValueStateDescriptor, type StateHandleReader } from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import '@flowstate/storage-local';
import { SavepointReader, SavepointWriter } from '../src/index.js';
import { VALUE_COPY_RUN_BYTES } from '../src/byte-copies.js';
import { freshDirs } from './helpers.js';

const dir = freshDirs();
const N = 300;

/** Lengths from empty to larger than a copy run, so that runs of many values, single-value runs and empty values all occur. */
function lengthOf(i: number): number {
  if (i % 97 === 5) return VALUE_COPY_RUN_BYTES + 1000 + i;
  if (i % 13 === 0) return 0;
  // Mostly a fraction of a run (several per run), some up to a little more than a run (a run of their own).
  return (i * 7919) % (i % 7 === 1 ? VALUE_COPY_RUN_BYTES + VALUE_COPY_RUN_BYTES / 4 : VALUE_COPY_RUN_BYTES / 4);
}

function bytesOf(i: number): Uint8Array {
  const n = lengthOf(i);
  const b = new Uint8Array(n);
  for (let j = 0; j < n; j++) b[j] = (i * 31 + j * 7) & 0xff;
  return b;
}

/** Two states in one operator, so that the blocks interleave records of the byte-array state with another's. */
async function savepoint(): Promise<string> {
  const path = join(dir(), 'sp');
  const bytes = new ValueStateDescriptor('b', Serializers.bytes);
  const other = new ValueStateDescriptor('s', Serializers.string);
  await SavepointWriter.newSavepoint({ maxParallelism: 16, stateBackend: new FsStateBackend() })
    .withKeyedOperator('op', {
      data: Array.from({ length: N }, (_, i) => i),
      keySelector: (i) => `key-${i}`,
      keySerializer: Serializers.string,
      parallelism: 2,
      bootstrap: {
        processElement: (i, ctx) => {
          ctx.getState(other).update(`other-${i}`);
          if (i % 11 !== 3) ctx.getState(bytes).update(bytesOf(i));
        },
      },
    })
    .write(path);
  return path;
}

describe('SavepointReader: copied byte-array values decoded over copies of runs of value fields', () => {
  it('every value equals what the general path (BytesSerializer.deserialize of the record) decodes, in the same order', async () => {
    const r = await SavepointReader.load(await savepoint());
    const index = (await r.keyedStates('op')).findIndex((s) => s.name === 'b');
    const general: Array<[string, Uint8Array]> = [];
    for await (const { block, stateIndexMap } of r.keyedBlocks('op')) {
      for (const rec of block.records) {
        if (stateIndexMap[rec.stateIndex] !== index) continue;
        const key = Serializers.string.deserialize(new DataInputDeserializer(rec.key));
        general.push([key, BytesSerializer.INSTANCE.deserialize(new DataInputDeserializer(rec.value!))]);
      }
    }
    const copied: Array<[string, Uint8Array]> = [];
    for await (const e of r.readKeyedState<string, unknown, Uint8Array>('op', 'b')) copied.push([e.key, e.value]);
    assert.equal(copied.length, N - Math.ceil((N - 3) / 11));
    assert.deepEqual(
      copied.map(([k, v]) => [k, Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')]),
      general.map(([k, v]) => [k, Buffer.from(v).toString('hex')]),
    );
    for (const [k, v] of copied) assert.deepEqual(Buffer.from(v.buffer, v.byteOffset, v.byteLength), Buffer.from(bytesOf(Number(k.slice(4)))), k);
  });

  it('entries decoded in place in the block (copied and views, bytes and strings) equal the general path over block.records', async () => {
    const r = await SavepointReader.load(await savepoint());
    const states = await r.keyedStates('op');
    for (const name of ['b', 's']) {
      const index = states.findIndex((s) => s.name === name);
      const valueSerializer = name === 'b' ? BytesSerializer.INSTANCE : Serializers.string;
      const nsSerializer = states[index]!.namespaceSerializerSnapshot.restoreSerializer();
      const show = (v: unknown) => (v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') : v);
      const general: unknown[] = [];
      for await (const { block, stateIndexMap } of r.keyedBlocks('op')) {
        for (const rec of block.records) {
          if (stateIndexMap[rec.stateIndex] !== index) continue;
          const key = Serializers.string.deserialize(new DataInputDeserializer(rec.key));
          general.push([key, nsSerializer.deserialize(new DataInputDeserializer(rec.namespace)), show(valueSerializer.deserialize(new DataInputDeserializer(rec.value!)))]);
        }
      }
      const copied: unknown[] = [];
      for await (const e of r.readKeyedState<string, unknown, unknown>('op', name)) copied.push([e.key, e.namespace, show(e.value)]);
      const views: unknown[] = [];
      for await (const block of r.readKeyedStateBlocks<string, unknown, unknown>('op', name, { views: true })) for (const e of block) views.push([e.key, e.namespace, show(e.value)]);
      assert.ok(general.length > 0);
      assert.deepEqual(copied, general, name);
      assert.deepEqual(views, general, `${name}, views`);
    }
  });

  it('values share no memory with the read buffers, and one kept value keeps at most one run (or its own bytes) alive', async () => {
    const r = await SavepointReader.load(await savepoint());
    const lent = new Set<ArrayBufferLike>();
    const reader = r.dir.reader as StateHandleReader;
    const readRange = reader.readRange.bind(reader);
    reader.readRange = async (h, o, l, id, into) => {
      const got = await readRange(h, o, l, id, into);
      lent.add(got.buffer);
      return got;
    };
    const kept: Uint8Array[] = [];
    for await (const e of r.readKeyedState<string, unknown, Uint8Array>('op', 'b')) kept.push(e.value);
    assert.ok(lent.size > 0);
    const runs = new Set<ArrayBufferLike>();
    for (const v of kept) {
      assert.ok(!lent.has(v.buffer), 'a value is a view into a read buffer');
      // The run holds whole value fields: each value's length prefix (1-3 bytes) precedes it.
      assert.ok(v.buffer.byteLength <= Math.max(VALUE_COPY_RUN_BYTES, v.length + 3), `a run of ${v.buffer.byteLength} bytes for a value of ${v.length}`);
      runs.add(v.buffer);
    }
    assert.ok(runs.size < kept.length / 4, `values are packed into runs (${runs.size} runs for ${kept.length} values)`);
  });

  it('runs stay at 32 KiB or less: a small kept value keeps at most 32 KiB alive (256 KiB runs were a fresh mmap per run in glibc)', async () => {
    const r = await SavepointReader.load(await savepoint());
    let small = 0;
    for await (const e of r.readKeyedState<string, unknown, Uint8Array>('op', 'b')) {
      if (e.value.length > 1000) continue;
      small++;
      assert.ok(e.value.buffer.byteLength <= 32 << 10, `a ${e.value.length}-byte value keeps a run of ${e.value.buffer.byteLength} bytes alive`);
    }
    assert.ok(small > 20);
  });

  it('kept values stay intact after later blocks are read, and writing to one changes no other', async () => {
    const r = await SavepointReader.load(await savepoint());
    const kept: Array<[number, Uint8Array]> = [];
    for await (const e of r.readKeyedState<string, unknown, Uint8Array>('op', 'b')) kept.push([Number(e.key.slice(4)), e.value]);
    assert.ok(new Set(kept.map(([, v]) => v.buffer)).size < kept.length, 'some values share a run');
    // Each value is checked, then overwritten: a value overlapping an earlier one would show the overwrite.
    for (const [i, v] of kept) {
      assert.deepEqual(Buffer.from(v), Buffer.from(bytesOf(i)), `key-${i}`);
      v.fill(0xee);
    }
  });
  it('4 KiB values share a run several at a time: 8 KiB runs held two, one ArrayBuffer per two values', async () => {
    const path = join(dir(), 'sp4k');
    const state = new ValueStateDescriptor('b', Serializers.bytes);
    await SavepointWriter.newSavepoint({ maxParallelism: 4, stateBackend: new FsStateBackend() })
      .withKeyedOperator('op', {
        data: Array.from({ length: 64 }, (_, i) => i),
        keySelector: (i) => `key-${i}`,
        keySerializer: Serializers.string,
        parallelism: 1,
        bootstrap: { processElement: (i, ctx) => ctx.getState(state).update(new Uint8Array(4080).fill(i)) },
      })
      .write(path);
    const r = await SavepointReader.load(path);
    const runs = new Set<ArrayBufferLike>();
    let n = 0;
    for await (const e of r.readKeyedState<string, unknown, Uint8Array>('op', 'b')) {
      n++;
      runs.add(e.value.buffer);
      assert.deepEqual(Buffer.from(e.value), Buffer.alloc(4080, Number(e.key.slice(4))), e.key);
    }
    assert.equal(n, 64);
    // 64 values in 4 key-group blocks, at most 8 per 32 KiB run: at least 8 runs, fewer than 16.
    assert.ok(runs.size >= 8 && runs.size < 16, `${runs.size} runs for 64 values of 4080 bytes`);
  });
});
