import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { optionalSync, poolSyncLimit, startSyncThreads, storageErrorFromErrno, syncCounts, syncDescriptor, syncThreadLimit } from '@flowstate/core';

// This process's own setting, whatever the environment running the tests says.
process.env['FLOWSTATE_SYNC_THREADS'] = '2';
const dir = mkdtempSync(join(tmpdir(), 'flowstate-sync-threads-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Descriptors of `n` small files, written just now. */
function openFiles(n: number): number[] {
  return Array.from({ length: n }, (_, i) => {
    const path = join(dir, `f${i}-${Math.random().toString(36).slice(2)}`);
    writeFileSync(path, 'x');
    return openSync(path, 'r');
  });
}

/** The URL of sync-threads.js as '@flowstate/core' loads it (same file, same counters). */
function moduleUrl(): string {
  return new URL('../src/storage/sync-threads.js', import.meta.resolve('@flowstate/core')).href;
}

/** Runs `script` (an ES module importing sync-threads.js as `st`) in a child process with `env`; at most 60 s. */
function child(script: string, env: Record<string, string> = {}) {
  const module = moduleUrl();
  const file = join(dir, `child-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, `const st = await import(${JSON.stringify(module)});\nconst { openSync, writeFileSync } = await import('node:fs');\n${script}\n`);
  return spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, FLOWSTATE_SYNC_THREADS: '1', ...env } });
}

/**
 * A child whose sync threads run `script`: it starts them, takes every pool slot, syncs a new file
 * `name` on a thread, keeps how that ended as `e` (its error's message, or 'no error'), then runs `then`.
 */
function childSyncingOn(script: string, name: string, then: string) {
  const file = JSON.stringify(join(dir, name));
  return child(`
    st.useSyncThreadScriptForTest(new URL(${JSON.stringify(pathToFileURL(script).href)}));
    await st.startSyncThreads();
    while (st.takePoolSync());
    writeFileSync(${file}, 'x');
    const e = await st.syncDescriptor(openSync(${file}, 'r'), false).then(() => 'no error', (x) => x.message);
    ${then}
  `);
}

describe('sync threads (syncDescriptor)', () => {
  it('syncThreadLimit follows FLOWSTATE_SYNC_THREADS: default 2, 0 for none, bad values give the default, large ones are capped', () => {
    assert.equal(syncThreadLimit({}), 2);
    assert.equal(syncThreadLimit({ FLOWSTATE_SYNC_THREADS: '0' }), 0);
    assert.equal(syncThreadLimit({ FLOWSTATE_SYNC_THREADS: ' 3 ' }), 3);
    for (const bad of ['', '-1', 'two', '1.5']) assert.equal(syncThreadLimit({ FLOWSTATE_SYNC_THREADS: bad }), 2, `'${bad}'`);
    assert.equal(syncThreadLimit({ FLOWSTATE_SYNC_THREADS: '1000' }), 16);
  });

  it('at most poolSyncLimit() syncs run on the pool at once; the others go to the sync threads once they are up', async () => {
    assert.equal(await startSyncThreads(), 2);
    const fds = openFiles(poolSyncLimit() + 3);
    const before = syncCounts();
    const syncs = fds.map((fd, i) => syncDescriptor(fd, i % 2 === 0));
    const routed = syncCounts();
    await Promise.all(syncs);
    for (const fd of fds) closeSync(fd);
    assert.equal(routed.pool - before.pool, poolSyncLimit(), 'the pool took its share');
    assert.equal(routed.threads - before.threads, 3, 'the rest went to the threads');
    assert.equal(syncCounts().started, 2, 'no thread started beyond the limit');
  });

  it("a sync thread's failure is the node:fs error (code, syscall), which storageErrorFromErrno names", async () => {
    await startSyncThreads();
    const fds = openFiles(poolSyncLimit());
    const before = syncCounts();
    // Outcomes taken at once: nothing settles unobserved while the test awaits another promise.
    const fills = Promise.all(fds.map((fd) => syncDescriptor(fd, false))).then(() => undefined, (x: unknown) => x);
    // A descriptor this process never opens (a just-closed one could be reused meanwhile).
    const failed = syncDescriptor(1_000_000, false);
    assert.equal(syncCounts().threads - before.threads, 1, 'the bad descriptor went to a thread');
    const e = await failed.then(() => undefined, (x: unknown) => x as NodeJS.ErrnoException);
    assert.equal(await fills, undefined);
    for (const fd of fds) closeSync(fd);
    assert.ok(e instanceof Error, 'rejected');
    assert.equal(e.code, 'EBADF');
    assert.equal(e.syscall, 'fsync');
    assert.match(storageErrorFromErrno('/x/f', 'fsync', e).message, /fsync failed: EBADF/);
  });

  it('a descriptor node:fs refuses before the call (e.g. -1, a closed FileHandle) rejects and gives its pool slot back', async () => {
    for (let i = 0; i < 3 * poolSyncLimit(); i++) await assert.rejects(syncDescriptor(-1, true), { code: 'ERR_OUT_OF_RANGE' });
    const fds = openFiles(poolSyncLimit());
    const before = syncCounts();
    const syncs = fds.map((fd) => syncDescriptor(fd, true));
    assert.equal(syncCounts().pool - before.pool, fds.length, 'every slot is free again');
    await Promise.all(syncs);
    for (const fd of fds) closeSync(fd);
  });

  it('optionalSync starts on the pool within its share, then on an idle sync thread; never on the pool past its share, never queued behind a sync on a thread', async () => {
    assert.equal(await startSyncThreads(), 2);
    const fds = openFiles(poolSyncLimit() + 3);
    const syncs: Array<Promise<void> | undefined> = [];
    try {
      const before = syncCounts();
      for (const fd of fds.slice(0, -1)) syncs.push(optionalSync(fd, true));
      const routed = syncCounts();
      assert.equal(syncs.filter((p) => p === undefined).length, 0, 'every one started');
      assert.equal(routed.pool - before.pool, poolSyncLimit(), 'the pool took its share');
      assert.equal(routed.threads - before.threads, 2, 'one on each thread');
      assert.equal(optionalSync(fds.at(-1)!, true), undefined, 'both threads busy: none started (syncDescriptor would queue it)');
      assert.deepEqual(syncCounts(), routed, 'nothing counted');
      await Promise.all(syncs.splice(0));
      // Without threads, one past the share starts nothing (syncDescriptor would use the pool).
      process.env['FLOWSTATE_SYNC_THREADS'] = '0';
      for (const fd of fds.slice(0, poolSyncLimit())) syncs.push(optionalSync(fd, true));
      const mark = syncCounts();
      assert.equal(optionalSync(fds.at(-1)!, true), undefined, 'the share is taken: none started');
      assert.deepEqual(syncCounts(), mark, 'nothing counted');
      await Promise.all(syncs.splice(0));
      const again = optionalSync(fds.at(-1)!, true);
      assert.notEqual(again, undefined, 'a slot freed: it starts on the pool');
      syncs.push(again);
      await again;
    } finally {
      process.env['FLOWSTATE_SYNC_THREADS'] = '2';
      // A failed assertion may leave syncs running: the descriptors stay open until they end.
      await Promise.allSettled(syncs);
      for (const fd of fds) closeSync(fd);
    }
  });

  it('FLOWSTATE_SYNC_THREADS=0 runs every sync on the pool, also past its share', async () => {
    process.env['FLOWSTATE_SYNC_THREADS'] = '0';
    try {
      const fds = openFiles(poolSyncLimit() + 2);
      const before = syncCounts();
      await Promise.all(fds.map((fd) => syncDescriptor(fd, true)));
      for (const fd of fds) closeSync(fd);
      const now = syncCounts();
      assert.equal(now.pool - before.pool, fds.length);
      assert.equal(now.threads, before.threads);
    } finally {
      process.env['FLOWSTATE_SYNC_THREADS'] = '2';
    }
  });

  it('a sync on a thread keeps the process alive until it is answered; idle threads keep nothing alive', () => {
    // Every pool slot taken: the sync goes to the thread, and nothing else holds the event loop.
    const busy = child(`
      await st.startSyncThreads();
      while (st.takePoolSync());
      writeFileSync(${JSON.stringify(join(dir, 'busy'))}, 'x');
      st.syncDescriptor(openSync(${JSON.stringify(join(dir, 'busy'))}, 'r'), false).then(() => console.log('synced', JSON.stringify(st.syncCounts())));
    `);
    assert.equal(busy.status, 0, busy.stderr);
    assert.match(busy.stdout, /synced \{"pool":0,"threads":1,"started":1\}/);
    // Spawned with a timeout: a thread that held the process would end it by the timeout (status null).
    const idle = child(`console.log('up', await st.startSyncThreads());`);
    assert.equal(idle.status, 0, `exits by itself: ${idle.signal ?? ''} ${idle.stderr}`);
    assert.match(idle.stdout, /up 1/);
  });

  it('a sync that starts a thread (and runs on the pool while it starts) keeps no process alive afterwards', () => {
    const started = child(`
      while (st.takePoolSync());
      writeFileSync(${JSON.stringify(join(dir, 'starting'))}, 'x');
      await st.syncDescriptor(openSync(${JSON.stringify(join(dir, 'starting'))}, 'r'), false);
      console.log('synced', JSON.stringify(st.syncCounts()));
    `);
    assert.equal(started.status, 0, `exits by itself: ${started.signal ?? ''} ${started.stderr}`);
    assert.match(started.stdout, /synced \{"pool":1,"threads":0,"started":1\}/);
  });

  it('a thread that dies fails the syncs it held; one that dies before it runs is not started again', () => {
    const exits = join(dir, 'exits.mjs');
    writeFileSync(exits, "import { parentPort } from 'node:worker_threads'; parentPort.on('message', () => process.exit(3)); parentPort.postMessage({ ready: true });");
    const died = childSyncingOn(exits, 'died', "console.log('failed:', e, JSON.stringify(st.syncCounts()));");
    assert.equal(died.status, 0, died.stderr);
    assert.match(died.stdout, /failed: a sync thread exited \(code 3\) \{"pool":0,"threads":1,"started":1\}/);
    // An uncaught error in a thread that was up (the worker emits 'error', then 'exit'): its sync fails, and a new thread still starts.
    const throws = join(dir, 'throws.mjs');
    writeFileSync(throws, "import { parentPort } from 'node:worker_threads'; parentPort.on('message', () => { throw new Error('boom'); }); parentPort.postMessage({ ready: true });");
    // The pause lets the 'exit' that follows the 'error' arrive before a new thread is asked for.
    const crashed = childSyncingOn(throws, 'crashed', `
      await new Promise((r) => setTimeout(r, 50));
      st.useSyncThreadScriptForTest(new URL('./sync-thread-worker.js', ${JSON.stringify(moduleUrl())}));
      console.log('failed:', e, 'then up', await st.startSyncThreads());`);
    assert.equal(crashed.status, 0, crashed.stderr);
    assert.match(crashed.stdout, /failed: boom then up 1/);
    const missing = child(`
      st.useSyncThreadScriptForTest(new URL(${JSON.stringify(pathToFileURL(join(dir, 'no-such-worker.mjs')).href)}));
      console.log('up', await st.startSyncThreads());
      while (st.takePoolSync());
      writeFileSync(${JSON.stringify(join(dir, 'missing'))}, 'x');
      for (let i = 0; i < 3; i++) await st.syncDescriptor(openSync(${JSON.stringify(join(dir, 'missing'))}, 'r'), false);
      console.log('synced', JSON.stringify(st.syncCounts()));
    `);
    assert.equal(missing.status, 0, missing.stderr);
    assert.match(missing.stdout, /up 0\nsynced \{"pool":3,"threads":0,"started":1\}/);
  });
});
