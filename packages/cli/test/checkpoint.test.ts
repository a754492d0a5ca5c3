import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileSystemRegistry, type FileSystem } from '@flowstate/core';
import { localFileSystemProvider } from '@flowstate/storage-local';
import { s3FileSystemProvider } from '@flowstate/storage-s3';
import { S3RVER_CREDENTIALS, s3rverClientConfig, startS3rver, type S3rverInstance } from '@flowstate/storage-s3/testing';
import { webHdfsFileSystemProvider } from '@flowstate/storage-hdfs';
import { WebHdfsTestServer } from '@flowstate/storage-hdfs/testing';
import { ROCKSDB_NATIVE_FORMAT } from '@flowstate/rocksdb';
import { convertSavepoint } from '@flowstate/savepoint';
import { FIXTURE, flowstateWith, s3rverEnvironment, type Result } from './binary.js';
import { writeCheckpointRoot, type CheckpointRootFixture } from './checkpoint-fixture.js';

// `flowstate checkpoint` through the real binary, on a job's checkpoint directory written by the
// real backends (incremental RocksDB, heap), on local disk, S3 (s3rver) and HDFS (WebHDFS test server).

const local = mkdtempSync(join(tmpdir(), 'flowstate-cli-checkpoint-'));
let s3: S3rverInstance | undefined;
let hdfs: WebHdfsTestServer | undefined;
let n = 0;
/** Where this process writes the fixtures (the binary configures its storages from the environment). */
let fileSystems = new FileSystemRegistry().register(localFileSystemProvider);

interface Storage {
  readonly name: string;
  readonly fresh: () => string;
  readonly env: NodeJS.ProcessEnv;
}
const storages: Storage[] = [{ name: 'local disk', fresh: () => join(local, `root-${n++}`), env: {} }];

before(async () => {
  s3 = await startS3rver({ buckets: ['jobs'] });
  hdfs = await WebHdfsTestServer.start({ requireUser: true });
  const s3Env = s3rverEnvironment(s3.endpoint, S3RVER_CREDENTIALS.accessKeyId, S3RVER_CREDENTIALS.secretAccessKey);
  const host = new URL(hdfs.namenodeUrl).host;
  fileSystems = fileSystems.register(s3FileSystemProvider({ clientConfig: s3rverClientConfig(s3.endpoint) })).register(webHdfsFileSystemProvider({ client: { endpoint: hdfs.namenodeUrl, user: 'flink' } }));
  storages.push({ name: 'S3 (s3rver)', fresh: () => `s3://jobs/checkpoints/job-${n++}`, env: s3Env }, { name: 'HDFS (webhdfs://)', fresh: () => `webhdfs://${host}/flowstate/job-${n++}`, env: { HADOOP_USER_NAME: 'flink' } });
});

after(async () => {
  await s3?.stop();
  await hdfs?.close();
  rmSync(local, { recursive: true, force: true });
});

interface Summary {
  checkpointId: number;
  status: string;
  reason?: string;
  retained: boolean;
  files: number;
  bytes: number;
  exclusiveBytes: number;
  sharedBytes: number;
  sharedWithOthers: number;
}

async function fixtureAt(st: Storage): Promise<{ root: string; fs: FileSystem; fixture: CheckpointRootFixture }> {
  const root = st.fresh();
  const fs = fileSystems.resolve(root);
  const fixture = await writeCheckpointRoot(fs, mkdtempSync(join(local, 'rocksdb-')));
  return { root, fs, fixture };
}

const paths = async (fs: FileSystem) => (await fs.list('')).map((f) => f.path).sort();

/** What every step of the scenario works on: one storage, the CLI on it, and the fixture's checkpoint directory. */
interface Step {
  readonly st: Storage;
  readonly run: (...args: string[]) => Promise<Result>;
  readonly root: string;
  readonly fs: FileSystem;
  readonly fixture: CheckpointRootFixture;
}

