import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FlinkSavepoint, operatorIdFromUid, readOperatorStates, rewriteFlinkSavepoint } from '../src/index.js';
import { fixture, needsFixtures } from './fixtures.js';
import { withOwnSavepoint, withTempDir } from './own-savepoint.js';

/** Runs `f` with the path of a savepoint to write, in a temporary directory removed afterwards. */
const withOut = <T>(f: (dir: string) => Promise<T>): Promise<T> => withTempDir('surgery', (out) => f(join(out, 'sp')));

describe('offline surgery on Flink savepoints (own fixtures)', () => {
  it('drops a keyed state and renames the uid; the other states are unchanged', async () => {
    await withOwnSavepoint(20, async (dir) => {
      await withOut(async (out) => {
        const before = await FlinkSavepoint.load(dir);
        const beforeRecords = [...before.decodedRecords((await before.keyedStreams(before.operators[0]!))[0]!, 4)].filter((e) => e.state !== 'names');
        await rewriteFlinkSavepoint(before, out, { dropStates: [{ operator: operatorIdFromUid('own-op'), state: 'names' }], renameUids: { [operatorIdFromUid('own-op')]: 'renamed' } });
        const sp = await FlinkSavepoint.load(out);
        assert.equal(sp.operators[0]!.operatorId, operatorIdFromUid('renamed'));
        const [info] = await sp.keyedStreams(sp.operators[0]!);
        assert.deepEqual(info!.header!.states.map((s) => s.name), ['count', 'attrs', '_timer_state/event_t']);
        assert.deepEqual([...sp.decodedRecords(info!, 4)], beforeRecords);
      });
      await assert.rejects(withOut(async (out) => rewriteFlinkSavepoint(await FlinkSavepoint.load(dir), out, { removeOperators: ['nope'] })), /no operator with uid or ID 'nope'/);
    });
  });
});

describe('offline surgery on Apache Flink savepoints', needsFixtures, () => {
  it('removes an operator, renames a uid (V6 keeps the uid field) and drops a broadcast state', async () => {
    const input = fixture('new-stateful-broadcast-udf-migration-itcase-flink2.3-rocksdb-savepoint');
    await withOut(async (out) => {
      await rewriteFlinkSavepoint(await FlinkSavepoint.load(input), out, {
        removeOperators: ['CheckpointingSource1'],
        renameUids: { BrProcess2: 'BrProcess2-v2' },
        dropStates: [{ operator: 'BrProcess1', state: 'broadcast-state-1' }],
      });
      const sp = await FlinkSavepoint.load(out);
      // The input's eight operators in their order, CheckpointingSource1 gone and BrProcess2 renamed (two have no uid).
      assert.deepEqual(sp.operators.map((o) => o.uid), ['CheckpointingSource2', 'BrProcess2-v2', 'BrProcess1', 'BrCheckpointingSource1', '', '', 'BrCheckpointingSource2']);
      const renamed = sp.operators.find((o) => o.uid === 'BrProcess2-v2')!;
      assert.equal(renamed.operatorId, operatorIdFromUid('BrProcess2-v2'));
      const p1 = sp.operators.find((o) => o.uid === 'BrProcess1')!;
      for (const s of p1.subtasks) {
        const h = s.managedOperatorState!;
        const states = readOperatorStates(h, await sp.resolve(h.stream!), sp.registry).states;
        assert.deepEqual(states.map((x) => x.name), ['broadcast-state-2']);
        assert.deepEqual(states[0]!.values, [['0', 0n], ['1', 1n], ['2', 2n], ['3', 3n]]);
      }
      // Keyed state (timers) of BrProcess1 still reads.
      for (const info of await sp.keyedStreams(p1)) for (const _ of sp.decodedRecords(info, p1.maxParallelism)) void _;
    });
  });
});
