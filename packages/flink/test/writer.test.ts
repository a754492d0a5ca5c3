import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { defaultFlinkSerializers, FlinkSavepoint, LongSerializer, rescaleFlinkSavepoint, writeFlinkSavepoint } from '../src/index.js';
import { BackgroundDataSync, IllegalStateUsageError, syncCounts } from '@flowstate/core';
import type { FileHandle } from 'node:fs/promises';
import { StreamEmitter } from '../src/writer.js';
import { metadataFiles, needsFixtures } from './fixtures.js';
import { writeOwnSavepoint } from './own-savepoint.js';

const plugin = defaultFlinkSerializers.extend().register('org.apache.flink.test.migration.TypeSerializerSnapshotMigrationITCase$TestSerializerSnapshot', (ctx) => {
  ctx.input.readUTF();
  return { serializer: { ...LongSerializer, serializerClass: 'TestSerializer' } };
});

/** Reads `dir`, writes it back re-encoded, and lists the files whose bytes differ from the input's. */
async function roundTrip(metadata: string): Promise<{ files: string[]; different: string[] }> {
  const out = mkdtempSync(join(tmpdir(), 'flowstate-flink-rt-'));
  try {
    const sp = await FlinkSavepoint.load(metadata, { registry: plugin });
    const { files } = await writeFlinkSavepoint(sp, join(out, 'sp'));
    const different = files.filter((f) => Buffer.compare(readFileSync(join(out, 'sp', f)), readFileSync(join(dirname(sp.metadataFile), f))) !== 0);
    return { files, different };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

describe('Flink savepoint writer', () => {
  for (const compression of [false, true]) {
    it(`own canonical savepoint round-trips byte for byte${compression ? ' (Snappy)' : ''}`, async () => {
      const dir = writeOwnSavepoint(30, compression);
      try {
        const r = await roundTrip(join(dir, '_metadata'));
        assert.deepEqual(r.files.sort(), ['_metadata', 'keyed-0']);
        assert.deepEqual(r.different, []);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('Flink savepoint writer (Apache Flink fixtures)', needsFixtures, () => {
  it("every fixture read and written back is byte-identical to Flink's files", async () => {
    let identical = 0;
    let files = 0;
    const failures: string[] = [];
    for (const m of metadataFiles()) {
      const r = await roundTrip(m);
      files += r.files.length;
      if (r.different.length === 0) identical++;
      else failures.push(`${m}: ${r.different.join(', ')}`);
    }
    console.log(`# byte-identical round trip: ${identical} of ${metadataFiles().length} savepoints/checkpoints (${files} files, _metadata included)`);
    assert.deepEqual(failures, []);
  });
});

describe('Flink savepoint writer failures', () => {
  it('a write that fails part-way leaves no files behind (own savepoint, corrupt second operator)', async () => {
    const { cpSync, existsSync, readdirSync, writeFileSync: wf } = await import('node:fs');
    const { writeFlinkMetadata, readFlinkMetadata } = await import('../src/index.js');
    const dir = writeOwnSavepoint(10, false);
    const out = mkdtempSync(join(tmpdir(), 'flowstate-flink-fail-'));
    try {
      // Two operators share the stream; the second one's handle claims one byte more than the file has.
      const md = readFlinkMetadata(readFileSync(join(dir, '_metadata')), 'own');
      const op = md.operators[0]!;
      const broken = { ...op, operatorId: 'ff'.repeat(16), subtasks: op.subtasks.map((s) => ({ ...s, managedKeyedState: { ...(s.managedKeyedState as never as object), stream: { type: 'relative-file', relativePath: 'keyed-copy', size: 1 } } as never })) };
      cpSync(join(dir, 'keyed-0'), join(dir, 'keyed-copy'));
      wf(join(dir, '_metadata'), writeFlinkMetadata({ ...md, operators: [op, broken] }));
      await assert.rejects(async () => writeFlinkSavepoint(await FlinkSavepoint.load(dir), join(out, 'sp')), (e: Error & { code?: string }) => e.code === 'CORRUPT_CHECKPOINT');
      assert.equal(existsSync(join(out, 'sp')), false, `left behind: ${existsSync(join(out, 'sp')) ? readdirSync(join(out, 'sp')).join(', ') : ''}`);
      // The parents it created for the output go too.
      await assert.rejects(async () => writeFlinkSavepoint(await FlinkSavepoint.load(dir), join(out, 'new', 'parent', 'sp')), (e: Error & { code?: string }) => e.code === 'CORRUPT_CHECKPOINT');
      assert.deepEqual(readdirSync(out), [], 'no directory it created is left');
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('Flink savepoint writer: unusable output directories', () => {
  const refused = (path: string, detail: RegExp) => (e: unknown) => e instanceof IllegalStateUsageError && e.message.includes(`'${path}'`) && detail.test(e.message);

  it('an output that is a file, or lies below a file, is a usage error naming it (rescale and write)', async () => {
    const { existsSync, writeFileSync: wf } = await import('node:fs');
    const dir = writeOwnSavepoint(5, false);
    const out = mkdtempSync(join(tmpdir(), 'flowstate-flink-out-'));
    try {
      const file = join(out, 'file');
      wf(file, 'keep');
      const sp = await FlinkSavepoint.load(dir);
      await assert.rejects(rescaleFlinkSavepoint(sp, file, { maxParallelism: 8 }), refused(file, /is a file/));
      await assert.rejects(rescaleFlinkSavepoint(sp, join(file, 'sp'), { maxParallelism: 8 }), refused(join(file, 'sp'), /below a file/));
      await assert.rejects(writeFlinkSavepoint(sp, join(file, 'sp')), refused(join(file, 'sp'), /below a file/));
      assert.equal(readFileSync(file, 'utf8'), 'keep');
      assert.equal(existsSync(join(out, 'sp')), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("an output inside the input savepoint's directory (or the input itself) is refused before anything is written", async () => {
    const { existsSync, readdirSync } = await import('node:fs');
    const dir = writeOwnSavepoint(5, false);
    try {
      const before = readdirSync(dir).sort();
      const sp = await FlinkSavepoint.load(join(dir, '_metadata'));
      await assert.rejects(rescaleFlinkSavepoint(sp, join(dir, 'rescaled'), { maxParallelism: 8 }), refused(join(dir, 'rescaled'), /inside the input savepoint/));
      await assert.rejects(writeFlinkSavepoint(sp, join(dir, 'a', 'b')), refused(join(dir, 'a', 'b'), /inside the input savepoint/));
      await assert.rejects(writeFlinkSavepoint(sp, `${dir}/`), /is the input savepoint/);
      assert.equal(existsSync(join(dir, 'rescaled')), false);
      assert.deepEqual(readdirSync(dir).sort(), before);
      // A sibling whose name starts with the input's is not inside it.
      const sibling = `${dir}-out`;
      try {
        await writeFlinkSavepoint(sp, sibling);
        assert.ok(existsSync(join(sibling, '_metadata')));
      } finally {
        rmSync(sibling, { recursive: true, force: true });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('StreamEmitter: background data syncs while a stream is written', () => {
  /** An emitter whose background syncs (threshold 100 bytes) the test completes or fails by hand; `fds` holds each synced file's descriptor when its sync ended. */
  function manualEmitter(dir: string) {
    const pending: Array<{ resolve: () => void; reject: (e: Error) => void; file: FileHandle }> = [];
    const fds: number[] = [];
    const sync = (file: FileHandle) =>
      new BackgroundDataSync(
        { write: (b, o, l) => file.write(b, o, l), startDataSync: () => new Promise<void>((resolve, reject) => void pending.push({ resolve: () => (fds.push(file.fd), resolve()), reject: (e) => (fds.push(file.fd), reject(e)), file })) },
        100,
      );
    return { em: new StreamEmitter(dir, sync), pending, fds };
  }
  const tick = () => new Promise<void>((r) => setImmediate(r));

  it("a stream's final fsync goes through core's syncDescriptor (not a pool-only FileHandle.sync)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowstate-flink-sync-'));
    try {
      const before = syncCounts();
      await new StreamEmitter(dir).write('a', new Uint8Array(10));
      const after = syncCounts();
      assert.equal(after.pool + after.threads - (before.pool + before.threads), 1);
      assert.equal(readFileSync(join(dir, 'a')).length, 10);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a failed background sync fails the stream; a fill that throws while one runs closes the file only after it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowstate-flink-bg-'));
    try {
      const { em, pending, fds } = manualEmitter(dir);
      const failed = em.writeStreaming('a', async (write) => {
        await write(new Uint8Array(100));
        await write(new Uint8Array(1));
      });
      while (pending.length === 0) await tick();
      pending[0]!.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      await assert.rejects(failed, /EIO/);
      const thrown = em.writeStreaming('b', async (write) => {
        await write(new Uint8Array(100));
        await write(new Uint8Array(1));
        throw new Error('fill failed');
      });
      while (pending.length === 1) await tick();
      await tick();
      pending[1]!.resolve();
      await assert.rejects(thrown, /fill failed/);
      assert.deepEqual(
        fds.map((fd) => fd !== -1),
        [true, true],
        'each file was still open when its sync ended',
      );
      assert.equal(pending[1]!.file.fd, -1, 'and closed after');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
