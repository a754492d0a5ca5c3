import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CanonicalStreamEncoder, encodeCanonicalStream, FlinkSnapshots, type CanonicalRecord } from '../src/index.js';
import { dropIdleEncoderOutputs, ENCODER_OUTPUT_BYTES, idleEncoderOutputCount } from '../src/keyed/encoder-outputs.js';
import { prng } from './fixtures.js';

function header(compression: boolean) {
  const state = (name: string) => ({
    name,
    backendStateType: 'KEY_VALUE' as const,
    options: [['KEYED_STATE_TYPE', 'VALUE'] as const],
    serializers: [['NAMESPACE_SERIALIZER', FlinkSnapshots.voidNamespace()] as const, ['VALUE_SERIALIZER', FlinkSnapshots.bytes()] as const],
  });
  return { version: 6, compression, keySerializer: FlinkSnapshots.string(), states: [state('a'), state('b'), state('c')] };
}

/** Records over 3 states, interleaved (state ids switch back and forth), some key groups empty. */
function records(seed: number, start: number, count: number): Map<number, CanonicalRecord[]> {
  const rnd = prng(seed);
  const out = new Map<number, CanonicalRecord[]>();
  for (let kg = start; kg < start + count; kg++) {
    if (rnd() < 0.3) continue;
    const n = 1 + Math.floor(rnd() * 6);
    const list: CanonicalRecord[] = [];
    for (let i = 0; i < n; i++) {
      const key = Uint8Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => Math.floor(rnd() * 256) & 0x7f);
      key[0] = kg;
      // Values up to 300 KB: key groups cross the encoder's flush threshold.
      const value = rnd() < 0.1 ? new Uint8Array(300_000).fill(kg) : Uint8Array.from({ length: Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256));
      list.push({ stateId: Math.floor(rnd() * 3), key, value });
    }
    out.set(kg, list);
  }
  return out;
}

async function streamed(compression: boolean, start: number, count: number, byKg: Map<number, CanonicalRecord[]>, inPlace: boolean) {
  const chunks: Uint8Array[] = [];
  const enc = new CanonicalStreamEncoder(header(compression), start, count, async (c) => {
    chunks.push(c.slice());
  });
  for (let kg = start; kg < start + count; kg++) {
    const list = byKg.get(kg);
    if (list === undefined) continue;
    await enc.beginKeyGroup(kg);
    for (const r of list) {
      if (!inPlace) {
        enc.writeRecord(r.stateId, r.key, r.value);
        continue;
      }
      enc.beginKey(r.stateId);
      for (const b of r.key) enc.output.writeByte(b);
      enc.endKey();
      enc.output.writeBytes(r.value);
      enc.endValue();
    }
  }
  const { offsets, size } = await enc.finish();
  const bytes = new Uint8Array(Buffer.concat(chunks));
  assert.equal(size, bytes.length);
  return { bytes, offsets };
}

