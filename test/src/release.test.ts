/**
 * The release itself: every public package is packed as `npm publish` would pack it, checked
 * (publishing fields, publint, no tests shipped), installed from the tarballs alone into a project
 * outside the repository (offline: the tarballs and the npm cache), and used there the way a new
 * user would: the README's "Use it" program is compiled with strict TypeScript (NodeNext) and run,
 * and the conformance suite runs against a third-party backend written in that project.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { buildOfflineLock, type PackageLock, type PackedPackage } from './release/offline-lock.js';
import { MY_BACKEND, MY_CONFORMANCE_TEST, TSCONFIG, useItSnippet } from './release/outside-project.js';
import { listWorkspaces, publicWorkspaces, readManifest, type Manifest } from './release/workspaces.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/** Never published: they exist to test, measure and demonstrate the others. */
const PRIVATE = ['@flowstate/integration-tests', '@flowstate/bench', '@flowstate/examples', '@flowstate/test-registry'];

interface PackResult {
  readonly name: string;
  readonly filename: string;
  readonly integrity: string;
  readonly files: ReadonlyArray<{ readonly path: string }>;
}

function run(cmd: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return r;
}

function runOk(cmd: string, args: readonly string[], cwd: string, env?: NodeJS.ProcessEnv): string {
  const r = run(cmd, args, cwd, env);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

describe('release: packed packages', { timeout: 600_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'flowstate-release-'));
  const tarballs = join(work, 'tarballs');
  const packed: PackedPackage[] = [];
  const packResults = new Map<string, PackResult>();
  const rootManifest = readManifest(join(ROOT, 'package.json'));

  before(() => {
    mkdirSync(tarballs);
    const workspaces = publicWorkspaces(ROOT);
    const out = execFileSync(NPM, ['pack', '--json', '--pack-destination', tarballs, ...workspaces.flatMap((w) => ['-w', w.manifest.name])], {
      cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const r of JSON.parse(out) as PackResult[]) packResults.set(r.name, r);
    for (const w of workspaces) {
      const r = packResults.get(w.manifest.name);
      assert.ok(r, `npm pack did not pack ${w.manifest.name}`);
      packed.push({ dir: w.dir, manifest: w.manifest, tarball: join(tarballs, r.filename), integrity: r.integrity });
    }
  });
  // FLOWSTATE_RELEASE_KEEP=1 keeps the packed tarballs and the outside project for a look.
  after(() => {
    if (process.env['FLOWSTATE_RELEASE_KEEP'] === '1') console.log(`release test: kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  });

  it('keeps the test, benchmark and example workspaces private, and only them', () => {
    const privateNames = listWorkspaces(ROOT).filter((w) => w.manifest.private === true).map((w) => w.manifest.name);
    assert.deepEqual(privateNames.sort(), [...PRIVATE].sort());
  });

  it('gives every public package the publishing fields, one version and exact internal versions', () => {
    const version = packed[0]!.manifest.version;
    const ours = new Set(packed.map((p) => p.manifest.name));
    for (const { dir, manifest: m } of packed) {
      const where = `${dir}/package.json`;
      assert.equal(m.license, 'Apache-2.0', `${where}: license`);
      assert.equal(m.repository?.type, 'git', `${where}: repository.type`);
      assert.equal(m.repository?.url, rootManifest.repository?.url, `${where}: repository.url as in the root package.json`);
      assert.equal(m.repository?.directory, dir, `${where}: repository.directory`);
      assert.equal(m.engines?.node, rootManifest.engines?.node, `${where}: engines.node as in the root package.json`);
      assert.equal(m.publishConfig?.access, 'public', `${where}: publishConfig.access (scoped packages are private otherwise)`);
      assert.ok(m.files?.includes('dist/src'), `${where}: files must list dist/src`);
      assert.equal(m.version, version, `${where}: every package has the same version (they move together)`);
      for (const [dep, range] of Object.entries({ ...m.dependencies, ...m.devDependencies })) {
        if (ours.has(dep)) assert.equal(range, version, `${where}: ${dep} must be pinned to ${version}`);
      }
      assert.equal(readFileSync(join(ROOT, dir, 'LICENSE'), 'utf8'), readFileSync(join(ROOT, 'LICENSE'), 'utf8'), `${dir}/LICENSE is the root LICENSE`);
    }
  });

  it('packs compiled JS, declarations, source maps, README and LICENSE, and no tests', () => {
    for (const { manifest: m } of packed) {
      const files = packResults.get(m.name)!.files.map((f) => f.path);
      for (const required of ['README.md', 'LICENSE', 'package.json', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/index.js.map', 'dist/src/index.d.ts.map', 'src/index.ts']) {
        assert.ok(files.includes(required), `${m.name}: the tarball lacks ${required}`);
      }
      const tests = files.filter((f) => /\.test\.|(^|\/)fixtures\//.test(f));
      assert.deepEqual(tests, [], `${m.name}: tests must not ship`);
      for (const target of exportTargets(m)) assert.ok(files.includes(target.replace(/^\.\//, '')), `${m.name}: exports/bin target ${target} is not in the tarball`);
    }
  });

  it('passes publint (no errors, no warnings) on every tarball', async () => {
    const problems: string[] = [];
    for (const p of packed) {
      const bytes = readFileSync(p.tarball);
      const tarball = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      const { messages, pkg } = await publint({ pack: { tarball }, level: 'warning', strict: true });
      for (const msg of messages) problems.push(`${p.manifest.name}: ${msg.type}: ${formatMessage(msg, pkg) ?? msg.code}`);
    }
    assert.deepEqual(problems, []);
  });

  describe('installed outside the repository', () => {
    const app = join(work, 'app');
    const appTmp = join(work, 'app-tmp');

    before(() => {
      mkdirSync(join(app, 'src'), { recursive: true });
      mkdirSync(appTmp);
      const repoLock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as PackageLock;
      const { manifest, lock } = buildOfflineLock(repoLock, { name: 'flowstate-user', dir: app, dependencies: packed, devDependencies: ['typescript', '@types/node'] });
      writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
      writeFileSync(join(app, 'package-lock.json'), JSON.stringify(lock, null, 2));
      writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
      writeFileSync(join(app, 'src', 'use-it.ts'), useItSnippet(join(ROOT, 'README.md')));
      writeFileSync(join(app, 'src', 'my-backend.ts'), MY_BACKEND);
      writeFileSync(join(app, 'src', 'my-backend.test.ts'), MY_CONFORMANCE_TEST);
      runOk(NPM, ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], app);
      runOk(process.execPath, [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], app);
    });

    it("runs the README's \"Use it\" program: restores what it checkpointed and leaves nothing behind", () => {
      const out = runOk(process.execPath, [join(app, 'dist', 'use-it.js')], app, { ...process.env, TMPDIR: appTmp });
      assert.match(out, /count of 'flink' after restore: 1\b/);
      assert.deepEqual(readdirSync(appTmp), [], 'the program left files in its temporary directory');
    });

    it('loads the prebuilt RocksDB addon where the package has a current one, else the one built at install', (t) => {
      const pkg = join(app, 'node_modules', '@flowstate', 'rocksdb');
      const file = runOk(process.execPath, ['--input-type=module', '-e', "import { nativeAddonPath } from '@flowstate/rocksdb/native'; console.log(nativeAddonPath())"], app).trim();
      const check = run(process.execPath, [join(ROOT, 'packages', 'rocksdb', 'scripts', 'check-prebuilt.mjs')], ROOT);
      if (check.status === 0) {
        assert.equal(file, join(pkg, 'prebuilds', `${process.platform}-${process.arch}`, 'flowstate_rocksdb.node'));
        assert.ok(!existsSync(join(pkg, 'build')), 'nothing was compiled at install');
      } else {
        t.diagnostic(`no current prebuilt addon: ${check.stderr.trim()}`);
        assert.equal(file, join(pkg, 'build', 'Release', 'flowstate_rocksdb.node'), `no current prebuilt (${check.stderr.trim()}): built at install`);
      }
    });

    it('computes checksums with the prebuilt CRC32C addon shipped in @flowstate/crc32c (x86-64 with SSE4.2)', (t) => {
      const cpuinfo = process.platform === 'linux' ? readFileSync('/proc/cpuinfo', 'utf8') : '';
      if (process.arch !== 'x64' || !/\bsse4_2\b/.test(cpuinfo)) return t.skip('needs Linux on x86-64 with SSE4.2; elsewhere the package uses @node-rs/crc32');
      const out = runOk(process.execPath, ['--input-type=module', '-e', "import { crc32cImplementation } from '@flowstate/core'; console.log(JSON.stringify(crc32cImplementation))"], app);
      const pkg = join(app, 'node_modules', '@flowstate', 'crc32c');
      assert.deepEqual(JSON.parse(out), { name: 'sse4.2-three-lanes', file: join(pkg, 'prebuilds', 'linux-x64', 'flowstate_crc32c.node'), rangesOnPool: true });
    });

    it('runs the "Use it" program with the system RocksDB hidden and a new HOME (prebuilt addon)', (t) => {
      const check = run(process.execPath, [join(ROOT, 'packages', 'rocksdb', 'scripts', 'check-prebuilt.mjs')], ROOT);
      if (check.status !== 0) return t.skip(`no current prebuilt addon: ${check.stderr.trim()}`);
      // A private mount namespace (root only) in which every librocksdb.so reads as an empty file.
      const hidden = systemRocksdbLibraries();
      const home = mkdtempSync(join(work, 'home-'));
      const script = `${hidden.map((f) => `mount --bind /dev/null '${f}'`).join(' && ')} && exec "$0" "$@"`;
      const r = run('unshare', ['-m', 'sh', '-c', script, process.execPath, join(app, 'dist', 'use-it.js')], app, { PATH: process.env['PATH'] ?? '', HOME: home, TMPDIR: appTmp });
      if (r.status !== 0 && /unshare|mount|Operation not permitted/.test(r.stderr) && !/flowstate/.test(r.stderr)) {
        return t.skip(`cannot hide the system RocksDB here (needs root and mount namespaces): ${r.stderr.trim()}`);
      }
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /count of 'flink' after restore: 1\b/);
      t.diagnostic(`hidden: ${hidden.join(', ') || '(no system librocksdb installed)'}`);
    });

    it('runs the conformance suite against a third-party backend written there', () => {
      // Without NODE_TEST_CONTEXT: the child must report to us in TAP, not to our own test runner.
      const { NODE_TEST_CONTEXT: _, ...env } = process.env;
      const r = run(process.execPath, ['--test', '--test-reporter=tap', join(app, 'dist', 'my-backend.test.js')], app, env);
      const count = (what: string): number => Number(new RegExp(`^# ${what} (\\d+)$`, 'm').exec(r.stdout)?.[1] ?? NaN);
      assert.equal(r.status, 0, `conformance failed outside the repository:\n${r.stdout.split('\n').filter((l) => /not ok|fail/.test(l)).join('\n')}`);
      const cases = Number(runOk(process.execPath, ['--input-type=module', '-e', "import { listConformanceCases } from '@flowstate/conformance'; console.log(listConformanceCases().length)"], app));
      assert.ok(cases >= 50, `listConformanceCases() returned ${cases}`);
      assert.equal(count('fail'), 0);
      assert.equal(count('pass') + count('skipped'), cases, `every case ran (pass ${count('pass')}, skipped ${count('skipped')}, cases ${cases})`);
    });
  });
});

/** The system's librocksdb shared objects (real files), which the prebuilt addon must not need. */
function systemRocksdbLibraries(): string[] {
  const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
  return dirs.filter((d) => existsSync(d)).flatMap((d) =>
    readdirSync(d, { withFileTypes: true }).filter((e) => e.isFile() && /^librocksdb\.so/.test(e.name)).map((e) => join(d, e.name)));
}

/** Relative files that exports (every condition), main, types and bin point at. */
function exportTargets(m: Manifest): string[] {
  const targets = [m.main, m.types, ...Object.values(m.bin ?? {})].filter((t): t is string => t !== undefined);
  for (const v of Object.values(m.exports ?? {})) targets.push(...(typeof v === 'string' ? [v] : Object.values(v)));
  return targets;
}
