/**
 * Every key: its default, values it accepts (as YAML, the environment and code give them), values
 * of the wrong type or out of range, each refused with an error naming the key, the value and what
 * is allowed; and Flink's deprecated spellings.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ALL_OPTIONS,
  Configuration,
  InvalidConfigurationValueError,
  loadConfiguration,
  optionForKey,
  type ConfigOption,
  type RawValue,
} from '../src/index.js';

interface KeyCase {
  readonly key: string;
  readonly defaultValue: unknown;
  readonly valid: ReadonlyArray<readonly [RawValue, unknown]>;
  readonly invalid: readonly RawValue[];
  readonly deprecated?: readonly string[];
  /** Other keys the valid values need (a combination check would refuse them alone). */
  readonly context?: Readonly<Record<string, RawValue>>;
}

const MB = 1024 * 1024;

const CASES: readonly KeyCase[] = [
  {
    key: 'state.backend.type',
    defaultValue: 'hashmap',
    valid: [['hashmap', 'hashmap'], ['rocksdb', 'rocksdb'], ['RocksDB', 'rocksdb'], ['lmdb', 'lmdb'], ['memory', 'memory']],
    invalid: ['rocks', 'jobmanager', '', 1, true, ['rocksdb']],
    deprecated: ['state.backend'],
  },
  {
    key: 'execution.checkpointing.storage',
    defaultValue: undefined,
    valid: [['jobmanager', 'jobmanager'], ['FileSystem', 'filesystem']],
    invalid: ['s3', 1, false],
    deprecated: ['state.checkpoint-storage'],
    context: { 'execution.checkpointing.dir': 'memory://keys/ckpt' },
  },
  {
    key: 'execution.checkpointing.dir',
    defaultValue: undefined,
    valid: [['s3://bucket/checkpoints', 's3://bucket/checkpoints'], ['file:///tmp/ckpt', 'file:///tmp/ckpt'], ['/tmp/ckpt', '/tmp/ckpt'], ['hdfs://nn:9870/ckpt', 'hdfs://nn:9870/ckpt'], ['memory://t/ckpt', 'memory://t/ckpt']],
    invalid: ['', 's3://key:secret@bucket/x', 's3://bucket/x?versionId=1', 42, true],
    deprecated: ['state.checkpoints.dir', 'state.backend.fs.checkpointdir'],
  },
  {
    key: 'execution.checkpointing.savepoint-dir',
    defaultValue: undefined,
    valid: [['s3://bucket/savepoints', 's3://bucket/savepoints'], ['webhdfs://nn:9870/sp', 'webhdfs://nn:9870/sp']],
    invalid: ['', 'webhdfs://u:p@nn/sp', 7],
    deprecated: ['state.savepoints.dir', 'savepoints.state.backend.fs.dir'],
  },
  {
    key: 'execution.checkpointing.incremental',
    defaultValue: false,
    valid: [[true, true], ['true', true], ['FALSE', false], [false, false]],
    invalid: ['yes', 'on', 1, 0, ''],
    deprecated: ['state.backend.incremental'],
  },
  {
    key: 'execution.checkpointing.num-retained',
    defaultValue: 1,
    valid: [[1, 1], ['3', 3], [100, 100]],
    invalid: [0, -1, '2.5', 2.5, 'three', true, 2 ** 31],
    deprecated: ['state.checkpoints.num-retained'],
  },
  {
    key: 'execution.checkpointing.interval',
    defaultValue: undefined,
    valid: [['10 s', 10_000], ['1 min', 60_000], ['1min', 60_000], ['500 ms', 500], ['500', 500], [30_000, 30_000], ['2 h', 7_200_000], ['1 d', 86_400_000], ['10 SECONDS', 10_000]],
    invalid: ['5 ms', 0, '-1 s', '1.5 s', '10 parsecs', 's', true, 9],
  },
  {
    key: 'execution.checkpointing.timeout',
    defaultValue: 600_000,
    valid: [['10 min', 600_000], ['30 s', 30_000], ['10 ms', 10]],
    invalid: ['0 ms', '1 ms', 'ten minutes', false],
  },
  {
    key: 'execution.checkpointing.max-concurrent-checkpoints',
    defaultValue: 1,
    valid: [[1, 1], ['4', 4]],
    invalid: [0, '-2', '1 s', 1.5, true],
  },
  {
    key: 'execution.checkpointing.min-pause',
    defaultValue: 0,
    valid: [['0 ms', 0], ['5 s', 5_000], [250, 250]],
    invalid: ['-5 s', '5 parsecs', true, 1.5, '1000 µs 2'],
  },
  {
    key: 'execution.checkpointing.tolerable-failed-checkpoints',
    defaultValue: 0,
    valid: [[0, 0], ['3', 3]],
    invalid: [-1, 'many', false],
  },
  {
    key: 'execution.checkpointing.mode',
    defaultValue: 'EXACTLY_ONCE',
    valid: [['EXACTLY_ONCE', 'EXACTLY_ONCE'], ['at_least_once', 'AT_LEAST_ONCE']],
    invalid: ['UNALIGNED', 'exactly-once', 1, true],
  },
  {
    key: 'execution.checkpointing.unaligned.enabled',
    defaultValue: false,
    valid: [[true, true], ['false', false]],
    invalid: ['enabled', 1],
    deprecated: ['execution.checkpointing.unaligned'],
  },
  {
    key: 'execution.checkpointing.aligned-checkpoint-timeout',
    defaultValue: 0,
    valid: [['0 s', 0], ['30 s', 30_000]],
    invalid: ['-1 s', 'soon', true],
    deprecated: ['execution.checkpointing.alignment-timeout'],
  },
  {
    key: 'state.backend.rocksdb.block.cache-size',
    defaultValue: 8 * MB,
    valid: [['64 mb', 64 * MB], ['64mb', 64 * MB], ['1 gb', 1024 * MB], ['512 kb', 512 * 1024], ['4096', 4096], [0, 0], ['2 M', 2 * MB]],
    invalid: ['64 megs', '-1 mb', '1.5 gb', '2 tb', true],
  },
  {
    key: 'state.backend.rocksdb.writebuffer.size',
    defaultValue: 64 * MB,
    valid: [['32 mb', 32 * MB], ['64 kb', 64 * 1024]],
    invalid: ['1 kb', 'big', false],
  },
  {
    key: 'state.backend.rocksdb.writebuffer.count',
    defaultValue: 2,
    valid: [[3, 3], ['4', 4]],
    invalid: [0, 65, 'two', true],
  },
  {
    key: 'state.backend.rocksdb.localdir',
    defaultValue: undefined,
    // As Flink reads it: a list of directories with ',' or ':' (File.pathSeparator) between them; the ':' of file:/ stays.
    valid: [
      ['/var/lib/flowstate', ['/var/lib/flowstate']],
      ['a,b', ['a', 'b']],
      ['a:b', ['a', 'b']],
      [Array.from({ length: 64 }, (_, i) => `/data/rocks-${i}`).join(':'), Array.from({ length: 64 }, (_, i) => `/data/rocks-${i}`)],
      ['file:///var/tmp/rocks', ['file:///var/tmp/rocks']],
      ['/data/rocks-1,/data/rocks-2', ['/data/rocks-1', '/data/rocks-2']],
      ['/data/rocks-1:/data/rocks-2', ['/data/rocks-1', '/data/rocks-2']],
      ['file:///data/rocks-1,file:///data/rocks-2', ['file:///data/rocks-1', 'file:///data/rocks-2']],
      ['file:///data/rocks-1:/data/rocks-2', ['file:///data/rocks-1', '/data/rocks-2']],
      ['file:/data/rocks-1 , /data/rocks-2', ['file:/data/rocks-1', '/data/rocks-2']],
      [['/data/rocks-1', 'file:///data/rocks-2'], ['/data/rocks-1', 'file:///data/rocks-2']],
    ],
    invalid: [
      '',
      5,
      // Entries localPathValue refuses: another scheme (never split into 's3' and '//bucket'), a path that does not decode.
      's3://bucket/rocks',
      '/data/rocks-1,s3://bucket/rocks',
      'file:///data/%zz',
      // Empty entries, duplicates (also spelled differently), too many.
      '/data/rocks-1,',
      '/data/rocks-1,,/data/rocks-2',
      ':/data/rocks-1',
      '/data/rocks-1:/data/rocks-1',
      '/data/rocks-1,file:///data/rocks-1/',
      Array.from({ length: 65 }, (_, i) => `/data/rocks-${i}`).join(','),
      // A YAML list's entries are single paths: no ',' or ':' inside one.
      [],
      ['/data/rocks-1:/data/rocks-2'],
    ],
  },
  {
    key: 'state.backend.rocksdb.compression.per.level',
    defaultValue: 'snappy',
    valid: [['LZ4_COMPRESSION', 'lz4'], ['zstd_compression', 'zstd'], [['NO_COMPRESSION', 'NO_COMPRESSION'], 'none'], ['SNAPPY_COMPRESSION;SNAPPY_COMPRESSION', 'snappy']],
    invalid: ['ZLIB_COMPRESSION', 'lz4', ['LZ4_COMPRESSION', 'ZSTD_COMPRESSION'], [], 3],
  },
  {
    key: 'state.backend.rocksdb.timer-service.factory',
    defaultValue: 'ROCKSDB',
    valid: [['HEAP', 'HEAP'], ['rocksdb', 'ROCKSDB'], [' heap ', 'HEAP']],
    invalid: ['HEAPS', 'lmdb', 1, true],
  },
  {
    key: 'execution.state-recovery.claim-mode',
    defaultValue: 'NO_CLAIM',
    valid: [['CLAIM', 'CLAIM'], ['no_claim', 'NO_CLAIM'], ['LEGACY', 'LEGACY']],
    invalid: ['CLAIMED', 'NO-CLAIM', 0],
    deprecated: ['execution.savepoint-restore-mode'],
  },
  {
    key: 'execution.state-recovery.path',
    defaultValue: undefined,
    valid: [['s3://bucket/savepoints/savepoint-1', 's3://bucket/savepoints/savepoint-1'], ['/tmp/ckpt/chk-4', '/tmp/ckpt/chk-4']],
    invalid: ['', 'hdfs://user:pw@nn/sp', false],
    deprecated: ['execution.savepoint.path'],
  },
  {
    key: 'execution.state-recovery.ignore-unclaimed-state',
    defaultValue: false,
    valid: [[true, true], ['true', true]],
    invalid: ['allow', 1],
    deprecated: ['execution.savepoint.ignore-unclaimed-state'],
  },
  {
    key: 's3.endpoint',
    defaultValue: undefined,
    valid: [['http://127.0.0.1:9000', 'http://127.0.0.1:9000'], ['https://s3.example.test', 'https://s3.example.test']],
    invalid: ['127.0.0.1:9000', 'ftp://host', 'http://user:pw@host', 9000],
  },
  {
    key: 's3.path.style.access',
    defaultValue: false,
    valid: [[true, true], ['true', true]],
    invalid: ['path', 1],
  },
];

