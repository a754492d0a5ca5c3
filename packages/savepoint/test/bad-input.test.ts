import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync, symlinkSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BlockField, CorruptCheckpointError, FlowstateError, MapStateDescriptor, PathEscapeError, Serializers, StorageError, StorageNotFoundError, UnknownFormatVersionError, ValueStateDescriptor, type CheckpointMetadata } from '@flowstate/core';
import { convertSavepoint, diffSavepoints, inspectSavepoint, rescaleSavepoint, SavepointReader, SavepointWriter, UnsupportedSavepointOperationError, validateSavepoint } from '../src/index.js';
import { copyFixture, freshDirs, HEAP, keyedHandles, readEverything, readMeta, replaceFileResealed, resealMetadataFrame, writeMeta } from './helpers.js';

const fixture = freshDirs(() => copyFixture());
const scratch = freshDirs();

function firstKeyedFile(dir: string): { path: string; headerLength: number; offsets: readonly number[] } {
  const h = keyedHandles(readMeta(dir))[0]!;
  assert.ok(h.stream.type === 'file');
  return { path: h.stream.path, headerLength: h.headerLength, offsets: h.keyGroupOffsets };
}

/** Where `field` of the (last) record of keyed state `state` of operator 'op' lies in its file (stream offsets, end exclusive). */
async function fieldOf(dir: string, state: string, field: BlockField): Promise<{ file: string; start: number; end: number }> {
  const r = await SavepointReader.load(dir);
  const index = (await r.keyedStates('op')).findIndex((x) => x.name === state);
  let found: { file: string; start: number; end: number } | undefined;
  for await (const { block, source, stateIndexMap } of r.keyedBlocks('op')) {
    for (let j = 0; j < block.fields.count; j++) {
      if (stateIndexMap[block.fields.stateIndex(j)] !== index) continue;
      found = { file: (source.handle.stream as { path: string }).path, start: block.offset + block.fields.start(j, field), end: block.offset + block.fields.end(j, field) };
    }
  }
  assert.ok(found !== undefined, state);
  return found;
}

/** Reading everything must fail with `type`, naming `file` (and `offset` when given). */
async function expectFailure(dir: string, type: new (...a: never[]) => FlowstateError, file: string, offset?: number | 'any'): Promise<FlowstateError> {
  let caught: unknown;
  try {
    await readEverything(dir);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof type, `expected ${type.name}, got ${String(caught)}`);
  assert.ok(caught.message.includes(file), `message names '${file}': ${caught.message}`);
  if (offset !== undefined) {
    const o = (caught as { offset?: number }).offset;
    assert.ok(typeof o === 'number', `has an offset: ${caught.message}`);
    if (offset !== 'any') assert.equal(o, offset, caught.message);
    assert.ok(caught.message.includes(`at byte ${o}`), caught.message);
  }
  // validate reports the same kind of problem instead of throwing.
  const report = await validateSavepoint(dir);
  assert.equal(report.ok, false);
  assert.ok(report.problems.some((p) => p.severity === 'error' && p.code === (caught as FlowstateError).code), JSON.stringify(report.problems));
  return caught;
}

