// Wire-level checks of the WebHDFS test server with raw fetch calls, so that the client tests
// rest on a server whose shapes and status codes were verified independently of the client.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebHdfsTestServer } from './webhdfs-server.js';

const FILE_STATUS_KEYS = [
  'accessTime',
  'blockSize',
  'childrenNum',
  'fileId',
  'group',
  'length',
  'modificationTime',
  'owner',
  'pathSuffix',
  'permission',
  'replication',
  'storagePolicy',
  'type',
];

async function call(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; text: string; json: unknown }> {
  const res = await fetch(url, { redirect: 'manual', ...init });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

function remote(json: unknown): { exception: string; javaClassName: string; message: string } {
  const re = (json as { RemoteException?: { exception: string; javaClassName: string; message: string } }).RemoteException;
  assert.ok(re, 'expected a RemoteException body');
  assert.deepEqual(Object.keys(re).sort(), ['exception', 'javaClassName', 'message']);
  return re;
}

describe('WebHDFS test server (wire level)', () => {
  let server: WebHdfsTestServer;
  let nn: string;
  const u = 'user.name=alice';

  before(async () => {
    server = await WebHdfsTestServer.start({ listingPageSize: 2 });
    nn = `${server.namenodeUrl}/webhdfs/v1`;
  });
  after(() => server.close());

  it('CREATE is two-step: 307 to the datanode with auth and namenoderpcaddress, nothing created by step 1', async () => {
    const r1 = await call(`${nn}/w/a.txt?op=CREATE&${u}`, { method: 'PUT' });
    assert.equal(r1.status, 307);
    const loc = new URL(r1.headers.get('location')!);
    assert.equal(loc.origin, server.datanodeUrl);
    assert.equal(loc.pathname, '/webhdfs/v1/w/a.txt');
    assert.equal(loc.searchParams.get('op'), 'CREATE');
    assert.equal(loc.searchParams.get('user.name'), 'alice');
    assert.ok(loc.searchParams.get('namenoderpcaddress'));
    assert.equal(loc.searchParams.get('overwrite'), 'false');
    assert.equal(server.exists('/w/a.txt'), false);

    const r2 = await call(loc.href, { method: 'PUT', body: 'hello', headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(r2.status, 201);
    assert.equal(r2.headers.get('location'), `hdfs://127.0.0.1:8020/w/a.txt`);
    assert.equal(server.readFile('/w/a.txt')?.toString(), 'hello');
  });

  it('noredirect=true answers 200 with the Location in JSON', async () => {
    const r = await call(`${nn}/w/a.txt?op=OPEN&${u}&noredirect=true`);
    assert.equal(r.status, 200);
    const loc = (r.json as { Location: string }).Location;
    assert.match(loc, /^http:\/\/127\.0\.0\.1:\d+\/webhdfs\/v1\/w\/a\.txt\?op=OPEN/);
    const data = await call(loc);
    assert.equal(data.text, 'hello');
  });

  it('the datanode refuses requests that did not come through the namenode', async () => {
    const r = await call(`${server.datanodeUrl}/webhdfs/v1/w/x?op=CREATE&${u}`, { method: 'PUT', body: 'x' });
    assert.equal(r.status, 400);
    assert.equal(remote(r.json).exception, 'IllegalArgumentException');
    assert.equal(server.exists('/w/x'), false);
  });

  it('CREATE without overwrite on an existing file is 403 FileAlreadyExistsException from the datanode', async () => {
    const r1 = await call(`${nn}/w/a.txt?op=CREATE&${u}`, { method: 'PUT' });
    const r2 = await call(r1.headers.get('location')!, { method: 'PUT', body: 'other' });
    assert.equal(r2.status, 403);
    const re = remote(r2.json);
    assert.equal(re.exception, 'FileAlreadyExistsException');
    assert.equal(re.javaClassName, 'org.apache.hadoop.fs.FileAlreadyExistsException');
    assert.equal(server.readFile('/w/a.txt')?.toString(), 'hello');
  });

  it('APPEND is a two-step POST answering 200', async () => {
    const r1 = await call(`${nn}/w/a.txt?op=APPEND&${u}`, { method: 'POST' });
    assert.equal(r1.status, 307);
    const r2 = await call(r1.headers.get('location')!, { method: 'POST', body: ' world' });
    assert.equal(r2.status, 200);
    assert.equal(server.readFile('/w/a.txt')?.toString(), 'hello world');
  });

  it('OPEN honours offset and length, truncates at EOF, and rejects offsets at or past the end', async () => {
    const open = async (q: string) => {
      const r1 = await call(`${nn}/w/a.txt?op=OPEN&${u}${q}`);
      if (r1.status !== 307) return r1;
      return call(r1.headers.get('location')!);
    };
    assert.equal((await open('&offset=6&length=3')).text, 'wor');
    assert.equal((await open('&offset=6&length=100')).text, 'world');
    const past = await open('&offset=11');
    assert.equal(past.status, 403);
    assert.equal(remote(past.json).exception, 'IOException');
    assert.match(remote(past.json).message, /Offset=11 out of the range/);
    const missing = await open('').then(() => call(`${nn}/w/nope?op=OPEN&${u}`));
    assert.equal(missing.status, 404);
    assert.equal(remote(missing.json).exception, 'FileNotFoundException');
  });

  it('GETFILESTATUS returns the documented FileStatus fields', async () => {
    const r = await call(`${nn}/w/a.txt?op=GETFILESTATUS&${u}`);
    assert.equal(r.status, 200);
    const fs = (r.json as { FileStatus: Record<string, unknown> }).FileStatus;
    assert.deepEqual(Object.keys(fs).sort(), FILE_STATUS_KEYS);
    assert.equal(fs['type'], 'FILE');
    assert.equal(fs['length'], 11);
    assert.equal(fs['pathSuffix'], '');
    assert.equal(fs['owner'], 'alice');
    assert.equal(fs['permission'], '644');
    const dir = (await call(`${nn}/w?op=GETFILESTATUS&${u}`)).json as { FileStatus: Record<string, unknown> };
    assert.equal(dir.FileStatus['type'], 'DIRECTORY');
    assert.equal(dir.FileStatus['childrenNum'], 1);
    const missing = await call(`${nn}/nope?op=GETFILESTATUS&${u}`);
    assert.equal(missing.status, 404);
  });

  it('LISTSTATUS and LISTSTATUS_BATCH have the documented shapes, sorted bytewise, paged with startAfter', async () => {
    for (const n of ['b', 'a', 'c', 'é', 'Z']) server.writeFile(`/l/${n}`, Buffer.from(n));
    const full = await call(`${nn}/l?op=LISTSTATUS&${u}`);
    const names = (full.json as { FileStatuses: { FileStatus: Array<{ pathSuffix: string }> } }).FileStatuses.FileStatus.map((s) => s.pathSuffix);
    assert.deepEqual(names, ['Z', 'a', 'b', 'c', 'é']);

    const page1 = (await call(`${nn}/l?op=LISTSTATUS_BATCH&${u}`)).json as {
      DirectoryListing: { partialListing: { FileStatuses: { FileStatus: Array<Record<string, unknown>> } }; remainingEntries: number };
    };
    assert.deepEqual(Object.keys(page1), ['DirectoryListing']);
    assert.deepEqual(Object.keys(page1.DirectoryListing).sort(), ['partialListing', 'remainingEntries']);
    assert.deepEqual(page1.DirectoryListing.partialListing.FileStatuses.FileStatus.map((s) => s['pathSuffix']), ['Z', 'a']);
    assert.equal(page1.DirectoryListing.remainingEntries, 3);
    assert.deepEqual(Object.keys(page1.DirectoryListing.partialListing.FileStatuses.FileStatus[0]!).sort(), FILE_STATUS_KEYS);
    const page3 = (await call(`${nn}/l?op=LISTSTATUS_BATCH&${u}&startAfter=${encodeURIComponent('c')}`)).json as typeof page1;
    assert.deepEqual(page3.DirectoryListing.partialListing.FileStatuses.FileStatus.map((s) => s['pathSuffix']), ['é']);
    assert.equal(page3.DirectoryListing.remainingEntries, 0);

    const ofFile = (await call(`${nn}/l/a?op=LISTSTATUS&${u}`)).json as { FileStatuses: { FileStatus: Array<{ pathSuffix: string }> } };
    assert.deepEqual(ofFile.FileStatuses.FileStatus.map((s) => s.pathSuffix), ['']);
  });

  it('MKDIRS, DELETE and RENAME answer {"boolean": ...}; non-empty DELETE without recursive is 403', async () => {
    assert.deepEqual((await call(`${nn}/m/n/o?op=MKDIRS&${u}`, { method: 'PUT' })).json, { boolean: true });
    server.writeFile('/m/n/o/f', Buffer.from('f'));
    const nonEmpty = await call(`${nn}/m?op=DELETE&${u}`, { method: 'DELETE' });
    assert.equal(nonEmpty.status, 403);
    assert.equal(remote(nonEmpty.json).exception, 'PathIsNotEmptyDirectoryException');
    assert.deepEqual((await call(`${nn}/nope?op=DELETE&${u}`, { method: 'DELETE' })).json, { boolean: false });
    assert.deepEqual((await call(`${nn}/?op=DELETE&recursive=true&${u}`, { method: 'DELETE' })).json, { boolean: false });

    const rn = (src: string, dst: string, extra = '') => call(`${nn}${src}?op=RENAME&destination=${encodeURIComponent(dst)}${extra}&${u}`, { method: 'PUT' });
    assert.deepEqual((await rn('/m/n/o/f', '/m/g')).json, { boolean: true });
    assert.deepEqual((await rn('/m/missing', '/m/h')).json, { boolean: false });
    server.writeFile('/m/h', Buffer.from('h'));
    assert.deepEqual((await rn('/m/g', '/m/h')).json, { boolean: false }, 'legacy rename does not replace a file');
    assert.deepEqual((await rn('/m/g', '/nodir/x')).json, { boolean: false }, 'legacy rename needs the parent');
    assert.deepEqual((await rn('/m/g', '/m/n')).json, { boolean: true }, 'into a directory');
    assert.equal(server.readFile('/m/n/g')?.toString(), 'f');

    const r2 = await rn('/m/n/g', '/m/h', '&renameoptions=NONE');
    assert.equal(r2.status, 403);
    assert.equal(remote(r2.json).exception, 'FileAlreadyExistsException');
    const r3 = await rn('/m/n/g', '/m/h', '&renameoptions=OVERWRITE');
    assert.equal(r3.status, 200);
    assert.equal(r3.text, '');
    assert.equal(server.readFile('/m/h')?.toString(), 'f');
    const r4 = await rn('/m/n/g', '/m/i', '&renameoptions=OVERWRITE');
    assert.equal(r4.status, 404);
    assert.equal(remote(r4.json).exception, 'FileNotFoundException');
    assert.deepEqual((await call(`${nn}/m?op=DELETE&recursive=true&${u}`, { method: 'DELETE' })).json, { boolean: true });
  });

  it('answers every missing path 404 with a FileNotFoundException RemoteException; only URLs outside /webhdfs/v1 get a bare 404', async () => {
    // Clients take only a FileNotFoundException as "not found", as a real namenode and datanode send it.
    const missing = [
      await call(`${nn}/nope?op=GETFILESTATUS&${u}`),
      await call(`${nn}/nope?op=LISTSTATUS&${u}`),
      await call(`${nn}/nope?op=LISTSTATUS_BATCH&${u}`),
      await call(`${nn}/nope?op=OPEN&${u}`),
      await call(`${nn}/nope?op=APPEND&${u}`, { method: 'POST' }),
      await call(`${nn}/nope?op=RENAME&destination=/x&renameoptions=NONE&${u}`, { method: 'PUT' }),
      await call(`${server.datanodeUrl}/webhdfs/v1/nope?op=OPEN&namenoderpcaddress=127.0.0.1:8020&${u}`),
      await call(`${server.datanodeUrl}/webhdfs/v1/nope?op=APPEND&namenoderpcaddress=127.0.0.1:8020&${u}`, { method: 'POST', body: 'x' }),
    ];
    for (const r of missing) {
      assert.equal(r.status, 404);
      assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(remote(r.json).exception, 'FileNotFoundException');
    }
    const outside = await call(`${server.namenodeUrl}/gateway/default/webhdfs/v1/nope?op=GETFILESTATUS&${u}`);
    assert.equal(outside.status, 404);
    assert.equal(outside.json, undefined, 'not a WebHDFS answer');
  });

  it('bad ops, wrong methods and invalid paths are 400', async () => {
    const bad = await call(`${nn}/x?op=FROBNICATE&${u}`);
    assert.equal(bad.status, 400);
    assert.equal(remote(bad.json).exception, 'IllegalArgumentException');
    assert.match(remote(bad.json).message, /GetOpParam\.Op\.FROBNICATE/);
    const wrongMethod = await call(`${nn}/x?op=CREATE&${u}`);
    assert.equal(wrongMethod.status, 400);
    const lower = await call(`${nn}/?op=getfilestatus&${u}`);
    assert.equal(lower.status, 200, 'op names are case-insensitive');
    const colon = await call(`${nn}/a:b?op=MKDIRS&${u}`, { method: 'PUT' });
    assert.equal(colon.status, 400);
    assert.equal(remote(colon.json).exception, 'InvalidPathException');
    const unsupported = await call(`${nn}/?op=GETCONTENTSUMMARY&${u}`);
    assert.equal(unsupported.status, 400);
    assert.equal(remote(unsupported.json).exception, 'UnsupportedOperationException');
  });

  it('anonymous requests are rejected when a user is required, in either failure style', async () => {
    const strict = await WebHdfsTestServer.start({ requireUser: true });
    const servlet = await WebHdfsTestServer.start({ requireUser: true, authFailureStyle: 'servlet' });
    try {
      const r = await call(`${strict.namenodeUrl}/webhdfs/v1/?op=GETFILESTATUS`);
      assert.equal(r.status, 403);
      assert.equal(remote(r.json).exception, 'AccessControlException');
      const h = await call(`${servlet.namenodeUrl}/webhdfs/v1/?op=GETFILESTATUS`);
      assert.equal(h.status, 403);
      assert.match(h.headers.get('content-type') ?? '', /text\/html/);
      assert.match(h.text, /Anonymous requests are disallowed/);
      assert.equal((await call(`${strict.namenodeUrl}/webhdfs/v1/?op=GETFILESTATUS&${u}`)).status, 200);
    } finally {
      await strict.close();
      await servlet.close();
    }
  });

  it('an unknown delegation token is 403 InvalidToken and the token is not echoed', async () => {
    const secure = await WebHdfsTestServer.start({ requireUser: true, delegationTokens: new Map([['GOODTOKEN123', 'flink']]) });
    try {
      const bad = await call(`${secure.namenodeUrl}/webhdfs/v1/?op=GETFILESTATUS&delegation=BADTOKEN456`);
      assert.equal(bad.status, 403);
      assert.equal(remote(bad.json).exception, 'InvalidToken');
      assert.ok(!bad.text.includes('BADTOKEN456'));
      const ok = await call(`${secure.namenodeUrl}/webhdfs/v1/t?op=CREATE&delegation=GOODTOKEN123`, { method: 'PUT' });
      const loc = new URL(ok.headers.get('location')!);
      assert.equal(loc.searchParams.get('delegation'), 'GOODTOKEN123', 'the redirect carries the token to the datanode');
      assert.equal((await call(loc.href, { method: 'PUT', body: 'x' })).status, 201);
      assert.equal(secure.readFile('/t')?.toString(), 'x');
      assert.equal(secure.requestLog.every((r) => r.params['delegation'] === undefined || r.params['delegation'] === '<token>'), true);
    } finally {
      await secure.close();
    }
  });

  it('a second writer of a file being written gets AlreadyBeingCreatedException', async () => {
    const r1 = await call(`${nn}/lease/f?op=CREATE&${u}`, { method: 'PUT' });
    // A body that never ends keeps the first write open.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(new TextEncoder().encode('first'));
        await gate;
        controller.close();
      },
    });
    const first = fetch(r1.headers.get('location')!, { method: 'PUT', body, duplex: 'half' } as RequestInit);
    await new Promise((r) => setTimeout(r, 50));
    const a1 = await call(`${nn}/lease/f?op=APPEND&${u}`, { method: 'POST' });
    const a2 = await call(a1.headers.get('location')!, { method: 'POST', body: 'second' });
    assert.equal(a2.status, 403);
    assert.equal(remote(a2.json).exception, 'AlreadyBeingCreatedException');
    release();
    assert.equal((await first).status, 201);
    assert.equal(server.readFile('/lease/f')?.toString(), 'first');
  });

  it('fault rules fire the requested number of times and are counted by kind', async () => {
    server.resetFaultCounts();
    const h = server.faults.add({ fault: { kind: 'status', status: 503, retryAfterSeconds: 1 }, times: 2, op: 'GETFILESTATUS' });
    const a = await call(`${nn}/?op=GETFILESTATUS&${u}`);
    assert.equal(a.status, 503);
    assert.equal(a.headers.get('retry-after'), '1');
    assert.equal((await call(`${nn}/?op=GETFILESTATUS&${u}`)).status, 503);
    assert.equal((await call(`${nn}/?op=GETFILESTATUS&${u}`)).status, 200);
    assert.equal(h.fired, 2);
    server.faults.add({ fault: { kind: 'reset' }, op: 'GETFILESTATUS' });
    await assert.rejects(fetch(`${nn}/?op=GETFILESTATUS&${u}`));
    assert.deepEqual(server.faultCounts(), { 'status:503': 2, reset: 1 });
  });
});
