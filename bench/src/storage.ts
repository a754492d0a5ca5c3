/**
 * Checkpoint storage throughput: one stream of `storageBytes` written through
 * FsCheckpointStorage (1 MiB writes, as the snapshot code does) and read back with readFully
 * (CRC32C verified), to a local directory, to S3 (s3rver) and to HDFS (the WebHDFS test server of
 * packages/storage-hdfs). Both servers run in their own child processes (s3rver needs
 * `--openssl-legacy-provider`, exactly as packages/storage-s3/test/s3rver-harness.ts starts it), so
 * they do not share this process's event loop. Remote numbers are reported as ratios to local,
 * measured in the same run. All three are loopback: they measure client + protocol + server cost,
 * not a network.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FsCheckpointStorage } from '@flowstate/core';
import { WebHdfsFileSystem } from '@flowstate/storage-hdfs';
import { localCheckpointStorage } from '@flowstate/storage-local';
import { S3FileSystem } from '@flowstate/storage-s3';
import type { Preset } from './config.js';
import { summarize, type Summary } from './stats.js';

export type StorageTarget = 'local' | 's3' | 'hdfs';

export interface StorageResult {
  readonly target: StorageTarget;
  readonly description: string;
  readonly bytes: number;
  readonly uploadMs: Summary;
  readonly downloadMs: Summary;
  /** MB/s from the medians. */
  readonly uploadMBps: number;
  readonly downloadMBps: number;
  /** Throughput relative to local in the same run (local = 1; < 1 is slower). */
  readonly uploadRatioToLocal: number;
  readonly downloadRatioToLocal: number;
}

const MB = 1024 * 1024;
const CHUNK = 1 << 20;

interface ServerProcess {
  readonly info: Record<string, unknown>;
  stop(): Promise<void>;
}

