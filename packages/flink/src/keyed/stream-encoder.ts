import { assert, IdlePool } from '@flowstate/core';
import { encodeSnappyFramed } from '../compression/snappy.js';
import { JavaDataOutput } from '../io/java-output.js';
import { END_OF_KEY_GROUP, META_DATA_FOLLOWS } from './canonical.js';
import { writeKeyedHeader, type KeyedStreamHeader } from './proxy.js';

/** Encoded bytes are handed to the sink once this many are pending (at a key-group boundary). */
const FLUSH_BYTES = 1 << 20;

/**
 * Capacity of an encoder's output: room for FLUSH_BYTES pending plus a whole key group of up to
 * about as much. A flush happens only at a key-group boundary, and with room for FLUSH_BYTES +
 * 64 KiB a key group of a 64 MiB savepoint (~0.5 MiB) grew the buffer once per stream, a zeroed
 * allocation and a copy of the pending megabyte that took ~13% of a Flink savepoint write's CPU
 * (issue 16).
 */
const OUTPUT_BYTES = 2 * FLUSH_BYTES + (64 << 10);

/** How long the output of a finished encoder waits for the next encoder before it is dropped. */
export const IDLE_ENCODER_OUTPUTS_MS = 1000;

/**
 * Outputs of finished encoders, for the next encoders of this process. A new output is 2 MiB of
 * fresh memory, a page fault per 4 KiB as it fills (in a VM often one on the host too): a 64 MiB
 * Flink savepoint of 4 subtasks spent ~10 ms of its ~90 ms in them, for every savepoint written
 * one after the other (issue 16). Up to 4 are kept (a savepoint writes its subtasks' streams at
 * once), none that grew past OUTPUT_BYTES, each dropped IDLE_ENCODER_OUTPUTS_MS after its give-back.
 */
const idleOutputs = new IdlePool<JavaDataOutput>({ maxKept: 4, maxBytes: OUTPUT_BYTES, idleMs: IDLE_ENCODER_OUTPUTS_MS, sizeOf: (o) => o.capacity });

/** An idle output, cleared, or a new one; the encoder owns it until its finish gives it back. */
function takeOutput(): JavaDataOutput {
  const out = idleOutputs.take();
  if (out === undefined) return new JavaDataOutput(OUTPUT_BYTES);
  out.clear();
  return out;
}

/** Drops the idle outputs (tests start from an empty pool). */
export function dropIdleEncoderOutputs(): void {
  idleOutputs.clear();
}

/** Outputs kept idle now (tests). */
export function idleEncoderOutputCount(): number {
  return idleOutputs.size;
}

/**
 * A canonical keyed state stream (KeyGroupsSavepointStateHandle) encoded as it is written: the
 * same bytes as encodeCanonicalStream, without a buffer per record or for the whole stream. Key
 * groups come in ascending order (skipped ones are empty); each record's key and value are written
 * straight into the stream's buffer, either as bytes (`writeRecord`) or by the caller between
 * `beginKey` / `endKey` and `endValue` (serialized in place, e.g. with a Flink serializer). Pending
 * bytes go to `sink` at key-group boundaries, at most about a megabyte at a time; `sink` must be
 * done with a chunk when its promise resolves (the buffer is reused).
 *
 * Record layout (FullSnapshotAsyncWriter): u16 state id before the first record of a state, then
 * i32 key length, key, i32 value length, value; the last record of a state has the meta-data bit
 * on its key's first byte and is followed by the next state id or 0xFFFF.
 */
export class CanonicalStreamEncoder {
  /** OUTPUT_BYTES, from the idle outputs; given back by finish, once the sink is done with it. */
  private readonly out = takeOutput();
  /** Compressed streams: the current key group's block, compressed when it ends. */
  private readonly block: JavaDataOutput | undefined;
  private readonly offsets: number[] = [];
  /** Bytes handed to the sink. */
  private flushed = 0;
  private keyGroup: number;
  private stateId = -1;
  /** Position in the block output of the current record's key (its first byte carries the flag). */
  private keyAt = -1;
  private lengthAt = -1;
  /** Set by finish: the output is given back, and nothing may write to it any more. */
  private finished = false;

