import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { operatorIdFromUid, writeFlinkMetadata } from '@flowstate/flink';
import { FLINK_FIXTURES, runCli as cli } from './in-process.js';

const fixtures = FLINK_FIXTURES;

describe('flowstate savepoint inspect on Apache Flink savepoints', () => {
  it('recognizes Flink _metadata by its magic number and reports operators (own savepoint)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowstate-cli-flink-'));
    try {
      writeFileSync(join(dir, '_metadata'), writeFlinkMetadata({
        version: 5, checkpointId: 3n, masterStates: [],
        operators: [{ name: 'Map', uid: 'my-map', operatorId: operatorIdFromUid('my-map'), parallelism: 2, maxParallelism: 128, coordinatorState: null, fullyFinished: false, subtasks: [] }],
        propertiesBytes: new Uint8Array([0xac, 0xed, 0, 5, 0x70]),
      }));
      const text = await cli(['savepoint', 'inspect', dir]);
      assert.equal(text.code, 0);
      assert.match(text.stdout, /Apache Flink/);
      assert.match(text.stdout, /operator my-map \[[0-9a-f]{32}\] "Map"/);
      assert.match(text.stdout, /parallelism 2, maxParallelism 128/);
      const json = await cli(['savepoint', 'inspect', dir, '--json']);
      const report = JSON.parse(json.stdout) as { metadataVersion: number; operators: { uid: string; maxParallelism: number }[] };
      assert.equal(report.metadataVersion, 5);
      assert.deepEqual(report.operators.map((o) => [o.uid, o.maxParallelism]), [['my-map', 128]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const sp = join(fixtures, 'snuyanzin-flink/flink-tests/src/test/resources/new-stateful-udf-migration-itcase-flink2.3-hashmap-savepoint');
  it('inspects a real Flink 2.3 savepoint with entry counts', { skip: existsSync(sp) ? false : `Apache Flink fixtures not found at ${fixtures}` }, async () => {
    const r = await cli(['savepoint', 'inspect', sp, '--json']);
    assert.equal(r.code, 0);
    const report = JSON.parse(r.stdout) as { kind: string; operators: { uid?: string; keyedStates: { name: string; entries?: number }[] }[] };
    assert.equal(report.kind, 'SAVEPOINT');
    const flatMap = report.operators.find((o) => o.uid === 'CheckpointingKeyedStateFlatMap1')!;
    assert.equal(flatMap.keyedStates.find((s) => s.name === 'state-name')!.entries, 4);
  });
});

describe('flowstate savepoint rescale on Apache Flink savepoints', () => {
  const sp = join(fixtures, 'snuyanzin-flink/flink-tests/src/test/resources/new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint');
  it('rescales 4 -> 3 with maxParallelism 128 and inspect shows the new layout', { skip: existsSync(sp) ? false : `Apache Flink fixtures not found at ${fixtures}` }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'flowstate-cli-flink-'));
    try {
      const r = await cli(['savepoint', 'rescale', sp, join(out, 'sp'), '--max-parallelism', '128', '--parallelism', '3']);
      assert.equal(r.code, 0);
      const report = JSON.parse((await cli(['savepoint', 'inspect', join(out, 'sp'), '--json'])).stdout) as { operators: { uid?: string; parallelism: number; maxParallelism: number; keyedStates: { name: string; entries?: number }[] }[] };
      const flatMap = report.operators.find((o) => o.uid === 'CheckpointingKeyedStateFlatMap1')!;
      assert.deepEqual([flatMap.parallelism, flatMap.maxParallelism], [3, 128]);
      assert.equal(flatMap.keyedStates.find((s) => s.name === 'state-name')!.entries, 4);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
