/**
 * Every checkpoint storage the cross-package suites run: in memory, a local directory, S3 (s3rver)
 * and HDFS (the WebHDFS test server of packages/storage-hdfs). Adding a storage is one entry in
 * STORAGES: its start() brings up what it needs (a server) and hands out fresh file systems.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { MemoryFileSystem, type FileSystem } from '@flowstate/core/storage';
import { WebHdfsFileSystem } from '@flowstate/storage-hdfs';
import { WebHdfsTestServer } from '@flowstate/storage-hdfs/testing';
import { LocalFileSystem } from '@flowstate/storage-local';
import { S3FileSystem } from '@flowstate/storage-s3';
import { s3rverClientConfig, startS3rver } from '@flowstate/storage-s3/testing';
import { startChildServer } from './child-server.js';
import { ALL_CONSUMERS, type RegistryConsumer } from './consumers.js';

export interface StorageStartOptions {
  /** A directory the storage may fill; it belongs to the caller, who removes it. */
  readonly workDirectory: string;
  /** Run a server in its own process rather than in this one (benchmarks: no shared event loop). */
  readonly separateProcess?: boolean;
}

/** A started storage. */
export interface RunningStorage {
  /** A new, empty file system of its own (directory, key prefix or base path). */
  createFileSystem(): FileSystem;
  /** How it runs, for reports. */
  readonly description: string;
  stop(): Promise<void>;
}

export interface StorageEntry {
  /** Stable id: test names, bench JSON. */
  readonly id: string;
  readonly label: string;
  readonly usedBy: readonly RegistryConsumer[];
  start(options: StorageStartOptions): Promise<RunningStorage>;
}

const BUCKET = 'flowstate-registry';

async function noServer(): Promise<void> {}

async function startS3(): Promise<RunningStorage> {
  // The SDK warns on every run that its 2027 releases need Node >= 22 (noted in the README); keep
  // it out of test and benchmark logs unless the caller set the variable.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  // s3rver always runs in a child process (it needs --openssl-legacy-provider; see the harness).
  const server = await startS3rver({ buckets: [BUCKET] });
  return {
    description: 's3rver on loopback (child process, disk-backed), S3FileSystem defaults (8 MiB parts, 4 in flight)',
    createFileSystem: () =>
      new S3FileSystem({ bucket: BUCKET, prefix: `job-${randomUUID()}`, clientConfig: s3rverClientConfig(server.endpoint), retryBaseDelayMs: 10 }),
    stop: () => server.stop(),
  };
}

/** The WebHDFS test server in a child process; it imports the same module the in-process path uses. */
async function startWebHdfsChild(): Promise<{ namenodeUrl: string; stop(): Promise<void> }> {
  const module = import.meta.resolve('@flowstate/storage-hdfs/testing');
  const script = `
    const { WebHdfsTestServer } = await import(${JSON.stringify(module)});
    const server = await WebHdfsTestServer.start();
    process.stdout.write(JSON.stringify({ namenodeUrl: server.namenodeUrl }) + '\\n');
    process.stdin.on('end', () => server.close().finally(() => process.exit(0)));
    process.stdin.resume();
  `;
  const child = await startChildServer('WebHDFS test server', ['--input-type=module', '-e', script]);
  return { namenodeUrl: String(child.info['namenodeUrl']), stop: () => child.stop() };
}

async function startHdfs(options: StorageStartOptions): Promise<RunningStorage> {
  const server = options.separateProcess ? await startWebHdfsChild() : await WebHdfsTestServer.start();
  const stop = server instanceof WebHdfsTestServer ? () => server.close() : () => server.stop();
  return {
    description: `WebHDFS test server on loopback (${options.separateProcess ? 'child process' : 'in process'}, in-memory), WebHdfsFileSystem defaults (8 MiB chunks)`,
    createFileSystem: () =>
      new WebHdfsFileSystem({ client: { endpoint: server.namenodeUrl, user: 'flowstate' }, basePath: `/flowstate/job-${randomUUID()}` }),
    stop,
  };
}

export const STORAGES: readonly StorageEntry[] = [
  {
    id: 'memory',
    label: 'memory (MemoryFileSystem)',
    // The simulation builds its own in-memory storage around a fault injector; the bench's
    // storage suite compares remote storages with a local directory.
    usedBy: ['checkpoint-matrix'],
    start: async () => ({ description: 'in-process MemoryFileSystem', createFileSystem: () => new MemoryFileSystem(), stop: noServer }),
  },
  {
    id: 'local',
    label: 'local directory',
    usedBy: ALL_CONSUMERS,
    start: async (o) => ({
      description: 'local directory (page cache, no fsync)',
      createFileSystem: () => new LocalFileSystem(join(o.workDirectory, `local-${randomUUID()}`)),
      stop: noServer,
    }),
  },
  { id: 's3', label: 's3 (s3rver)', usedBy: ['checkpoint-matrix', 'bench'], start: startS3 },
  { id: 'hdfs', label: 'hdfs (WebHDFS test server)', usedBy: ['checkpoint-matrix', 'bench'], start: startHdfs },
];

/** The entries `consumer` runs, in registry order. */
export function storagesFor(consumer: RegistryConsumer): StorageEntry[] {
  return STORAGES.filter((s) => s.usedBy.includes(consumer));
}

/** The entry with this id; throws naming the known ids. */
export function storageById(id: string): StorageEntry {
  const s = STORAGES.find((x) => x.id === id);
  if (!s) throw new Error(`unknown storage '${id}' (known: ${STORAGES.map((x) => x.id).join(', ')})`);
  return s;
}
