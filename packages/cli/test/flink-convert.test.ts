import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  encodeCanonicalStream,
  FlinkSavepoint,
  FlinkSnapshots,
  JavaDataOutput,
  javaLongHash,
  keyGroupForHash,
  operatorIdFromUid,
  writeFlinkMetadata,
  type StateMetaInfo,
} from '@flowstate/flink';
import { SavepointReader, validateSavepoint } from '@flowstate/savepoint';
import { FLINK_FIXTURES, runCli as cli, SKIP_WITHOUT_FLINK_FIXTURES, withTempDirectory } from './in-process.js';

const fixtures = FLINK_FIXTURES;

/** Apache Flink savepoints among the fixtures (paths under FLINK_FIXTURES). */
const FLINK_SAVEPOINTS = {
  udfMigration23: 'snuyanzin-flink/flink-tests/src/test/resources/new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint',
  udfMigration18: 'snuyanzin-flink/flink-tests/src/test/resources/new-stateful-udf-migration-itcase-flink1.8-savepoint',
  legacyHeapTimers112: 'snuyanzin-flink/flink-tests/src/test/resources/legacy-raw-state-heap-timers-rocks-db-1.12',
  tableState: 'snuyanzin-flink/flink-libraries/flink-state-processing-api/src/test/resources/table-state',
  groupAggregate: 'snuyanzin-flink/flink-table/flink-table-planner/src/test/resources/restore-tests/stream-exec-group-aggregate_1/group-aggregate-simple/savepoint',
  complexKeyed: 'snuyanzin-flink/flink-tests/src/test/resources/operatorstate/complexKeyed-flink2.3',
} as const;

/**
 * A Flink canonical savepoint (V6) written with @flowstate/flink: Long keys 0..n-1, VALUE 'count' = key * 3, LIST 'tags',
 * and event timers (VoidNamespace) at key * 100, for even keys also at Long.MIN_VALUE + key (beyond flowstate's safe integers).
 */