describe('bad savepoints fail with typed errors naming the file and byte offset', () => {
  it('truncated _metadata', async () => {
    const d = fixture();
    const bytes = readFileSync(join(d, '_metadata'));
    writeFileSync(join(d, '_metadata'), bytes.subarray(0, 10));
    await expectFailure(d, CorruptCheckpointError, '_metadata', 10);
    writeFileSync(join(d, '_metadata'), bytes.subarray(0, bytes.length - 7));
    await expectFailure(d, CorruptCheckpointError, '_metadata');
  });

  it('wrong magic', async () => {
    const d = fixture();
    const bytes = Buffer.from(readFileSync(join(d, '_metadata')));
    bytes[0] = 0x50;
    writeFileSync(join(d, '_metadata'), bytes);
    await expectFailure(d, CorruptCheckpointError, '_metadata', 0);
  });

  it('unknown format version', async () => {
    const d = fixture();
    const bytes = Buffer.from(readFileSync(join(d, '_metadata')));
    bytes.writeUInt16BE(9, 4);
    writeFileSync(join(d, '_metadata'), resealMetadataFrame(bytes));
    const e = await expectFailure(d, UnknownFormatVersionError, '_metadata');
    assert.match(e.message, /unknown format version 9 \(this build reads 1\)/);
  });

  it('bit flip in _metadata (CRC mismatch at the CRC offset)', async () => {
    const d = fixture();
    const bytes = Buffer.from(readFileSync(join(d, '_metadata')));
    bytes[40]! ^= 0x10;
    writeFileSync(join(d, '_metadata'), bytes);
    await expectFailure(d, CorruptCheckpointError, '_metadata', bytes.length - 4);
  });

  it('bit flip in a key-group block (names the block offset)', async () => {
    const d = fixture();
    const f = firstKeyedFile(d);
    const bytes = Buffer.from(readFileSync(join(d, f.path)));
    const at = f.offsets[3]! + 5;
    bytes[at]! ^= 0x01;
    writeFileSync(join(d, f.path), bytes);
    await expectFailure(d, CorruptCheckpointError, f.path, f.offsets[3]!);
  });

  it('truncated state file', async () => {
    const d = fixture();
    const f = firstKeyedFile(d);
    const bytes = readFileSync(join(d, f.path));
    writeFileSync(join(d, f.path), bytes.subarray(0, bytes.length - 100));
    await expectFailure(d, CorruptCheckpointError, f.path, 'any');
  });

  it('missing state file', async () => {
    const d = fixture();
    const f = firstKeyedFile(d);
    rmSync(join(d, f.path));
    const e = await expectFailure(d, CorruptCheckpointError, f.path);
    assert.match(e.message, /missing/);
  });

  it('missing _metadata', async () => {
    const d = fixture();
    rmSync(join(d, '_metadata'));
    await assert.rejects(SavepointReader.load(d), StorageNotFoundError);
    const r = await validateSavepoint(d);
    assert.equal(r.metadataReadable, false);
    assert.equal(r.problems[0]!.code, 'STORAGE_NOT_FOUND');
  });

  it('wrong checksum in the metadata (the file is intact)', async () => {
    const d = fixture();
    const m = readMeta(d) as unknown as { operators: Array<{ subtasks: Array<{ operator: Array<{ stream: { checksum: number; path: string } }> }> }> };
    const h = m.operators[1]!.subtasks[0]!.operator[0]!;
    h.stream.checksum = (h.stream.checksum ^ 0xdead) >>> 0;
    writeMeta(d, m as unknown as CheckpointMetadata);
    const e = await expectFailure(d, CorruptCheckpointError, h.stream.path);
    assert.match(e.message, /CRC32C/);
  });

  it('corrupt stream content behind valid checksums (decoder errors carry offsets)', async () => {
    const d = fixture();
    const f = firstKeyedFile(d);
    const bytes = Buffer.from(readFileSync(join(d, f.path)));
    // Block 2: replace its first record's state reference with state #99.
    bytes[f.offsets[2]! + 4] = 100;
    replaceFileResealed(d, f.path, bytes);
    // The decoder reports the position after the one-byte reference it rejected.
    const e = await expectFailure(d, CorruptCheckpointError, f.path, f.offsets[2]! + 5);
    assert.match(e.message, /state #99/);
    const d2 = fixture();
    const b2 = Buffer.from(readFileSync(join(d2, f.path)));
    b2[0] = 0; // header magic
    replaceFileResealed(d2, f.path, b2);
    await expectFailure(d2, CorruptCheckpointError, f.path, 0);
  });

  for (const evil of ['../outside', '/etc/passwd', 'a/../../b', 'file:///etc/passwd', '%2e%2e/x', 'a\\..\\b']) {
    it(`path escaping: ${evil}`, async () => {
      const d = fixture();
      const m = readMeta(d) as unknown as { operators: Array<{ subtasks: Array<{ keyed: Array<{ stream: { path: string } }> }> }> };
      m.operators[0]!.subtasks[0]!.keyed[0]!.stream.path = evil;
      writeMeta(d, m as unknown as CheckpointMetadata);
      const e = await expectFailure(d, PathEscapeError, '_metadata');
      assert.ok(e.message.includes(evil), e.message);
    });
  }

  it('path escaping through a symbolic link', async () => {
    const d = fixture();
    const outside = scratch();
    const f = firstKeyedFile(d);
    writeFileSync(join(outside, 'x'), readFileSync(join(d, f.path)));
    mkdirSync(join(d, 'sub'));
    symlinkSync(outside, join(d, 'sub', 'link'));
    const m = readMeta(d) as unknown as { operators: Array<{ subtasks: Array<{ keyed: Array<{ stream: { path: string } }> }> }> };
    m.operators[0]!.subtasks[0]!.keyed[0]!.stream.path = 'sub/link/x';
    writeMeta(d, m as unknown as CheckpointMetadata);
    await expectFailure(d, PathEscapeError, 'sub/link/x');
  });

  it('malformed metadata structure (names the field)', async () => {
    const d = fixture();
    const m = readMeta(d) as unknown as { operators: Array<{ subtasks: Array<{ keyed: Array<{ keyGroupOffsets: number[] }> }> }> };
    m.operators[0]!.subtasks[0]!.keyed[0]!.keyGroupOffsets.reverse();
    writeMeta(d, m as unknown as CheckpointMetadata);
    const e = await expectFailure(d, CorruptCheckpointError, '_metadata');
    assert.match(e.message, /operators\[0\]\.subtasks\[0\]\.keyed\[0\]\.keyGroupOffsets/);
  });

  it('overlapping and missing key groups are validation errors', async () => {
    const d = fixture();
    const m = readMeta(d) as unknown as { operators: Array<{ subtasks: Array<{ keyed: unknown[] }> }> };
    const ks = m.operators[0]!.subtasks;
    ks[1]!.keyed = [...ks[0]!.keyed];
    writeMeta(d, m as unknown as CheckpointMetadata);
    const r = await validateSavepoint(d);
    assert.equal(r.ok, false);
    assert.ok(r.problems.some((p) => p.code === 'KEY_GROUP_OVERLAP'));
    assert.ok(r.problems.some((p) => p.code === 'KEY_GROUP_GAP' && p.severity === 'error'));
  });

  it('overlapping keyed handles: every reader rejects them, naming both files and the first shared key group, instead of reading those entries twice', async () => {
    const d = fixture();
    const m = readMeta(d) as unknown as { operators: Array<{ subtasks: Array<{ keyed: Array<{ stream: { path: string } }> }> }> };
    const ks = m.operators[0]!.subtasks;
    // Subtask 0 also refers to a copy of subtask 1's file (key groups 8..15) under another name.
    const h1 = ks[1]!.keyed[0]!;
    writeFileSync(join(d, 'copy'), readFileSync(join(d, h1.stream.path)));
    ks[0]!.keyed.push({ ...h1, stream: { ...h1.stream, path: 'copy' } });
    writeMeta(d, m as unknown as CheckpointMetadata);
    const overlap = (e: unknown): boolean =>
      e instanceof CorruptCheckpointError &&
      e.file.endsWith('_metadata') &&
      /key group 8 is covered by both '[^']+' and '[^']+'/.test(e.message) &&
      e.message.includes(`'${join(d, h1.stream.path)}'`) &&
      e.message.includes(`'${join(d, 'copy')}'`);
    const r = await SavepointReader.load(d);
    const drain = async (entries: AsyncIterable<unknown>): Promise<void> => {
      for await (const e of entries) void e;
    };
    await assert.rejects(drain(r.readKeyedState('all-kinds', 'count')), overlap);
    await assert.rejects(drain(r.readMapState('all-kinds', 'attributes')), overlap);
    await assert.rejects(drain(r.readMapStateGrouped('all-kinds', 'attributes')), overlap);
    await assert.rejects(inspectSavepoint(r), overlap);
    await assert.rejects(diffSavepoints(r, await SavepointReader.load(copyFixture(scratch()))), overlap);
    // A rescale that recomputes key groups copied every entry of the shared key groups twice; one that keeps them refused them already.
    await assert.rejects(rescaleSavepoint(d, join(scratch(), 'x'), { maxParallelism: 32 }), overlap);
    await assert.rejects(rescaleSavepoint(d, join(scratch(), 'y'), { maxParallelism: 16, parallelism: 4 }), overlap);
  });

  it('native keyed handles: readable metadata, but content operations say why they cannot run', async () => {
    const d = fixture();
    const m = readMeta(d) as unknown as { operators: Array<{ subtasks: Array<{ keyed: unknown[] }> }> };
    m.operators[0]!.subtasks[0]!.keyed = [{ type: 'rocksdb-native', keyGroupRange: { start: 0, end: 7 }, stateSize: 0, files: [] }];
    writeMeta(d, m as unknown as CheckpointMetadata);
    const r = await SavepointReader.load(d);
    assert.equal(r.operators()[0]!.nativeKeyedHandles, 1);
    await assert.rejects(r.keyedStates('all-kinds'), UnsupportedSavepointOperationError);
    await assert.rejects(rescaleSavepoint(d, join(scratch(), 'x'), { maxParallelism: 32 }), (e: Error) => e instanceof UnsupportedSavepointOperationError && /serialized keys of a canonical savepoint/.test(e.message));
    // An unknown native handle type cannot be converted; RocksDB's own handles can (native-conversion.test).
    await assert.rejects(convertSavepoint(d, join(scratch(), 'y'), 'canonical'), UnsupportedSavepointOperationError);
    const v = await validateSavepoint(d);
    assert.equal(v.ok, false);
    assert.ok(v.problems.some((p) => p.code === 'UNSUPPORTED_OPERATION'));
  });

  it('a 256-character path segment (ENAMETOOLONG) is a typed storage error, and a problem for validate', async () => {
    const d = fixture();
    const long = 'x'.repeat(256);
    const m = readMeta(d) as unknown as { operators: Array<{ subtasks: Array<{ keyed: Array<{ stream: { path: string } }> }> }> };
    m.operators[0]!.subtasks[0]!.keyed[0]!.stream.path = long;
    writeMeta(d, m as unknown as CheckpointMetadata);
    const e = await expectFailure(d, StorageError, long);
    assert.match(e.message, /ENAMETOOLONG/);
    // The directory argument itself may be too long, too.
    await assert.rejects(SavepointReader.load(join(d, long)), StorageError);
    assert.equal((await validateSavepoint(join(d, long))).metadataReadable, false);
  });

  it("validate decodes every entry with the savepoint's own serializers (an undecodable value behind valid checksums)", async () => {
    const d = fixture();
    const r = await SavepointReader.load(d);
    const attributes = (await r.keyedStates('all-kinds')).findIndex((s) => s.name === 'attributes');
    let target: { file: string; offset: number; stringLength: number } | undefined;
    for await (const { block, source, stateIndexMap } of r.keyedBlocks('all-kinds')) {
      const rec = block.records.find((x) => stateIndexMap[x.stateIndex] === attributes);
      if (rec === undefined) continue;
      // The user key is a string: [varuint length][UTF-8]; 0xff is never valid UTF-8.
      target = { file: (source.handle.stream as { path: string }).path, offset: block.offset + (rec.userKey!.byteOffset - block.bytes.byteOffset) + 1, stringLength: rec.userKey![0]! };
      break;
    }
    assert.ok(target !== undefined);
    const bytes = Buffer.from(readFileSync(join(d, target.file)));
    bytes[target.offset] = 0xff;
    replaceFileResealed(d, target.file, bytes);
    const e = await expectFailure(d, CorruptCheckpointError, target.file, 'any');
    assert.match(e.message, /UTF-8/);
    const v = await validateSavepoint(d);
    const problem = v.problems.find((p) => p.code === 'CORRUPT_CHECKPOINT' && /UTF-8/.test(p.message) && p.file?.endsWith(target.file) === true);
    assert.ok(problem !== undefined, JSON.stringify(v.problems));
    // Validation decodes each field in place in its block and names the byte where decoding
    // failed: past the string's length byte and its bytes.
    assert.equal(problem.offset, target.offset + target.stringLength);
  });

  it("reader errors name the offset where decoding failed counted from the failing field's own start (namespace, value, copied byte-array value, user key, user value), as validate's do", async () => {
    const base = join(scratch(), 'sp');
    const D = {
      s: new ValueStateDescriptor('s', Serializers.string),
      n: new ValueStateDescriptor('n', Serializers.int32),
      b: new ValueStateDescriptor('b', Serializers.bytes),
      m: new MapStateDescriptor('m', Serializers.string, Serializers.string),
    };
    await SavepointWriter.newSavepoint({ maxParallelism: 1, ...HEAP })
      .withKeyedOperator('op', {
        data: [1],
        // A key longer than every field after it: an offset counted from the key's start falls short of them.
        keySelector: () => 'k'.repeat(40),
        keySerializer: Serializers.string,
        parallelism: 1,
        bootstrap: {
          processElement(_, ctx) {
            ctx.getState(D.s).update('value');
            ctx.getPartitionedState('namespace', Serializers.string, D.n).update(7);
            ctx.getState(D.b).update(new Uint8Array(10));
            ctx.getState(D.m).put('user key', 'user value');
          },
        },
      })
      .write(base);
    type Read = (r: SavepointReader, state: string) => Promise<void>;
    const entries: Read = async (r, state) => {
      for await (const e of r.readKeyedState('op', state)) void e;
    };
    const views: Read = async (r, state) => {
      for await (const block of r.readKeyedStateBlocks('op', state, { views: true })) for (const e of block) void e;
    };
    const map: Read = async (r, state) => {
      for await (const e of r.readMapState('op', state)) void e;
    };
    const grouped: Read = async (r, state) => {
      for await (const e of r.readMapStateGrouped('op', state)) void e;
    };
    const invalidUtf8 = (bytes: Buffer, start: number): void => void (bytes[start + 1] = 0xff); // after the string's one-byte length
    const cases = [
      { state: 's', field: BlockField.value, corrupt: invalidUtf8, reads: [entries, views] },
      { state: 'n', field: BlockField.namespace, corrupt: invalidUtf8, reads: [entries] },
      // Ten bytes said to be nine: one trailing byte (a copied read decodes over a copy of the field, a read of views in place).
      { state: 'b', field: BlockField.value, corrupt: (bytes: Buffer, start: number) => void (bytes[start] = 9), reads: [entries, views] },
      { state: 'm', field: BlockField.userKey, corrupt: invalidUtf8, reads: [map, grouped] },
      { state: 'm', field: BlockField.value, corrupt: invalidUtf8, reads: [map, grouped] },
    ];
    for (const c of cases) {
      const d = scratch();
      cpSync(base, d, { recursive: true });
      const target = await fieldOf(d, c.state, c.field);
      const bytes = Buffer.from(readFileSync(join(d, target.file)));
      c.corrupt(bytes, target.start);
      replaceFileResealed(d, target.file, bytes);
      const problem = (await validateSavepoint(d)).problems.find((p) => p.code === 'CORRUPT_CHECKPOINT');
      assert.ok(problem?.offset !== undefined && problem.offset >= target.start && problem.offset <= target.end, JSON.stringify(problem));
      for (const read of c.reads) {
        const reader = await SavepointReader.load(d);
        await assert.rejects(read(reader, c.state), (e: unknown) => {
          assert.ok(e instanceof CorruptCheckpointError, String(e));
          assert.equal(e.offset, problem.offset, `${c.state}, field at ${target.start}..${target.end}: ${e.message}`);
          return true;
        });
      }
    }
  });

  it('unreferenced files are warnings, not errors', async () => {
    const d = fixture();
    writeFileSync(join(d, 'stray'), 'x');
    const v = await validateSavepoint(d);
    assert.equal(v.ok, true);
    assert.deepEqual(v.problems.map((p) => [p.severity, p.code]), [['warning', 'UNREFERENCED_FILE']]);
  });

  it('a wrong whole-file checksum of a keyed stream is caught by validate and by copies', async () => {
    const d = fixture();
    const m = readMeta(d) as unknown as { operators: Array<{ subtasks: Array<{ keyed: Array<{ stream: { checksum: number; path: string } }> }> }> };
    const h = m.operators[0]!.subtasks[1]!.keyed[0]!;
    h.stream.checksum = (h.stream.checksum + 1) >>> 0;
    writeMeta(d, m as unknown as CheckpointMetadata);
    // The data itself is intact (every header and block checksum matches), so reads succeed...
    assert.ok((await readEverything(d)).length > 0);
    // ...but the savepoint is not valid, and nothing copies it.
    const v = await validateSavepoint(d);
    assert.equal(v.ok, false);
    assert.ok(v.problems.some((p) => p.code === 'CORRUPT_CHECKPOINT' && p.file?.endsWith(h.stream.path) === true && /every block matched/.test(p.message)), JSON.stringify(v.problems));
    await assert.rejects(convertSavepoint(d, join(scratch(), 'z'), 'canonical'), (e: Error) => e instanceof CorruptCheckpointError && e.message.includes(h.stream.path));
  });
});
