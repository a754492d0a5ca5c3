/**
 * The savepoint suite's state and its own reads and writes of it (savepoint.ts; also
 * savepoint-profile.ts, which profiles exactly these): `ValueState<Uint8Array>`
 * 'blob' of operator 'blobs', 4080-byte values under string keys, bootstrapped through the heap
 * backend at parallelism 4, maxParallelism 128.
 */
import { randomBytes } from 'node:crypto';
import { BytesSerializer, Serializers, ValueStateDescriptor } from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { SavepointReader, SavepointWriter, type SavepointWriteResult } from '@flowstate/savepoint';

export const VALUE_BYTES = 4096 - 16;
export const STATE = new ValueStateDescriptor('blob', BytesSerializer.INSTANCE);

export interface BlobEntries {
  readonly entries: number;
  /** The same entries on every call: values are views into one random pool of at most 8 MiB. */
  readonly data: () => Generator<{ key: string; value: Uint8Array }>;
}

/** Entries of `stateBytes` bytes of state (a value and about 16 bytes of key and framing each). */
export function blobEntries(stateBytes: number): BlobEntries {
  const entries = Math.ceil(stateBytes / (VALUE_BYTES + 16));
  const pool = randomBytes(Math.min(8 << 20, Math.max(VALUE_BYTES * 4, stateBytes)));
  function* data(): Generator<{ key: string; value: Uint8Array }> {
    for (let i = 0; i < entries; i++) {
      const off = (i * 7919 * 64) % (pool.length - VALUE_BYTES);
      yield { key: `key-${i}`, value: pool.subarray(off, off + VALUE_BYTES) };
    }
  }
  return { entries, data };
}

/** Our write: the entries bootstrapped through the heap backend, written as a canonical savepoint to `dir`. */
export function writeBlobSavepoint(dir: string, data: BlobEntries['data']): Promise<SavepointWriteResult> {
  return SavepointWriter.newSavepoint({ maxParallelism: 128, stateBackend: new FsStateBackend() })
    .withKeyedOperator('blobs', {
      data: data(),
      keySelector: (e) => e.key,
      keySerializer: Serializers.string,
      parallelism: 4,
      bootstrap: { processElement: (e, ctx) => ctx.getState(STATE).update(e.value) },
    })
    .write(dir);
}

/**
 * Our read of the savepoint in `dir`, every entry decoded: 'copies' is the plain async iterator
 * (readKeyedState, one entry at a time, values copied), 'views' readKeyedStateBlocks({ views: true })
 * (values valid until the next entry). Fails unless it read `entries` values of VALUE_BYTES each.
 */
export async function readBlobSavepoint(dir: string, entries: number, values: 'copies' | 'views'): Promise<void> {
  const r = await SavepointReader.load(dir);
  let n = 0;
  const check = (value: Uint8Array) => {
    n++;
    if (value.length !== VALUE_BYTES) throw new Error(`read a value of ${value.length} B`);
  };
  if (values === 'views') {
    for await (const block of r.readKeyedStateBlocks<string, unknown, Uint8Array>('blobs', 'blob', { views: true })) for (const e of block) check(e.value);
  } else {
    for await (const e of r.readKeyedState<string, unknown, Uint8Array>('blobs', 'blob')) check(e.value);
  }
  if (n !== entries) throw new Error(`read ${n} entries, wrote ${entries}`);
}
