#!/usr/bin/env node
// Write throughput of checkpoint storage on S3 (s3rver) against local baselines. Not a test.
//
//   npx tsc -b packages/storage-s3 && node packages/storage-s3/scripts/throughput.mjs [MiB=256] [runs=3]
//
// Writes one state file of the given size through FsCheckpointStorage over S3FileSystem to a fresh
// s3rver (child process, temp dir, loopback) and completes the checkpoint (_metadata); writes the
// same bytes with node:fs write + fsync to a local directory (the local-dir baseline); and times
// `cp` of such a file, with and without an fsync of the copy. Each measurement runs `runs` times;
// the table shows the median and the best, in MiB/s, and the median's ratio to `cp`'s median.
//
// Read the S3 number as "the cost of our S3 path on this machine", not as S3 performance: s3rver
// writes every part to disk, then concatenates the parts into the object on completion (a second
// full copy), on the same disk as the baselines, and the client shares the CPUs with it.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c, FsCheckpointStorage } from '@flowstate/core';
import { S3FileSystem } from '../dist/src/index.js';
import { s3rverClientConfig, startS3rver } from '../dist/test/s3rver-harness.js';

const MiB = 1024 * 1024;
const sizeMiB = Number(process.argv[2] ?? 256);
const runs = Number(process.argv[3] ?? 3);
const SIZE = sizeMiB * MiB;
const CHUNK = 4 * MiB;
const PART = 8 * MiB;
const QUEUE = 4;
// Incompressible bytes, reused for every chunk: generating them must not be what we measure.
const block = randomBytes(CHUNK);
const chunks = () => Array.from({ length: Math.ceil(SIZE / CHUNK) }, (_, i) => block.subarray(0, Math.min(CHUNK, SIZE - i * CHUNK)));

// Every run starts with no dirty pages: otherwise the writeback of the previous run's files
// competes with the next one for the disk (it cost the s3rver phase 2-3x in a first version).
const settle = () => spawnSync('sync');

async function measure(name, fn, after = async () => {}) {
  const ms = [];
  for (let i = 0; i < runs; i++) {
    settle();
    const t0 = performance.now();
    await fn(i);
    ms.push(performance.now() - t0);
    await after(i);
  }
  ms.sort((a, b) => a - b);
  return { name, median: ms[Math.floor(ms.length / 2)], best: ms[0] };
}

async function fsyncFile(path) {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function cp(from, to) {
  const r = spawnSync('cp', [from, to]);
  if (r.status !== 0) throw new Error(`cp failed: ${r.stderr}`);
}

const dir = await mkdtemp(join(tmpdir(), 'flowstate-throughput-'));
const server = await startS3rver({ buckets: ['throughput'] });
try {
  const results = [];

  // Local-dir baseline: node:fs write + fsync, what a local checkpoint does per file.
  const source = join(dir, 'local.bin');
  results.push(
    await measure('node:fs write + fsync (local dir)', async () => {
      const fh = await open(source, 'w');
      try {
        for (const c of chunks()) await fh.write(c);
        await fh.sync();
      } finally {
        await fh.close();
      }
    }),
  );

  const copy = join(dir, 'copy.bin');
  const cpResult = await measure('cp (no fsync)', async () => cp(source, copy), () => rm(copy));
  results.unshift(cpResult);
  results.splice(
    1,
    0,
    await measure(
      'cp + fsync of the copy',
      async () => {
        cp(source, copy);
        await fsyncFile(copy);
      },
      () => rm(copy),
    ),
  );
  await rm(source);

  // FsCheckpointStorage over S3FileSystem on s3rver: one exclusive state file, then _metadata.
  const fs = new S3FileSystem({
    bucket: 'throughput',
    prefix: 'job-1',
    clientConfig: s3rverClientConfig(server.endpoint),
    partSize: PART,
    queueSize: QUEUE,
  });
  const storage = new FsCheckpointStorage(fs);
  const writeCheckpoint = async (id, stateChunks) => {
    const loc = await storage.initializeLocationForCheckpoint(id);
    const out = loc.streamFactory.createCheckpointStateOutputStream('EXCLUSIVE');
    for (const c of stateChunks) await out.write(c);
    const handle = await out.closeAndGetHandle();
    await loc.finalizeCheckpoint(Buffer.from(JSON.stringify(handle)));
    return handle;
  };
  // Warm-up (connections, JIT) with a small checkpoint that is not measured.
  await writeCheckpoint(1000, chunks().slice(0, 4));
  await storage.discardCheckpoint(1000);

  const handles = [];
  results.push(
    await measure(
      'FsCheckpointStorage -> S3FileSystem -> s3rver',
      async (i) => handles.push(await writeCheckpoint(i + 1, chunks())),
    ),
  );

  // Read back (readFully verifies size and CRC32C against the handle) and check the checksum.
  let expectedCrc = 0;
  for (const c of chunks()) expectedCrc = crc32c(c, expectedCrc);
  results.push(
    await measure('  read back: readFully, CRC32C verified', async (i) => {
      const h = handles[i];
      if (h.checksum !== expectedCrc || (await storage.readFully(h, i + 1)).length !== SIZE) throw new Error('read-back mismatch');
    }),
  );

  const rate = (ms) => SIZE / MiB / (ms / 1000);
  const cpRate = rate(cpResult.median);
  console.log(
    `\nthroughput: ${sizeMiB} MiB per file, ${CHUNK / MiB} MiB writes, S3 part size ${PART / MiB} MiB, queue size ${QUEUE}, ` +
      `${runs} runs each (sync before each)\nnode ${process.version}, ${process.platform}/${process.arch}, ${cpus().length} CPUs, temp dir ${tmpdir()}\n`,
  );
  console.log(`${'path'.padEnd(46)} ${'median s'.padStart(9)} ${'MiB/s'.padStart(8)} ${'best MiB/s'.padStart(11)} ${'vs cp'.padStart(8)}`);
  for (const r of results) {
    console.log(
      `${r.name.padEnd(46)} ${(r.median / 1000).toFixed(2).padStart(9)} ${rate(r.median).toFixed(1).padStart(8)} ` +
        `${rate(r.best).toFixed(1).padStart(11)} ${(rate(r.median) / cpRate).toFixed(3).padStart(7)}x`,
    );
  }
  console.log('');
} finally {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
