import { strict as assert } from 'node:assert';
import { promises as fsp, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { StorageError } from '@flowstate/core';
import { LocalFileSystem } from '@flowstate/storage-local';
import { tempRoots } from './temp-roots.js';

const freshRoot = tempRoots('flowstate-range-reads-');
const MIB = 1 << 20;

function patterned(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i + 4 <= n; i += 4) b.writeUInt32BE(i >>> 0, i);
  b.fill(0xab, n - (n % 4));
  return b;
}

type Read = (this: FileHandle, ...args: Parameters<FileHandle['read']>) => ReturnType<FileHandle['read']>;

/**
 * Replaces FileHandle.read for the duration of `body`: `wrap` gets the real read and the position
 * asked for; `body` sees how many reads are in flight, and the most that were at once.
 */
async function withReads(
  root: string,
  wrap: (read: () => ReturnType<FileHandle['read']>, position: number) => ReturnType<FileHandle['read']>,
  body: (reads: { inFlight: () => number; most: () => number }) => Promise<void>,
): Promise<void> {
  const fh = await fsp.open(root, 'r');
  const proto = Object.getPrototypeOf(fh) as FileHandle;
  await fh.close();
  const read = proto.read as unknown as Read;
  let inFlight = 0;
  let most = 0;
  proto.read = async function (this: FileHandle, ...args: Parameters<FileHandle['read']>) {
    most = Math.max(most, ++inFlight);
    try {
      return await wrap(() => read.apply(this, args), Number((args as unknown[])[3]));
    } finally {
      inFlight--;
    }
  } as FileHandle['read'];
  try {
    await body({ inFlight: () => inFlight, most: () => most });
  } finally {
    proto.read = read as unknown as FileHandle['read'];
  }
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('LocalFileSystem range reads in parts', () => {
  it('reads a large range in parts at once, into the lent buffer, byte for byte; a small one in one part', async () => {
    const root = freshRoot();
    const data = patterned(9 * MIB + 12);
    writeFileSync(join(root, 'f'), data);
    const fs = new LocalFileSystem(root);
    const positions: number[] = [];
    // Every part waits a turn of the event loop first: the parts of one range overlap however fast the disk is.
    await withReads(
      root,
      async (read, position) => {
        positions.push(position);
        await turn();
        return read();
      },
      async (reads) => {
        const into = new Uint8Array(8 * MIB);
        const offset = MIB + 4;
        const length = 7 * MIB + 3;
        const got = await fs.read('f', { offset, length, into });
        assert.equal(got.buffer, into.buffer, 'read into the lent buffer');
        assert.ok(Buffer.from(got.buffer, got.byteOffset, got.length).equals(data.subarray(offset, offset + length)));
        assert.equal(new Set(positions).size, 4, `four parts: ${positions.join(', ')}`);
        assert.equal(reads.most(), 4, 'the parts read at once');
        positions.length = 0;
        const small = await fs.read('f', { offset: 3, length: 2 * MIB - 1 });
        assert.ok(Buffer.from(small).equals(data.subarray(3, 2 * MIB + 2)));
        assert.deepEqual(positions, [3], 'under two parts\' worth: one read');
      },
    );
  });

  it('a part that fails fails the read only once every part settled (none still writes into the buffer or uses the closed handle)', async () => {
    const root = freshRoot();
    writeFileSync(join(root, 'f'), patterned(4 * MIB));
    const fs = new LocalFileSystem(root);
    // The first part fails at once; the parts past 2 MiB are still reading a while after.
    await withReads(
      root,
      async (read, position) => {
        if (position === 0) throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
        if (position >= 2 * MIB) await new Promise((resolve) => setTimeout(resolve, 100));
        return read();
      },
      async (reads) => {
        await assert.rejects(fs.read('f', { offset: 0, length: 4 * MIB }), (e: unknown) => e instanceof StorageError && /read failed: EIO/.test(e.message));
        assert.equal(reads.inFlight(), 0, 'no part still reading after the failure');
      },
    );
  });

  it('a file cut short under a read in parts is a StorageError naming its new size', async () => {
    const root = freshRoot();
    const path = join(root, 'f');
    writeFileSync(path, patterned(4 * MIB));
    const fs = new LocalFileSystem(root);
    // Cut after the open (and any size check), before the parts read.
    await withReads(
      root,
      async (read) => {
        await fsp.truncate(path, MIB);
        return read();
      },
      async (reads) => {
        await assert.rejects(fs.read('f', { offset: 0, length: 4 * MIB, into: new Uint8Array(4 * MIB) }), (e: unknown) => e instanceof StorageError && /outside the file of 1048576 bytes/.test(e.message));
        assert.equal(reads.inFlight(), 0);
      },
    );
  });
});
