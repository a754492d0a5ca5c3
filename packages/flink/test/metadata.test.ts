import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { FlowstateError } from '@flowstate/core';
import {
  canonicalSavepointProperties,
  FlinkSavepoint,
  formatFlinkInspect,
  inspectFlinkSavepoint,
  operatorIdFromUid,
  parseCheckpointProperties,
  readFlinkMetadata,
  writeFlinkMetadata,
  type FlinkCheckpointMetadata,
  type KeyedStateHandle,
  type OperatorState,
  type StreamStateHandle,
} from '../src/index.js';
import { metadataFiles, needsFixtures, prng } from './fixtures.js';

const file = (n: number): StreamStateHandle => ({ type: 'relative-file', relativePath: `f-${n}`, size: 100 + n });
const bytes = (s: string): StreamStateHandle => ({ type: 'byte-stream', name: `h-${s}`, data: new TextEncoder().encode(s), metadataOffset: 0 });

/** Our own metadata with every handle type, for a clone without the Apache Flink fixtures. */
function syntheticMetadata(version: number): FlinkCheckpointMetadata {
  const keyed: KeyedStateHandle[] = [
    { type: 'key-groups', tag: 7, startKeyGroup: 0, offsets: [0, 12, 0], stream: file(1) },
    { type: 'key-groups', tag: 12, startKeyGroup: 3, offsets: [9], stream: bytes('x'), stateHandleId: 'id-1' },
    { type: 'key-groups', tag: 3, startKeyGroup: 4, offsets: [1, 2], stream: { type: 'file', size: 7, path: 'file:///abs/x' } },
    {
      type: 'incremental', tag: 11, checkpointId: 5n, backendId: '6f1d6a4e-0000-4000-8000-000000000001', startKeyGroup: 0, numKeyGroups: 4,
      checkpointedSize: 77n, meta: bytes('meta'), shared: [{ localPath: '000001.sst', handle: file(2) }], private: [{ localPath: 'MANIFEST-1', handle: bytes('m') }], stateHandleId: 'sid',
    },
    { type: 'incremental', tag: 5, checkpointId: 6n, backendId: 'b', startKeyGroup: 1, numKeyGroups: 1, meta: null, shared: [], private: [] },
    {
      type: 'changelog', tag: 14, startKeyGroup: 0, numKeyGroups: 2, checkpointedSize: 3n,
      materialized: [{ type: 'key-groups', tag: 7, startKeyGroup: 0, offsets: [0, 0], stream: null }],
      nonMaterialized: [{ type: 'changelog-in-memory', startKeyGroup: 0, numKeyGroups: 2, from: 1n, to: 2n, changes: [{ keyGroup: 1, data: new Uint8Array([1, 2]) }], stateHandleId: 'c' }],
      materializationId: 9n, checkpointId: 10n, stateHandleId: 'cl',
    },
    { type: 'changelog-file', tag: 13, startKeyGroup: 0, numKeyGroups: 1, handles: [{ offset: 4n, handle: { type: 'segment-file', startPos: 1, size: 2, scope: 0, path: '/p', logicalFileId: 'l' } }], size: 5n, checkpointedSize: 5n, stateHandleId: 's', storageId: 'filesystem' },
  ];
  const ops: OperatorState[] = [
    {
      ...(version >= 5 ? { name: 'Map', uid: 'my-uid' } : {}),
      operatorId: operatorIdFromUid('my-uid'), parallelism: keyed.length, maxParallelism: 128,
      coordinatorState: version >= 3 ? bytes('coord') : null, fullyFinished: false,
      subtasks: keyed.map((k, i) => ({
        index: i, finished: false,
        managedOperatorState: i === 0 ? { type: 'operator-stream', tag: 4, states: [{ name: 's', mode: 'UNION', offsets: [0, 5] }, { name: 'b', mode: 'BROADCAST', offsets: [9] }], stream: bytes('op') } : null,
        rawOperatorState: i === 1 ? { type: 'operator-stream', tag: 17, states: [{ name: 'r', mode: 'SPLIT_DISTRIBUTE', offsets: [] }], fileMerging: { taskOwnedDir: 't', sharedDir: 's', isEmpty: false }, stream: { type: 'empty-segment-file' } } : null,
        managedKeyedState: k, rawKeyedState: null,
        inputChannelState: version >= 3 && i === 0 ? [{ kind: 'input', subtaskIndex: 0, gateOrPartitionIndex: 1, channelIndex: 2, offsets: [0n], size: 3n, stream: bytes('ch') }] : [],
        resultSubpartitionState: version >= 6 && i === 0 ? [{ kind: 'merged-output', subtaskIndex: 0, size: 3n, stream: bytes('mo'), serializedOffsets: new Uint8Array([7]) }] : [],
        ...(version === 2 ? { legacyDuration: -1n } : {}),
        operatorStateFlags: [i === 0 ? 1 : 0, i === 1 ? 1 : 0] as const,
      })),
      ...(version === 2 ? { legacyChainLength: 1 } : {}),
    },
    ...(version >= 3 ? [{ operatorId: operatorIdFromUid('done'), parallelism: 2, maxParallelism: 2, coordinatorState: null, fullyFinished: true, subtasks: [], ...(version >= 5 ? { name: '', uid: '' } : {}) }] : []),
  ];
  // Minimal Java serialization stream: one TC_NULL. A real writer embeds Flink's captured bytes.
  return { version, checkpointId: 42n, masterStates: [{ name: 'hook', version: 1, data: new Uint8Array([1, 2, 3]) }], operators: ops, ...(version >= 4 ? { propertiesBytes: new Uint8Array([0xac, 0xed, 0, 5, 0x70]) } : {}) };
}