/** list, show, validate, history, gc (dry run, then --apply), dispose: the same on every storage. */
async function scenario(st: Storage, full: boolean): Promise<void> {
  const run = (...args: string[]): Promise<Result> => flowstateWith(st.env, 'checkpoint', ...args);
  const step: Step = { st, run, ...(await fixtureAt(st)) };
  await listStep(step);
  if (full) await humanOutput(run, step.root, step.fixture);
  const sharedOf3 = await showStep(step);
  await validateStep(step);
  await historyStep(step);
  await gcStep(step, full);
  await disposeStep(step);
  if (full) await corruptSharedFile(run, step.root, sharedOf3);
}

async function listStep({ st, run, root, fixture }: Step): Promise<void> {
  const list = await run('list', root, '--json');
  assert.equal(list.code, 0, `${st.name}: ${list.stderr}`);
  const listed = JSON.parse(list.stdout) as { checkpoints: Summary[]; sharedFiles: { count: number; bytes: number } };
  const byId = new Map(listed.checkpoints.map((c) => [c.checkpointId, c]));
  assert.deepEqual([...byId.keys()], [2, 3, 4, 5], `${st.name}: subsumed checkpoint 1 is gone`);
  for (const id of fixture.completed) {
    const c = byId.get(id)!;
    assert.equal(c.status, 'COMPLETED');
    assert.equal(c.retained, true);
    assert.ok(c.sharedBytes > 0 && c.exclusiveBytes > 0 && c.bytes === c.sharedBytes + c.exclusiveBytes, JSON.stringify(c));
  }
  assert.ok(byId.get(3)!.sharedWithOthers > 0, 'incremental RocksDB: checkpoint 3 reuses SSTs of checkpoint 2');
  assert.equal(byId.get(4)!.status, 'IN_PROGRESS');
  assert.deepEqual([byId.get(5)!.status, byId.get(5)!.reason], ['INCOMPLETE', 'MISSING_FILES']);
  assert.ok(listed.sharedFiles.count > 0 && listed.sharedFiles.bytes > 0);
}

/** Returns a shared file checkpoint 3 references. */
async function showStep({ st, run, root }: Step): Promise<string> {
  const show = await run('show', root, 'chk-3', '--json');
  assert.equal(show.code, 0, `${st.name}: ${show.stderr}`);
  const shown = JSON.parse(show.stdout) as {
    operators: Array<{ uid: string; subtasks: Array<{ handles: Array<{ category: string; type: string; keyGroups?: { start: number; end: number }; files: Array<{ path: string; name?: string; shared: boolean }> }> }> }>;
    sharedFiles: Array<{ path: string; referencedBy: number[] }>;
  };
  assert.deepEqual(shown.operators.map((o) => o.uid), ['source', 'counts', 'window']);
  const rocks = shown.operators[1]!.subtasks.map((s) => s.handles[0]!);
  assert.deepEqual(rocks.map((h) => [h.type, h.keyGroups]), [['rocksdb-incremental', { start: 0, end: 63 }], ['rocksdb-incremental', { start: 64, end: 127 }]]);
  assert.ok(rocks[0]!.files.some((f) => f.shared && f.name?.endsWith('.sst') === true), 'SSTs in shared/, with their RocksDB names');
  assert.ok(shown.sharedFiles.some((f) => f.referencedBy.includes(2) && f.referencedBy.includes(3)), 'a shared file used by 2 and 3');
  return shown.sharedFiles.find((f) => f.referencedBy.includes(3))!.path;
}

async function validateStep({ st, run, root }: Step): Promise<void> {
  // Validate: every completed checkpoint is whole; the incomplete one is a finding.
  const all = await run('validate', root, '--json');
  assert.equal(all.code, 1, `${st.name}: ${all.stdout}${all.stderr}`);
  const v = JSON.parse(all.stdout) as { ok: boolean; checkpoints: Array<{ checkpointId: number; ok: boolean; report?: { filesChecked: number; records: number } }> };
  assert.deepEqual(v.checkpoints.map((c) => [c.checkpointId, c.ok]), [[2, true], [3, true], [4, true], [5, false]]);
  assert.ok(v.checkpoints[1]!.report!.filesChecked > 5 && v.checkpoints[1]!.report!.records > 0);
}