describe('CanonicalStreamEncoder', () => {
  for (const compression of [false, true]) {
    for (const inPlace of [false, true]) {
      it(`writes exactly encodeCanonicalStream's bytes and offsets (${compression ? 'Snappy' : 'uncompressed'}, ${inPlace ? 'serialized in place' : 'from bytes'})`, async () => {
        for (const seed of [1, 2, 3]) {
          const byKg = records(seed, 10, 40);
          const expected = encodeCanonicalStream(header(compression), 10, 40, (kg) => byKg.get(kg) ?? []);
          const got = await streamed(compression, 10, 40, byKg, inPlace);
          assert.deepEqual(got.offsets, expected.offsets);
          assert.ok(Buffer.from(got.bytes).equals(Buffer.from(expected.bytes)), `seed ${seed}: bytes differ`);
        }
      });
    }
  }

  it('keeps one buffer while key groups of up to a megabyte pass through it (no growth: no copy of the pending bytes)', async () => {
    const enc = new CanonicalStreamEncoder(header(false), 0, 16, async () => {});
    const capacity = enc.output.capacity;
    const value = new Uint8Array(4080);
    // 0.5 MiB and then 1 MiB per key group: a flush at each boundary past 1 MiB pending.
    for (let kg = 0; kg < 16; kg++) {
      await enc.beginKeyGroup(kg);
      const records = kg < 8 ? 128 : 250;
      for (let i = 0; i < records; i++) enc.writeRecord(0, Uint8Array.of(kg, i & 0x7f, i >> 7), value);
    }
    // Read before finish, which gives the output away.
    assert.equal(enc.output.capacity, capacity);
    assert.equal(capacity, ENCODER_OUTPUT_BYTES);
    await enc.finish();
  });

  it('gives its output to the next encoder once finished, which writes exactly its own bytes into it', async () => {
    dropIdleEncoderOutputs();
    const first = new CanonicalStreamEncoder(header(false), 0, 40, async () => {});
    const output = first.output;
    // A first stream larger than the second: the reused output holds stale bytes past the second's.
    const big = records(4, 0, 40);
    for (let kg = 0; kg < 40; kg++) {
      const list = big.get(kg);
      if (list === undefined) continue;
      await first.beginKeyGroup(kg);
      for (const r of list) first.writeRecord(r.stateId, r.key, r.value);
    }
    await first.finish();
    assert.equal(idleEncoderOutputCount(), 1);
    const small = records(5, 10, 8);
    const expected = encodeCanonicalStream(header(false), 10, 8, (kg) => small.get(kg) ?? []);
    const chunks: Uint8Array[] = [];
    const second = new CanonicalStreamEncoder(header(false), 10, 8, async (c) => void chunks.push(c.slice()));
    assert.equal(second.output, output, 'the idle output is taken');
    assert.equal(idleEncoderOutputCount(), 0);
    for (let kg = 10; kg < 18; kg++) {
      const list = small.get(kg);
      if (list === undefined) continue;
      await second.beginKeyGroup(kg);
      for (const r of list) second.writeRecord(r.stateId, r.key, r.value);
    }
    assert.deepEqual((await second.finish()).offsets, expected.offsets);
    assert.ok(Buffer.concat(chunks).equals(Buffer.from(expected.bytes)));
  });

  it('gives its output back only once the sink is done with the last chunk', async () => {
    dropIdleEncoderOutputs();
    let release: () => void = () => {};
    const enc = new CanonicalStreamEncoder(header(false), 0, 2, () => new Promise<void>((done) => (release = done)));
    const output = enc.output;
    await enc.beginKeyGroup(0);
    enc.writeRecord(0, Uint8Array.of(0, 1), Uint8Array.of(2));
    const finished = enc.finish();
    // The sink holds the last chunk: the output is not idle, and a new encoder gets another one.
    await new Promise((r) => setImmediate(r));
    assert.equal(idleEncoderOutputCount(), 0);
    assert.notEqual(new CanonicalStreamEncoder(header(false), 0, 2, async () => {}).output, output);
    release();
    await finished;
    assert.equal(idleEncoderOutputCount(), 1);
  });

  it('keeps its output when a sink call fails (the sink may still hold a chunk), and refuses any use after finish or a failure', async () => {
    dropIdleEncoderOutputs();
    const failing = new CanonicalStreamEncoder(header(false), 0, 2, async () => {
      throw new Error('disk full');
    });
    await failing.beginKeyGroup(0);
    failing.writeRecord(0, Uint8Array.of(0, 1), Uint8Array.of(2));
    await assert.rejects(failing.finish(), /disk full/);
    assert.equal(idleEncoderOutputCount(), 0);
    await assert.rejects(failing.finish(), /is failed/);
    assert.equal(idleEncoderOutputCount(), 0);
    const done = new CanonicalStreamEncoder(header(false), 0, 2, async () => {});
    // A second finish while the first one runs: refused, and the output is given back once.
    const first = done.finish();
    await assert.rejects(done.finish(), /is finishing/);
    await first;
    assert.equal(idleEncoderOutputCount(), 1, 'given back once');
    assert.throws(() => done.output, /is finished/);
    await assert.rejects(done.beginKeyGroup(1), /is finished/);
    await assert.rejects(done.finish(), /is finished/);
    assert.equal(idleEncoderOutputCount(), 1);
  });

  it('an empty stream is the header and empty offsets', async () => {
    const expected = encodeCanonicalStream(header(false), 0, 4, () => []);
    const got = await streamed(false, 0, 4, new Map(), false);
    assert.deepEqual(got.offsets, [0, 0, 0, 0]);
    assert.ok(Buffer.from(got.bytes).equals(Buffer.from(expected.bytes)));
  });
});