describe('Flink _metadata (own fixtures)', () => {
  for (const version of [2, 3, 4, 5, 6]) {
    it(`V${version}: every handle type round-trips byte for byte`, () => {
      const written = writeFlinkMetadata(syntheticMetadata(version));
      const read = readFlinkMetadata(written, 'synthetic');
      assert.equal(read.version, version);
      assert.equal(read.operators[0]!.subtasks.length, 7);
      assert.deepEqual(Buffer.from(writeFlinkMetadata(read)), Buffer.from(written));
      if (version >= 5) assert.equal(read.operators[0]!.uid, 'my-uid');
      if (version >= 3) assert.equal(read.operators[1]!.fullyFinished, true);
    });
  }

  it('every truncation and 2000 random byte mutations fail with typed errors only', () => {
    const good = writeFlinkMetadata(syntheticMetadata(6));
    const check = (b: Uint8Array, what: string): void => {
      try {
        readFlinkMetadata(b, 'mutated');
      } catch (e) {
        assert.ok(e instanceof FlowstateError, `${what}: untyped ${(e as Error).stack}`);
      }
    };
    for (let n = 0; n < good.length; n++) check(good.subarray(0, n), `truncated at ${n}`);
    const rnd = prng(12);
    const iterations = Number(process.env['FLOWSTATE_FUZZ_ITERATIONS'] ?? 2000);
    for (let i = 0; i < iterations; i++) {
      const b = Uint8Array.from(good);
      for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      check(b, `mutation ${i}`);
    }
  });

  it('refuses other files with a typed error naming file and offset', () => {
    assert.throws(() => readFlinkMetadata(new Uint8Array([0x46, 0x53, 0x4d, 0x44, 0, 1]), 'ours'), (e: Error & { code?: string }) => e.code === 'CORRUPT_CHECKPOINT' && e.message.includes("'ours'") && e.message.includes('byte 0'));
    const v1 = new Uint8Array([0x49, 0x60, 0x67, 0x2d, 0, 0, 0, 1]);
    assert.throws(() => readFlinkMetadata(v1, 'old'), (e: Error & { code?: string }) => e.code === 'FLINK_UNSUPPORTED');
    const v9 = new Uint8Array([0x49, 0x60, 0x67, 0x2d, 0, 0, 0, 9]);
    assert.throws(() => readFlinkMetadata(v9, 'new'), (e: Error & { code?: string }) => e.code === 'UNKNOWN_FORMAT_VERSION');
  });

  it('generated CheckpointProperties of a canonical savepoint parse back as such', () => {
    const p = parseCheckpointProperties(canonicalSavepointProperties(), 'generated');
    assert.deepEqual([p.kind, p.formatType, p.typeName, p.postCheckpointAction, p.forced], ['SAVEPOINT', 'CANONICAL', 'Savepoint', 'NONE', true]);
    assert.equal(parseCheckpointProperties(canonicalSavepointProperties('NATIVE'), 'generated').formatType, 'NATIVE');
  });

  it('a count of 2^31-1 operators is refused before anything is allocated for it', () => {
    const b = writeFlinkMetadata({ version: 3, checkpointId: 1n, masterStates: [], operators: [] });
    new DataView(b.buffer).setInt32(20, 0x7fffffff);
    assert.throws(() => readFlinkMetadata(b, 'big'), /number of operator states 2147483647 exceeds/);
  });
});

