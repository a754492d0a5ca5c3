/**
 * The Apache Flink verbs on remote storage: a Flink savepoint named by URI is staged through a
 * local temporary directory (read), and one written to a URI is uploaded (write). The Flink
 * savepoint is the repository's own (`convert --to flink` of the flowstate fixture), so these
 * tests need no Apache Flink fixtures; the storage is S3 (s3rver on 127.0.0.1).
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileSystemRegistry, ForwardingFileSystem, StorageError, MemoryFileSystem, SubdirectoryFileSystem, writeCommitted, type FileStatus, type FileSystem, type ReadRange } from '@flowstate/core';
import { FlinkUnsupportedError, readFlinkMetadata, writeFlinkMetadata, type FlinkCheckpointMetadata } from '@flowstate/flink';
import { validateSavepoint } from '@flowstate/savepoint';
import { S3RVER_CREDENTIALS, startS3rver, type S3rverInstance } from '@flowstate/storage-s3/testing';
import { ExitCode } from '../src/index.js';
import { inspectFlinkIfFlink } from '../src/flink.js';
import { STAGED_INPUT_PREFIX, STAGED_OUTPUT_PREFIX } from '../src/flink-staging.js';
import { FIXTURE } from './binary.js';
import { runCli, testDirectory } from './in-process.js';

const BUCKET = 'flink-remote';
const local = testDirectory('flowstate-cli-flink-remote-');
/** The repository's own Apache Flink savepoint (metadata V6, relative file handles), on local disk. */
const LOCAL_FLINK = join(local, 'flink');
/** The same savepoint uploaded to S3 by the test (not by the code under test). */
const REMOTE_FLINK = `s3://${BUCKET}/savepoints/savepoint-1`;

const cli = (...argv: string[]) => runCli(argv);
let n = 0;
const fresh = (name: string): string => `s3://${BUCKET}/out/${name}-${n++}`;

/** The staging directories of the CLI under os.tmpdir(): none may outlive a command. */
function stagedDirectories(): string[] {
  return readdirSync(tmpdir()).filter((d) => d.startsWith(STAGED_INPUT_PREFIX) || d.startsWith(STAGED_OUTPUT_PREFIX)).sort();
}

/** Copies the local directory's files (flat) to `uri`, through core's registry. */
async function upload(dir: string, uri: string, transform: (name: string, bytes: Uint8Array) => Uint8Array = (_n, b) => b): Promise<void> {
  const fs = fileSystemRegistry.resolve(uri);
  for (const name of readdirSync(dir)) await writeFile(fs, name, transform(name, readFileSync(join(dir, name))));
}

async function writeFile(fs: FileSystem, path: string, bytes: Uint8Array): Promise<void> {
  await writeCommitted(fs, path, (w) => w.write(bytes));
}

async function remoteFiles(uri: string): Promise<string[]> {
  return (await fileSystemRegistry.resolve(uri).list('')).map((f) => f.path).sort();
}

/** The largest state file of the local Flink savepoint (a keyed stream). */
function largestStateFile(): string {
  return readdirSync(LOCAL_FLINK)
    .filter((f) => f !== '_metadata')
    .sort((a, b) => readFileSync(join(LOCAL_FLINK, b)).length - readFileSync(join(LOCAL_FLINK, a)).length)[0]!;
}

/** `value` with every relative file handle replaced by an absolute one at `base/<name>` (as a retained checkpoint's shared files are named). */
function withAbsoluteHandles(value: unknown, base: string): unknown {
  if (Array.isArray(value)) return value.map((v) => withAbsoluteHandles(v, base));
  if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return value;
  const o = value as Record<string, unknown>;
  if (o['type'] === 'relative-file') return { type: 'file', path: `${base}/${String(o['relativePath'])}`, size: o['size'] };
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, withAbsoluteHandles(v, base)]));
}