async function historyStep({ st, run, root }: Step): Promise<void> {
  // history: what the coordinator persisted, on the same storage.
  const hist = await run('history', root, '--json');
  assert.equal(hist.code, 0, `${st.name}: ${hist.stderr}`);
  const entries = (JSON.parse(hist.stdout) as { entries: Array<{ checkpointId: number; status: string; snapshotType: string }> }).entries;
  assert.deepEqual(entries.map((e) => [e.checkpointId, e.status, e.snapshotType]), [[1, 'COMPLETED', 'FULL'], [2, 'COMPLETED', 'INCREMENTAL'], [3, 'COMPLETED', 'INCREMENTAL'], [4, 'FAILED', 'INCREMENTAL']]);
}

async function gcStep({ st, run, root, fs }: Step, full: boolean): Promise<void> {
  // gc: a dry run deletes nothing; --apply deletes exactly what it listed, and leaves 2 and 3 whole.
  const before = await paths(fs);
  const dry = await run('gc', root, '--json');
  assert.equal(dry.code, 0, `${st.name}: ${dry.stderr}`);
  const planned = (JSON.parse(dry.stdout) as { files: Array<{ path: string }> }).files.map((f) => f.path);
  assert.ok(planned.includes('chk-5/_metadata') && planned.some((p) => p.startsWith('chk-4/')) && planned.some((p) => p.startsWith('shared/')), planned.join(', '));
  assert.deepEqual(await paths(fs), before, 'dry run');
  assert.ok(!planned.some((p) => p.startsWith('_history/')), 'the history is kept');
  const applied = await run('gc', root, '--apply');
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stdout, new RegExp(`deleted ${planned.length} file\\(s\\)`));
  assert.deepEqual(await paths(fs), before.filter((p) => !planned.includes(p)));
  const after = JSON.parse((await run('list', root, '--json')).stdout) as { checkpoints: Summary[] };
  assert.deepEqual(after.checkpoints.map((c) => [c.checkpointId, c.status]), [[2, 'COMPLETED'], [3, 'COMPLETED']]);
  if (full) assert.equal((await run('validate', root)).code, 0);
}

async function disposeStep({ st, run, root, fs }: Step): Promise<void> {
  // dispose: a savepoint made from checkpoint 3 goes; the checkpoint and the job's directory are refused.
  const sp = `${root}-savepoint`;
  await convertSavepoint(`${root}/chk-3`, sp, 'canonical', { fileSystems, nativeFormats: [ROCKSDB_NATIVE_FORMAT] });
  // An output inside the input (here a prefix inside it on S3 and HDFS) is refused, nothing written.
  const nested = await flowstateWith(st.env, 'savepoint', 'convert', sp, `${sp}/nested`, '--to', 'canonical', '--json');
  assert.equal(nested.code, 2, `${st.name}: ${nested.stdout}${nested.stderr}`);
  assert.equal((JSON.parse(nested.stdout) as { error: { code: string } }).error.code, 'SAVEPOINT_OUTPUT');
  assert.ok(!(await paths(fileSystems.resolve(sp))).some((p) => p.startsWith('nested')), `${st.name}: nothing written inside the input`);
  const kept = await paths(fs);
  for (const target of [`${root}/chk-3`, root]) {
    const refused = await run('dispose', target, '--json');
    assert.equal(refused.code, 2, `${st.name} ${target}: ${refused.stdout}${refused.stderr}`);
    assert.equal((JSON.parse(refused.stdout) as { error: { code: string } }).error.code, 'NOT_A_SAVEPOINT');
  }
  assert.deepEqual(await paths(fs), kept, 'nothing of the checkpoints was touched');
  const disposed = await run('dispose', sp, '--json');
  assert.equal(disposed.code, 0, `${st.name}: ${disposed.stderr}`);
  const d = JSON.parse(disposed.stdout) as { deleted: string[]; directoryRemoved: boolean };
  assert.ok(d.deleted[0]!.endsWith('/_metadata') && d.deleted.length > 2 && d.directoryRemoved);
  assert.deepEqual(await paths(fileSystems.resolve(sp)), [], 'the savepoint is gone');
}

