import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { S3RVER_CREDENTIALS, startS3rver, type S3rverInstance } from '@flowstate/storage-s3/testing';
import { WebHdfsTestServer } from '@flowstate/storage-hdfs/testing';
import { FIXTURE, flowstateWith, s3rverEnvironment } from './binary.js';

const BUCKET = 'savepoints';

interface RemoteStorage {
  readonly name: string;
  /** A fresh location URI on the storage. */
  readonly fresh: () => string;
  readonly env: NodeJS.ProcessEnv;
}

let s3: S3rverInstance | undefined;
let hdfs: WebHdfsTestServer | undefined;
const local = mkdtempSync(join(tmpdir(), 'flowstate-cli-remote-'));
let n = 0;
const storages: RemoteStorage[] = [];

before(async () => {
  s3 = await startS3rver({ buckets: [BUCKET] });
  hdfs = await WebHdfsTestServer.start({ requireUser: true });
  const s3Env = s3rverEnvironment(s3.endpoint, S3RVER_CREDENTIALS.accessKeyId, S3RVER_CREDENTIALS.secretAccessKey);
  const nn = new URL(hdfs.namenodeUrl);
  const hdfsEnv = { HADOOP_USER_NAME: 'flink' };
  storages.push(
    { name: 'S3 (s3rver)', fresh: () => `s3://${BUCKET}/cli/sp-${n++}`, env: s3Env },
    { name: 'HDFS (webhdfs://)', fresh: () => `webhdfs://${new URL(hdfs!.namenodeUrl).host}/flowstate/cli/sp-${n++}`, env: hdfsEnv },
  );
});

after(async () => {
  await s3?.stop();
  await hdfs?.close();
  rmSync(local, { recursive: true, force: true });
});

/** Write, validate (every entry read), convert both ways and compare, all by URI on one storage. */
async function roundTrip(st: RemoteStorage): Promise<string> {
  const run = (...args: string[]) => flowstateWith(st.env, ...args);
  const sp = st.fresh();
  // Written to the storage: a verified copy of the local fixture.
  const copy = await run('savepoint', 'convert', FIXTURE, sp, '--to', 'canonical', '--json');
  assert.equal(copy.code, 0, `${st.name}: ${copy.stderr}`);
  assert.equal((JSON.parse(copy.stdout) as { directory: string }).directory, sp);
  // Validated there: every file, block and entry read back.
  const v = await run('savepoint', 'validate', sp, '--json');
  assert.equal(v.code, 0, `${st.name}: ${v.stdout}${v.stderr}`);
  assert.equal((JSON.parse(v.stdout) as { records: number }).records, 308);
  // Converted there, in both directions: remote canonical -> remote native -> local canonical.
  const native = st.fresh();
  const toNative = await run('savepoint', 'convert', sp, native, '--to', 'native-rocksdb');
  assert.equal(toNative.code, 0, `${st.name}: ${toNative.stderr}`);
  const back = join(local, `back-${n++}`);
  const toCanonical = await run('savepoint', 'convert', native, back, '--to', 'canonical');
  assert.equal(toCanonical.code, 0, `${st.name}: ${toCanonical.stderr}`);
  const diff = await run('savepoint', 'diff', FIXTURE, back);
  assert.equal(diff.code, 0, `${st.name}: ${diff.stdout}${diff.stderr}`);
  // A non-empty remote output is refused (usage).
  assert.equal((await run('savepoint', 'convert', FIXTURE, sp, '--to', 'canonical')).code, 2, `${st.name}: output exists`);
  return sp;
}

describe('flowstate savepoint on remote storage, by URI (real binary)', () => {
  it('writes, validates, reads and converts a savepoint on S3 and on HDFS', async () => {
    // The storages run concurrently: each CLI run is a process of its own.
    const [, onHdfs] = await Promise.all(storages.map(roundTrip));
    // hdfs:// names the same WebHDFS namenode; the _metadata file names its savepoint.
    const hdfsUri = onHdfs!.replace(/^webhdfs:/, 'hdfs:');
    const inspect = await flowstateWith({ HADOOP_USER_NAME: 'flink' }, 'savepoint', 'inspect', `${hdfsUri}/_metadata`);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.match(inspect.stdout, /operator 'all-kinds': parallelism 2, maxParallelism 16/);
    const missing = await flowstateWith(storages[0]!.env, 'savepoint', 'validate', storages[0]!.fresh());
    assert.equal(missing.code, 3, `no savepoint there: ${missing.stdout}`);
  });
});
