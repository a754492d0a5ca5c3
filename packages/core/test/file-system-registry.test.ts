import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  childStorageUri,
  displayStorageUri,
  FileSystemRegistry,
  fileSystemRegistry,
  IllegalStateUsageError,
  MemoryFileSystemProvider,
  PathEscapeError,
  MemoryFileSystem,
  parentStorageUri,
  storageUri,
  storageUriBaseName,
  type FileSystemProvider,
} from '../src/index.js';

describe('FileSystemRegistry and storage URIs', () => {
  it('turns plain paths into file URLs and keeps URIs, without a trailing slash', () => {
    assert.equal(storageUri('/tmp/sp-1/').href, 'file:///tmp/sp-1');
    assert.equal(storageUri('relative/sp').protocol, 'file:');
    assert.equal(displayStorageUri(storageUri('/tmp/sp-1')), '/tmp/sp-1');
    assert.equal(displayStorageUri(storageUri('s3://bucket/a/b/')), 's3://bucket/a/b');
    // A relative path that merely contains a colon is a path, not a URI.
    assert.equal(storageUri('c:notes').protocol, 'file:');
  });

  it('refuses credentials, queries and fragments in URIs', () => {
    assert.throws(() => storageUri('s3://key:secret@bucket/x'), (e: Error) => e instanceof IllegalStateUsageError && !e.message.includes('secret'));
    assert.throws(() => storageUri('webhdfs://nn:9870/x?user.name=a'), IllegalStateUsageError);
  });

  it('navigates parents and children', () => {
    const u = storageUri('webhdfs://nn:9870/flowstate/chk-3');
    assert.equal(storageUriBaseName(u), 'chk-3');
    assert.equal(parentStorageUri(u)!.href, 'webhdfs://nn:9870/flowstate');
    assert.equal(childStorageUri(u, '_metadata').href, 'webhdfs://nn:9870/flowstate/chk-3/_metadata');
    assert.equal(parentStorageUri(storageUri('s3://bucket')), undefined);
  });

  it('opens a location with the provider of its scheme; an unknown scheme is a usage error naming the registered ones', () => {
    const opened: string[] = [];
    const provider: FileSystemProvider = { schemes: ['mem'], open: (uri) => (opened.push(uri.href), new MemoryFileSystem()) };
    const r = new FileSystemRegistry().register(provider).register(provider);
    assert.ok(r.resolve('mem://x/y') instanceof MemoryFileSystem);
    assert.deepEqual(opened, ['mem://x/y']);
    assert.throws(() => r.resolve('s3://bucket/x'), (e: Error) => e instanceof IllegalStateUsageError && /@flowstate\/storage-s3/.test(e.message) && /registered: mem/.test(e.message));
    assert.throws(() => r.register({ schemes: ['MEM'], open: () => new MemoryFileSystem() }), IllegalStateUsageError);
  });

  it('serves memory:// in the process-wide registry: one file system per name, directories as views of it', async () => {
    const provider = new MemoryFileSystemProvider();
    const r = new FileSystemRegistry().register(provider);
    const sub = r.resolve('memory://t/jobs/a/');
    assert.equal(sub.displayRoot, 'memory://t/jobs/a');
    const w = await sub.create('chk-1/_metadata');
    await w.write(new Uint8Array([1, 2, 3]));
    await w.commit();
    const root = r.resolve('memory://t');
    assert.deepEqual(await root.list(''), [{ path: 'jobs/a/chk-1/_metadata', size: 3 }]);
    assert.deepEqual(await r.resolve('memory://t/jobs').list('a'), [{ path: 'a/chk-1/_metadata', size: 3 }]);
    assert.deepEqual(await sub.stat('chk-1/_metadata'), { path: 'chk-1/_metadata', size: 3 });
    assert.deepEqual([...(await r.resolve('memory://t/jobs/a/chk-1').read('_metadata'))], [1, 2, 3]);
    assert.deepEqual(await r.resolve('memory://other').list(''), []);
    await assert.rejects(() => sub.read('../b/x'), PathEscapeError);
    await r.resolve('memory://t/jobs').deleteDirectory('a');
    assert.deepEqual(await root.list(''), []);
    provider.forget('t');
    assert.ok(fileSystemRegistry.schemes().includes('memory'));
  });

  it('withEnvironment: the same providers, another default environment', () => {
    const seen: Array<string | undefined> = [];
    const r = new FileSystemRegistry();
    const configured = r.withEnvironment({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000' });
    // Registered after the view was made: the providers are shared.
    r.register({ schemes: ['mem'], open: (_uri, env) => (seen.push(env['AWS_ENDPOINT_URL_S3']), new MemoryFileSystem()) });
    configured.resolve('mem://a');
    configured.resolve('mem://a', { AWS_ENDPOINT_URL_S3: 'http://explicit' });
    r.resolve('mem://a', {});
    assert.deepEqual(seen, ['http://127.0.0.1:9000', 'http://explicit', undefined]);
  });
});