/** A shared SST with one flipped byte (same size): validate reads it and names it by its full path. */
async function corruptSharedFile(run: (...args: string[]) => Promise<Result>, root: string, shared: string): Promise<void> {
  const file = join(root, shared);
  const bytes = readFileSync(file);
  bytes[bytes.length >> 1]! ^= 0x5a;
  writeFileSync(file, bytes);
  const r = await run('validate', root, '3', '--json');
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const report = JSON.parse(r.stdout) as { checkpoints: Array<{ report: { problems: Array<{ code: string; file?: string; message: string }> } }> };
  const problems = report.checkpoints[0]!.report.problems;
  assert.ok(problems.some((p) => p.code === 'CORRUPT_CHECKPOINT' && p.file === file && /CRC32C/.test(p.message)), r.stdout);
}

/** The human-readable output (local disk only: the JSON checks cover the storages). */
async function humanOutput(run: (...args: string[]) => Promise<Result>, root: string, fixture: CheckpointRootFixture): Promise<void> {
  const human = await run('list', root, '--retained', '1');
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^\s+2\s+completed, subsumed/m);
  assert.match(human.stdout, /^\s+3\s+completed, retained/m);
  assert.match(human.stdout, /^\s+4\s+in progress or abandoned/m);
  assert.match(human.stdout, /^\s+5\s+incomplete \(references missing files\)/m);
  assert.ok(human.stdout.includes(fixture.lostFile), `names the lost file\n${human.stdout}`);

  const showHuman = await run('show', root, '3');
  assert.match(showHuman.stdout, /operator 'counts': parallelism 2, maxParallelism 128\n\s+subtask 0:\n\s+keyed rocksdb-incremental, key groups 0-63/);
  assert.match(showHuman.stdout, /also in chk-2/);
  assert.equal((await run('show', root, '99')).code, 2, 'unknown id');
  const one = await run('validate', root, '3');
  assert.equal(one.code, 0, `${one.stdout}${one.stderr}`);
  assert.match(one.stdout, /^OK: /);

  const history = await run('history', root, '--limit', '2');
  assert.equal(history.code, 0, history.stderr);
  assert.match(history.stdout, /^\s+3\s+CHECKPOINT\s+INCREMENTAL\s+COMPLETED\s+2026-12-02T12:00:03.000Z\s+103 ms/m);
  assert.match(history.stdout, /4 failed: declined by subtask 1 of counts/);
  assert.doesNotMatch(history.stdout, /^\s+2\s+CHECKPOINT/m, '--limit 2: the newest two');
  assert.match(history.stdout, /^  2 older history files not read \(see --limit\)$/m, 'what --limit left out is said');
  // A damaged history file is reported (exit 1) and hides none of the others.
  const damaged = join(root, '_history', readdirSync(join(root, '_history')).sort()[0]!);
  const original = readFileSync(damaged);
  writeFileSync(damaged, readFileSync(damaged).subarray(0, 40));
  const partial = await run('history', root, '--json');
  assert.equal(partial.code, 1, partial.stderr);
  const p = JSON.parse(partial.stdout) as { entries: unknown[]; unreadable: Array<{ file: string }> };
  assert.equal(p.entries.length, 3);
  assert.deepEqual(p.unreadable.map((u) => u.file), [damaged]);
  writeFileSync(damaged, 'x');
  assert.equal((await run('history', root)).code, 1);
  writeFileSync(damaged, original);
}

