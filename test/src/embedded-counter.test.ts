/**
 * examples/src/embedded-counter.ts against S3 (s3rver): the example runs as a child process, is
 * SIGKILLed with events processed since its last completed checkpoint, and restarts. Its replay
 * contract: the restored counts are exactly those of the events before the restored offset (the
 * offset of the last completed checkpoint), and the final counts those of every event once.
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { FsCheckpointStorage, readCheckpointHistory } from '@flowstate/core';
import { S3FileSystem } from '@flowstate/storage-s3';
import { s3rverClientConfig, S3RVER_CREDENTIALS, startS3rver, type S3rverInstance } from '@flowstate/storage-s3/testing';

const EXAMPLE = fileURLToPath(new URL('../../examples/dist/embedded-counter.js', import.meta.url));
const EVENTS = 5000;
const EVERY = 1000;
const PAUSE_AT = 3500;

let s3: S3rverInstance;
before(async () => {
  s3 = await startS3rver({ buckets: ['embedded'] });
});
after(async () => s3?.stop());

/** Counts of events [0, n): event i counts for key k<i mod 7>. */
function expected(n: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) out[`k${i % 7}`] = (out[`k${i % 7}`] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort());
}

/** Runs the example; resolves with its output lines once `until` matched a line (or it exited). */
function run(args: string[], until: RegExp): { child: ChildProcess; lines: Promise<string[]> } {
  const child = spawn(process.execPath, [EXAMPLE, ...args], {
    env: {
      ...process.env,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
      FLOWSTATE_S3_PATH_STYLE: 'true',
      // s3rver does not understand the SDK's aws-chunked checksum trailers.
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const lines = new Promise<string[]>((resolve, reject) => {
    const out: string[] = [];
    let buf = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const l of parts) {
        out.push(l);
        if (until.test(l)) resolve(out);
      }
    });
    child.once('exit', (code, signal) => (code === 0 ? resolve(out) : reject(new Error(`example exited with ${code ?? signal}: ${stderr}`))));
  });
  return { child, lines };
}

const field = (line: string | undefined, name: string) => Number(new RegExp(`${name} (\\d+)`).exec(line ?? '')?.[1]);
const countsOf = (line: string | undefined) => JSON.parse(/counts (\{.*\})$/.exec(line ?? '')![1]!) as Record<string, number>;

describe('embedded counter example (S3, SIGKILL, restart)', () => {
  it('restores the last completed checkpoint after a SIGKILL and counts every event exactly once', async () => {
    const uri = 's3://embedded/counter-job';
    const first = run([uri, String(EVENTS), String(EVERY), String(PAUSE_AT)], /^paused at/);
    const before = await first.lines;
    const exited = new Promise((r) => first.child.once('exit', r));
    first.child.kill('SIGKILL');
    await exited;
    const checkpoints = before.filter((l) => l.startsWith('checkpoint '));
    assert.deepEqual(checkpoints.map((l) => field(l, 'offset')), [1000, 2000, 3000], 'three checkpoints, then 500 events nobody checkpointed');

    const second = run([uri, String(EVENTS), String(EVERY)], /^done/);
    const out = await second.lines;
    const restored = out.find((l) => l.startsWith('restored '));
    assert.equal(field(restored, 'restored'), field(checkpoints.at(-1), 'checkpoint'), 'the last completed checkpoint');
    assert.equal(field(restored, 'offset'), 3000);
    assert.deepEqual(countsOf(restored), expected(3000), 'restored counts are exactly those of the events before the offset');
    assert.deepEqual(countsOf(out.find((l) => l.startsWith('done'))), expected(EVENTS), 'no event lost, none counted twice');

    const fs = new S3FileSystem({ bucket: 'embedded', prefix: 'counter-job', clientConfig: s3rverClientConfig(s3.endpoint) });
    assert.deepEqual(await new FsCheckpointStorage(fs).listCompletedCheckpoints(), ['chk-4', 'chk-5'], 'CLAIM: the restarted run retains 2 and deleted the older ones');
    const history = await readCheckpointHistory(fs);
    assert.deepEqual(history.entries.map((e) => [e.checkpointId, e.status]), [1, 2, 3, 4, 5].map((id) => [id, 'COMPLETED']), 'the history survived the crash');
  });
});
