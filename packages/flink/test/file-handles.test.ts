import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PathEscapeError, StorageError, StorageNotFoundError } from '@flowstate/core';
import {
  FlinkSavepoint,
  operatorIdFromUid,
  readFlinkMetadata,
  referencedStreams,
  rescaleFlinkSavepoint,
  rewriteFlinkSavepoint,
  StreamResolver,
  validateFlinkSavepoint,
  writeFlinkMetadata,
  writeFlinkSavepoint,
  type DecodedKeyedEntry,
  type StreamStateHandle,
} from '../src/index.js';
import { withOwnSavepoint, withTempDir } from './own-savepoint.js';

const OWN_OP = operatorIdFromUid('own-op');

/** Rewrites `dir`'s `_metadata` with its keyed stream's handle replaced by `handle(size of the stream)`. */
function replaceKeyedStream(dir: string, handle: (size: number) => StreamStateHandle): void {
  const md = readFlinkMetadata(readFileSync(join(dir, '_metadata')), 'own');
  const op = md.operators[0]!;
  const s = op.subtasks[0]!;
  const keyed = s.managedKeyedState!;
  assert.equal(keyed.type, 'key-groups');
  const stream = handle(statSync(join(dir, 'keyed-0')).size);
  const subtasks = [{ ...s, managedKeyedState: { ...keyed, stream } }];
  writeFileSync(join(dir, '_metadata'), writeFlinkMetadata({ ...md, operators: [{ ...op, subtasks }] }));
}

async function records(dir: string): Promise<DecodedKeyedEntry[]> {
  const sp = await FlinkSavepoint.load(dir);
  const out: DecodedKeyedEntry[] = [];
  for (const info of await sp.keyedStreams(sp.operators[0]!)) out.push(...sp.decodedRecords(info, 4));
  return out;
}

/** The handles of `dir`'s `_metadata` naming files: each relative, of a file of `dir` with its size. */
function assertRelativeFiles(dir: string): void {
  const md = readFlinkMetadata(readFileSync(join(dir, '_metadata')), dir);
  for (const h of referencedStreams(md)) {
    if (h.type === 'byte-stream') continue;
    assert.equal(h.type, 'relative-file', `${dir}: ${JSON.stringify(h)}`);
    if (h.type === 'relative-file') assert.equal(statSync(join(dir, h.relativePath)).size, h.size, h.relativePath);
  }
}

describe('file state handles (tag 2) when a savepoint is written', () => {
  it('a savepoint whose state file is named by its absolute path (Flink 1.8-1.10) is written, dropped and rescaled with relative handles to the new files', async () => {
    await withOwnSavepoint(20, async (input) => {
      await withTempDir('file-handles', async (tmp) => {
        replaceKeyedStream(input, (size) => ({ type: 'file', path: `file:${join(input, 'keyed-0')}`, size }));
        const before = await records(input);
        const sp = await FlinkSavepoint.load(input);
        const outs = { written: join(tmp, 'written'), dropped: join(tmp, 'dropped'), rescaled: join(tmp, 'rescaled') };
        await writeFlinkSavepoint(sp, outs.written);
        await rewriteFlinkSavepoint(sp, outs.dropped, { dropStates: [{ operator: OWN_OP, state: 'names' }] });
        await rescaleFlinkSavepoint(sp, outs.rescaled, { operators: [] });
        // Where Flink restores them, the input's files are not: every output must stand alone.
        renameSync(input, `${input}-gone`);
        try {
          for (const out of Object.values(outs)) {
            assertRelativeFiles(out);
            const report = await validateFlinkSavepoint(out);
            assert.deepEqual(report.problems, [], out);
          }
          assert.deepEqual(await records(outs.written), before);
          assert.deepEqual(await records(outs.rescaled), before);
          assert.deepEqual(await records(outs.dropped), before.filter((e) => e.state !== 'names'));
        } finally {
          renameSync(`${input}-gone`, input);
        }
      });
    });
  });
});

