import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, mock } from 'node:test';
import { AlternatingReadBuffers, BlockField, CorruptCheckpointError, dropIdleReadBuffers, IDLE_READ_BUFFERS_MS, IllegalStateUsageError, Serializers, ValueStateDescriptor, type StateHandleReader, type TypeSerializer } from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import '@flowstate/storage-local';
import { SavepointReader, SavepointWriter } from '../src/index.js';
import { freshDirs, replaceFileResealed } from './helpers.js';

const dir = freshDirs();

/**
 * A savepoint of `n` keys at parallelism 4: four handles read one after the other, so the reader's
 * two alternating read buffers are each reused (the third handle is read into the first's buffer).
 */
async function savepointOf<V>(serializer: TypeSerializer<V>, value: (i: number) => V, n = 200, parallelism = 4): Promise<string> {
  const path = join(dir(), 'sp');
  const state = new ValueStateDescriptor<V>('v', serializer);
  await SavepointWriter.newSavepoint({ maxParallelism: 16, stateBackend: new FsStateBackend() })
    .withKeyedOperator('op', {
      data: Array.from({ length: n }, (_, i) => i),
      keySelector: (i) => `key-${i}`,
      keySerializer: Serializers.string,
      parallelism,
      bootstrap: { processElement: (i, ctx) => ctx.getState(state).update(value(i)) },
    })
    .write(path);
  return path;
}

/** A slow storage under the reader: each read resolves 30 ms late, so a read-ahead is still running when the consumer stops. */
function slowReads(r: SavepointReader): { inFlight: () => number } {
  let inFlight = 0;
  const reader = r.dir.reader as StateHandleReader;
  const readRange = reader.readRange.bind(reader);
  reader.readRange = async (h, o, l, id, into) => {
    inFlight++;
    try {
      const bytes = await readRange(h, o, l, id, into);
      await new Promise((resolve) => setTimeout(resolve, 30));
      return bytes;
    } finally {
      inFlight--;
    }
  };
  return { inFlight: () => inFlight };
}

/** The buffer each of the reader's range reads is lent (undefined: none), in order, from now on. */
function lentBuffers(r: SavepointReader): Array<Uint8Array | undefined> {
  const lent: Array<Uint8Array | undefined> = [];
  const reader = r.dir.reader as StateHandleReader;
  const readRange = reader.readRange.bind(reader);
  reader.readRange = (h, o, l, id, into) => {
    lent.push(into);
    return readRange(h, o, l, id, into);
  };
  return lent;
}

function bytesOf(i: number): Uint8Array {
  return Uint8Array.from({ length: 64 + (i % 50) }, (_, j) => (i * 31 + j) & 0xff);
}

/**
 * Makes the string value of record `j` of the `nth` key-group block invalid UTF-8 (checksums
 * resealed, so that the reader decodes it; the value is [varuint length][UTF-8]). Returns how
 * many entries come before it.
 */
async function corruptStringValue(path: string, nth: number, j: number): Promise<number> {
  const r = await SavepointReader.load(path);
  let before = 0;
  let n = 0;
  for await (const { block, source } of r.keyedBlocks('op')) {
    if (n++ < nth) {
      before += block.fields.count;
      continue;
    }
    assert.ok(block.fields.count > j + 1, 'the corrupt value is not the last of its block');
    const file = (source.handle.stream as { path: string }).path;
    const bytes = Buffer.from(readFileSync(join(path, file)));
    bytes[block.offset + block.fields.start(j, BlockField.value) + 1] = 0xff;
    replaceFileResealed(path, file, bytes);
    return before + j;
  }
  assert.fail(`no block ${nth}`);
}

