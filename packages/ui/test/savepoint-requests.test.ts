import { strict as assert } from 'node:assert';
import type { ClientRequest } from 'node:http';
import { describe, it } from 'node:test';
import { fileSystemRegistry, FlowstateError, ForwardingFileSystem, FsCheckpointStorage, MemoryFileSystem, type FileStatus, type FileSystem, type ReadRange } from '@flowstate/core';
import { copyFixture, get } from './fixture.js';
import { inspectSavepointByName, startCheckpointUi, type CheckpointUi } from '../src/index.js';
import { MAX_CONCURRENT_SCANS } from '../src/server.js';



/** Holds every read at a gate until `open()`; counts the calls (reads, stats, listings) made after it opened. */
class GatedFileSystem extends ForwardingFileSystem {
  private opened = false;
  private readonly held: Array<() => void> = [];
  private waiters: Array<{ n: number; resolve: () => void }> = [];
  private calledAfterOpen: (() => void) | undefined;
  callsAfterOpen = 0;

  override async read(path: string, range?: ReadRange): Promise<Uint8Array> {
    if (this.opened) this.called();
    else {
      await new Promise<void>((resolve) => {
        this.held.push(resolve);
        for (const w of this.waiters.filter((w) => this.held.length >= w.n)) w.resolve();
      });
    }
    return super.read(path, range);
  }

  override async stat(path: string): Promise<FileStatus | null> {
    if (this.opened) this.called();
    return super.stat(path);
  }

  override async list(dir: string): Promise<FileStatus[]> {
    if (this.opened) this.called();
    return super.list(dir);
  }

  private called(): void {
    this.callsAfterOpen++;
    this.calledAfterOpen?.();
  }

  /** Resolves once `n` reads wait at the gate. */
  holding(n: number): Promise<void> {
    return this.held.length >= n ? Promise.resolve() : new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  /** Opens the gate; the promise resolves at the first call made after it. */
  open(): Promise<void> {
    this.opened = true;
    const next = new Promise<void>((resolve) => (this.calledAfterOpen = resolve));
    for (const release of this.held.splice(0)) release();
    return next;
  }
}

async function gatedUi(savepoints: number): Promise<{ ui: CheckpointUi; fs: GatedFileSystem }> {
  const inner = new MemoryFileSystem();
  for (let i = 0; i < savepoints; i++) await copyFixture(inner, `sp${i}`);
  const fs = new GatedFileSystem(inner);
  const ui = await startCheckpointUi({ checkpoints: new FsCheckpointStorage(new MemoryFileSystem()), history: async () => [], savepoints: { fileSystem: fs, location: 'memory://ui-gated/savepoints' } });
  return { ui, fs };
}

describe('savepoint inspector: reads go through the file system the UI was given', () => {
  it('a savepoint of its own FileSystem (not the registry\'s for that location) is listed and inspected', async () => {
    // The registry's memory://ui-own-fs is empty: only the given file system holds the savepoint.
    const own = new MemoryFileSystem();
    await copyFixture(own, 'sp1');
    const location = 'memory://ui-own-fs/savepoints';
    const report = await inspectSavepointByName({ fileSystem: own, location }, 'sp1');
    assert.ok(report.operators.length > 0);
    const ui = await startCheckpointUi({ checkpoints: new FsCheckpointStorage(new MemoryFileSystem()), history: async () => [], savepoints: { fileSystem: own, location } });
    try {
      const listed = JSON.parse((await get(ui.url, '/api/savepoints')).body) as { savepoints: unknown; truncated: boolean };
      assert.deepEqual(listed.savepoints, [{ name: 'sp1', bytes: report.totalBytes + (await own.stat('sp1/_metadata'))!.size }]);
      assert.equal(listed.truncated, false);
      const r = await get(ui.url, '/api/savepoints/sp1');
      assert.equal(r.status, 200, r.body);
      assert.deepEqual((JSON.parse(r.body) as { operators: unknown[] }).operators.length, report.operators.length);
      assert.deepEqual(await fileSystemRegistry.resolve(location).list(''), [], 'nothing was read or written through the registry');
    } finally {
      await ui.close();
    }
  });
});

describe('savepoint inspector: running requests', () => {
  it('close() stops accepting requests and resolves only after the running ones finished', async () => {
    const { ui, fs } = await gatedUi(1);
    const running = get(ui.url, '/api/savepoints/sp0');
    await fs.holding(1);
    let gateOpened = false;
    const closing = ui.close().then(() => assert.ok(gateOpened, 'close() resolved while a request was still reading'));
    await assert.rejects(get(ui.url, '/api/checkpoints'), (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED');
    // Give a close() that does not wait the chance to resolve before the gate opens.
    await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 50))]);
    gateOpened = true;
    void fs.open();
    await closing;
    // Closing cancels the scan: it stops at its next read and answers 503 with a typed error.
    const r = await running;
    assert.equal(r.status, 503, r.body);
    assert.equal((JSON.parse(r.body) as { code: string }).code, 'UI_CANCELLED');
    assert.equal(fs.callsAfterOpen, 0);
  });

