import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { deserializeCheckpointMetadata, serializeCheckpointMetadata, Serializers, ValueStateDescriptor, type CheckpointMetadata, type SerializerSnapshotRegistry, type TypeSerializer } from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { SavepointWriter } from '@flowstate/savepoint';
// Local paths for the savepoint library in this process (the binary registers its storages itself).
import '@flowstate/storage-local';
import { FIXTURE, flowstate, repo } from './binary.js';
import { freshPaths } from './in-process.js';

const fresh = freshPaths('flowstate-cli-test-');

/**
 * The v1 fixture laid out as FsCheckpointStorage lays out a retained checkpoint: `_metadata` and
 * the operator state files in `<root>/chk-<id>/`, the keyed streams in `<root>/shared/` (as an
 * incremental backend shares files), paths relative to `<root>`, kind CHECKPOINT; plus a file of
 * another checkpoint in `shared/` and another checkpoint's directory.
 */
function retainedCheckpoint(checkpointRoot: string, id: number): string {
  const m = deserializeCheckpointMetadata(readFileSync(join(FIXTURE, '_metadata')), '_metadata') as unknown as {
    checkpointId: number;
    kind: string;
    operators: Array<{ subtasks: Array<{ keyed: Array<{ stream: { path: string } }>; operator: Array<{ stream: { path: string } }> }> }>;
  };
  mkdirSync(join(checkpointRoot, `chk-${id}`), { recursive: true });
  mkdirSync(join(checkpointRoot, 'shared'));
  mkdirSync(join(checkpointRoot, `chk-${id - 1}`));
  const move = (stream: { path: string }, dir: string) => {
    writeFileSync(join(checkpointRoot, dir, stream.path), readFileSync(join(FIXTURE, stream.path)));
    stream.path = `${dir}/${stream.path}`;
  };
  for (const op of m.operators) {
    for (const st of op.subtasks) {
      for (const h of st.keyed) move(h.stream, 'shared');
      for (const h of st.operator) if (!h.stream.path.includes('/')) move(h.stream, `chk-${id}`);
    }
  }
  m.checkpointId = id;
  m.kind = 'CHECKPOINT';
  writeFileSync(join(checkpointRoot, `chk-${id}`, '_metadata'), serializeCheckpointMetadata(m as unknown as CheckpointMetadata));
  writeFileSync(join(checkpointRoot, 'shared', 'of-another-checkpoint'), 'x');
  writeFileSync(join(checkpointRoot, `chk-${id - 1}`, 'stale'), 'x');
  return join(checkpointRoot, `chk-${id}`);
}

const VERBS = ['inspect', 'validate', 'diff', 'convert', 'migrate', 'rescale'];