  constructor(
    header: Omit<KeyedStreamHeader, 'length'>,
    private readonly startKeyGroup: number,
    private readonly numKeyGroups: number,
    private readonly sink: (chunk: Uint8Array) => Promise<void>,
  ) {
    writeKeyedHeader(this.out, header);
    this.block = header.compression ? new JavaDataOutput(64 << 10) : undefined;
    this.keyGroup = startKeyGroup - 1;
  }

  /**
   * The output the current record's key or value is written to, between beginKey and endValue.
   * Never kept past finish, which gives it to the next encoder.
   */
  get output(): JavaDataOutput {
    assert(!this.finished, 'the encoder is not finished');
    return this.block ?? this.out;
  }

  /** Ends the previous key group (if any) and starts `keyGroup`; key groups never written to stay empty. */
  async beginKeyGroup(keyGroup: number): Promise<void> {
    assert(!this.finished, 'the encoder is not finished');
    assert(keyGroup > this.keyGroup && keyGroup < this.startKeyGroup + this.numKeyGroups, `key group ${keyGroup} follows ${this.keyGroup} within the stream's range`);
    await this.endKeyGroup();
    while (this.offsets.length < keyGroup - this.startKeyGroup) this.offsets.push(0);
    this.keyGroup = keyGroup;
  }

  /** Starts a record of state `stateId`: the caller writes its key bytes to `output`, then calls endKey. */
  beginKey(stateId: number): void {
    assert(this.keyGroup >= this.startKeyGroup, 'a key group was begun');
    const o = this.output;
    if (this.stateId < 0) {
      this.offsets.push(this.block === undefined ? this.flushed + this.out.length : -1);
      o.writeShort(stateId);
    } else if (stateId !== this.stateId) {
      this.markLastOfState(stateId);
    }
    this.stateId = stateId;
    this.lengthAt = o.length;
    o.writeInt(0);
    this.keyAt = o.length;
  }

  /** The key is written: the caller writes the value bytes to `output`, then calls endValue. */
  endKey(): void {
    const o = this.output;
    assert(o.length > this.keyAt, 'a key has at least one byte (its key-group prefix)');
    o.writeIntAt(this.lengthAt, o.length - this.keyAt);
    this.lengthAt = o.length;
    o.writeInt(0);
  }

  endValue(): void {
    const o = this.output;
    o.writeIntAt(this.lengthAt, o.length - this.lengthAt - 4);
  }

  /** One record from its key and value bytes (one copy of each, into the stream's buffer). */
  writeRecord(stateId: number, key: Uint8Array, value: Uint8Array): void {
    this.beginKey(stateId);
    this.output.writeBytes(key);
    this.endKey();
    this.output.writeBytes(value);
    this.endValue();
  }

  /**
   * Ends the stream: the handle's offsets (0 = empty key group) and the stream's size. The output
   * goes to the next encoder once the sink is done with its last chunk; a stream that fails before
   * leaves it to the garbage collector (a sink may still hold a chunk of it).
   */
  async finish(): Promise<{ offsets: number[]; size: number }> {
    assert(!this.finished, 'the encoder is not finished');
    await this.endKeyGroup();
    while (this.offsets.length < this.numKeyGroups) this.offsets.push(0);
    await this.flush();
    this.finished = true;
    idleOutputs.giveBack(this.out);
    return { offsets: this.offsets, size: this.flushed };
  }

  /** The previous record was the last of its state: flag its key and name the next state. */
  private markLastOfState(next: number): void {
    this.output.orByteAt(this.keyAt, META_DATA_FOLLOWS);
    this.output.writeShort(next);
  }

  private async endKeyGroup(): Promise<void> {
    if (this.stateId >= 0) {
      this.markLastOfState(END_OF_KEY_GROUP);
      this.stateId = -1;
      if (this.block !== undefined) {
        this.offsets[this.offsets.length - 1] = this.flushed + this.out.length;
        this.out.writeBytes(encodeSnappyFramed(this.block.bytesView()));
        this.block.clear();
      }
    }
    if (this.out.length >= FLUSH_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.out.length === 0) return;
    await this.sink(this.out.bytesView());
    this.flushed += this.out.length;
    this.out.clear();
  }
}
