/** Impossible combinations are refused; combinations Flink accepts but partly ignores warn. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Configuration, ConflictingConfigurationError, checkpointingOptions } from '../src/index.js';

function conflict(map: Record<string, string | number | boolean>): ConflictingConfigurationError {
  try {
    Configuration.fromMap(map);
  } catch (e) {
    assert.ok(e instanceof ConflictingConfigurationError, String(e));
    return e;
  }
  assert.fail(`accepted ${JSON.stringify(map)}`);
}

describe('impossible combinations', () => {
  it('unaligned checkpoints with AT_LEAST_ONCE, from any sources', () => {
    const e = conflict({ 'execution.checkpointing.unaligned': true, 'execution.checkpointing.mode': 'AT_LEAST_ONCE' });
    assert.equal(e.code, 'CONFIG_CONFLICT');
    assert.deepEqual(e.keys, ['execution.checkpointing.unaligned.enabled', 'execution.checkpointing.mode']);
    assert.match(e.message, /need EXACTLY_ONCE/);
  });

  it("'filesystem' checkpoint storage without a checkpoint directory", () => {
    const e = conflict({ 'state.checkpoint-storage': 'filesystem' });
    assert.deepEqual(e.keys, ['execution.checkpointing.storage', 'execution.checkpointing.dir']);
  });

  it('accepts each of them alone', () => {
    Configuration.fromMap({ 'execution.checkpointing.unaligned': true });
    Configuration.fromMap({ 'execution.checkpointing.mode': 'AT_LEAST_ONCE' });
    Configuration.fromMap({ 'execution.checkpointing.storage': 'filesystem', 'state.checkpoints.dir': 'memory://c/x' });
  });
});

describe('combinations Flink accepts and partly ignores (warnings)', () => {
  const warns = (map: Record<string, string | number | boolean>, re: RegExp) => {
    const c = Configuration.fromMap(map);
    assert.ok(c.warnings.some((w) => re.test(w)), `no warning ${re} in:\n${c.warnings.join('\n')}`);
  };
  it('incremental with the hashmap or memory backend (Flink ignores it)', () => {
    warns({ 'execution.checkpointing.incremental': true }, /'hashmap' backend takes full snapshots/);
    warns({ 'execution.checkpointing.incremental': true, 'state.backend.type': 'memory' }, /'memory' backend/);
    assert.deepEqual(Configuration.fromMap({ 'execution.checkpointing.incremental': true, 'state.backend.type': 'rocksdb' }).warnings, []);
  });
  it('RocksDB keys with another backend', () => warns({ 'state.backend.rocksdb.writebuffer.count': 3 }, /only apply to the rocksdb backend/));
  it('an aligned-checkpoint-timeout without unaligned checkpoints', () => warns({ 'execution.checkpointing.aligned-checkpoint-timeout': '5 s' }, /only applies with/));
  it('unaligned checkpoints with max-concurrent-checkpoints > 1', () => warns({ 'execution.checkpointing.unaligned.enabled': true, 'execution.checkpointing.max-concurrent-checkpoints': 2 }, /run one at a time/));
  it('min-pause with max-concurrent-checkpoints > 1', () => warns({ 'execution.checkpointing.min-pause': '1 s', 'execution.checkpointing.max-concurrent-checkpoints': 2 }, /never overlap/));
  it("'jobmanager' storage with a checkpoint directory", () => warns({ 'execution.checkpointing.storage': 'jobmanager', 'state.checkpoints.dir': '/tmp/x' }, /keeps checkpoints in memory/));
});

describe("checkpointing options in the runtime's terms", () => {
  it('Flink defaults', () => {
    assert.deepEqual(checkpointingOptions(Configuration.fromMap({})), {
      mode: 'EXACTLY_ONCE',
      intervalMs: undefined,
      timeoutMs: 600_000,
      maxConcurrentCheckpoints: 1,
      minPauseBetweenCheckpointsMs: 0,
      tolerableFailedCheckpoints: 0,
      retainedCheckpoints: 1,
      alignedCheckpointTimeoutMs: undefined,
    });
  });
  it('every key lands in its field', () => {
    const o = checkpointingOptions(
      Configuration.fromMap({
        'execution.checkpointing.interval': '10 s',
        'execution.checkpointing.timeout': '1 min',
        'execution.checkpointing.max-concurrent-checkpoints': 3,
        'execution.checkpointing.min-pause': '500 ms',
        'execution.checkpointing.tolerable-failed-checkpoints': 2,
        'execution.checkpointing.num-retained': 4,
        'execution.checkpointing.mode': 'AT_LEAST_ONCE',
      }),
    );
    assert.deepEqual(o, { mode: 'AT_LEAST_ONCE', intervalMs: 10_000, timeoutMs: 60_000, maxConcurrentCheckpoints: 3, minPauseBetweenCheckpointsMs: 500, tolerableFailedCheckpoints: 2, retainedCheckpoints: 4, alignedCheckpointTimeoutMs: undefined });
  });
  it('unaligned with a 0 timeout is UNALIGNED; with a timeout it starts aligned and switches', () => {
    assert.equal(checkpointingOptions(Configuration.fromMap({ 'execution.checkpointing.unaligned': true })).mode, 'UNALIGNED');
    const timed = checkpointingOptions(Configuration.fromMap({ 'execution.checkpointing.unaligned': true, 'execution.checkpointing.aligned-checkpoint-timeout': '2 s' }));
    assert.equal(timed.mode, 'EXACTLY_ONCE');
    assert.equal(timed.alignedCheckpointTimeoutMs, 2_000);
    // Without unaligned checkpoints the timeout is ignored, as in Flink.
    assert.equal(checkpointingOptions(Configuration.fromMap({ 'execution.checkpointing.aligned-checkpoint-timeout': '2 s' })).alignedCheckpointTimeoutMs, undefined);
  });
});
