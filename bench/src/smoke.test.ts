/** Smoke test: runs the whole harness on tiny sizes into a temp dir; checks files, never timings. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runHarness } from './harness.js';

test('bench harness produces well-formed JSON, markdown and SVG (smoke preset)', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowstate-bench-smoke-'));
  try {
    await runHarness({ preset: 'smoke', outDir: dir, quiet: true, log: () => {} });
    const json = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(json.schema, 3);
    assert.equal(json.preset, 'smoke');
    const machine = json.machine as Record<string, unknown>;
    for (const k of ['cpuModel', 'cores', 'memoryGb', 'nodeVersion', 'rocksdbAddon', 'gitCommit']) assert.ok(k in machine, `machine.${k}`);
    const access = json.access as Array<Record<string, unknown>>;
    assert.ok(access.length >= 3 * 18, `access rows: ${access.length}`);
    // A ratio, or (the smoke preset's batches are tiny) a row whose every round had a net time <= 0:
    // then no ratio (NaN, null in JSON) and the reason, never a huge number.
    for (const a of access) assert.ok(typeof a.ratio === 'number' || (a.ratio === null && typeof a.skipped === 'string'), `${String(a.backend)} ${String(a.op)}: ratio ${String(a.ratio)}`);
    assert.ok(access.some((a) => a.backend === 'rocksdb' && a.baseline === 'rocksdb-raw'), 'rocksdb access rows against the raw binding');
    // Skipping is per row: a run where nothing was measured must not pass.
    for (const b of new Set(access.map((a) => a.backend))) assert.ok(access.some((a) => a.backend === b && typeof a.ratio === 'number'), `at least one ${String(b)} access row measured a ratio`);
    // Heap backends: against the minimal heap backend, with the JS Map as information, and setCurrentKey alone.
    const heap = access.filter((a) => a.backend === 'memory');
    assert.ok(heap.length > 0 && heap.every((a) => a.baseline === 'minimal-heap' && (a.op === 'setCurrentKey' || (a.info as { baseline: string } | undefined)?.baseline === 'js-map')), 'heap rows against the minimal heap backend');
    assert.ok(heap.some((a) => a.op === 'setCurrentKey'), 'setCurrentKey row');
    const snapshot = json.snapshot as Array<Record<string, unknown>>;
    assert.ok(snapshot.length >= 6);
    const rocks = snapshot.filter((s) => s.backend === 'rocksdb');
    assert.ok(rocks.length >= 2 && rocks.every((s) => (s.churn as unknown[]).length === 3 && s.nativeFull !== null && s.rebase !== null), 'rocksdb churn variants');
    assert.ok((json.memory as unknown[]).length >= 2);
    const rss = json.rss as Array<Record<string, unknown>>;
    assert.equal(rss.length, 1);
    assert.ok((rss[0]!.steps as unknown[]).length >= 2);
    const storage = json.storage as Array<Record<string, unknown>>;
    assert.deepEqual(storage.map((x) => x.target), ['local', 's3', 'hdfs']);
    const savepoint = json.savepoint as Record<string, unknown>;
    assert.deepEqual((savepoint.ops as Array<Record<string, unknown>>).map((o) => o.op), ['write', 'read', 'read-views', 'minimal-write', 'minimal-read', 'minimal-read-views', 'validate', 'convert-to-native', 'convert-to-canonical']);
    assert.equal(savepoint.validateOk, true);
    const flink = savepoint.flink as Record<string, number>;
    assert.ok(flink.bytes! > 0 && flink.writeRatio! > 0 && flink.readRatio! > 0, 'the Apache Flink case ran and has ratios');
    const runtime = json.runtime as Record<string, unknown>;
    assert.equal(typeof runtime.throughputRatio, 'number');
    assert.equal(typeof runtime.durationRatio, 'number');
    assert.equal(runtime.warmUpJobsKept, 2, 'the warm-up jobs stay reachable through the timed runs (runtime-warmup.test.ts shows why)');
    assert.ok(typeof runtime.baselineRatio === 'number' && Number.isFinite(runtime.baselineRatio) && runtime.baselineRatio > 0, 'the runtime is measured against the staged batched baseline');
    const windows = json.windows as { backends: Array<{ backend: string; tumblingRatio: number; sessionRatio: number }> };
    assert.deepEqual(windows.backends.map((b) => b.backend), ['fs', 'rocksdb'], 'the windows suite ran on both backends');
    for (const b of windows.backends) assert.ok(b.tumblingRatio > 0 && b.sessionRatio > 0, `window ratios of ${b.backend}`);
    const timers = json.timers as Array<Record<string, unknown>>;
    assert.ok(timers.some((t) => t.backend === 'rocksdb-heap-timers') && timers.some((t) => t.backend === 'memory'), 'timers rows, the HEAP-timers variant included');
    for (const t of timers) assert.ok(Number.isFinite(t.registerRatio) && (t.registerRatio as number) > 0 && Number.isFinite(t.fireRatio) && (t.fireRatio as number) > 0, `timers ratios of ${String(t.backend)}`);

    const ttl = json.ttlCompaction as Array<Record<string, unknown>>;
    assert.deepEqual(ttl.map((x) => `${x.layout}/${x.expiredFraction}`), ['VALUE/0', 'VALUE/0.5', 'MAP/0', 'MAP/0.5', 'LIST/0', 'LIST/0.5']);
    for (const x of ttl) assert.ok(Number.isFinite(x.ratio) && (x.ratio as number) > 0, `ttl compaction ratio of ${String(x.layout)}`);

    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    assert.match(md, /^# flowstate benchmark report/);
    for (const h of ['## Goals', '## State access', '## Snapshots', '### Incremental checkpoints', '## Memory', '### Off-heap backends', '## Checkpoint storage throughput', '## Savepoints', '## Runtime', '## RocksDB TTL compaction filter', '## Timers']) assert.ok(md.includes(h), h);
    assert.ok(md.includes('## Windows'), 'the windows section');
    const tableRows = md.split('\n').filter((l) => l.startsWith('|'));
    for (const row of tableRows) assert.ok(row.endsWith('|'), `table row: ${row}`);

    for (const f of ['access-ops.svg', 'snapshot-time.svg']) {
      const svg = readFileSync(join(dir, f), 'utf8');
      assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      assert.ok(svg.trimEnd().endsWith('</svg>'), `${f} closed`);
      assert.ok(!/NaN|undefined|Infinity/.test(svg), `${f} has no NaN/undefined`);
      // Crude well-formedness: every opened element is closed (self-closing or with a closing tag).
      const open = (svg.match(/<(?!\/)[a-z]+[^>]*[^/]>/g) ?? []).length;
      const close = (svg.match(/<\/[a-z]+>/g) ?? []).length;
      assert.equal(open, close, `${f}: ${open} open vs ${close} close tags`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