describe('file state handles (tag 2) are resolved inside the savepoint directory', () => {
  /** `<tmp>/sp` (the savepoint directory) and `<tmp>/elsewhere/victim`, a file outside it. */
  async function withLayout(fn: (sp: string, victim: string) => Promise<void>): Promise<void> {
    await withTempDir('file-handles', async (tmp) => {
      mkdirSync(join(tmp, 'sp'));
      mkdirSync(join(tmp, 'elsewhere'));
      writeFileSync(join(tmp, 'elsewhere', 'victim'), 'not state of this savepoint');
      await fn(join(tmp, 'sp'), join(tmp, 'elsewhere', 'victim'));
    });
  }

  it('an absolute path outside the directory is never read, nor is its size told: only the file of its name next to _metadata is', async () => {
    await withLayout(async (sp, victim) => {
      const resolver = new StreamResolver(sp, join(sp, '_metadata'));
      const size = statSync(victim).size;
      for (const path of [victim, `file:${victim}`, `file://${victim}`]) {
        await assert.rejects(resolver.resolve({ type: 'file', path, size }), (e) => e instanceof StorageNotFoundError && e.message.includes(join(sp, 'victim')), path);
        // Not 'file has 27 bytes, its handle says 1': the size of a file elsewhere is not told either.
        await assert.rejects(resolver.resolve({ type: 'file', path, size: 1 }), StorageNotFoundError, path);
      }
      writeFileSync(join(sp, 'victim'), 'moved');
      assert.equal(Buffer.from((await resolver.resolve({ type: 'file', path: victim, size: 5 })).bytes).toString(), 'moved');
    });
  });

  it('an absolute path inside the directory is read as written, also below a subdirectory', async () => {
    await withLayout(async (sp) => {
      mkdirSync(join(sp, 'sub'));
      writeFileSync(join(sp, 'sub', 'x'), 'inside');
      const resolver = new StreamResolver(sp, join(sp, '_metadata'));
      for (const path of [join(sp, 'sub', 'x'), `file:${join(sp, 'sub', 'x')}`, join(sp, 'sub', '..', 'sub', 'x')]) {
        assert.equal(Buffer.from((await resolver.resolve({ type: 'file', path, size: 6 })).bytes).toString(), 'inside', path);
      }
    });
  });

  it('a relative path is confined to the directory like a relative handle, whatever the working directory', async () => {
    await withLayout(async (sp, victim) => {
      writeFileSync(join(sp, 'x'), 'mine');
      // The process's working directory holds a file of the same name: it is not the one read.
      const cwd = process.cwd();
      process.chdir(join(victim, '..'));
      try {
        writeFileSync('x', 'cwd!');
        const resolver = new StreamResolver(sp, join(sp, '_metadata'));
        assert.equal(Buffer.from((await resolver.resolve({ type: 'file', path: 'x', size: 4 })).bytes).toString(), 'mine');
        for (const path of ['../elsewhere/victim', '/nonexistent/..', 'file:///nonexistent/..', '']) {
          await assert.rejects(resolver.resolve({ type: 'file', path, size: 1 }), (e) => e instanceof PathEscapeError && e.message.includes(`'${path}'`), JSON.stringify(path));
        }
      } finally {
        process.chdir(cwd);
      }
    });
  });

  it('a crafted _metadata naming a file elsewhere on the host: validate reports it, write refuses it and copies nothing', async () => {
    await withOwnSavepoint(4, async (dir) => {
      await withTempDir('file-handles', async (tmp) => {
        const victim = join(tmp, 'victim');
        writeFileSync(victim, 'secret');
        replaceKeyedStream(dir, () => ({ type: 'file', path: victim, size: 6 }));
        const report = await validateFlinkSavepoint(dir);
        assert.deepEqual(report.problems.map((p) => p.code), ['STORAGE_NOT_FOUND']);
        await assert.rejects(writeFlinkSavepoint(await FlinkSavepoint.load(dir), join(tmp, 'out')), StorageNotFoundError);
        assert.equal(existsSync(join(tmp, 'out')), false);
        assert.deepEqual(readdirSync(tmp), ['victim']);
      });
    });
  });

  it('a handle naming a FIFO is refused at once (a blocking open would wait for a writer forever)', (t) => {
    return withTempDir('file-handles', async (sp) => {
      const fifo = join(sp, 'state');
      try {
        execFileSync('mkfifo', [fifo]);
      } catch {
        t.skip('mkfifo is not available here');
        return;
      }
      // Only a failing (blocking) run needs this: a writer's open lets a blocked open return, so the test ends.
      const unblock = setTimeout(() => closeSync(openSync(fifo, 'w')), 5000);
      try {
        const resolver = new StreamResolver(sp, join(sp, '_metadata'));
        for (const h of [{ type: 'relative-file', relativePath: 'state', size: 0 }, { type: 'file', path: fifo, size: 0 }] as const) {
          await assert.rejects(resolver.resolve(h), (e) => e instanceof StorageError && /a FIFO, not a regular file/.test(e.message) && e.message.includes(fifo));
        }
      } finally {
        clearTimeout(unblock);
      }
    });
  });
});

describe("a retained checkpoint's shared files (tag 2, absolute paths into its job directory's shared/ and taskowned/)", () => {
  it('are read where they are, and dispose lists them without deleting them (newer checkpoints may reference them)', async () => {
    await withTempDir('file-handles-chk', async (tmp) => {
      const chk = join(tmp, 'job', 'chk-7');
      mkdirSync(chk, { recursive: true });
      mkdirSync(join(tmp, 'job', 'shared'));
      mkdirSync(join(tmp, 'job', 'taskowned'));
      writeFileSync(join(tmp, 'job', 'shared', 'sst'), 'shared bytes');
      writeFileSync(join(tmp, 'job', 'taskowned', 'own'), 'owned');
      writeFileSync(join(tmp, 'job', 'other'), 'not of the checkpoint');
      const resolver = new StreamResolver(chk, join(chk, '_metadata'));
      assert.equal(Buffer.from((await resolver.resolve({ type: 'file', path: join(tmp, 'job', 'shared', 'sst'), size: 12 })).bytes).toString(), 'shared bytes');
      assert.equal(Buffer.from((await resolver.resolve({ type: 'file', path: `file:${join(tmp, 'job', 'taskowned', 'own')}`, size: 5 })).bytes).toString(), 'owned');
      await assert.rejects(resolver.resolve({ type: 'file', path: join(tmp, 'job', 'other'), size: 21 }), StorageNotFoundError, 'the job directory itself is not the checkpoint');
      const notAChk = new StreamResolver(join(tmp, 'job', 'shared'), join(tmp, 'job', 'shared', '_metadata'));
      await assert.rejects(notAChk.resolve({ type: 'file', path: join(tmp, 'job', 'taskowned', 'own'), size: 5 }), StorageNotFoundError, 'only a chk-<n> directory has siblings');
    });
  });
});
