/** Unknown keys: did-you-mean, the environment variable to set, refused secrets, ignored foreign keys. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Configuration, RefusedConfigurationKeyError, UnknownConfigurationKeyError, loadConfiguration } from '../src/index.js';

function unknown(overrides: Record<string, string>): UnknownConfigurationKeyError {
  try {
    Configuration.fromMap(overrides);
  } catch (e) {
    assert.ok(e instanceof UnknownConfigurationKeyError, String(e));
    return e;
  }
  assert.fail(`no error for ${JSON.stringify(overrides)}`);
}

describe('unknown keys', () => {
  const typos: ReadonlyArray<readonly [string, string]> = [
    ['state.backend.typ', 'state.backend.type'],
    ['state.backend.types', 'state.backend.type'],
    ['state.checkpoint.dir', 'execution.checkpointing.dir'],
    ['state.savepoint.dir', 'execution.checkpointing.savepoint-dir'],
    ['state.backend.incremental-checkpoints', 'execution.checkpointing.incremental'],
    ['execution.checkpointing.intervall', 'execution.checkpointing.interval'],
    ['execution.checkpointng.interval', 'execution.checkpointing.interval'],
    ['execution.checkpointing.max-concurrent', 'execution.checkpointing.max-concurrent-checkpoints'],
    ['execution.checkpointing.minpause', 'execution.checkpointing.min-pause'],
    ['execution.checkpointing.tolerable-failed-checkpoint', 'execution.checkpointing.tolerable-failed-checkpoints'],
    ['execution.checkpointing.modes', 'execution.checkpointing.mode'],
    ['execution.checkpointing.unaligned.enable', 'execution.checkpointing.unaligned.enabled'],
    ['execution.checkpointing.aligned-checkpoint-timout', 'execution.checkpointing.aligned-checkpoint-timeout'],
    ['execution.checkpointing.timeouts', 'execution.checkpointing.timeout'],
    ['state.backend.rocksdb.block.cache_size', 'state.backend.rocksdb.block.cache-size'],
    ['state.backend.rocksdb.write-buffer.size', 'state.backend.rocksdb.writebuffer.size'],
    ['state.backend.rocksdb.writebuffer.cnt', 'state.backend.rocksdb.writebuffer.count'],
    ['state.backend.rocksdb.local-dir', 'state.backend.rocksdb.localdir'],
    ['execution.savepoint-restore.mode', 'execution.state-recovery.claim-mode'],
    ['execution.state-recovery.paths', 'execution.state-recovery.path'],
    ['s3.path-style-access', 's3.path.style.access'],
    ['s3.endpoints', 's3.endpoint'],
  ];
  for (const [typo, meant] of typos) {
    it(`'${typo}': did you mean '${meant}'?`, () => {
      const e = unknown({ [typo]: 'x' });
      assert.equal(e.code, 'CONFIG_UNKNOWN_KEY');
      assert.equal(e.key, typo);
      assert.equal(e.suggestion, meant);
      assert.match(e.message, new RegExp(`did you mean '${meant.replace(/\./g, '\\.')}'`));
    });
  }

  it('a typo outside flowstate\'s namespaces is still caught when it is one or two edits from a known key', () => {
    assert.equal(unknown({ 'stat.backend.type': 'rocksdb' }).suggestion, 'state.backend.type');
    assert.equal(unknown({ 'execution.checkpointin.interval': '1 s' }).suggestion, 'execution.checkpointing.interval');
  });

  it('an unknown key in a namespace flowstate reads, far from every key, lists the keys of that namespace', () => {
    const e = unknown({ 'state.backend.changelog.enabled': 'true' });
    assert.equal(e.suggestion, undefined);
    assert.match(e.message, /flowstate reads: .*state\.backend\.type/);
  });

  it('a key far longer than every known key gets its error without a suggestion (no edit distance over it)', () => {
    // Its words alone ('type', many times) would name state.backend.type; its length rules out a typo.
    const key = `state.backend.${'type.'.repeat(400)}type`;
    const e = unknown({ [key]: 'x' });
    assert.equal(e.key, key);
    assert.equal(e.suggestion, undefined);
    assert.doesNotMatch(e.message, /did you mean/);
    assert.match(e.message, /flowstate reads: .*state\.backend\.type/);
    // The message quotes the key cut, as values are (the `key` field keeps it whole).
    assert.ok(e.message.includes(`'${key.slice(0, 199)}...`), e.message.slice(0, 300));
    assert.ok(!e.message.includes(key), 'the whole key is not in the message');
    // Outside flowstate's namespaces such a key is a foreign key: ignored and listed, as before.
    const foreign = `pipeline.${'x'.repeat(2000)}`;
    assert.deepEqual(Configuration.fromMap({ [foreign]: 'x' }).ignoredKeys.map((k) => k.key), [foreign]);
  });

  it('from an environment variable: names the variable and the one to set', () => {
    try {
      loadConfiguration({ env: { FLOWSTATE_EXECUTION__CHECKPOINTING__INTERVALL: '1 s' } });
      assert.fail('no error');
    } catch (e) {
      assert.ok(e instanceof UnknownConfigurationKeyError);
      assert.match(e.message, /environment variable FLOWSTATE_EXECUTION__CHECKPOINTING__INTERVALL/);
      assert.match(e.message, /set FLOWSTATE_EXECUTION__CHECKPOINTING__INTERVAL\b/);
    }
  });

  it('refuses secrets in the configuration, without echoing them', () => {
    for (const key of ['s3.access-key', 's3.secret-key']) {
      assert.throws(() => Configuration.fromMap({ [key]: 'AKIA-SECRET-VALUE' }), (e: Error) => e instanceof RefusedConfigurationKeyError && e.message.includes(key) && !e.message.includes('AKIA-SECRET-VALUE'));
    }
  });

  it('ignores keys of other Flink namespaces and lists them', () => {
    const c = Configuration.fromMap({ 'rest.port': 8081, 'pipeline.name': 'job' });
    assert.deepEqual(c.ignoredKeys.map((k) => k.key), ['rest.port', 'pipeline.name']);
  });
});
