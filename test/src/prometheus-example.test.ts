// The Prometheus example end to end: its /metrics page, scraped over HTTP, carries Flink's
// checkpoint metrics after its checkpoints, the sampled state latencies and RocksDB's native metrics.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';

const EXAMPLE = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'examples', 'dist', 'prometheus-metrics.js');

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

it('examples/prometheus-metrics: the scrape shows 3 completed checkpoints, state latencies and RocksDB native metrics', async () => {
  const port = await freePort();
  const child = spawn(process.execPath, [EXAMPLE, String(port), '3'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await new Promise<string>((res, rej) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /(http:\S+)\n/.exec(out);
        if (m) res(m[1]!);
      });
      child.once('exit', (code) => rej(new Error(`example exited with ${code}`)));
    });
    const text = await (await fetch(url)).text();
    const sample = (name: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
      assert.ok(line !== undefined, `${name} in the scrape`);
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    assert.equal(sample('numberOfCompletedCheckpoints'), 3);
    assert.equal(sample('numberOfFailedCheckpoints'), 0);
    assert.ok(sample('lastCheckpointFullSize') > 0);
    assert.equal(sample('valueStateUpdateLatency_count'), 300, '30,000 updates, one in 100 sampled');
    assert.ok(sample('rocksdb_estimate_num_keys') > 0);
  } finally {
    child.kill('SIGTERM');
  }
});