describe('flowstate savepoint on an Apache Flink savepoint on S3, by URI', () => {
  let s3: S3rverInstance | undefined;
  const saved: Record<string, string | undefined> = {};
  before(async () => {
    s3 = await startS3rver({ buckets: [BUCKET] });
    const env: Record<string, string> = {
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      FLOWSTATE_S3_PATH_STYLE: 'true',
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    };
    for (const [k, v] of Object.entries(env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    const made = await cli('savepoint', 'convert', FIXTURE, LOCAL_FLINK, '--to', 'flink');
    assert.equal(made.code, ExitCode.OK, made.stderr);
    await upload(LOCAL_FLINK, REMOTE_FLINK);
  });
  after(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await s3?.stop();
  });

  it('inspects and validates it (also by its _metadata), naming the URI, and leaves no staged copy', async () => {
    const staged = stagedDirectories();
    const inspect = await cli('savepoint', 'inspect', REMOTE_FLINK, '--json');
    assert.equal(inspect.code, ExitCode.OK, inspect.stderr);
    const report = JSON.parse(inspect.stdout) as { format: string; operators: { maxParallelism: number }[] };
    assert.equal(report.format, 'apache-flink');
    assert.equal(report.operators.length, 2);
    const local = await cli('savepoint', 'inspect', LOCAL_FLINK, '--json');
    assert.equal(inspect.stdout, local.stdout, 'the same report as for the local copy');
    const byMetadata = await cli('savepoint', 'inspect', `${REMOTE_FLINK}/_metadata`);
    assert.equal(byMetadata.code, ExitCode.OK, byMetadata.stderr);
    const validate = await cli('savepoint', 'validate', REMOTE_FLINK);
    assert.equal(validate.code, ExitCode.OK, validate.stdout + validate.stderr);
    assert.match(validate.stdout, new RegExp(`^OK: ${REMOTE_FLINK} is a valid Apache Flink savepoint`));
    assert.deepEqual(stagedDirectories(), staged);
  });

  it('converts it to a local canonical savepoint and diffs it against local savepoints', async () => {
    const out = join(local, 'canonical-from-s3');
    const convert = await cli('savepoint', 'convert', REMOTE_FLINK, out, '--to', 'canonical', '--from', 'flink');
    assert.equal(convert.code, ExitCode.OK, convert.stderr);
    assert.equal((await validateSavepoint(out)).ok, true);
    const fromLocal = join(local, 'canonical-from-local');
    assert.equal((await cli('savepoint', 'convert', LOCAL_FLINK, fromLocal, '--to', 'canonical')).code, ExitCode.OK);
    const same = await cli('savepoint', 'diff', out, fromLocal);
    assert.equal(same.code, ExitCode.OK, same.stdout);
    // Flink against Flink (one side remote), and Flink against flowstate: as for the local copy.
    assert.equal((await cli('savepoint', 'diff', REMOTE_FLINK, LOCAL_FLINK)).code, ExitCode.OK);
    const mixed = await cli('savepoint', 'diff', REMOTE_FLINK, FIXTURE, '--json');
    const mixedLocal = await cli('savepoint', 'diff', LOCAL_FLINK, FIXTURE, '--json');
    assert.equal(mixed.code, mixedLocal.code, mixed.stderr);
    assert.equal(mixed.stdout, mixedLocal.stdout);
  });

  it('writes Flink savepoints to S3 (convert --to flink, rescale, --to canonical) and refuses a remote output holding files', async () => {
    const staged = stagedDirectories();
    const toFlink = fresh('to-flink');
    const written = await cli('savepoint', 'convert', FIXTURE, toFlink, '--to', 'flink');
    assert.equal(written.code, ExitCode.OK, written.stderr);
    assert.equal((await remoteFiles(toFlink)).length, readdirSync(LOCAL_FLINK).length);
    assert.equal(JSON.parse((await cli('savepoint', 'inspect', toFlink, '--json')).stdout).format, 'apache-flink');
    // The output holds files now: refused, as every verb refuses it (usage, nothing written).
    const again = await cli('savepoint', 'convert', FIXTURE, toFlink, '--to', 'flink', '--json');
    assert.equal(again.code, ExitCode.USAGE);
    assert.equal((JSON.parse(again.stdout) as { error: { code: string } }).error.code, 'SAVEPOINT_OUTPUT');
    const rescaleOnto = await cli('savepoint', 'rescale', REMOTE_FLINK, toFlink, '--max-parallelism', '64');
    assert.equal(rescaleOnto.code, ExitCode.USAGE, rescaleOnto.stderr);
    const intoInput = await cli('savepoint', 'rescale', REMOTE_FLINK, `${REMOTE_FLINK}/rescaled`, '--max-parallelism', '64');
    assert.equal(intoInput.code, ExitCode.USAGE, 'an output inside the input savepoint');
    // Remote to remote: staged in, rescaled, uploaded.
    const rescaled = fresh('rescaled');
    const rescale = await cli('savepoint', 'rescale', REMOTE_FLINK, rescaled, '--max-parallelism', '64');
    assert.equal(rescale.code, ExitCode.OK, rescale.stderr);
    const after = JSON.parse((await cli('savepoint', 'inspect', rescaled, '--json')).stdout) as { operators: { maxParallelism: number }[] };
    assert.deepEqual(after.operators.map((o) => o.maxParallelism), [64, 64]);
    // Flink -> canonical on S3, and that canonical savepoint (a flowstate one, read in place) back to Flink on S3.
    const canonical = fresh('canonical');
    assert.equal((await cli('savepoint', 'convert', REMOTE_FLINK, canonical, '--to', 'canonical')).code, ExitCode.OK);
    assert.equal((await cli('savepoint', 'validate', canonical)).code, ExitCode.OK);
    const back = fresh('back');
    const backToFlink = await cli('savepoint', 'convert', canonical, back, '--to', 'flink');
    assert.equal(backToFlink.code, ExitCode.OK, backToFlink.stderr);
    assert.equal((await cli('savepoint', 'diff', back, LOCAL_FLINK)).code, ExitCode.OK);
    assert.deepEqual(stagedDirectories(), staged);
  });

  it('removes the staged copy when the verb fails, and names the URI in what it reports', async () => {
    const staged = stagedDirectories();
    const broken = fresh('truncated');
    const victim = largestStateFile();
    await upload(LOCAL_FLINK, broken, (name, bytes) => (name === victim ? bytes.subarray(0, bytes.length - 10) : bytes));
    // inspect reports the damage and succeeds; its report names the file by its URI.
    const inspect = await cli('savepoint', 'inspect', broken);
    assert.equal(inspect.code, ExitCode.OK, inspect.stderr);
    assert.ok(inspect.stdout.includes(`'${broken}/${victim}'`) && !inspect.stdout.includes(tmpdir()), inspect.stdout);
    // convert fails on it (corrupt input), and its error names the URI.
    const out = join(local, 'never-written');
    const convert = await cli('savepoint', 'convert', broken, out, '--to', 'canonical');
    assert.equal(convert.code, ExitCode.CORRUPT, convert.stdout);
    assert.ok(convert.stderr.includes(`'${broken}/${victim}'`) && !convert.stderr.includes(tmpdir()), convert.stderr);
    assert.equal(existsSync(out), false);
    const validate = await cli('savepoint', 'validate', broken, '--json');
    assert.equal(validate.code, ExitCode.FAILED, validate.stderr);
    const problems = (JSON.parse(validate.stdout) as { problems: { file?: string }[] }).problems;
    assert.deepEqual(problems.map((p) => p.file), [`${broken}/${victim}`]);
    assert.ok(!validate.stdout.includes(tmpdir()), validate.stdout);
    const rescale = await cli('savepoint', 'rescale', broken, fresh('never'), '--max-parallelism', '64');
    assert.equal(rescale.code, ExitCode.CORRUPT, rescale.stderr);
    assert.deepEqual(stagedDirectories(), staged);
  });

  it("refuses a retained checkpoint whose state is in its job's shared/ directory", async () => {
    const job = `s3://${BUCKET}/jobs/job-1`;
    const shared = `${job}/shared`;
    await upload(LOCAL_FLINK, shared, (name, bytes) => (name === '_metadata' ? new Uint8Array(0) : bytes));
    const md = readFlinkMetadata(readFileSync(join(LOCAL_FLINK, '_metadata')), '_metadata');
    await writeFile(fileSystemRegistry.resolve(`${job}/chk-7`), '_metadata', writeFlinkMetadata(withAbsoluteHandles(md, shared) as FlinkCheckpointMetadata));
    const r = await cli('savepoint', 'inspect', `${job}/chk-7`, '--json');
    assert.equal(r.code, ExitCode.UNSUPPORTED, r.stdout + r.stderr);
    assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'FLINK_UNSUPPORTED');
    assert.match(r.stderr, /shared\//);
  });

  it('refuses to dispose an Apache Flink savepoint on S3 (usage), deleting nothing', async () => {
    const before = await remoteFiles(REMOTE_FLINK);
    const r = await cli('savepoint', 'dispose', REMOTE_FLINK);
    assert.equal(r.code, ExitCode.USAGE, r.stderr);
    assert.match(r.stderr, /Apache Flink savepoint or checkpoint on remote storage/);
    assert.deepEqual(await remoteFiles(REMOTE_FLINK), before);
  });

  it('refuses a savepoint beyond the staging limits with a typed error, before copying anything', async () => {
    const staged = stagedDirectories();
    const io = { stdout: () => {} };
    const files = readdirSync(LOCAL_FLINK).length;
    const memory = await memoryCopyOfLocalFlink('counted://storage');
    const reads: string[] = [];
    fileSystemRegistry.register({ schemes: ['counted'], open: (uri) => new CountingReads(new SubdirectoryFileSystem(memory, uri.pathname.slice(1)), reads) });
    await assert.rejects(inspectFlinkIfFlink('counted://storage/sp', { stagingLimits: { maxFiles: files - 1, maxBytes: 1 << 30 } }, io), (e: unknown) => {
      assert.ok(e instanceof FlinkUnsupportedError);
      assert.equal(e.code, 'FLINK_UNSUPPORTED');
      assert.match(e.message, new RegExp(`'counted://storage/sp'.*${files} files, more than ${files - 1}`));
      return true;
    });
    await assert.rejects(inspectFlinkIfFlink('counted://storage/sp', { stagingLimits: { maxFiles: 100, maxBytes: 1000 } }, io), /bytes, more than 1000/);
    // Only the detection's 4 bytes of _metadata were read, once per command: nothing was copied.
    assert.deepEqual(reads, ['_metadata', '_metadata']);
    assert.deepEqual(stagedDirectories(), staged);
  });
});

/** The local Flink savepoint's files under `sp/` of a new in-memory file system. */
async function memoryCopyOfLocalFlink(displayRoot: string): Promise<MemoryFileSystem> {
  const memory = new MemoryFileSystem(displayRoot);
  for (const name of readdirSync(LOCAL_FLINK)) await writeFile(memory, `sp/${name}`, readFileSync(join(LOCAL_FLINK, name)));
  return memory;
}

/** Records the path of every read. */
class CountingReads extends ForwardingFileSystem {
  constructor(
    inner: FileSystem,
    private readonly reads: string[],
  ) {
    super(inner);
  }
  override read(path: string, range?: ReadRange): Promise<Uint8Array> {
    this.reads.push(path);
    return super.read(path, range);
  }
}

describe('staging a remote Apache Flink savepoint', () => {
  /** Two levels up from the copy's directory: into os.tmpdir() itself, where the test looks for it. */
  const ESCAPING = '../../flowstate-escaped-by-listing';

  /** A file system whose listing also names a file outside its root, and serves it, as a hostile or broken storage might. */
  class EscapingListing extends ForwardingFileSystem {
    override async list(dir: string): Promise<FileStatus[]> {
      return [...(await this.inner.list(dir)), { path: ESCAPING, size: 3 }];
    }
    override async read(path: string, range?: ReadRange): Promise<Uint8Array> {
      return path === ESCAPING ? new Uint8Array(range?.length ?? 3) : this.inner.read(path, range);
    }
  }

  it('refuses a listed name that would land outside the temporary directory, writing nothing there', async () => {
    const memory = await memoryCopyOfLocalFlink('hostile://storage');
    fileSystemRegistry.register({ schemes: ['hostile'], open: (uri) => new EscapingListing(new SubdirectoryFileSystem(memory, uri.pathname.slice(1))) });
    const staged = stagedDirectories();
    const escaped = join(tmpdir(), 'flowstate-escaped-by-listing');
    try {
      const r = await cli('savepoint', 'inspect', 'hostile://storage/sp', '--json');
      assert.equal(r.code, ExitCode.CORRUPT, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'PATH_ESCAPE');
      assert.match(r.stderr, /hostile:\/\/storage\/sp/);
      assert.equal(existsSync(escaped), false, 'a listed name escaping the copy was written outside it');
      assert.deepEqual(stagedDirectories(), staged);
    } finally {
      rmSync(escaped, { force: true });
    }
  });

  it("names the remote location in reports also when its URI holds '$&' (no replacement pattern), never the copy's path", async () => {
    const memory = await memoryCopyOfLocalFlink('dollar://storage');
    const victim = largestStateFile();
    // One state file cut short: validate reports it, by its remote name.
    const bytes = readFileSync(join(LOCAL_FLINK, victim));
    for (const name of readdirSync(LOCAL_FLINK)) await writeFile(memory, `odd$&name/${name}`, name === victim ? bytes.subarray(0, bytes.length - 1) : readFileSync(join(LOCAL_FLINK, name)));
    fileSystemRegistry.register({ schemes: ['dollar'], open: (uri) => new SubdirectoryFileSystem(memory, decodeURIComponent(uri.pathname.slice(1))) });
    const r = await cli('savepoint', 'validate', 'dollar://storage/odd$&name', '--json');
    assert.equal(r.code, ExitCode.FAILED, r.stderr);
    assert.doesNotMatch(r.stdout, new RegExp(STAGED_INPUT_PREFIX));
    const files = (JSON.parse(r.stdout) as { problems: Array<{ file?: string }> }).problems.map((p) => p.file);
    assert.ok(files.includes(`dollar://storage/odd$&name/${victim}`), JSON.stringify(files));
  });

  it("a storage's failure while detecting the format is reported as that failure, not as flowstate's bad magic number", async () => {
    const memory = await memoryCopyOfLocalFlink('unreachable://storage');
    // Fails once (a transient 503): the detection's stat; a later reader would find the file.
    let failures = 1;
    class Unreachable extends ForwardingFileSystem {
      override async stat(path: string): Promise<FileStatus | null> {
        if (path === '_metadata' && failures-- > 0) throw new StorageError('unreachable://storage/sp/_metadata', 'stat failed: 503 Service Unavailable');
        return super.stat(path);
      }
    }
    fileSystemRegistry.register({ schemes: ['unreachable'], open: (uri) => new Unreachable(new SubdirectoryFileSystem(memory, uri.pathname.slice(1))) });
    const r = await cli('savepoint', 'inspect', 'unreachable://storage/sp', '--json');
    assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, new StorageError('x', 'y').code, r.stderr);
    assert.match(r.stderr, /503 Service Unavailable/);
  });

  it('validates --config also for a local Apache Flink savepoint: an invalid one is refused and dispose deletes nothing', async () => {
    const copy = join(local, 'flink-config-check');
    cpSync(LOCAL_FLINK, copy, { recursive: true });
    const config = join(local, 'bad-config.yaml');
    writeFileSync(config, 'execution.checkpointing.interval: 10 parsecs\n');
    for (const verb of ['inspect', 'validate', 'dispose']) {
      const r = await cli('savepoint', verb, copy, '--config', config);
      assert.equal(r.code, ExitCode.USAGE, `${verb}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /execution\.checkpointing\.interval/);
    }
    assert.deepEqual(readdirSync(copy).sort(), readdirSync(LOCAL_FLINK).sort());
  });

  it('a file: URI naming no local path (a host) is a usage error, not an internal one', async () => {
    const r = await cli('savepoint', 'convert', join(local, 'flowstate-input-absent'), 'file://otherhost/tmp/x', '--to', 'flink');
    assert.equal(r.code, ExitCode.USAGE, r.stderr);
    assert.match(r.stderr, /not a local file URI/);
  });
});