describe('Flink _metadata (Apache Flink fixtures)', needsFixtures, () => {
  it('every _metadata parses to its last byte and is written back byte-identical', () => {
    const files = metadataFiles();
    let parsed = 0;
    let identical = 0;
    const versions = new Set<number>();
    for (const f of files) {
      const b = readFileSync(f);
      const m = readFlinkMetadata(b, f); // throws on trailing bytes (V2/V3)
      if (m.propertiesBytes !== undefined) {
        const p = parseCheckpointProperties(m.propertiesBytes, f, m.propertiesOffset); // consumes every byte
        const dir = basename(dirname(f));
        if (dir.includes('checkpoint') || dir === 'table-state' || dir === 'table-state-kafka-offsets') assert.equal(p.kind, 'CHECKPOINT', f);
        else assert.equal(p.kind, 'SAVEPOINT', f);
        if (dir.endsWith('-native') || dir.startsWith('savepoint-')) assert.equal(p.formatType, 'NATIVE', f);
      }
      versions.add(m.version);
      parsed++;
      if (Buffer.compare(Buffer.from(writeFlinkMetadata(m)), b) === 0) identical++;
    }
    console.log(`# Flink _metadata parsed to the last byte: ${parsed} of ${files.length}; written back byte-identical: ${identical}`);
    assert.equal(files.length, 32);
    assert.equal(parsed, 32);
    assert.equal(identical, 32);
    assert.deepEqual([...versions].sort(), [2, 3, 4, 5, 6]);
  });

  it("generated CheckpointProperties are byte-identical to Flink's (1.16 to 2.3 canonical savepoints)", () => {
    let same = 0;
    for (const f of metadataFiles()) {
      const m = readFlinkMetadata(readFileSync(f), f);
      if (m.propertiesBytes === undefined) continue;
      const p = parseCheckpointProperties(m.propertiesBytes, f);
      if (p.kind !== 'SAVEPOINT' || p.typeName !== 'Savepoint' || p.forced !== true) continue;
      assert.deepEqual(Buffer.from(canonicalSavepointProperties(p.formatType as 'CANONICAL' | 'NATIVE')), Buffer.from(m.propertiesBytes), f);
      same++;
    }
    console.log(`# generated CheckpointProperties identical to Flink's: ${same}`);
    assert.ok(same >= 10);
  });

  it('inspect reports every _metadata (an operator it cannot read shows as a problem, not a failure)', async () => {
    let inspected = 0;
    let withProblems = 0;
    for (const f of metadataFiles()) {
      const report = await inspectFlinkSavepoint(await FlinkSavepoint.load(f), { scan: true });
      assert.equal(report.operators.length, readFlinkMetadata(readFileSync(f), f).operators.length);
      assert.ok(formatFlinkInspect(report, f).includes('metadata version'));
      if (report.operators.some((o) => o.problems.length > 0)) withProblems++;
      inspected++;
    }
    console.log(`# inspected: ${inspected} of ${metadataFiles().length} (with problems: ${withProblems}; the user serializer without plug-in is carried opaquely)`);
    assert.equal(inspected, 32);
    assert.equal(withProblems, 0);
  });

  it('V5+ operator IDs are murmur3_128 of their uids', () => {
    let checked = 0;
    for (const f of metadataFiles()) {
      const m = readFlinkMetadata(readFileSync(f), f);
      for (const op of m.operators) {
        if (op.uid === undefined || op.uid === '') continue;
        assert.equal(op.operatorId, operatorIdFromUid(op.uid), `${f}: ${op.uid}`);
        checked++;
      }
    }
    console.log(`# operator IDs recomputed from uids: ${checked}`);
    assert.ok(checked >= 40, `only ${checked} uids`);
  });

  it('mutated fixture metadata fails with typed errors only', () => {
    const rnd = prng(7);
    const iterations = Number(process.env['FLOWSTATE_FUZZ_ITERATIONS'] ?? 300);
    const files = metadataFiles();
    for (let i = 0; i < iterations; i++) {
      const f = files[i % files.length]!;
      const b = Uint8Array.from(readFileSync(f));
      const cut = rnd() < 0.3 ? Math.floor(rnd() * b.length) : b.length;
      for (let k = 0; k < 1 + Math.floor(rnd() * 3); k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      try {
        const m = readFlinkMetadata(b.subarray(0, cut), f);
        if (m.propertiesBytes !== undefined) parseCheckpointProperties(m.propertiesBytes, f, m.propertiesOffset);
      } catch (e) {
        assert.ok(e instanceof FlowstateError, `${f} #${i}: ${(e as Error).stack}`);
      }
    }
  });
});