describe('flowstate savepoint (real binary)', () => {
  it('has --help on the program, the group and every verb, with the exit codes', async () => {
    for (const args of [['--help'], ['savepoint', '--help'], ...VERBS.map((v) => ['savepoint', v, '--help'])]) {
      const r = await flowstate(...args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /Usage: flowstate/);
      assert.match(r.stdout, /Exit codes:/);
    }
  });

  it('usage errors exit 2', async () => {
    for (const args of [['savepoint', 'bogus'], ['savepoint', 'inspect'], ['savepoint', 'rescale', FIXTURE, fresh()], ['savepoint', 'rescale', FIXTURE, fresh(), '--max-parallelism', 'x'], ['savepoint', 'convert', FIXTURE, fresh(), '--to', 'parquet'], ['savepoint', 'inspect', FIXTURE, '--bogus']]) {
      const r = await flowstate(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.ok(r.stderr.length > 0);
    }
  });

  it('inspect: human and --json', async () => {
    const h = await flowstate('savepoint', 'inspect', FIXTURE);
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /format v1/);
    assert.match(h.stdout, /operator 'all-kinds': parallelism 2, maxParallelism 16/);
    assert.match(h.stdout, /key groups: 16\/16 covered \(0-15\): every key group exactly once/);
    assert.match(h.stdout, /attributes\s+MAP\s+void-namespace\s+map<string, float64>\s+71/);
    assert.match(h.stdout, /rules\s+BROADCAST\s+string -> msgpack\s+3/);
    assert.equal(h.stderr, '', 'no progress bar when stderr is not a terminal');
    const j = await flowstate('savepoint', 'inspect', FIXTURE, '--json');
    assert.equal(j.code, 0);
    const report = JSON.parse(j.stdout) as { formatVersion: number; operators: Array<{ uid: string; keyedStates: Array<{ name: string; kind: string; entries: number }> }> };
    assert.equal(report.formatVersion, 1);
    assert.deepEqual(report.operators[0]!.keyedStates.map((s) => s.kind), ['VALUE', 'VALUE', 'LIST', 'MAP', 'REDUCING', 'AGGREGATING']);
    assert.equal(report.operators[0]!.keyedStates[0]!.entries, 40);
  });

  it('validate: 0 valid, 1 corrupt, 3 not a savepoint', async () => {
    const ok = await flowstate('savepoint', 'validate', FIXTURE);
    assert.equal(ok.code, 0, ok.stdout);
    assert.match(ok.stdout, /^OK: /);
    const bad = fresh();
    cpSync(FIXTURE, bad, { recursive: true });
    const victim = readdirSync(bad).find((f) => f !== '_metadata' && readFileSync(join(bad, f)).length > 1000)!;
    const bytes = readFileSync(join(bad, victim));
    bytes[bytes.length - 3]! ^= 0xff;
    writeFileSync(join(bad, victim), bytes);
    const r = await flowstate('savepoint', 'validate', bad, '--json');
    assert.equal(r.code, 1, r.stdout);
    const report = JSON.parse(r.stdout) as { ok: boolean; problems: Array<{ code: string; file?: string; offset?: number }> };
    assert.equal(report.ok, false);
    assert.ok(report.problems.some((p) => p.code === 'CORRUPT_CHECKPOINT' && p.file?.includes(victim) === true && typeof p.offset === 'number'), r.stdout);
    const none = await flowstate('savepoint', 'validate', fresh());
    assert.equal(none.code, 3, none.stdout + none.stderr);
  });

  it('inspect of an unknown format version exits 4, of a corrupt one 3', async () => {
    const d = fresh();
    cpSync(FIXTURE, d, { recursive: true });
    const meta = readFileSync(join(d, '_metadata'));
    const v9 = Buffer.from(meta);
    v9.writeUInt16BE(9, 4);
    writeFileSync(join(d, '_metadata'), v9);
    // The version is read before the CRC is checked, so the message is about the version.
    const r = await flowstate('savepoint', 'inspect', d, '--json');
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /unknown format version 9/);
    assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'UNKNOWN_FORMAT_VERSION');
    writeFileSync(join(d, '_metadata'), meta.subarray(0, 20));
    const c = await flowstate('savepoint', 'inspect', d);
    assert.equal(c.code, 3, c.stderr);
    assert.match(c.stderr, /_metadata/);
  });

  it('inspect --no-scan and diff refuse a savepoint whose state file is missing or truncated (exit 3, naming the file)', async () => {
    for (const damage of ['remove', 'truncate'] as const) {
      const d = fresh();
      cpSync(FIXTURE, d, { recursive: true });
      const victim = readdirSync(d).find((f) => f !== '_metadata' && readFileSync(join(d, f)).length > 1000)!;
      if (damage === 'remove') rmSync(join(d, victim));
      else writeFileSync(join(d, victim), readFileSync(join(d, victim)).subarray(0, 100));
      const i = await flowstate('savepoint', 'inspect', d, '--no-scan');
      assert.equal(i.code, 3, `${damage}: ${i.stdout}${i.stderr}`);
      assert.ok(i.stderr.includes(victim) && /incomplete/.test(i.stderr), i.stderr);
      const df = await flowstate('savepoint', 'diff', FIXTURE, d);
      assert.equal(df.code, 3, `${damage}: ${df.stdout}${df.stderr}`);
    }
  });

  it('convert --to canonical copies byte for byte; --to native-rocksdb and back is identical', async () => {
    const out = fresh();
    const r = await flowstate('savepoint', 'convert', FIXTURE, out, '--to', 'canonical');
    assert.equal(r.code, 0, r.stderr);
    for (const f of readdirSync(FIXTURE)) assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(FIXTURE, f))), f);
    const nativeDir = join(fresh(), 'native');
    const native = await flowstate('savepoint', 'convert', FIXTURE, nativeDir, '--to', 'native-rocksdb');
    assert.equal(native.code, 0, native.stderr);
    const backDir = join(fresh(), 'back');
    const back = await flowstate('savepoint', 'convert', nativeDir, backDir, '--to', 'canonical');
    assert.equal(back.code, 0, back.stderr);
    const diff = await flowstate('savepoint', 'diff', FIXTURE, backDir);
    assert.equal(diff.code, 0, diff.stdout + diff.stderr);
    const again = await flowstate('savepoint', 'convert', FIXTURE, out, '--to', 'canonical');
    assert.equal(again.code, 2, 'output exists and is not empty');
  });

  it('migrate --to-version: 1 works, 2 is unsupported (4)', async () => {
    const out = fresh();
    const r = await flowstate('savepoint', 'migrate', FIXTURE, out, '--to-version', '1', '--json');
    assert.equal(r.code, 0, r.stderr);
    const migrated = JSON.parse(r.stdout) as { fromVersion: number; formatVersion: number };
    assert.equal(migrated.fromVersion, 1);
    assert.equal(migrated.formatVersion, 1);
    assert.equal((await flowstate('savepoint', 'validate', out)).code, 0);
    const v2 = await flowstate('savepoint', 'migrate', FIXTURE, fresh(), '--to-version', '2');
    assert.equal(v2.code, 4, v2.stderr);
    assert.match(v2.stderr, /unknown format version 2/);
  });

  it('rescale then diff: same content, different layout', async () => {
    const out = fresh();
    const r = await flowstate('savepoint', 'rescale', FIXTURE, out, '--max-parallelism', '64', '--parallelism', '3');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await flowstate('savepoint', 'validate', out)).code, 0);
    const same = await flowstate('savepoint', 'diff', FIXTURE, FIXTURE);
    assert.equal(same.code, 0, same.stdout);
    assert.match(same.stdout, /no differences/);
    const d = await flowstate('savepoint', 'diff', FIXTURE, out, '--json');
    assert.equal(d.code, 1);
    const report = JSON.parse(d.stdout) as { equal: boolean; operators: Array<{ changes: string[]; states: Array<{ status: string }> }> };
    assert.equal(report.equal, false);
    assert.deepEqual(report.operators[0]!.changes, ['parallelism 2 -> 3', 'maxParallelism 16 -> 64']);
    assert.ok(report.operators.every((o) => o.states.length > 0 && o.states.every((s) => s.status === 'equal')), 'every state has the same content');
    const tooSmall = await flowstate('savepoint', 'rescale', FIXTURE, fresh(), '--max-parallelism', '1', '--parallelism', '2');
    assert.equal(tooSmall.code, 2, tooSmall.stderr);
  });

  it('validate and inspect understand a retained checkpoint (chk-<id>, files in ../shared/) and a _metadata file path, as Flink run -s does', async () => {
    const chk = retainedCheckpoint(fresh(), 22);
    const v = await flowstate('savepoint', 'validate', chk, '--json');
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const report = JSON.parse(v.stdout) as { ok: boolean; problems: unknown[]; filesChecked: number; records: number };
    assert.deepEqual(report.problems, [], 'no doubled chk-22/chk-22 paths, no shared file of another checkpoint reported');
    assert.ok(report.filesChecked > 0 && report.records > 0);
    const i = await flowstate('savepoint', 'inspect', chk);
    assert.equal(i.code, 0, i.stderr);
    assert.match(i.stdout, /key groups: 16\/16 covered \(0-15\): every key group exactly once/);
    const sp = await flowstate('savepoint', 'inspect', FIXTURE);
    const operators = (out: string) => out.slice(out.indexOf("operator '"));
    assert.equal(operators(i.stdout), operators(sp.stdout), 'same content as the savepoint it was made of');
    for (const target of [join(chk, '_metadata'), join(FIXTURE, '_metadata')]) {
      for (const verb of ['inspect', 'validate']) {
        const r = await flowstate('savepoint', verb, target);
        assert.equal(r.code, 0, `${verb} ${target}: ${r.stdout}${r.stderr}`);
      }
    }
    // The job's checkpoint root is not one checkpoint: refused, naming the checkpoints in it.
    const jobDir = await flowstate('savepoint', 'inspect', join(chk, '..'));
    assert.equal(jobDir.code, 3, jobDir.stderr);
    assert.match(jobDir.stderr, /is a checkpoint directory of a job, not one checkpoint: name one of its completed checkpoints, e\.g\. '.*chk-22' \(1 found: chk-22\)/);
    const stateFile = readdirSync(FIXTURE).find((f) => f !== '_metadata')!;
    const notMeta = await flowstate('savepoint', 'inspect', join(FIXTURE, stateFile));
    assert.equal(notMeta.code, 3, notMeta.stderr);
    assert.match(notMeta.stderr, /is a file: name a savepoint or checkpoint directory, or its _metadata file/);
  });

  it('a 256-character path segment (ENAMETOOLONG) is input trouble, not an internal error', async () => {
    const d = fresh();
    cpSync(FIXTURE, d, { recursive: true });
    const long = 'x'.repeat(256);
    const m = deserializeCheckpointMetadata(readFileSync(join(d, '_metadata')), '_metadata') as unknown as { operators: Array<{ subtasks: Array<{ keyed: Array<{ stream: { path: string } }> }> }> };
    m.operators[0]!.subtasks[0]!.keyed[0]!.stream.path = long;
    writeFileSync(join(d, '_metadata'), serializeCheckpointMetadata(m as unknown as CheckpointMetadata));
    const v = await flowstate('savepoint', 'validate', d, '--json');
    assert.equal(v.code, 1, v.stderr);
    assert.ok((JSON.parse(v.stdout) as { problems: Array<{ code: string; message: string }> }).problems.some((p) => p.code === 'STORAGE_ERROR' && /ENAMETOOLONG/.test(p.message)), v.stdout);
    const i = await flowstate('savepoint', 'inspect', d);
    assert.equal(i.code, 3, i.stderr);
    assert.match(i.stderr, /ENAMETOOLONG/);
    const dirArg = await flowstate('savepoint', 'inspect', join(d, long));
    assert.equal(dirArg.code, 3, dirArg.stderr);
  });

  it('--serializers loads snapshot readers of custom serializers', async () => {
    const modulePath = join(repo, 'packages/cli/test/custom-serializers.mjs');
    const custom = (await import(modulePath)) as { registry: SerializerSnapshotRegistry; UpperStringSerializer: { INSTANCE: TypeSerializer<string> } };
    const dir = fresh();
    await SavepointWriter.newSavepoint({ maxParallelism: 8, registry: custom.registry, stateBackend: new FsStateBackend() })
      .withKeyedOperator('names', {
        data: ['ada', 'grace'],
        keySelector: (s: string) => s,
        keySerializer: Serializers.string,
        bootstrap: { processElement: (s, ctx) => ctx.getState(new ValueStateDescriptor('name', custom.UpperStringSerializer.INSTANCE)).update(s) },
      })
      .write(dir);
    const without = await flowstate('savepoint', 'inspect', dir);
    assert.equal(without.code, 4, without.stderr);
    assert.match(without.stderr, /no serializer snapshot reader registered for type 'upper-string'/);
    const withIt = await flowstate('savepoint', 'inspect', dir, '--serializers', modulePath);
    assert.equal(withIt.code, 0, withIt.stderr);
    assert.match(withIt.stdout, /name\s+VALUE\s+void-namespace\s+upper-string\s+2/);
    assert.equal((await flowstate('savepoint', 'validate', dir, '--serializers', modulePath)).code, 0);
    const bad = await flowstate('savepoint', 'inspect', dir, '--serializers', `${fresh()}.mjs`);
    assert.equal(bad.code, 2, bad.stderr);
  });
});