  it('a client that disconnects cancels its scan: no read after the one it was waiting for', async () => {
    const { ui, fs } = await gatedUi(1);
    let client: ClientRequest | undefined;
    const dropped = get(ui.url, '/api/savepoints/sp0', {}, (req) => (client = req)).catch((e: unknown) => e);
    await fs.holding(1);
    client!.destroy();
    assert.ok((await dropped) instanceof Error);
    // A request on a new connection, answered after the server saw the first one's end.
    assert.equal((await get(ui.url, '/api/checkpoints')).status, 200);
    // Give a scan that goes on the chance to make its next call before close() would cancel it.
    await Promise.race([fs.open(), new Promise((resolve) => setTimeout(resolve, 50))]);
    await ui.close();
    assert.equal(fs.callsAfterOpen, 0, 'the scan went on reading for a client that was gone');
  });

  it(`runs at most ${MAX_CONCURRENT_SCANS} scans at once and refuses more with 503, Retry-After and a typed error`, async () => {
    const { ui, fs } = await gatedUi(MAX_CONCURRENT_SCANS + 1);
    try {
      const running = Array.from({ length: MAX_CONCURRENT_SCANS }, (_, i) => get(ui.url, `/api/savepoints/sp${i}`));
      await fs.holding(MAX_CONCURRENT_SCANS);
      const third = get(ui.url, `/api/savepoints/sp${MAX_CONCURRENT_SCANS}`);
      const admitted = await Promise.race([third.then(() => false), fs.holding(MAX_CONCURRENT_SCANS + 1).then(() => true)]);
      assert.equal(admitted, false, `a scan beyond the ${MAX_CONCURRENT_SCANS} running ones was started`);
      const refused = await third;
      assert.equal(refused.status, 503, refused.body);
      assert.match(String(refused.headers['retry-after']), /^\d+$/);
      const body = JSON.parse(refused.body) as { code: string; error: string };
      assert.equal(body.code, 'UI_BUSY');
      assert.match(body.error, new RegExp(`${MAX_CONCURRENT_SCANS} savepoints`));
      void fs.open();
      for (const r of await Promise.all(running)) assert.equal(r.status, 200, r.body);
      // The slots are free again.
      assert.equal((await get(ui.url, `/api/savepoints/sp${MAX_CONCURRENT_SCANS}`)).status, 200);
    } finally {
      void fs.open();
      await ui.close();
    }
  });

  it('an inspection given an aborted signal stops with a typed error', async () => {
    const own = new MemoryFileSystem();
    await copyFixture(own, 'sp1');
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(inspectSavepointByName({ fileSystem: own, location: 'memory://ui-aborted/sp' }, 'sp1', { signal: controller.signal }), (e) => e instanceof FlowstateError && e.code === 'UI_CANCELLED');
  });
});
