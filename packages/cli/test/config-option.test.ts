/**
 * `--config <config.yaml>`: the configuration a job runs with, validated by the CLI, and its
 * storage keys applied to the locations a command opens.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { S3RVER_CREDENTIALS, startS3rver, type S3rverInstance } from '@flowstate/storage-s3/testing';
import { storageFromConfig } from '../src/configuration.js';
import { ExitCode } from '../src/index.js';
import { runCli } from './in-process.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const FIXTURE = join(repo, 'packages/savepoint/test/fixtures/v1');
const BUCKET = 'config-option';
const dir = mkdtempSync(join(tmpdir(), 'flowstate-cli-config-'));

const cli = (...argv: string[]) => runCli(argv);

function configFile(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

describe('flowstate savepoint ... --config', () => {
  let s3: S3rverInstance | undefined;
  const saved: Record<string, string | undefined> = {};
  // The S3 credentials and checksum settings come from the environment (never the config file);
  // the endpoint is deliberately wrong there: the config's s3.endpoint must win.
  const env: Record<string, string> = {
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1',
    FLOWSTATE_S3_PATH_STYLE: 'false',
    AWS_MAX_ATTEMPTS: '1',
  };
  before(async () => {
    s3 = await startS3rver({ buckets: [BUCKET] });
    for (const [k, v] of Object.entries(env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  });
  after(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await s3?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes and validates a savepoint on S3 with the config's s3.endpoint and path-style access", async () => {
    const config = configFile('s3.yaml', `s3:\n  endpoint: ${s3!.endpoint}\n  path.style.access: true\nstate.backend.type: rocksdb\n`);
    const sp = `s3://${BUCKET}/sp-1`;
    const copy = await cli('savepoint', 'convert', FIXTURE, sp, '--to', 'canonical', '--config', config);
    assert.equal(copy.code, ExitCode.OK, copy.stderr);
    const valid = await cli('savepoint', 'validate', sp, '--json', '--config', config);
    assert.equal(valid.code, ExitCode.OK, valid.stderr + valid.stdout);
    assert.equal((JSON.parse(valid.stdout) as { ok: boolean }).ok, true);
    const inspect = await cli('savepoint', 'inspect', sp, '--json', '--config', config);
    assert.equal(inspect.code, ExitCode.OK, inspect.stderr);
    // Without --config the environment's (wrong) endpoint is used, and the same savepoint cannot be read.
    const without = await cli('savepoint', 'inspect', sp, '--json');
    assert.notEqual(without.code, ExitCode.OK);
  });

  it('refuses an invalid configuration with the usage exit code, naming the key, the value and what is allowed', async () => {
    const config = configFile('bad.yaml', 'execution.checkpointing.interval: 10 parsecs\n');
    const r = await cli('savepoint', 'inspect', FIXTURE, '--config', config);
    assert.equal(r.code, ExitCode.USAGE);
    assert.match(r.stderr, /'execution\.checkpointing\.interval' has invalid value '10 parsecs' \(from .*bad\.yaml\): allowed is a duration/);
  });

  it('refuses an unknown key with a did-you-mean, and a missing file', async () => {
    const r = await cli('savepoint', 'validate', FIXTURE, '--json', '--config', configFile('typo.yaml', 'state.backend.typ: rocksdb\n'));
    assert.equal(r.code, ExitCode.USAGE);
    assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'CONFIG_UNKNOWN_KEY');
    assert.match(r.stderr, /did you mean 'state\.backend\.type'\?/);
    const missing = await cli('savepoint', 'inspect', FIXTURE, '--config', join(dir, 'nope.yaml'));
    assert.equal(missing.code, ExitCode.USAGE);
    assert.match(missing.stderr, /nope\.yaml': cannot be read/);
  });
});

describe('--config: loaded once per command', () => {
  it("a command's options load and validate their configuration file once, however many steps ask for it", () => {
    const own = mkdtempSync(join(tmpdir(), 'flowstate-cli-config-once-'));
    after(() => rmSync(own, { recursive: true, force: true }));
    const config = join(own, 'once.yaml');
    writeFileSync(config, 'state.backend.type: rocksdb\n');
    const options = { config };
    const first = storageFromConfig(options).fileSystems;
    // The file changes after the first step: a later step of the same command still sees what it validated.
    writeFileSync(config, 'state.backend.type: no-such-backend\n');
    assert.ok(first !== undefined);
    assert.equal(storageFromConfig(options).fileSystems, first);
    // Another command (other options) reads the file again, and refuses it.
    assert.throws(() => storageFromConfig({ config }), /state\.backend\.type/);
  });
});
