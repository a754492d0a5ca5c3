import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, it } from 'node:test';
import { crc32c, dropIdleReadBackBuffers, ForwardingFileSystem, MemoryFileSystem, READ_BACK_BYTES, readBackChecksum, writeCommitted, type ReadRange } from '../src/index.js';

/** Records the buffer each read was lent, and how many reads are in flight with it. */
class LendingRecorder extends ForwardingFileSystem {
  readonly lent: Uint8Array[] = [];
  readonly inFlight = new Set<Uint8Array>();
  override async read(path: string, range?: ReadRange): Promise<Uint8Array> {
    const into = range?.into;
    assert.ok(into !== undefined, 'read-backs lend a buffer');
    assert.ok(!this.inFlight.has(into), 'no buffer is lent to two reads at once');
    this.lent.push(into);
    this.inFlight.add(into);
    try {
      return await super.read(path, range);
    } finally {
      this.inFlight.delete(into);
    }
  }
}

async function withFiles(sizes: readonly number[]): Promise<{ fs: LendingRecorder; files: Uint8Array[] }> {
  const mem = new MemoryFileSystem();
  const files = sizes.map((n) => new Uint8Array(randomBytes(n)));
  for (const [i, bytes] of files.entries()) await writeCommitted(mem, `f${i}`, (w) => w.write(bytes));
  return { fs: new LendingRecorder(mem), files };
}

describe('readBackChecksum', () => {
  beforeEach(() => dropIdleReadBackBuffers());

  it('is the CRC32C of the whole file, across chunks and for an empty file', async () => {
    const sizes = [0, 1, READ_BACK_BYTES, 2 * READ_BACK_BYTES + 17];
    const { fs, files } = await withFiles(sizes);
    for (const [i, bytes] of files.entries()) assert.equal(await readBackChecksum(fs, `f${i}`, bytes.length), crc32c(bytes), `${sizes[i]} bytes`);
  });

  it('lends one chunk buffer to read-backs one after the other (no fresh memory per file)', async () => {
    const { fs, files } = await withFiles([1000, READ_BACK_BYTES + 5, 3]);
    for (const [i, bytes] of files.entries()) await readBackChecksum(fs, `f${i}`, bytes.length);
    assert.equal(fs.lent.length, 4);
    assert.equal(new Set(fs.lent).size, 1, 'the buffer of a finished read-back serves the next');
  });

  it('gives read-backs running at once buffers of their own', async () => {
    const { fs, files } = await withFiles([2 * READ_BACK_BYTES, 2 * READ_BACK_BYTES, 3 * READ_BACK_BYTES]);
    const crcs = await Promise.all(files.map((bytes, i) => readBackChecksum(fs, `f${i}`, bytes.length)));
    assert.deepEqual(crcs, files.map((b) => crc32c(b)));
    assert.equal(new Set(fs.lent).size, 3);
  });
});
