import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { CorruptCheckpointError, fileSystemRegistry, FlowstateError, FsCheckpointStorage, MemoryFileSystem, type FileSystem } from '@flowstate/core';
import { copyFixture, get } from './fixture.js';
import { INTERNAL_ERROR_CODE, inspectSavepointByName, listSavepoints, startCheckpointUi, type CheckpointUi } from '../src/index.js';


describe('savepoint inspector: a name is one directory below the savepoint directory, taken literally', () => {
  // memory://ui-names/outer is a savepoint; its savepoints/ directory holds one savepoint called 'sp%41'.
  const root = fileSystemRegistry.resolve('memory://ui-names');
  const location = 'memory://ui-names/outer/savepoints';
  let ui: CheckpointUi;

  before(async () => {
    await copyFixture(root, 'outer');
    await copyFixture(root, 'outer/savepoints/sp%41');
    ui = await startCheckpointUi({ checkpoints: new FsCheckpointStorage(new MemoryFileSystem()), history: async () => [], savepoints: { fileSystem: fileSystemRegistry.resolve(location), location } });
  });
  after(() => ui.close());

  it("a percent-encoded '..' does not open the directory above the savepoint directory", async () => {
    // Refused with a typed error (no directory of that literal name), not the report of memory://ui-names/outer.
    await assert.rejects(inspectSavepointByName({ location }, '%2e%2e'), (e) => e instanceof FlowstateError && /%2e%2e/.test(e.message));
    const r = await get(ui.url, '/api/savepoints/%252e%252e');
    assert.notEqual(r.status, 200, r.body);
    assert.equal('operators' in (JSON.parse(r.body) as object), false, 'no report of the savepoint above');
  });

  it('a listed savepoint whose name holds a percent sign is inspected', async () => {
    const fs = fileSystemRegistry.resolve(location);
    assert.deepEqual((await listSavepoints(fs)).savepoints.map((s) => s.name), ['sp%41']);
    const report = await inspectSavepointByName({ location }, 'sp%41');
    assert.ok(report.operators.length > 0);
    const r = await get(ui.url, `/api/savepoints/${encodeURIComponent('sp%41')}`);
    assert.equal(r.status, 200, r.body);
  });
});

describe('the HTTP server', () => {
  let ui: CheckpointUi;
  before(async () => {
    ui = await startCheckpointUi({ checkpoints: new FsCheckpointStorage(new MemoryFileSystem()), history: async () => [] });
  });
  after(() => ui.close());

  it('answers a malformed percent-encoding in a savepoint name with 400, not 500', async () => {
    const withSavepoints = await startCheckpointUi({ checkpoints: new FsCheckpointStorage(new MemoryFileSystem()), history: async () => [], savepoints: { fileSystem: new MemoryFileSystem(), location: 'memory://ui-malformed/sp' } });
    try {
      const r = await get(withSavepoints.url, '/api/savepoints/%E0%A4%A');
      assert.equal(r.status, 400, r.body);
      assert.match((JSON.parse(r.body) as { error: string }).error, /%E0%A4%A/);
    } finally {
      await withSavepoints.close();
    }
  });

  it('serves requests addressed to the loopback host only (no DNS rebinding)', async () => {
    const port = new URL(ui.url).port;
    assert.equal((await get(ui.url, '/api/checkpoints')).status, 200);
    assert.equal((await get(ui.url, '/api/checkpoints', { host: `localhost:${port}` })).status, 200);
    assert.equal((await get(ui.url, '/api/checkpoints', { host: `[::1]:${port}` })).status, 200);
    assert.equal((await get(ui.url, '/api/checkpoints', { host: `attacker.example:${port}` })).status, 403);
    assert.equal((await get(ui.url, '/', { host: 'attacker.example' })).status, 403);
  });

  it('answers an error other than a FlowstateError with a generic 500 and logs it; a FlowstateError with its message and code', async () => {
    let failure: unknown;
    const logged: string[] = [];
    const failing = await startCheckpointUi({ checkpoints: new FsCheckpointStorage(new MemoryFileSystem()), history: async () => Promise.reject(failure), log: (line) => logged.push(line) });
    try {
      const bug = new TypeError("Cannot read properties of undefined (reading 'secret-field')");
      const system = Object.assign(new Error("EACCES: permission denied, open '/home/operator/secret/history'"), { code: 'EACCES', path: '/home/operator/secret/history' });
      for (const e of [bug, system]) {
        failure = e;
        const r = await get(failing.url, '/api/checkpoints');
        assert.equal(r.status, 500, r.body);
        assert.deepEqual(JSON.parse(r.body), { error: "internal error in the checkpoint UI (its details are not in this answer; they go to the UI's log, where one is given)", code: INTERNAL_ERROR_CODE });
        assert.ok(!/secret/.test(r.body), `the answer leaks the error's text: ${r.body}`);
        assert.match(logged.at(-1) ?? '', /\/api\/checkpoints/);
        assert.ok(logged.at(-1)!.includes(e.message), 'the log does not hold the error');
      }
      // A log function that throws changes nothing in the answer.
      const quietlyFailing = await startCheckpointUi({ checkpoints: new FsCheckpointStorage(new MemoryFileSystem()), history: async () => Promise.reject(bug), log: () => { throw new Error('log down'); } });
      try {
        assert.equal(JSON.parse((await get(quietlyFailing.url, '/api/checkpoints')).body).code, INTERNAL_ERROR_CODE);
      } finally {
        await quietlyFailing.close();
      }
      failure = new CorruptCheckpointError('_history/7', 'bad entry');
      const typed = await get(failing.url, '/api/checkpoints');
      assert.equal(typed.status, 500, typed.body);
      assert.deepEqual(JSON.parse(typed.body), { error: (failure as Error).message, code: 'CORRUPT_CHECKPOINT' });
      assert.equal(logged.length, 2, 'a FlowstateError, shown in the answer, is not logged');
    } finally {
      await failing.close();
    }
  });

  it('a port in use or outside 0..65535 is a typed error naming the port', async () => {
    const port = Number(new URL(ui.url).port);
    const checkpoints = new FsCheckpointStorage(new MemoryFileSystem());
    const typed = (p: number, detail: RegExp) => (e: unknown) => e instanceof FlowstateError && e.code === 'UI_PORT' && (e as FlowstateError & { port: number }).port === p && e.message.includes(`port ${p}`) && detail.test(e.message);
    await assert.rejects(startCheckpointUi({ checkpoints, port }), typed(port, /in use/));
    for (const p of [65536, -1, 1.5]) await assert.rejects(startCheckpointUi({ checkpoints, port: p }), typed(p, /not a TCP port/));
  });
});