function option(key: string): ConfigOption<unknown> {
  const o = optionForKey(key);
  assert.ok(o, `no option for ${key}`);
  return o;
}

describe('configuration keys', () => {
  it('has a case for every key flowstate reads', () => {
    assert.deepEqual(CASES.map((c) => c.key).sort(), ALL_OPTIONS.map((o) => o.key).sort());
  });

  for (const c of CASES) {
    describe(c.key, () => {
      it(`defaults to ${String(c.defaultValue)}`, () => {
        const conf = loadConfiguration({ env: false });
        assert.equal(conf.get(option(c.key)), c.defaultValue);
        assert.equal(conf.isSet(option(c.key)), false);
        assert.equal(option(c.key).defaultValue, c.defaultValue);
      });

      for (const [raw, expected] of c.valid) {
        it(`accepts ${JSON.stringify(raw)}`, () => {
          const conf = Configuration.fromMap({ ...c.context, [c.key]: raw });
          assert.deepEqual(conf.get(option(c.key)), expected);
          // The same text through an environment variable, as strings always are there.
          if (!Array.isArray(raw)) {
            const env = { [`FLOWSTATE_${c.key.split('.').map((s) => s.replace(/-/g, '_').toUpperCase()).join('__')}`]: String(raw) };
            assert.deepEqual(loadConfiguration({ env, overrides: c.context ?? {} }).get(option(c.key)), expected);
          }
        });
      }

      for (const raw of c.invalid) {
        it(`refuses ${JSON.stringify(raw)}, naming the key, the value and what is allowed`, () => {
          assert.throws(
            () => Configuration.fromMap({ ...c.context, [c.key]: raw }),
            (e: unknown) => {
              assert.ok(e instanceof InvalidConfigurationValueError, String(e));
              assert.equal(e.code, 'CONFIG_INVALID_VALUE');
              assert.equal(e.key, c.key);
              assert.deepEqual(e.value, raw);
              assert.equal(e.allowed, option(c.key).allowed);
              assert.ok(e.message.includes(`'${c.key}'`) && e.message.includes(option(c.key).allowed), e.message);
              return true;
            },
          );
        });
      }

      for (const old of c.deprecated ?? []) {
        it(`reads Flink's deprecated key '${old}' as the same option, with a warning`, () => {
          const [raw, expected] = c.valid[0]!;
          const conf = Configuration.fromMap({ ...c.context, [old]: raw });
          assert.deepEqual(conf.get(option(c.key)), expected);
          assert.ok(conf.warnings.some((w) => w.includes(`'${old}'`) && w.includes(`'${c.key}'`)), conf.warnings.join('\n'));
        });
      }
    });
  }

  it('state.backend.rocksdb.localdir refuses empty entries, duplicates, too many and single-path failures, saying what a list may hold', () => {
    const key = 'state.backend.rocksdb.localdir';
    const tooMany = Array.from({ length: 65 }, (_, i) => `/data/rocks-${i}`).join(',');
    for (const raw of ['/data/a,,/data/b', '/data/a:/data/a', tooMany, '/data/a,s3://bucket/rocks']) {
      assert.throws(
        () => Configuration.fromMap({ [key]: raw }),
        (e: unknown) => e instanceof InvalidConfigurationValueError && e.key === key && /',' or ':' between them/.test(e.message) && /each named once, at most 64/.test(e.message),
        raw,
      );
    }
  });

  it('refuses a key and its deprecated spelling with different values in one source, and accepts equal ones', () => {
    assert.throws(() => Configuration.fromMap({ 'state.checkpoints.dir': '/a', 'execution.checkpointing.dir': '/b' }), /'state.checkpoints.dir' and 'execution.checkpointing.dir' conflict/);
    assert.equal(Configuration.fromMap({ 'state.checkpoints.num-retained': 3, 'execution.checkpointing.num-retained': '3' }).get(option('execution.checkpointing.num-retained')), 3);
  });
});
