import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StorageError, StorageNotFoundError } from '@flowstate/core';
import {
  WebHdfsAccessDeniedError,
  WebHdfsAlreadyExistsError,
  WebHdfsClient,
  WebHdfsConfigError,
  WebHdfsError,
  WebHdfsProtocolError,
  type HdfsFileStatus,
} from '../src/index.js';
import { WebHdfsTestServer } from './webhdfs-server.js';
import { bytes, clientFor, everythingAbout, proxyFetch } from './helpers.js';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

for (const redirectMode of ['redirect', 'noredirect'] as const) {
  describe(`WebHdfsClient operations (${redirectMode})`, () => {
    let server: WebHdfsTestServer;
    let client: WebHdfsClient;

    before(async () => {
      server = await WebHdfsTestServer.start();
      client = clientFor(server, { redirectMode }).client;
    });
    after(() => server.close());

    it('CREATE, OPEN (whole, offset/length, streamed) and APPEND', async () => {
      const data = bytes(10_000);
      await client.create('/d/file.bin', data);
      assert.deepEqual(server.readFile('/d/file.bin'), Buffer.from(data));
      assert.deepEqual(await client.open('/d/file.bin'), data);
      assert.deepEqual(await client.open('/d/file.bin', { offset: 1234, length: 100 }), data.subarray(1234, 1334));
      assert.deepEqual(await client.open('/d/file.bin', { offset: 9_990 }), data.subarray(9_990));
      assert.deepEqual(await client.open('/d/file.bin', { offset: 9_990, length: 100 }), data.subarray(9_990), 'truncated at EOF');
      const streamed = Buffer.concat(await collect(client.openStream('/d/file.bin', { offset: 10, length: 5000 })));
      assert.deepEqual(streamed, Buffer.from(data.subarray(10, 5010)));

      await client.append('/d/file.bin', bytes(5, 2));
      assert.equal((await client.getFileStatus('/d/file.bin')).length, 10_005);
      assert.deepEqual(await client.open('/d/file.bin', { offset: 10_000 }), bytes(5, 2));

      await client.create('/d/empty', new Uint8Array(0));
      assert.equal((await client.open('/d/empty')).length, 0);
    });

    it('sends no body to the namenode and follows the redirect style it was configured for', async () => {
      assert.equal(server.stats.namenodeBodyBytes, 0);
      if (redirectMode === 'redirect') {
        assert.ok(server.stats.redirects > 0);
        assert.equal(server.stats.noredirectLocations, 0);
      } else {
        assert.ok(server.stats.noredirectLocations > 0);
        assert.equal(server.stats.redirects, 0);
        assert.ok(server.requestLog.filter((r) => r.role === 'namenode' && r.op === 'CREATE').every((r) => r.params['noredirect'] === 'true'));
      }
      const creates = server.requestLog.filter((r) => r.role === 'datanode' && r.op === 'CREATE');
      assert.ok(creates.length > 0 && creates.every((r) => r.params['namenoderpcaddress'] !== undefined), 'the datanode URL is the one the namenode gave');
    });

    it('CREATE respects overwrite and passes block size, replication and permission', async () => {
      await client.create('/o/f', bytes(3));
      await assert.rejects(client.create('/o/f', bytes(4)), (e: unknown) => e instanceof WebHdfsAlreadyExistsError && e.code === 'STORAGE_ALREADY_EXISTS' && !e.transient);
      await client.create('/o/f', bytes(4, 9), { overwrite: true, blockSize: 1 << 20, replication: 2, permission: '600' });
      const st = await client.getFileStatus('/o/f');
      assert.equal(st.length, 4);
      assert.equal(st.blockSize, 1 << 20);
      assert.equal(st.replication, 2);
      assert.equal(st.permission, '600');
      assert.equal(st.owner, 'flink');
    });

    it('GETFILESTATUS and LISTSTATUS return typed FileStatus objects', async () => {
      await client.mkdirs('/s/sub');
      await client.create('/s/a', bytes(7));
      const st: HdfsFileStatus = await client.getFileStatus('/s/a');
      assert.equal(st.type, 'FILE');
      assert.equal(st.length, 7);
      assert.equal(st.pathSuffix, '');
      assert.ok(st.fileId > 0 && st.modificationTime > 0);
      assert.equal((await client.getFileStatus('/s')).type, 'DIRECTORY');
      const list = await client.listStatus('/s');
      assert.deepEqual(list.map((s) => [s.pathSuffix, s.type]), [['a', 'FILE'], ['sub', 'DIRECTORY']]);
      await assert.rejects(client.getFileStatus('/s/none'), StorageNotFoundError);
      await assert.rejects(client.listStatus('/none'), (e: unknown) => e instanceof StorageNotFoundError && e.code === 'STORAGE_NOT_FOUND');
    });

    it('MKDIRS, RENAME (legacy and rename2) and DELETE', async () => {
      assert.equal(await client.mkdirs('/r/x/y'), true);
      await client.create('/r/f', bytes(1));
      assert.equal(await client.rename('/r/f', '/r/g'), true);
      assert.equal(await client.rename('/r/f', '/r/h'), false, 'legacy rename: missing source is false');
      await client.create('/r/h', bytes(2));
      await assert.rejects(client.rename2('/r/g', '/r/h'), WebHdfsAlreadyExistsError);
      await client.rename2('/r/g', '/r/h', { overwrite: true });
      assert.equal((await client.getFileStatus('/r/h')).length, 1);
      await assert.rejects(client.rename2('/r/g', '/r/i'), StorageNotFoundError);

      await assert.rejects(client.delete('/r'), (e: unknown) => e instanceof WebHdfsError && e.remote?.exception === 'PathIsNotEmptyDirectoryException' && e.httpStatus === 403 && !e.transient);
      assert.equal(await client.delete('/r/h'), true);
      assert.equal(await client.delete('/r/h'), false);
      assert.equal(await client.delete('/r', { recursive: true }), true);
      assert.equal(server.exists('/r'), false);
    });

    it('OPEN and APPEND on missing files are StorageNotFoundError; reads past the end are errors', async () => {
      await assert.rejects(client.open('/missing'), StorageNotFoundError);
      await assert.rejects(client.open('/missing', { length: 0 }), StorageNotFoundError);
      await assert.rejects(client.append('/missing', bytes(1)), StorageNotFoundError);
      await client.create('/eof', bytes(10));
      await assert.rejects(client.open('/eof', { offset: 10 }), (e: unknown) => e instanceof WebHdfsError && e.remote?.exception === 'IOException' && !e.transient);
      await assert.rejects(client.open('/eof', { offset: -1 }), WebHdfsError);
    });

    it('encodes names with spaces, unicode, %, +, # and ?', async () => {
      const names = ['with space', 'ünïcödé ✓', 'per%cent', 'plus+sign', 'hash#tag', 'q?mark', "quote'"];
      for (const n of names) await client.create(`/enc/${n}`, Buffer.from(n));
      for (const n of names) assert.equal(Buffer.from(await client.open(`/enc/${n}`)).toString(), n);
      assert.deepEqual(server.listFiles('/enc').map((p) => p.slice('/enc/'.length)).sort(), [...names].sort());
      assert.equal(await client.rename(`/enc/plus+sign`, `/enc/new name+ü`), true);
      assert.ok(server.exists('/enc/new name+ü'));
    });

    it('maps InvalidPathException (":" in a name) to a non-transient error', async () => {
      await assert.rejects(client.mkdirs('/bad/a:b'), (e: unknown) => e instanceof WebHdfsError && e.httpStatus === 400 && e.remote?.exception === 'InvalidPathException' && !e.transient);
    });
  });
}