function ownFlinkSavepoint(dir: string, n: number): void {
  mkdirSync(dir, { recursive: true });
  const long = FlinkSnapshots.long();
  const vns = FlinkSnapshots.voidNamespace();
  const states: StateMetaInfo[] = [
    { name: 'count', backendStateType: 'KEY_VALUE', options: [['KEYED_STATE_TYPE', 'VALUE']], serializers: [['NAMESPACE_SERIALIZER', vns], ['VALUE_SERIALIZER', long]] },
    { name: 'tags', backendStateType: 'KEY_VALUE', options: [['KEYED_STATE_TYPE', 'LIST']], serializers: [['NAMESPACE_SERIALIZER', vns], ['VALUE_SERIALIZER', FlinkSnapshots.list(FlinkSnapshots.string())]] },
    { name: '_timer_state/event_t', backendStateType: 'PRIORITY_QUEUE', options: [], serializers: [['VALUE_SERIALIZER', FlinkSnapshots.timer(long, vns)]] },
  ];
  const timer = (kg: number, k: bigint, t: bigint): Uint8Array => bytes((o) => { o.writeByte(kg); o.writeLong(BigInt.asIntN(64, t ^ (1n << 63n))); o.writeLong(k); o.writeByte(0); });
  const maxParallelism = 8;
  const bytes = (f: (o: JavaDataOutput) => void): Uint8Array => {
    const o = new JavaDataOutput();
    f(o);
    return o.toBytes();
  };
  const recordsOf = (kg: number) => {
    const keys = Array.from({ length: n }, (_, i) => BigInt(i)).filter((k) => keyGroupForHash(javaLongHash(k), maxParallelism) === kg);
    const key = (k: bigint) => bytes((o) => { o.writeByte(kg); o.writeLong(k); o.writeByte(0); });
    return [
      ...keys.map((k) => ({ stateId: 0, key: key(k), value: bytes((o) => o.writeLong(k * 3n)) })),
      ...keys.map((k) => ({ stateId: 1, key: key(k), value: bytes((o) => { FlinkSnapshots.string().serializer.serialize(`t${k}`, o); o.writeByte(0x2c); FlinkSnapshots.string().serializer.serialize('x', o); }) })),
      ...keys.flatMap((k) => [...(k % 2n === 0n ? [-(2n ** 63n) + k] : []), k * 100n].map((t) => ({ stateId: 2, key: timer(kg, k, t), value: new Uint8Array(0) }))),
    ].sort((a, b) => a.stateId - b.stateId || Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  };
  const enc = encodeCanonicalStream({ version: 6, compression: false, keySerializer: long, states }, 0, maxParallelism, recordsOf);
  writeFileSync(join(dir, 'k0'), enc.bytes);
  writeFileSync(join(dir, '_metadata'), writeFlinkMetadata({
    version: 6, checkpointId: 9n, masterStates: [], propertiesBytes: new Uint8Array([0xac, 0xed, 0, 5, 0x70]),
    operators: [{ name: 'Map', uid: 'counter', operatorId: operatorIdFromUid('counter'), parallelism: 1, maxParallelism, coordinatorState: null, fullyFinished: false,
      subtasks: [{ index: 0, finished: false, managedOperatorState: null, rawOperatorState: null, managedKeyedState: { type: 'key-groups', tag: 7, startKeyGroup: 0, offsets: enc.offsets, stream: { type: 'relative-file', relativePath: 'k0', size: enc.bytes.length } }, rawKeyedState: null, inputChannelState: [], resultSubpartitionState: [] }] }],
  }));
}

describe('flowstate savepoint convert: Apache Flink -> flowstate canonical', () => {
  it('own Flink savepoint: every entry arrives, the result validates', async () => {
    await withTempDirectory('flowstate-flink-convert-', async (tmp) => {
      ownFlinkSavepoint(join(tmp, 'flink'), 30);
      const r = await cli(['savepoint', 'convert', join(tmp, 'flink'), join(tmp, 'fs'), '--to', 'canonical', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((JSON.parse(r.stdout) as { skipped: string[] }).skipped, []);
      assert.equal((await validateSavepoint(join(tmp, 'fs'))).ok, true);
      const sp = await SavepointReader.load(join(tmp, 'fs'));
      const counts = new Map<bigint, unknown>();
      for await (const e of sp.readKeyedState<bigint, unknown, bigint>('counter', 'count')) counts.set(e.key, e.value);
      assert.equal(counts.size, 30);
      for (const [k, v] of counts) assert.equal(v, k * 3n);
      let tags = 0;
      for await (const e of sp.readKeyedState<bigint, unknown, string[]>('counter', 'tags')) {
        assert.deepEqual(e.value, [`t${e.key}`, 'x']);
        tags++;
      }
      assert.equal(tags, 30);
      // And back to Flink: the same state file, byte for byte (timers at Long.MIN_VALUE + k included).
      const back = await cli(['savepoint', 'convert', join(tmp, 'fs'), join(tmp, 'flink2'), '--to', 'flink', '--json']);
      assert.equal(back.code, 0, back.stderr);
      assert.deepEqual((JSON.parse(back.stdout) as { skipped: string[] }).skipped, []);
      assert.equal((await cli(['savepoint', 'validate', join(tmp, 'flink2')])).code, 0);
      const streams = async (d: string): Promise<Buffer[]> => {
        const sp = await FlinkSavepoint.load(d);
        return (await sp.keyedStreams(sp.operators[0]!)).map((i) => Buffer.from(i.stream!.bytes));
      };
      assert.deepEqual(await streams(join(tmp, 'flink2')), await streams(join(tmp, 'flink')));
      assert.equal((await cli(['savepoint', 'convert', join(tmp, 'flink'), join(tmp, 'fs2'), '--to', 'native-rocksdb'])).code, 2);
    });
  });

  it('an output that cannot be a directory is a usage error; a failed conversion leaves no output behind', async () => {
    await withTempDirectory('flowstate-flink-convert-', async (tmp) => {
      ownFlinkSavepoint(join(tmp, 'flink'), 30);
      writeFileSync(join(tmp, 'a-file'), 'x');
      for (const output of [join(tmp, 'a-file'), join(tmp, 'a-file', 'below')]) {
        const r = await cli(['savepoint', 'convert', join(tmp, 'flink'), output, '--to', 'canonical']);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /cannot write a savepoint to .*: it is a file/);
        assert.doesNotMatch(r.stderr, /internal error/);
      }
      // The keyed state file cut short: the conversion fails after the output directory was made.
      const k0 = join(tmp, 'flink', 'k0');
      writeFileSync(k0, readFileSync(k0).subarray(0, 60));
      const failed = await cli(['savepoint', 'convert', join(tmp, 'flink'), join(tmp, 'out'), '--to', 'canonical']);
      assert.equal(failed.code, 3, failed.stderr);
      assert.equal(existsSync(join(tmp, 'out')), false, 'no half-written output directory');
      // The parents `mkdir -p` made go too; a directory that existed (empty) is left empty.
      const nested = await cli(['savepoint', 'convert', join(tmp, 'flink'), join(tmp, 'new', 'parent', 'out'), '--to', 'canonical']);
      assert.equal(nested.code, 3, nested.stderr);
      assert.equal(existsSync(join(tmp, 'new')), false, 'no directory this command created is left');
      mkdirSync(join(tmp, 'empty'));
      const existing = await cli(['savepoint', 'convert', join(tmp, 'flink'), join(tmp, 'empty'), '--to', 'canonical']);
      assert.equal(existing.code, 3, existing.stderr);
      assert.deepEqual(readdirSync(join(tmp, 'empty')), [], 'the given directory is left as empty as it was');
    });
  });

  it('Apache Flink fixtures: decoded values equal the flowstate values; opaque states are listed', { skip: SKIP_WITHOUT_FLINK_FIXTURES }, async () => {
    const cases = [FLINK_SAVEPOINTS.udfMigration23, FLINK_SAVEPOINTS.tableState, FLINK_SAVEPOINTS.complexKeyed];
    for (const c of cases) {
      await withTempDirectory('flowstate-flink-convert-', async (tmp) => {
        const r = await cli(['savepoint', 'convert', join(fixtures, c), join(tmp, 'fs'), '--to', 'canonical', '--json']);
        assert.equal(r.code, 0, r.stderr);
        const skipped = (JSON.parse(r.stdout) as { skipped: string[] }).skipped;
        assert.ok(skipped.every((s) => /PRIORITY_QUEUE|opaque/.test(s)), skipped.join('\n'));
        assert.equal((await validateSavepoint(join(tmp, 'fs'))).ok, true, c);
        const flink = await FlinkSavepoint.load(join(fixtures, c));
        const ours = await SavepointReader.load(join(tmp, 'fs'));
        for (const op of flink.operators) {
          const uid = op.uid !== undefined && op.uid !== '' ? op.uid : op.operatorId;
          for (const info of await flink.keyedStreams(op)) {
            for (const e of flink.decodedRecords(info, op.maxParallelism)) {
              if (e.kind !== 'VALUE') continue;
              let found = false;
              for await (const x of ours.readKeyedState(uid, e.state)) if (JSON.stringify(x.key, big) === JSON.stringify(e.key, big) && JSON.stringify(x.value, big) === JSON.stringify(e.value, big)) found = true;
              assert.ok(found, `${c}: ${uid}/${e.state} ${JSON.stringify(e.key, big)}`);
            }
          }
        }
      });
    }
  });
});

function big(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? `${v}n` : v;
}

/** A flowstate savepoint of one operator-state operator per uid, each with list state 'offsets' of the given values. */
async function writeOffsetsSavepoint(dir: string, operators: Readonly<Record<string, readonly bigint[]>>): Promise<void> {
  const { SavepointWriter } = await import('@flowstate/savepoint');
  const { ListStateDescriptor, Serializers } = await import('@flowstate/core');
  const { FsStateBackend } = await import('@flowstate/heap');
  const OFFSETS = new ListStateDescriptor('offsets', Serializers.int64);
  let writer = SavepointWriter.newSavepoint({ maxParallelism: 16, stateBackend: new FsStateBackend() });
  for (const [uid, data] of Object.entries(operators)) {
    writer = writer.withOperatorStateOperator(uid, {
      data: [...data],
      parallelism: 1,
      bootstrap: { processElement: (o: bigint, ctx: { getListState: (d: unknown) => { add(v: bigint): void } }) => ctx.getListState(OFFSETS).add(o) },
    } as never);
  }
  await writer.write(dir);
}

describe('flowstate savepoint convert --to flink', () => {
  it("an operator whose uid is a name of Object.prototype ('constructor') keeps its uid without --uid-map", async () => {
    await withTempDirectory('flowstate-to-flink-', async (tmp) => {
      await writeOffsetsSavepoint(join(tmp, 'fs'), { constructor: [1n, 2n], other: [3n] });
      const r = await cli(['savepoint', 'convert', join(tmp, 'fs'), join(tmp, 'flink'), '--to', 'flink', '--uid-map', 'other=x', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const sp = await FlinkSavepoint.load(join(tmp, 'flink'));
      assert.deepEqual(
        sp.operators.map((o) => [o.uid, o.operatorId]),
        [
          ['constructor', operatorIdFromUid('constructor')],
          ['x', operatorIdFromUid('x')],
        ],
      );
    });
  });

  it("--uid-map refuses a value with a second '=', a source uid given twice, one that names no operator, two operators under one uid, and a target other than flink (usage, exit 2)", async () => {
    await withTempDirectory('flowstate-to-flink-', async (tmp) => {
      await writeOffsetsSavepoint(join(tmp, 'fs'), { source: [1n], sink: [2n] });
      const cases: ReadonlyArray<readonly [string[], RegExp, string?]> = [
        [['source=a=b'], /--uid-map expects from=to \(one '='\), got 'source=a=b'/],
        [['source=a', 'source=b'], /--uid-map maps operator 'source' twice \('source=a' and 'source=b'\)/],
        [['sorce=a'], /uid map: the savepoint has no operator with uid 'sorce' \(it has: source, sink\)/],
        // Two operators under one Flink uid (onto an unmapped one, or both onto a new one).
        [['source=sink'], /operators 'source' and 'sink' would get one Flink operator ID \(uid 'sink'\)/],
        [['source=x', 'sink=x'], /operators 'source' and 'sink' would get one Flink operator ID \(uid 'x'\)/],
        // Read only by the conversion to Flink: refused with another target, not ignored.
        [['source=a'], /--uid-map and --flink-version apply with --to flink only, not --to canonical/, 'canonical'],
      ];
      for (const [values, message, to = 'flink'] of cases) {
        const out = join(tmp, `flink-${values.join('-')}-${to}`);
        const r = await cli(['savepoint', 'convert', join(tmp, 'fs'), out, '--to', to, '--uid-map', ...values]);
        assert.equal(r.code, 2, `${values.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message);
        assert.equal(existsSync(out), false, 'nothing is written');
      }
    });
  });

  it('a bootstrapped flowstate savepoint becomes a Flink savepoint with the same values (metadata V4 for --flink-version 1.18)', async () => {
    const { SavepointWriter } = await import('@flowstate/savepoint');
    const { ListStateDescriptor, MapStateDescriptor, Serializers, StateTtlConfigBuilder, ValueStateDescriptor } = await import('@flowstate/core');
    await withTempDirectory('flowstate-to-flink-', async (tmp) => {
      const COUNT = new ValueStateDescriptor('count', Serializers.int64);
      const TAGS = new ListStateDescriptor('tags', Serializers.string);
      const ATTRS = new MapStateDescriptor('attrs', Serializers.string, Serializers.int32);
      const OFFSETS = new ListStateDescriptor('offsets', Serializers.int64);
      const RULES = new MapStateDescriptor('rules', Serializers.string, Serializers.float64);
      // Processing-time TTL states: Flink's TtlSerializer layout (last access, user value) on the Flink side.
      const ttl = StateTtlConfigBuilder.newBuilder(3_600_000).build();
      const SEEN = new ValueStateDescriptor('seen', Serializers.int64).enableTimeToLive(ttl);
      const LAST = new MapStateDescriptor('last', Serializers.string, Serializers.string).enableTimeToLive(ttl);
      const started = BigInt(Date.now());
      const { FsStateBackend } = await import('@flowstate/heap');
      await SavepointWriter.newSavepoint({ maxParallelism: 16, stateBackend: new FsStateBackend() })
        .withKeyedOperator('counter', {
          data: Array.from({ length: 40 }, (_, i) => `user-${i}`),
          keySelector: (u: string) => u,
          keySerializer: Serializers.string,
          parallelism: 3,
          bootstrap: {
            processElement: (u: string, ctx: { getState: (d: unknown) => unknown }) => {
              (ctx.getState(COUNT) as { update(v: bigint): void }).update(BigInt(u.length));
              (ctx.getState(TAGS) as { add(v: string): void }).add(`${u}-a`);
              (ctx.getState(ATTRS) as { put(k: string, v: number): void }).put('len', u.length);
              (ctx.getState(SEEN) as { update(v: bigint): void }).update(BigInt(u.length) * 2n);
              (ctx.getState(LAST) as { put(k: string, v: string): void }).put('u', u);
            },
          },
        } as never)
        .withOperatorStateOperator('source', {
          data: [1n, 2n, 3n],
          parallelism: 2,
          bootstrap: {
            open: (ctx: { getBroadcastState: (d: unknown) => { put(k: string, v: number): void } }) => ctx.getBroadcastState(RULES).put('max', 9.5),
            processElement: (o: bigint, ctx: { getListState: (d: unknown) => { add(v: bigint): void } }) => ctx.getListState(OFFSETS).add(o),
          },
        } as never)
        .write(join(tmp, 'fs'));
      const r = await cli(['savepoint', 'convert', join(tmp, 'fs'), join(tmp, 'flink'), '--to', 'flink', '--flink-version', '1.18', '--uid-map', 'counter=counter-flink', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((JSON.parse(r.stdout) as { skipped: string[] }).skipped, []);
      const sp = await FlinkSavepoint.load(join(tmp, 'flink'));
      assert.equal(sp.metadata.version, 4);
      assert.deepEqual([sp.properties?.kind, sp.properties?.formatType], ['SAVEPOINT', 'CANONICAL']);
      const op = sp.operators.find((o) => o.operatorId === operatorIdFromUid('counter-flink'))!;
      assert.equal(op.parallelism, 3);
      const by = new Map<string, unknown[]>();
      for (const info of await sp.keyedStreams(op)) {
        for (const e of sp.decodedRecords(info, op.maxParallelism)) {
          assert.equal(e.keyGroup, keyGroupForHash(info.header!.keySerializer.serializer.hashCode!(e.key), 16), 'Flink key group');
          by.set(e.state, [...(by.get(e.state) ?? []), [e.key, e.userKey, e.value]]);
        }
      }
      assert.equal(by.get('count')!.length, 40);
      for (const [k, , v] of by.get('count') as [string, unknown, bigint][]) assert.equal(v, BigInt(k.length));
      for (const [k, , v] of by.get('tags') as [string, unknown, string[]][]) assert.deepEqual(v, [`${k}-a`]);
      for (const [k, uk, v] of by.get('attrs') as [string, string, number][]) assert.deepEqual([uk, v], ['len', k.length]);
      const stamped = (t: bigint): boolean => t >= started && t <= BigInt(Date.now());
      assert.equal(by.get('seen')!.length, 40);
      for (const [k, , v] of by.get('seen') as [string, unknown, { lastAccessTimestamp: bigint; value: bigint }][]) assert.ok(v.value === BigInt(k.length) * 2n && stamped(v.lastAccessTimestamp), k);
      assert.equal(by.get('last')!.length, 40);
      for (const [k, uk, v] of by.get('last') as [string, string, { lastAccessTimestamp: bigint; value: string }][]) assert.ok(uk === 'u' && v.value === k && stamped(v.lastAccessTimestamp), k);
      const metas = (await sp.keyedStreams(op))[0]!.header!.states;
      const ttlSnapshot = 'org.apache.flink.runtime.state.ttl.TtlStateFactory$TtlSerializerSnapshot';
      assert.equal(metas.find((m) => m.name === 'seen')!.serializers.find(([k]) => k === 'VALUE_SERIALIZER')![1].className, ttlSnapshot);
      assert.equal(metas.find((m) => m.name === 'last')!.serializers.find(([k]) => k === 'VALUE_SERIALIZER')![1].nested[1]!.className, ttlSnapshot);
      const src = sp.operators.find((o) => o.operatorId === operatorIdFromUid('source'))!;
      const { readOperatorStates } = await import('@flowstate/flink');
      const offsets: unknown[] = [];
      for (const s of src.subtasks) {
        const h = s.managedOperatorState!;
        for (const st of readOperatorStates(h, await sp.resolve(h.stream!), sp.registry).states) {
          if (st.name === 'offsets') offsets.push(...st.values!);
          else assert.deepEqual(st.values, [['max', 9.5]]);
        }
      }
      assert.deepEqual(offsets.sort(), [1n, 2n, 3n]);
    });
  });

  it('Flink -> flowstate -> Flink keeps every decodable entry and every timer in Flink key groups; both sides validate', { skip: SKIP_WITHOUT_FLINK_FIXTURES }, async () => {
    const cases = [FLINK_SAVEPOINTS.udfMigration23, FLINK_SAVEPOINTS.udfMigration18, FLINK_SAVEPOINTS.legacyHeapTimers112, FLINK_SAVEPOINTS.tableState, FLINK_SAVEPOINTS.groupAggregate, FLINK_SAVEPOINTS.complexKeyed];
    const entries = async (dir: string): Promise<string[]> => {
      const sp = await FlinkSavepoint.load(dir);
      const out: string[] = [];
      for (const op of sp.operators) {
        for (const info of await sp.keyedStreams(op)) {
          for (const e of sp.decodedRecords(info, op.maxParallelism)) {
            const m = e.kind === 'MAP' && e.userKey === undefined ? [...(e.value as Map<unknown, unknown>)] : [[e.userKey, e.value]];
            for (const [uk, v] of m) out.push(JSON.stringify([op.operatorId, e.state, e.keyGroup, e.key, e.namespace, uk, v], big));
          }
        }
      }
      return out.sort();
    };
    for (const c of cases) {
      await withTempDirectory('flowstate-flink-rt-', async (tmp) => {
        assert.equal((await cli(['savepoint', 'convert', join(fixtures, c), join(tmp, 'fs'), '--to', 'canonical'])).code, 0);
        assert.equal((await validateSavepoint(join(tmp, 'fs'))).ok, true);
        const r = await cli(['savepoint', 'convert', join(tmp, 'fs'), join(tmp, 'flink'), '--to', 'flink', '--json']);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual((JSON.parse(r.stdout) as { skipped: string[] }).skipped, [], c);
        const before = await entries(join(fixtures, c));
        if (/udf-migration|timers/.test(c)) assert.ok(before.some((e) => e.includes('_timer_state/')), `${c} has timers`);
        assert.deepEqual(await entries(join(tmp, 'flink')), before, c);
        const v = await cli(['savepoint', 'validate', join(tmp, 'flink'), '--json']);
        assert.equal(v.code, 0, v.stdout);
      });
    }
  });
});