describe('flowstate checkpoint (real binary)', () => {
  it('has --help with the exit codes; usage errors exit 2, a missing directory 3', async () => {
    for (const args of [['checkpoint', '--help'], ...['list', 'show', 'validate', 'gc', 'history', 'dispose'].map((v) => ['checkpoint', v, '--help'])]) {
      const r = await flowstateWith({}, ...args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /Exit codes:/);
    }
    const missing = join(local, 'no-such-job');
    for (const [args, code] of [
      [['checkpoint', 'bogus'], 2],
      [['checkpoint', 'show', local], 2],
      [['checkpoint', 'show', local, 'x42'], 2],
      [['checkpoint', 'list', local, '--retained', '0'], 2],
      [['checkpoint', 'gc', local, '--in-flight', 'nope'], 2],
      [['checkpoint', 'list', FIXTURE], 2],
      [['checkpoint', 'list', missing], 3],
      [['checkpoint', 'list'], 2],
      [['checkpoint', 'show', '3'], 2],
      [['checkpoint', 'dispose', missing], 3],
    ] as const) {
      const r = await flowstateWith({}, ...args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    }
  });

  it('list, show, validate, history, gc and dispose on local disk, S3 and HDFS', async () => {
    await Promise.all(storages.map(async (st, i) => {
      try {
        await scenario(st, i === 0);
      } catch (e) {
        if (e instanceof Error) e.message = `${st.name}: ${e.message}`;
        throw e;
      }
    }));
  });
});

describe('flowstate checkpoint --config', () => {
  it("takes the directory, num-retained and storage settings from the job's configuration", async () => {
    const st = storages.find((x) => x.name.startsWith('S3'))!;
    const { root, fixture } = await fixtureAt(st);
    const config = join(local, `job-${n++}.yaml`);
    writeFileSync(config, `s3:\n  endpoint: ${s3!.endpoint}\n  path.style.access: true\nstate.checkpoints.dir: ${root}\nstate.checkpoints.num-retained: 1\n`);
    // The environment's endpoint is wrong: only the configuration's s3.endpoint reaches s3rver.
    const env = { ...st.env, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1', FLOWSTATE_S3_PATH_STYLE: 'false', AWS_MAX_ATTEMPTS: '1' };
    const run = (...args: string[]): Promise<Result> => flowstateWith(env, 'checkpoint', ...args, '--config', config);
    const list = await run('list', '--json');
    assert.equal(list.code, 0, list.stderr);
    const retained = (JSON.parse(list.stdout) as { checkpoints: Summary[] }).checkpoints.filter((c) => c.status === 'COMPLETED').map((c) => [c.checkpointId, c.retained]);
    assert.deepEqual(retained, [[2, false], [3, true]], 'num-retained 1 from the configuration');
    const explicit = await run('list', '--json', '--retained', '2');
    assert.equal(explicit.code, 0, explicit.stderr);
    const both = (JSON.parse(explicit.stdout) as { checkpoints: Summary[] }).checkpoints.filter((c) => c.status === 'COMPLETED').map((c) => [c.checkpointId, c.retained]);
    assert.deepEqual(both, [[2, true], [3, true]], 'an explicit --retained wins over the configuration');
    const show = await run('show', '3', '--json');
    assert.equal(show.code, 0, show.stderr);
    assert.deepEqual((JSON.parse(show.stdout) as { operators: Array<{ uid: string }> }).operators.map((o) => o.uid), ['source', 'counts', 'window']);
    const one = await run('validate', String(fixture.completed.at(-1)));
    assert.equal(one.code, 0, one.stdout + one.stderr);
    const history = await run('history', '--json');
    assert.equal(history.code, 0, history.stderr);
    assert.ok((JSON.parse(history.stdout) as { entries: unknown[] }).entries.length > 0, 'the history read through the configured endpoint');
    // The same directory named explicitly, and without the configuration's endpoint: unreachable.
    assert.equal((await run('list', root, '--json')).code, 0);
    assert.equal((await flowstateWith(env, 'checkpoint', 'list', root, '--json')).code, 3);
  });
});
