/** config.yaml (nested and flat keys), environment variables, code, and their precedence. */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  CHECKPOINTING_INTERVAL,
  CHECKPOINTING_TIMEOUT,
  CHECKPOINTS_DIRECTORY,
  ConfigurationFileError,
  ENABLE_UNALIGNED,
  MAX_CONCURRENT_CHECKPOINTS,
  MAX_CONFIG_FILE_BYTES,
  MAX_RETAINED_CHECKPOINTS,
  ROCKSDB_COMPRESSION_PER_LEVEL,
  STATE_BACKEND,
  envVariableFor,
  keyForEnvVariable,
  loadConfiguration,
} from '../src/index.js';
import { testDirectory } from './test-directory.js';

const dir = testDirectory('flowstate-config-');
let n = 0;
function yamlFile(text: string): string {
  const f = join(dir, `config-${n++}.yaml`);
  writeFileSync(f, text);
  return f;
}

describe('config.yaml', () => {
  it('reads nested keys, flat keys and a mix of both, as Flink 1.19+ does', () => {
    const file = yamlFile(
      [
        'state:',
        '  backend:',
        '    type: rocksdb',
        '    rocksdb.compression.per.level: [LZ4_COMPRESSION, LZ4_COMPRESSION]',
        'execution.checkpointing.interval: 30 s',
        'execution:',
        '  checkpointing:',
        '    unaligned.enabled: true',
        '    num-retained: 3',
        '',
      ].join('\n'),
    );
    const c = loadConfiguration({ file, env: false });
    assert.equal(c.get(STATE_BACKEND), 'rocksdb');
    assert.equal(c.get(ROCKSDB_COMPRESSION_PER_LEVEL), 'lz4');
    assert.equal(c.get(CHECKPOINTING_INTERVAL), 30_000);
    assert.equal(c.get(ENABLE_UNALIGNED), true);
    assert.equal(c.get(MAX_RETAINED_CHECKPOINTS), 3);
    assert.deepEqual(c.sourceOf(STATE_BACKEND), { kind: 'file', file });
  });

  it('loads a whole Flink config.yaml: keys of other Flink namespaces are ignored and listed', () => {
    const file = yamlFile('jobmanager:\n  rpc:\n    address: localhost\ntaskmanager.numberOfTaskSlots: 4\nparallelism.default: 2\nstate.backend.type: hashmap\n');
    const c = loadConfiguration({ file, env: false });
    assert.deepEqual(c.ignoredKeys.map((k) => k.key).sort(), ['jobmanager.rpc.address', 'parallelism.default', 'taskmanager.numberOfTaskSlots']);
  });

  it('refuses a key given twice, nested and flat', () => {
    const file = yamlFile('state.backend.type: rocksdb\nstate:\n  backend:\n    type: hashmap\n');
    assert.throws(() => loadConfiguration({ file, env: false }), (e: Error) => e instanceof ConfigurationFileError && /'state.backend.type' is given twice/.test(e.message) && e.message.includes(file));
  });

  it('refuses invalid YAML, a document that is not a mapping, empty values and nested objects in lists, naming the file', () => {
    for (const text of ['state.backend.type: [rocksdb', '- a\n- b\n', 'state.backend.type:\n', 'state.backend.type: rocksdb\nstate.backend.type: hashmap\n', 'x: [{a: 1}]\n']) {
      const file = yamlFile(text);
      assert.throws(() => loadConfiguration({ file, env: false }), (e: Error) => e instanceof ConfigurationFileError && e.message.includes(file), text);
    }
  });

  it('refuses a missing file and one over the size limit', () => {
    assert.throws(() => loadConfiguration({ file: join(dir, 'missing.yaml'), env: false }), (e: Error) => e instanceof ConfigurationFileError && /cannot be read/.test(e.message));
    const big = yamlFile(`# ${'x'.repeat(MAX_CONFIG_FILE_BYTES)}\n`);
    assert.throws(() => loadConfiguration({ file: big, env: false }), (e: Error) => e instanceof ConfigurationFileError && /exceeds the limit/.test(e.message));
  });

  it('a pipe (--config <(...), a FIFO) over the size limit is refused too: its size is only known by reading', async () => {
    const fifo = join(dir, `fifo-${n++}.yaml`);
    execFileSync('mkfifo', [fifo]);
    // A writer in another process (the read blocks this one): comment lines, more than the limit.
    const writer = spawn('sh', ['-c', `yes '# a comment line' | head -c ${MAX_CONFIG_FILE_BYTES * 3} > '${fifo}'`], { stdio: 'ignore' });
    const exited = new Promise((resolve) => writer.on('exit', resolve));
    assert.throws(() => loadConfiguration({ file: fifo, env: false }), (e: Error) => e instanceof ConfigurationFileError && /exceeds the limit/.test(e.message));
    await exited;
  });

  it('an empty file is an empty configuration', () => {
    assert.equal(loadConfiguration({ file: yamlFile('# nothing\n'), env: false }).entries().length, 0);
  });

  it('reads $FLOWSTATE_CONF_DIR/config.yaml when no file is given', () => {
    const confDir = mkdtempSync(join(dir, 'conf-'));
    writeFileSync(join(confDir, 'config.yaml'), 'state.backend.type: memory\n');
    assert.equal(loadConfiguration({ env: { FLOWSTATE_CONF_DIR: confDir } }).get(STATE_BACKEND), 'memory');
  });

  it('$FLOWSTATE_CONF_DIR naming a missing directory, a file, or a directory without config.yaml is a ConfigurationFileError (as Flink fails)', () => {
    const empty = mkdtempSync(join(dir, 'conf-'));
    const missing = join(dir, 'no-such-conf-dir');
    const notDir = yamlFile('state.backend.type: memory\n');
    const cases: ReadonlyArray<readonly [string, string, RegExp]> = [
      [empty, join(empty, 'config.yaml'), /does not exist \(FLOWSTATE_CONF_DIR is /],
      [missing, missing, /FLOWSTATE_CONF_DIR names no existing directory/],
      [notDir, notDir, /FLOWSTATE_CONF_DIR names no existing directory/],
    ];
    for (const [confDir, named, message] of cases) {
      assert.throws(
        () => loadConfiguration({ env: { FLOWSTATE_CONF_DIR: confDir } }),
        (e: Error) => e instanceof ConfigurationFileError && e.code === 'CONFIG_FILE' && e.file === named && e.message.includes(named) && message.test(e.message),
        confDir,
      );
    }
    // An explicit file wins: the variable is not consulted then.
    assert.equal(loadConfiguration({ file: notDir, env: { FLOWSTATE_CONF_DIR: missing } }).get(STATE_BACKEND), 'memory');
    // Unset or empty: no file, as before.
    assert.equal(loadConfiguration({ env: { FLOWSTATE_CONF_DIR: '' } }).isSet(STATE_BACKEND), false);
    assert.equal(loadConfiguration({ env: {} }).isSet(STATE_BACKEND), false);
  });
});

describe('environment variables', () => {
  it('maps keys to FLOWSTATE_ variables: "." as "__", "-" as "_", upper case; and back', () => {
    assert.equal(envVariableFor('state.backend.type'), 'FLOWSTATE_STATE__BACKEND__TYPE');
    assert.equal(envVariableFor('execution.checkpointing.max-concurrent-checkpoints'), 'FLOWSTATE_EXECUTION__CHECKPOINTING__MAX_CONCURRENT_CHECKPOINTS');
    assert.equal(keyForEnvVariable('FLOWSTATE_STATE__BACKEND__ROCKSDB__BLOCK__CACHE_SIZE'), 'state.backend.rocksdb.block.cache-size');
    // Variables without '__' are not configuration keys (FLOWSTATE_S3_PATH_STYLE, test knobs).
    assert.equal(keyForEnvVariable('FLOWSTATE_S3_PATH_STYLE'), undefined);
    assert.equal(keyForEnvVariable('STATE__BACKEND__TYPE'), undefined);
  });

  it('reads FLOWSTATE_PROPERTIES as a YAML document, and leaves other FLOWSTATE_ variables alone', () => {
    const c = loadConfiguration({ env: { FLOWSTATE_PROPERTIES: 'state.backend.type: rocksdb\nexecution.checkpointing.interval: 1 min\n', FLOWSTATE_S3_PATH_STYLE: 'true', FLOWSTATE_TEST_CONCURRENCY: '2' } });
    assert.equal(c.get(STATE_BACKEND), 'rocksdb');
    assert.equal(c.get(CHECKPOINTING_INTERVAL), 60_000);
    assert.deepEqual(c.sourceOf(CHECKPOINTING_INTERVAL), { kind: 'env', variable: 'FLOWSTATE_PROPERTIES' });
  });

  it('reads process.env by default and nothing with env: false', () => {
    const name = 'FLOWSTATE_EXECUTION__CHECKPOINTING__NUM_RETAINED';
    process.env[name] = '7';
    try {
      assert.equal(loadConfiguration().get(MAX_RETAINED_CHECKPOINTS), 7);
      assert.equal(loadConfiguration({ env: false }).get(MAX_RETAINED_CHECKPOINTS), 1);
    } finally {
      delete process.env[name];
    }
  });
});

describe('precedence: defaults < config.yaml < FLOWSTATE_PROPERTIES < FLOWSTATE_<KEY> < code', () => {
  const file = yamlFile(
    'execution.checkpointing.interval: 1 s\nexecution.checkpointing.timeout: 1 min\nexecution.checkpointing.max-concurrent-checkpoints: 2\nstate.checkpoints.dir: /from/file\nstate.checkpoints.num-retained: 2\n',
  );
  const env = {
    FLOWSTATE_PROPERTIES: 'execution.checkpointing.timeout: 2 min\nexecution.checkpointing.max-concurrent-checkpoints: 3\nstate.checkpoints.num-retained: 3\n',
    FLOWSTATE_EXECUTION__CHECKPOINTING__MAX_CONCURRENT_CHECKPOINTS: '4',
    FLOWSTATE_EXECUTION__CHECKPOINTING__NUM_RETAINED: '4',
  };
  const c = loadConfiguration({ file, env, overrides: { 'execution.checkpointing.num-retained': 5, 'execution.checkpointing.dir': 'memory://code/ckpt' } });

  it('each source overrides the ones before it, key by key', () => {
    assert.equal(c.get(CHECKPOINTING_INTERVAL), 1_000); // file only
    assert.equal(c.get(CHECKPOINTING_TIMEOUT), 120_000); // FLOWSTATE_PROPERTIES over the file
    assert.equal(c.get(MAX_CONCURRENT_CHECKPOINTS), 4); // FLOWSTATE_<KEY> over FLOWSTATE_PROPERTIES
    assert.equal(c.get(MAX_RETAINED_CHECKPOINTS), 5); // code over everything
    assert.equal(c.get(ENABLE_UNALIGNED), false); // default
  });

  it('a key and its deprecated spelling in different sources: the later source wins', () => {
    assert.equal(c.get(CHECKPOINTS_DIRECTORY), 'memory://code/ckpt');
    assert.deepEqual(c.sourceOf(CHECKPOINTS_DIRECTORY), { kind: 'code' });
  });

  it('an invalid value fails even when a later source overrides it (every source is validated)', () => {
    assert.throws(() => loadConfiguration({ file: yamlFile('execution.checkpointing.interval: often\n'), env: false, overrides: { 'execution.checkpointing.interval': '1 s' } }), /'often'/);
  });
});
