import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CorruptCheckpointError, FlowstateError } from '@flowstate/core';
import { FlinkUnsupportedError, rocksNativeRecords, StreamResolver, type FlinkRocksDbAccess, type HandleAndLocalPath, type IncrementalKeyedHandle, type KeyedStreamHeader } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'flowstate-flink-rocks-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'x'), 'CURRENT-bytes');
writeFileSync(join(dir, 'y'), 'other-bytes');
const resolver = new StreamResolver(dir, join(dir, '_metadata'));

/** Never opened: materializing the files must fail first. */
const access: FlinkRocksDbAccess = {
  open: () => {
    throw new Error('must not be opened');
  },
};

async function drain(files: HandleAndLocalPath[], maxBytes?: number, resolve: Parameters<typeof rocksNativeRecords>[4] = (h) => resolver.resolve(h)): Promise<unknown> {
  const handle: IncrementalKeyedHandle = { type: 'incremental', tag: 11, checkpointId: 1n, backendId: 'b', startKeyGroup: 0, numKeyGroups: 1, meta: null, shared: files, private: [] };
  try {
    for await (const _ of rocksNativeRecords(access, handle, { states: [] } as unknown as KeyedStreamHeader, 128, resolve, 'h', maxBytes)) void _;
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('RocksDB-native materialization', () => {
  it('refuses one stored file under several RocksDB names, however its path is written', async () => {
    for (const second of [{ type: 'relative-file', relativePath: './x', size: 13 }, { type: 'file', path: `file:${join(dir, 'x')}`, size: 13 }, { type: 'file', path: join(dir, '.', 'x').replace(/x$/, './x'), size: 13 }] as const) {
      const e = await drain([{ localPath: 'CURRENT', handle: { type: 'relative-file', relativePath: 'x', size: 13 } }, { localPath: '000001.sst', handle: second }]);
      assert.ok(e instanceof FlowstateError && /same stored file/.test(e.message), `${JSON.stringify(second)}: ${String(e)}`);
    }
  });

  it('refuses a handle whose files exceed the byte cap', async () => {
    const e = await drain([{ localPath: 'CURRENT', handle: { type: 'relative-file', relativePath: 'x', size: 13 } }, { localPath: '000001.sst', handle: { type: 'relative-file', relativePath: 'y', size: 11 } }], 20);
    assert.ok(e instanceof FlinkUnsupportedError && /exceed 20 bytes/.test(e.message), String(e));
  });

  it('checks the byte cap from the handles\' sizes before reading a file', async () => {
    // 'absent' does not exist: reading it first would fail with StorageNotFoundError instead.
    const e = await drain([{ localPath: 'CURRENT', handle: { type: 'relative-file', relativePath: 'x', size: 13 } }, { localPath: '000001.sst', handle: { type: 'relative-file', relativePath: 'absent', size: 2 ** 32 } }]);
    assert.ok(e instanceof FlinkUnsupportedError && /exceed 4294967296 bytes/.test(e.message), String(e));
  });

  it('refuses a file whose size is not its handle\'s', async () => {
    const e = await drain([{ localPath: 'CURRENT', handle: { type: 'relative-file', relativePath: 'x', size: 5 } }]);
    assert.ok(e instanceof CorruptCheckpointError && /file has 13 bytes, its handle says 5/.test(e.message), String(e));
  });

  it('refuses a file of another size from an injected resolver that does not check sizes (typed, not an assertion)', async () => {
    const unchecked: Parameters<typeof rocksNativeRecords>[4] = async (h) => ({ ...(await resolver.resolve({ ...h, size: 13 } as typeof h)), bytes: new Uint8Array(13) });
    const e = await drain([{ localPath: 'CURRENT', handle: { type: 'relative-file', relativePath: 'x', size: 5 } }], undefined, unchecked);
    assert.ok(e instanceof CorruptCheckpointError && /has 13 bytes, its handle says 5/.test(e.message), String(e));
  });
});