describe('SavepointReader read buffers (reused between requests)', () => {
  it('readKeyedState: byte-array values kept until the end are intact (copies, not views into a reused buffer)', async () => {
    const r = await SavepointReader.load(await savepointOf(Serializers.bytes, bytesOf));
    const kept = new Map<string, Uint8Array>();
    for await (const e of r.readKeyedState<string, unknown, Uint8Array>('op', 'v')) kept.set(e.key, e.value);
    assert.equal(kept.size, 200);
    for (const [k, v] of kept) assert.deepEqual(v, bytesOf(Number(k.slice(4))), k);
  });

  it('readKeyedState: MessagePack values, whose binaries are views into the bytes read, are intact at the end (their buffers are not reused)', async () => {
    const r = await SavepointReader.load(await savepointOf<unknown>(Serializers.msgpack, (i) => ({ i, b: bytesOf(i) })));
    const kept = new Map<string, { i: number; b: Uint8Array }>();
    for await (const e of r.readKeyedState<string, unknown, { i: number; b: Uint8Array }>('op', 'v')) kept.set(e.key, e.value);
    assert.equal(kept.size, 200);
    for (const [k, v] of kept) assert.deepEqual(Buffer.from(v.b), Buffer.from(bytesOf(v.i)), k);
  });

  it('a second keyed read on the same reader reads into the buffers of the first, which finished; the first read\'s copies stay intact', async () => {
    const r = await SavepointReader.load(await savepointOf(Serializers.bytes, bytesOf));
    const lent = lentBuffers(r);
    const first = new Map<string, Uint8Array>();
    for await (const e of r.readKeyedState<string, unknown, Uint8Array>('op', 'v')) first.set(e.key, e.value);
    const firstLent = new Set(lent.splice(0));
    const second = new Map<string, Buffer>();
    for await (const block of r.readKeyedStateBlocks<string, unknown, Uint8Array>('op', 'v', { views: true })) for (const e of block) second.set(e.key, Buffer.from(e.value));
    assert.ok(lent.length > 2 && lent.every((b) => b !== undefined && firstLent.has(b)), 'the second read borrows only the first read\'s buffers');
    for (const [k, v] of first) {
      assert.deepEqual(v, bytesOf(Number(k.slice(4))), k);
      assert.deepEqual(second.get(k), Buffer.from(v), k);
    }
  });

  it('another reader\'s keyed read reads into the buffers of the last finished read, until they were idle for IDLE_READ_BUFFERS_MS', async () => {
    const path = await savepointOf(Serializers.bytes, bytesOf);
    /** Reads every entry with a new reader (views), checks them, and returns the buffers its block requests were lent. */
    const readAll = async (): Promise<Uint8Array[]> => {
      const r = await SavepointReader.load(path);
      const lent = lentBuffers(r);
      let n = 0;
      for await (const block of r.readKeyedStateBlocks<string, unknown, Uint8Array>('op', 'v', { views: true })) {
        for (const e of block) {
          assert.deepEqual(e.value, bytesOf(Number(e.key.slice(4))), e.key);
          n++;
        }
      }
      assert.equal(n, 200);
      // The headers' reads lend none; every block request (one per handle here) one of the two buffers.
      const blocks = lent.filter((b): b is Uint8Array => b !== undefined);
      assert.equal(blocks.length, 4);
      return blocks;
    };
    // Mocked before any give-back (no real drop timer is armed), and from an empty pool.
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    dropIdleReadBuffers();
    try {
      const first = new Set(await readAll());
      const second = await readAll();
      assert.ok(second.every((b) => first.has(b)), "the second reader borrows only the first reader's buffers");
      mock.timers.tick(IDLE_READ_BUFFERS_MS);
      const third = await readAll();
      assert.ok(third.every((b) => !first.has(b)), 'buffers idle for IDLE_READ_BUFFERS_MS were dropped, not lent again');
    } finally {
      dropIdleReadBuffers();
      mock.timers.reset();
    }
  });

  it('two keyed reads at the same time never share a read-buffer pair, even when an idle pair is waiting', async () => {
    const path = await savepointOf(Serializers.bytes, bytesOf);
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    dropIdleReadBuffers();
    try {
      // A finished read: the process-wide slot holds its pair.
      for await (const block of (await SavepointReader.load(path)).readKeyedStateBlocks('op', 'v', { views: true })) for (const _ of block);
      const ra = await SavepointReader.load(path);
      const lentA = lentBuffers(ra);
      const a = ra.readKeyedStateBlocks<string, unknown, Uint8Array>('op', 'v', { views: true });
      const firstA = await a.next();
      assert.equal(firstA.done, false);
      // Read B runs to its end while A holds its first block (its bytes are views into A's buffer).
      const rb = await SavepointReader.load(path);
      const lentB = lentBuffers(rb);
      let n = 0;
      for await (const block of rb.readKeyedStateBlocks<string, unknown, Uint8Array>('op', 'v', { views: true })) {
        for (const e of block) {
          assert.deepEqual(e.value, bytesOf(Number(e.key.slice(4))), `B ${e.key}`);
          n++;
        }
      }
      const check = (block: Iterable<{ key: string; value: Uint8Array }>) => {
        for (const e of block) {
          assert.deepEqual(e.value, bytesOf(Number(e.key.slice(4))), `A ${e.key}`);
          n++;
        }
      };
      check(firstA.value as Iterable<{ key: string; value: Uint8Array }>);
      for (let next = await a.next(); next.done !== true; next = await a.next()) check(next.value);
      assert.equal(n, 400);
      const a2 = new Set(lentA.filter((b) => b !== undefined));
      assert.ok(a2.size > 0 && lentB.some((b) => b !== undefined));
      assert.ok(lentB.every((b) => b === undefined || !a2.has(b)), "B never reads into A's buffers");
    } finally {
      dropIdleReadBuffers();
      mock.timers.reset();
    }
  });

  it('a read broken off early returns only once its read-ahead is done, so the next read cannot lend a buffer still being filled', async () => {
    // One handle of more than 8 MiB (COALESCED_READ_BYTES): two requests, the second read ahead.
    const big = (i: number) => new Uint8Array(45_000).fill(i & 0xff);
    const r = await SavepointReader.load(await savepointOf(Serializers.bytes, big, 200, 1));
    const reads = slowReads(r);
    for await (const block of r.readKeyedStateBlocks<string, unknown, Uint8Array>('op', 'v', { views: true })) {
      for (const e of block) assert.deepEqual(e.value, big(Number(e.key.slice(4))));
      break;
    }
    assert.equal(reads.inFlight(), 0, 'no read into a lent buffer is running after return()');
    let n = 0;
    for await (const e of r.readKeyedState<string, unknown, Uint8Array>('op', 'v')) {
      assert.deepEqual(e.value, big(Number(e.key.slice(4))), e.key);
      n++;
    }
    assert.equal(n, 200);
  });

  it("the next handle's first request starts before the last block of the current handle is consumed", async () => {
    const r = await SavepointReader.load(await savepointOf(Serializers.bytes, bytesOf));
    await r.keyedStates('op'); // the headers are read first: below, only block requests are recorded
    const handles = r.keyedHandles('op');
    const name = (i: number) => {
      const s = handles[i]!.stream;
      return s.type === 'file' ? s.path : s.name;
    };
    const requested: string[] = [];
    const reader = r.dir.reader as StateHandleReader;
    const readRange = reader.readRange.bind(reader);
    reader.readRange = (h, o, l, id, into) => {
      requested.push(h.type === 'file' ? h.path : h.name);
      return readRange(h, o, l, id, into);
    };
    let lastBlocks = 0;
    for await (const { block, source } of r.keyedBlocks('op', new AlternatingReadBuffers())) {
      const i = handles.indexOf(source.handle);
      if (block.keyGroup !== source.handle.keyGroupRange.end || i + 1 === handles.length) continue;
      lastBlocks++;
      assert.ok(requested.includes(name(i + 1)), `handle ${i + 1}'s first request is in flight while handle ${i}'s last block is consumed`);
    }
    assert.equal(lastBlocks, handles.length - 1);
    assert.deepEqual(requested, handles.map((_, i) => name(i)), 'one request per (small) handle, in order');
  });

  it("a read broken off early returns only once the next handle's first request is done", async () => {
    const r = await SavepointReader.load(await savepointOf(Serializers.bytes, bytesOf));
    await r.keyedStates('op');
    const reads = slowReads(r);
    // The first handle is one request: once it is read, the second handle's is started.
    for await (const block of r.readKeyedStateBlocks<string, unknown, Uint8Array>('op', 'v', { views: true })) {
      for (const e of block) assert.deepEqual(e.value, bytesOf(Number(e.key.slice(4))));
      break;
    }
    assert.equal(reads.inFlight(), 0, 'no read into a lent buffer is running after return()');
  });

  it('the headers of all keyed handles are read at once, not one handle after the other', async () => {
    const r = await SavepointReader.load(await savepointOf(Serializers.bytes, bytesOf));
    let inFlight = 0;
    let most = 0;
    // Every header read is held until all four are in flight, so a fast read cannot finish before
    // the last one starts (no dependence on I/O timing). Sequential reads would never get there:
    // the timer only ends that wait, so the test then fails instead of hanging.
    let releaseAll!: () => void;
    const allStarted = new Promise<void>((resolve) => (releaseAll = resolve));
    const deadlockBreaker = setTimeout(releaseAll, 5_000);
    const reader = r.dir.reader as StateHandleReader;
    const readRange = reader.readRange.bind(reader);
    reader.readRange = async (h, o, l, id, into) => {
      most = Math.max(most, ++inFlight);
      if (inFlight === 4) releaseAll();
      await allStarted;
      try {
        return await readRange(h, o, l, id, into);
      } finally {
        inFlight--;
      }
    };
    assert.equal((await r.keyedStates('op')).length, 1);
    clearTimeout(deadlockBreaker);
    assert.equal(most, 4, 'four handles, four header reads in flight together');
  });

  it('readKeyedStateBlocks: a block iterated after the next one was requested is an IllegalStateUsageError, not stale bytes', async () => {
    const r = await SavepointReader.load(await savepointOf(Serializers.bytes, bytesOf));
    for (const views of [true, false]) {
      const blocks: Array<Iterable<unknown>> = [];
      for await (const b of r.readKeyedStateBlocks('op', 'v', { views })) blocks.push(b);
      assert.ok(blocks.length > 2);
      assert.throws(() => [...blocks[0]!], IllegalStateUsageError, `views: ${views}`);
      // The last block's read is not reused by anything: iterating it late still fails, by the same rule.
      assert.throws(() => [...blocks[blocks.length - 1]!], IllegalStateUsageError, `views: ${views}`);
    }
  });

  it('readKeyedState: next() calls made before the last one settled are served in order, as a generator does: every entry once (with reused buffers and without)', async () => {
    for (const [name, serializer] of [['int32 (reused buffers)', Serializers.int32], ['msgpack', Serializers.msgpack]] as const) {
      const r = await SavepointReader.load(await savepointOf<unknown>(serializer, (i) => i));
      const sequential: unknown[] = [];
      for await (const e of r.readKeyedState('op', 'v')) sequential.push(e.value);
      assert.equal(sequential.length, 200, name);
      // One entry ahead: a call is always in flight while the consumer handles the last one.
      const it = r.readKeyedState('op', 'v');
      const ahead: unknown[] = [];
      const inFlight = [it.next(), it.next()];
      for (let res = await inFlight.shift()!; res.done !== true; res = await inFlight.shift()!) {
        ahead.push(res.value.value);
        inFlight.push(it.next());
      }
      assert.deepEqual(ahead, sequential, name);
      // All at once: two more calls than entries, the last two are the end.
      const atOnce = r.readKeyedState('op', 'v');
      const results = await Promise.all(Array.from({ length: 202 }, () => atOnce.next()));
      assert.deepEqual(results.slice(0, 200).map((x) => (x.done === true ? 'done' : x.value.value)), sequential, name);
      assert.deepEqual(results.slice(200), [{ done: true, value: undefined }, { done: true, value: undefined }], name);
      // return() while a block is pulled: served after the pull, and nothing after it.
      const stopped = r.readKeyedState('op', 'v');
      const [firstEntry, returned, afterReturn] = await Promise.all([stopped.next(), stopped.return!(), stopped.next()]);
      assert.deepEqual([firstEntry.done, firstEntry.value.value], [false, sequential[0]], name);
      assert.deepEqual([returned, afterReturn], [{ done: true, value: undefined }, { done: true, value: undefined }], name);
    }
  });

  it('readKeyedState: a decode error finishes the iterator, as it would a generator (the rest of the block and later blocks are not read), and gives its read buffers back', async () => {
    // Record 1 of the first block fails within the block, record 0 of the second when its block is pulled.
    for (const [nth, j] of [[0, 1], [1, 0]] as const) {
      const path = await savepointOf(Serializers.string, (i) => `value-${i}`);
      const before = await corruptStringValue(path, nth, j);
      const r = await SavepointReader.load(path);
      dropIdleReadBuffers();
      const lent = lentBuffers(r);
      const it = r.readKeyedState('op', 'v');
      let read = 0;
      await assert.rejects(async () => {
        for (let res = await it.next(); res.done !== true; res = await it.next()) read++;
      }, CorruptCheckpointError);
      assert.equal(read, before, `block ${nth}, record ${j}`);
      assert.deepEqual(await it.next(), { done: true, value: undefined }, `block ${nth}, record ${j}: nothing after the error`);
      // Header reads lend no buffer; block requests one of the read's pair.
      const first = new Set(lent.splice(0).filter((b) => b !== undefined));
      assert.ok(first.size > 0, 'the read borrowed buffers');
      for await (const e of r.readKeyedStateBlocks('op', 'v')) void e;
      // Its first request is the failed read's first, lent the same buffer unless that read kept its pair (a later one may grow).
      const second = lent.find((b) => b !== undefined);
      assert.ok(second !== undefined && first.has(second), 'the failed read gave its buffers back: the next read borrows them');
    }
  });

  it('readKeyedStateBlocks: a block kept after a break is stale too (a later read may reuse its buffer)', async () => {
    const r = await SavepointReader.load(await savepointOf(Serializers.bytes, bytesOf));
    let kept: Iterable<unknown> | undefined;
    for await (const b of r.readKeyedStateBlocks('op', 'v', { views: true })) {
      kept = b;
      break;
    }
    for await (const e of r.readKeyedState('op', 'v')) void e;
    assert.throws(() => [...kept!], IllegalStateUsageError);
  });
});
