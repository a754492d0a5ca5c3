import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import fs, { promises as fsp, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { StorageError } from '@flowstate/core';
import { LocalFileSystem } from '@flowstate/storage-local';
import { tempRoots } from './temp-roots.js';

const freshRoot = tempRoots('flowstate-range-reads-');
const MIB = 1 << 20;
/** This test's directory: the child resolves the workspace packages from here. */
const here = dirname(fileURLToPath(import.meta.url));

function patterned(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i + 4 <= n; i += 4) b.writeUInt32BE(i >>> 0, i);
  b.fill(0xab, n - (n % 4));
  return b;
}

type ReadCallback = (err: NodeJS.ErrnoException | null, bytesRead: number, buffer: Uint8Array) => void;

/**
 * Replaces `fs.read` (the positional read LocalFileSystem's range reads use on a descriptor) for
 * the duration of `body`, through syncBuiltinESMExports so that the package's named import sees
 * it: `wrap` gets the real read (as a promise of the bytes read) and the position asked for;
 * `body` sees how many reads are in flight, and the most that were at once.
 */
async function withReads(
  wrap: (read: () => Promise<number>, position: number) => Promise<number>,
  body: (reads: { inFlight: () => number; most: () => number }) => Promise<void>,
): Promise<void> {
  const real = fs.read;
  let inFlight = 0;
  let most = 0;
  const patched = (fd: number, buffer: Uint8Array, offset: number, length: number, position: number, callback: ReadCallback): void => {
    most = Math.max(most, ++inFlight);
    const read = () => new Promise<number>((done, fail) => real(fd, buffer, offset, length, position, (e, n) => (e === null ? done(n) : fail(e))));
    wrap(read, position).then(
      (n) => {
        inFlight--;
        callback(null, n, buffer);
      },
      (e: NodeJS.ErrnoException) => {
        inFlight--;
        callback(e, 0, buffer);
      },
    );
  };
  (fs as { read: unknown }).read = patched;
  syncBuiltinESMExports();
  try {
    await body({ inFlight: () => inFlight, most: () => most });
  } finally {
    (fs as { read: unknown }).read = real;
    syncBuiltinESMExports();
  }
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('LocalFileSystem range reads in parts', () => {
  it('reads a large range in parts at once, into the lent buffer, byte for byte; a small one in one part', async () => {
    const root = freshRoot();
    const data = patterned(9 * MIB + 12);
    writeFileSync(join(root, 'f'), data);
    const storage = new LocalFileSystem(root);
    const positions: number[] = [];
    // Every part waits a turn of the event loop first: the parts of one range overlap however fast the disk is.
    await withReads(
      async (read, position) => {
        positions.push(position);
        await turn();
        return read();
      },
      async (reads) => {
        const into = new Uint8Array(8 * MIB);
        const offset = MIB + 4;
        const length = 7 * MIB + 3;
        const got = await storage.read('f', { offset, length, into });
        assert.equal(got.buffer, into.buffer, 'read into the lent buffer');
        assert.ok(Buffer.from(got.buffer, got.byteOffset, got.length).equals(data.subarray(offset, offset + length)));
        assert.equal(new Set(positions).size, 4, `four parts: ${positions.join(', ')}`);
        assert.equal(reads.most(), 4, 'the parts read at once');
        positions.length = 0;
        const small = await storage.read('f', { offset: 3, length: 2 * MIB - 1 });
        assert.ok(Buffer.from(small).equals(data.subarray(3, 2 * MIB + 2)));
        assert.deepEqual(positions, [3], 'under two parts\' worth: one read');
      },
    );
  });

  it('a part that fails fails the read only once every part settled (none still writes into the buffer or uses the closed descriptor)', async () => {
    const root = freshRoot();
    writeFileSync(join(root, 'f'), patterned(4 * MIB));
    const storage = new LocalFileSystem(root);
    // The first part fails at once; the parts past 2 MiB are still reading a while after.
    await withReads(
      async (read, position) => {
        if (position === 0) throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
        if (position >= 2 * MIB) await new Promise((resolve) => setTimeout(resolve, 100));
        return read();
      },
      async (reads) => {
        await assert.rejects(storage.read('f', { offset: 0, length: 4 * MIB }), (e: unknown) => e instanceof StorageError && /read failed: EIO/.test(e.message));
        assert.equal(reads.inFlight(), 0, 'no part still reading after the failure');
      },
    );
  });

  it('a file cut short under a read in parts is a StorageError naming its new size', async () => {
    const root = freshRoot();
    const path = join(root, 'f');
    writeFileSync(path, patterned(4 * MIB));
    const storage = new LocalFileSystem(root);
    // Cut after the open (and any size check), before the parts read.
    await withReads(
      async (read) => {
        await fsp.truncate(path, MIB);
        return read();
      },
      async (reads) => {
        await assert.rejects(storage.read('f', { offset: 0, length: 4 * MIB, into: new Uint8Array(4 * MIB) }), (e: unknown) => e instanceof StorageError && /outside the file of 1048576 bytes/.test(e.message));
        assert.equal(reads.inFlight(), 0);
      },
    );
  });

  it('a FIFO under a file\'s name is a StorageError for a range read and empty for a whole-file read, not a read that never returns', () => {
    const root = freshRoot();
    execFileSync('mkfifo', [join(root, 'f')]);
    // In a child process killed after 20 s: no writer ever opens the FIFO, so a blocking open on the
    // calling thread would never return, and nothing in this process could fail the test then.
    const script = `
      import { LocalFileSystem } from '@flowstate/storage-local';
      import { StorageError } from '@flowstate/core';
      const storage = new LocalFileSystem(${JSON.stringify(root)});
      for (const range of [{ offset: 0, length: 16 }, undefined]) {
        try { console.log('read ' + (await storage.read('f', range)).length); }
        catch (e) { console.log(e instanceof StorageError ? 'StorageError: ' + e.message : 'other: ' + String(e)); }
      }`;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: here, encoding: 'utf8', timeout: 20_000 });
    assert.equal(out.signal, null, 'the read returned (the child was not killed)');
    const [ranged, whole] = out.stdout.trim().split('\n');
    assert.match(ranged ?? '', /^StorageError: .*ESPIPE/, 'a range read');
    // A FIFO without a writer reads as empty (end of file): its handle's size and checksum reject that.
    assert.equal(whole, 'read 0', 'a whole-file read returns');
  });
});