/** Runs `script` in a child Node process that prints one JSON line when ready and exits when its stdin closes. */
async function startServer(name: string, args: string[], env: NodeJS.ProcessEnv): Promise<ServerProcess> {
  const child = spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => void (stderr += d));
  const stop = async () => stopChild(child);
  try {
    const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`${name} did not start within 20 s: ${stderr}`)), 20_000);
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const nl = out.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(timer);
          resolve(JSON.parse(out.slice(0, nl)) as Record<string, unknown>);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code} before listening: ${stderr}`));
      });
    });
    return { info, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

async function startS3rver(directory: string, bucket: string): Promise<ServerProcess> {
  const s3rverMain = createRequire(import.meta.url).resolve('s3rver');
  const script = `
    const S3rver = require(${JSON.stringify(s3rverMain)});
    const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: ${JSON.stringify(directory)}, configureBuckets: [{ name: ${JSON.stringify(bucket)} }] });
    server.run().then(
      (addr) => process.stdout.write(JSON.stringify({ port: addr.port }) + '\\n'),
      (err) => { console.error(err); process.exit(1); },
    );
    process.stdin.on('end', () => server.close().finally(() => process.exit(0)));
    process.stdin.resume();
  `;
  const nodeOptions = [process.env['NODE_OPTIONS'] ?? '', '--openssl-legacy-provider'].join(' ').trim();
  return startServer('s3rver', ['-e', script], { ...process.env, NODE_OPTIONS: nodeOptions });
}

/** The WebHDFS test server's compiled module (built by `tsc -b` with packages/storage-hdfs). */
const WEBHDFS_SERVER = fileURLToPath(new URL('../../packages/storage-hdfs/dist/test/webhdfs-server.js', import.meta.url));

async function startWebHdfs(): Promise<ServerProcess> {
  if (!existsSync(WEBHDFS_SERVER)) throw new Error(`${WEBHDFS_SERVER} is missing; build with \`npx tsc -b packages/storage-hdfs\``);
  const script = `
    const { WebHdfsTestServer } = await import(${JSON.stringify(new URL(`file://${WEBHDFS_SERVER}`).href)});
    const server = await WebHdfsTestServer.start();
    process.stdout.write(JSON.stringify({ endpoint: server.namenodeUrl }) + '\\n');
    process.stdin.on('end', () => server.close().finally(() => process.exit(0)));
    process.stdin.resume();
  `;
  return startServer('WebHDFS test server', ['--input-type=module', '-e', script], process.env);
}

async function measure(target: StorageTarget, description: string, storage: FsCheckpointStorage, p: Preset, log: (s: string) => void) {
  const chunk = randomFillSync(new Uint8Array(CHUNK));
  const up: number[] = [];
  const down: number[] = [];
  for (let s = 0; s < p.storageSamples; s++) {
    const id = s + 1;
    const loc = await storage.initializeLocationForCheckpoint(id);
    const t0 = performance.now();
    const out = loc.streamFactory.createCheckpointStateOutputStream('EXCLUSIVE');
    for (let left = p.storageBytes; left > 0; left -= CHUNK) await out.write(left >= CHUNK ? chunk : chunk.subarray(0, left));
    const handle = await out.closeAndGetHandle();
    const t1 = performance.now();
    const data = await storage.readFully(handle, id);
    const t2 = performance.now();
    if (data.length !== p.storageBytes) throw new Error(`${target}: read ${data.length} bytes, wrote ${p.storageBytes}`);
    await storage.discardStateHandle(handle);
    up.push(t1 - t0);
    down.push(t2 - t1);
    log(`  [storage/${target}] ${(p.storageBytes / MB).toFixed(0)} MiB: upload ${(t1 - t0).toFixed(0)} ms, download ${(t2 - t1).toFixed(0)} ms`);
  }
  return { target, description, uploadMs: summarize(up), downloadMs: summarize(down) };
}

export async function runStorageSuite(p: Preset, log: (s: string) => void): Promise<StorageResult[]> {
  const work = mkdtempSync(join(tmpdir(), 'flowstate-bench-storage-'));
  const servers: ServerProcess[] = [];
  try {
    const rows: Array<Awaited<ReturnType<typeof measure>>> = [];
    rows.push(await measure('local', 'local directory (page cache, no fsync)', localCheckpointStorage(join(work, 'local')), p, log));

    // The SDK warns on every run that its 2027 releases need Node >= 22 (project-level concern,
    // noted in the README); keep it out of the benchmark log unless the caller set the variable.
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
    const bucket = 'flowstate-bench';
    const s3 = await startS3rver(join(work, 's3rver'), bucket);
    servers.push(s3);
    const s3fs = new S3FileSystem({
      bucket,
      prefix: 'bench',
      clientConfig: {
        region: 'us-east-1',
        endpoint: `http://127.0.0.1:${String(s3.info['port'])}`,
        forcePathStyle: true,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      },
    });
    rows.push(await measure('s3', 's3rver on loopback (child process, disk-backed), S3FileSystem defaults (8 MiB parts, 4 in flight)', new FsCheckpointStorage(s3fs), p, log));

    const hdfs = await startWebHdfs();
    servers.push(hdfs);
    const hdfsFs = new WebHdfsFileSystem({ client: { endpoint: String(hdfs.info['endpoint']), user: 'flowstate' }, basePath: '/flowstate/bench' });
    rows.push(await measure('hdfs', 'WebHDFS test server on loopback (child process, in-memory), WebHdfsFileSystem defaults (8 MiB chunks)', new FsCheckpointStorage(hdfsFs), p, log));

    const local = rows[0]!;
    const mbps = (ms: number) => p.storageBytes / MB / (ms / 1000);
    return rows.map((r) => ({
      ...r,
      bytes: p.storageBytes,
      uploadMBps: mbps(r.uploadMs.median),
      downloadMBps: mbps(r.downloadMs.median),
      uploadRatioToLocal: local.uploadMs.median / r.uploadMs.median,
      downloadRatioToLocal: local.downloadMs.median / r.downloadMs.median,
    }));
  } finally {
    for (const s of servers.reverse()) await s.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