describe('WebHdfsClient listing pages', () => {
  let server: WebHdfsTestServer;
  before(async () => {
    server = await WebHdfsTestServer.start({ listingPageSize: 3 });
  });
  after(() => server.close());

  it('follows remainingEntries with startAfter until the listing is complete', async () => {
    const { client } = clientFor(server);
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'B', 'é', '日本'];
    for (const n of names) server.writeFile(`/p/${n}`, Buffer.from(n));
    const page = await client.listStatusBatch('/p');
    assert.equal(page.entries.length, 3);
    assert.equal(page.remainingEntries, 10);
    const before = server.requestLog.length;
    const all = (await collect(client.listStatusIterator('/p'))).map((s) => s.pathSuffix);
    assert.deepEqual(all, [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
    const batches = server.requestLog.slice(before).filter((r) => r.op === 'LISTSTATUS_BATCH');
    assert.equal(batches.length, 5);
    // Each page starts after the last name of the previous one.
    assert.deepEqual(batches.map((r) => r.params['startAfter'] ?? null), [null, all[2], all[5], all[8], all[11]]);
    const ofFile = await collect(client.listStatusIterator('/p/a'));
    assert.deepEqual(ofFile.map((s) => [s.pathSuffix, s.type, s.length]), [['', 'FILE', 1]], 'a file lists as itself');
  });

  it('detects a server whose listing does not advance', async () => {
    const fake: typeof fetch = async () =>
      new Response(JSON.stringify({ DirectoryListing: { partialListing: { FileStatuses: { FileStatus: [] } }, remainingEntries: 5 } }), { status: 200, headers: { 'content-type': 'application/json' } });
    const client = new WebHdfsClient({ endpoint: 'http://127.0.0.1:1', fetch: fake });
    await assert.rejects(collect(client.listStatusIterator('/x')), WebHdfsProtocolError);
  });
});

describe('WebHdfsClient authentication and error hygiene', () => {
  const TOKEN = 'HAAEZmxpbmsEZmxpbmsAigGRsomeSecretPart_xyz-123';

  it('sends user.name, and refuses anonymous access with STORAGE_ACCESS_DENIED', async () => {
    const server = await WebHdfsTestServer.start({ requireUser: true });
    try {
      const { client } = clientFor(server, { user: 'alice' });
      await client.create('/u/f', bytes(3));
      assert.equal((await client.getFileStatus('/u/f')).owner, 'alice');
      assert.ok(server.requestLog.every((r) => r.params['user.name'] === 'alice'), 'both steps carry the user');
      assert.equal(await client.getHomeDirectory(), '/user/alice');

      const { client: anon } = clientFor(server, { user: undefined });
      await assert.rejects(anon.getFileStatus('/u/f'), (e: unknown) => e instanceof WebHdfsAccessDeniedError && e.code === 'STORAGE_ACCESS_DENIED' && e.remote?.exception === 'AccessControlException' && !e.transient);
    } finally {
      await server.close();
    }
  });

  it('maps a servlet-style 403 page (no RemoteException) to STORAGE_ACCESS_DENIED with a short message', async () => {
    const server = await WebHdfsTestServer.start({ requireUser: true, authFailureStyle: 'servlet' });
    try {
      const { client } = clientFor(server, { user: undefined });
      const err = await client.getFileStatus('/').then(
        () => assert.fail('expected a failure'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WebHdfsAccessDeniedError);
      assert.equal(err.remote, undefined);
      assert.match(err.message, /HTTP 403 .*Anonymous requests are disallowed/);
      assert.ok(!err.message.includes('<'), 'HTML tags are stripped');
    } finally {
      await server.close();
    }
  });

  it('uses delegation=<token> instead of user.name, and the token reaches the datanode through the Location', async () => {
    const server = await WebHdfsTestServer.start({ requireUser: true, delegationTokens: new Map([[TOKEN, 'flink']]) });
    try {
      const { client } = clientFor(server, { user: 'ignored-when-token', delegationToken: TOKEN });
      await client.create('/t/f', bytes(100));
      assert.deepEqual(await client.open('/t/f'), bytes(100));
      assert.equal((await client.getFileStatus('/t/f')).owner, 'flink');
      assert.ok(server.requestLog.length > 0);
      for (const r of server.requestLog) {
        assert.equal(r.params['delegation'], '<token>');
        assert.equal(r.params['user.name'], undefined);
      }
    } finally {
      await server.close();
    }
  });

  it('never puts the token in errors: wrong token, server echoing it, transport errors, exhausted retries', async () => {
    const server = await WebHdfsTestServer.start({ requireUser: true, delegationTokens: new Map([['other', 'x']]), echoTokenInErrors: true });
    try {
      const { client } = clientFor(server, { delegationToken: TOKEN });
      const invalid = await client.getFileStatus('/').catch((e: unknown) => e);
      assert.ok(invalid instanceof WebHdfsAccessDeniedError);
      assert.equal(invalid.remote?.exception, 'InvalidToken');
      assert.match(invalid.message, /request delegation=<redacted>/, 'the echoed token was redacted');
      assert.ok(!everythingAbout(invalid).includes(TOKEN));
      assert.ok(!everythingAbout(invalid).includes('SomeSecretPart'));

      server.faults.add({ fault: { kind: 'status', status: 500 }, times: Infinity });
      const exhausted = await client.getFileStatus('/').catch((e: unknown) => e);
      assert.ok(exhausted instanceof StorageError);
      assert.ok(!everythingAbout(exhausted).includes(TOKEN));
      server.faults.clear();

      server.faults.add({ fault: { kind: 'reset' }, times: Infinity });
      const reset = await client.getFileStatus('/').catch((e: unknown) => e);
      assert.ok(reset instanceof StorageError && reset.code === 'STORAGE_RETRIES_EXHAUSTED');
      assert.ok(!everythingAbout(reset).includes(TOKEN));
      assert.ok(!everythingAbout(reset).includes('delegation='), 'no request URL anywhere');
    } finally {
      await server.close();
    }
    // Connection refused: the server is gone.
    const { client } = clientFor(server, { delegationToken: TOKEN, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
    const refused = await client.getFileStatus('/').catch((e: unknown) => e);
    assert.ok(refused instanceof StorageError);
    assert.ok(!everythingAbout(refused).includes(TOKEN));
  });

  it('maps the other auth-failure shapes real clusters send: SecurityException, bare 401', async () => {
    const server = await WebHdfsTestServer.start();
    try {
      const { client, retries } = clientFor(server);
      server.faults.add({
        fault: { kind: 'status', status: 403, exception: 'SecurityException', javaClassName: 'java.lang.SecurityException' },
        op: 'GETFILESTATUS',
      });
      await assert.rejects(client.getFileStatus('/'), (e: unknown) => e instanceof WebHdfsAccessDeniedError && e.remote?.exception === 'SecurityException' && !e.transient);
      const fake: typeof fetch = async () => new Response('Authentication required', { status: 401, headers: { 'www-authenticate': 'Negotiate' } });
      const kerberized = new WebHdfsClient({ endpoint: 'http://nn:9870', fetch: fake });
      await assert.rejects(kerberized.getFileStatus('/'), (e: unknown) => e instanceof WebHdfsAccessDeniedError && e.httpStatus === 401);
      assert.equal(retries.length, 0, 'access denied is never retried');
    } finally {
      await server.close();
    }
  });

  it('rejects endpoints with credentials or a query without echoing them', () => {
    assert.throws(() => new WebHdfsClient({ endpoint: 'http://bob:hunter2@nn:9870' }), (e: unknown) => e instanceof WebHdfsConfigError && e.code === 'WEBHDFS_CONFIG' && !e.message.includes('hunter2'));
    assert.throws(() => new WebHdfsClient({ endpoint: 'http://nn:9870/?delegation=abc' }), (e: unknown) => e instanceof WebHdfsConfigError && !e.message.includes('abc'));
    assert.throws(() => new WebHdfsClient({ endpoint: 'ftp://nn' }), WebHdfsConfigError);
    const c = new WebHdfsClient({ endpoint: 'https://gw.example:8443/gateway/default/webhdfs/v1/' });
    assert.equal(c.uri('/a/b'), 'swebhdfs://gw.example:8443/a/b');
    assert.throws(() => c.uri('relative'), WebHdfsConfigError);
    assert.throws(() => c.uri('/a/../b'), WebHdfsConfigError);
  });

  it('refuses to follow an https → http redirect (the Location carries the token)', async () => {
    let datanodeCalls = 0;
    const fake: typeof fetch = async (input) => {
      const url = new URL(String(input instanceof Request ? input.url : input));
      if (url.hostname === 'nn') return new Response(null, { status: 307, headers: { location: `http://dn:9864${url.pathname}${url.search}` } });
      datanodeCalls++;
      return new Response(null, { status: 201 });
    };
    const client = new WebHdfsClient({ endpoint: 'https://nn:9871', delegationToken: TOKEN, fetch: fake });
    const err = await client.create('/x', bytes(1)).catch((e: unknown) => e);
    assert.ok(err instanceof WebHdfsProtocolError && err.code === 'STORAGE_PROTOCOL_ERROR');
    assert.equal(datanodeCalls, 0);
    assert.ok(!everythingAbout(err).includes(TOKEN));
  });

  it('keeps working against a namenode that ignores noredirect', async () => {
    const server = await WebHdfsTestServer.start({ honourNoRedirect: false });
    try {
      const { client } = clientFor(server, { redirectMode: 'noredirect' });
      await client.create('/old/f', bytes(50));
      assert.deepEqual(await client.open('/old/f', { offset: 10, length: 10 }), bytes(50).subarray(10, 20));
      assert.ok(server.stats.redirects > 0);
    } finally {
      await server.close();
    }
  });

  it('refuses a 200 OPEN answer that is not file bytes (a proxy login page), from the namenode or the datanode', async () => {
    const server = await WebHdfsTestServer.start();
    try {
      server.writeFile('/p/f', Buffer.from('REAL-BYTES'));
      const page = () => new Response('<html><body>Session expired, please log in</body></html>', { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' } });
      for (const origin of [server.namenodeUrl, server.datanodeUrl]) {
        const loginPage = proxyFetch({ response: (u) => (u.origin === origin && u.searchParams.get('op') === 'OPEN' ? page() : undefined) });
        const { client } = clientFor(server, { fetch: loginPage });
        const isProtocolError = (e: unknown) =>
          e instanceof WebHdfsProtocolError && e.code === 'STORAGE_PROTOCOL_ERROR' && !e.transient && e.httpStatus === 200 && e.path === client.uri('/p/f') && e.message.includes("'text/html'");
        await assert.rejects(client.open('/p/f'), isProtocolError, origin);
        await assert.rejects(collect(client.openStream('/p/f')), isProtocolError, origin);
      }
      // Bytes without a Content-Type are still the file.
      const untyped = proxyFetch({ response: async (u, res) => (u.origin === server.datanodeUrl && res.status === 200 ? new Response(await res.arrayBuffer(), { status: 200 }) : undefined) });
      assert.equal(Buffer.from(await clientFor(server, { fetch: untyped }).client.open('/p/f')).toString(), 'REAL-BYTES');
    } finally {
      await server.close();
    }
  });

  it('reads the bytes a gateway serves directly instead of redirecting (HttpFS style)', async () => {
    const fake: typeof fetch = async () => new Response(new Uint8Array([1, 2, 3]), { status: 200, headers: { 'content-type': 'application/octet-stream' } });
    const client = new WebHdfsClient({ endpoint: 'http://httpfs:14000', user: 'u', fetch: fake });
    assert.deepEqual(await client.open('/f'), new Uint8Array([1, 2, 3]));
  });
});
