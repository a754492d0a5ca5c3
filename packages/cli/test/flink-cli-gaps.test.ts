import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli, skip, tests } from './flink-fixtures.js';

// The CLI's Apache Flink verbs: --from, --serializers, exit codes and --parallelism (issue 12 audit).

const udf = tests('new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint');
const userSerializer = (backend: string): string => tests(`type-serializer-snapshot-migration-itcase-flink1.16-${backend}-savepoint`);
const TEST_SNAPSHOT = 'org.apache.flink.test.migration.TypeSerializerSnapshotMigrationITCase$TestSerializerSnapshot';

/** Runs `f` in a fresh scratch directory, removed afterwards. */
async function withScratch(f: (out: string) => Promise<void>): Promise<void> {
  const out = mkdtempSync(join(tmpdir(), 'flowstate-cli-flink-gaps-'));
  try {
    await f(out);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** A plug-in for the fixture's user serializer: its snapshot holds one UTF string, its values are Java longs. */
function plugIn(dir: string): string {
  const file = join(dir, 'flink-serializers.mjs');
  writeFileSync(
    file,
    `const serializer = { serializerClass: 'TestSerializer', length: 8, deserialize: (i) => i.readLong(), serialize: (v, o) => o.writeLong(v) };
export const flinkSerializers = {
  ${JSON.stringify(TEST_SNAPSHOT)}: (ctx) => ({ serializer, config: { payload: ctx.input.readUTF() } }),
};
`,
  );
  return file;
}

describe('flowstate savepoint convert --from', () => {
  it('--from flink converts a Flink savepoint; --from flowstate on it is a usage error', { skip }, async () => {
    await withScratch(async (out) => {
      const ok = await cli(['savepoint', 'convert', '--from', 'flink', udf, join(out, 'a'), '--to', 'canonical']);
      assert.equal(ok.code, 0, ok.err);
      const wrong = await cli(['savepoint', 'convert', '--from', 'flowstate', udf, join(out, 'b'), '--to', 'canonical']);
      assert.equal(wrong.code, 2);
      assert.match(wrong.err, /--from flowstate: .* is an Apache Flink savepoint/);
      // And the other way: a flowstate savepoint is not a Flink one.
      const back = await cli(['savepoint', 'convert', '--from', 'flink', join(out, 'a'), join(out, 'c'), '--to', 'flink']);
      assert.equal(back.code, 2);
      assert.match(back.err, /--from flink: .* is not an Apache Flink savepoint/);
      assert.equal((await cli(['savepoint', 'convert', '--from', 'flowstate', join(out, 'a'), join(out, 'd'), '--to', 'flink'])).code, 0);
    });
  });
});

describe('exit codes of Apache Flink errors', () => {
  it('FLINK_UNSUPPORTED (a metadata version 1 _metadata) exits 4, not 3', async () => {
    await withScratch(async (out) => {
      mkdirSync(join(out, 'sp'));
      writeFileSync(join(out, 'sp', '_metadata'), Buffer.from([0x49, 0x60, 0x67, 0x2d, 0, 0, 0, 1, 0, 0, 0, 0]));
      const r = await cli(['savepoint', 'inspect', join(out, 'sp')]);
      assert.match(r.err, /metadata version 1/);
      assert.equal(r.code, 4);
    });
  });
});

describe('flowstate savepoint rescale --parallelism on a Flink savepoint', () => {
  it('changes operators with keyed state only; --operator-parallelism sets one operator', { skip }, async () => {
    await withScratch(async (out) => {
      const r = await cli(['savepoint', 'rescale', udf, join(out, 'sp'), '--max-parallelism', '128', '--parallelism', '3', '--operator-parallelism', 'CheckpointingSource2=2']);
      assert.equal(r.code, 0, r.err);
      const report = JSON.parse((await cli(['savepoint', 'inspect', join(out, 'sp'), '--json'])).out) as { operators: { uid?: string; parallelism: number; keyedStates: unknown[] }[] };
      const byUid = new Map(report.operators.map((o) => [o.uid, o]));
      assert.equal(byUid.get('CheckpointingKeyedStateFlatMap1')!.parallelism, 3);
      assert.equal(byUid.get('CheckpointingTimelyStatefulOperator2')!.parallelism, 3);
      assert.equal(byUid.get('CheckpointingSource1')!.parallelism, 1, 'a source without keyed state keeps its parallelism');
      assert.equal(byUid.get('CheckpointingSource2')!.parallelism, 2);
      for (const o of report.operators) if (o.keyedStates.length === 0 && o.uid !== 'CheckpointingSource2') assert.notEqual(o.parallelism, 3, o.uid);
    });
  });
});

describe('a user serializer without plug-in (carried opaquely)', () => {
  it('convert skips the opaque state and converts the rest; rescale and validate work', { skip }, async () => {
    await withScratch(async (out) => {
      const sp = userSerializer('rocksdb');
      const conv = await cli(['savepoint', 'convert', sp, join(out, 'conv'), '--to', 'canonical']);
      assert.equal(conv.code, 0, conv.err);
      assert.match(conv.err, /skipped .*testState: serializer .*TestSerializerSnapshot is opaque/);
      assert.equal((await cli(['savepoint', 'rescale', sp, join(out, 'resc'), '--max-parallelism', '4', '--parallelism', '2'])).code, 0);
      const v = await cli(['savepoint', 'validate', join(out, 'resc')]);
      assert.equal(v.code, 0, v.out);
      assert.match(v.out, /FLINK_OPAQUE_SERIALIZER: state 'testState'/);
    });
  });
});

describe('--serializers on Apache Flink savepoints (user serializer snapshot of the 1.16 fixtures)', () => {
  for (const backend of ['hashmap', 'rocksdb']) {
    it(`${backend}: inspect, validate, diff, convert and rescale use the plug-in`, { skip }, async () => {
      await withScratch(async (out) => {
        const sp = userSerializer(backend);
        const mod = plugIn(out);
        const inspect = JSON.parse((await cli(['savepoint', 'inspect', sp, '--json', '--serializers', mod])).out) as { operators: { keyedStates: { name: string; entries?: number; error?: string }[] }[] };
        const testState = inspect.operators.flatMap((o) => o.keyedStates).find((s) => s.name === 'testState');
        assert.equal(testState?.entries, 4, JSON.stringify(testState));
        const validate = await cli(['savepoint', 'validate', sp, '--json', '--serializers', mod]);
        assert.equal(validate.code, 0, validate.out);
        assert.doesNotMatch(validate.out, /TestSerializerSnapshot/);
        assert.equal((await cli(['savepoint', 'diff', sp, sp, '--serializers', mod])).code, 0);
        const conv = await cli(['savepoint', 'convert', sp, join(out, 'conv'), '--to', 'canonical', '--json', '--serializers', mod]);
        assert.equal(conv.code, 0, conv.err);
        const rescaled = await cli(['savepoint', 'rescale', sp, join(out, 'resc'), '--max-parallelism', '8', '--serializers', mod]);
        assert.equal(rescaled.code, 0, rescaled.err);
        const after = JSON.parse((await cli(['savepoint', 'inspect', join(out, 'resc'), '--json', '--serializers', mod])).out) as typeof inspect & { operators: { maxParallelism: number }[] };
        assert.equal(after.operators.flatMap((o) => o.keyedStates).find((s) => s.name === 'testState')?.entries, 4);
        // A module without Flink readers is a usage error, not a silent fallback.
        const none = join(out, 'none.mjs');
        writeFileSync(none, 'export const registry = 1;\n');
        assert.equal((await cli(['savepoint', 'inspect', sp, '--serializers', none])).code, 2);
      });
    });
  }
});
