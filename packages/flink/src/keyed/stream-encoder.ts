import { assert } from '@flowstate/core';
import { encodeSnappyFramed } from '../compression/snappy.js';
import { JavaDataOutput } from '../io/java-output.js';
import { END_OF_KEY_GROUP, META_DATA_FOLLOWS } from './canonical.js';
import { ENCODER_FLUSH_BYTES, giveBackEncoderOutput, takeEncoderOutput } from './encoder-outputs.js';
import { writeKeyedHeader, type KeyedStreamHeader } from './proxy.js';

/**
 * A canonical keyed state stream (KeyGroupsSavepointStateHandle) encoded as it is written: the
 * same bytes as encodeCanonicalStream, without a buffer per record or for the whole stream. Key
 * groups come in ascending order (skipped ones are empty); each record's key and value are written
 * straight into the stream's buffer, either as bytes (`writeRecord`) or by the caller between
 * `beginKey` / `endKey` and `endValue` (serialized in place, e.g. with a Flink serializer). Pending
 * bytes go to `sink` at key-group boundaries, at most about a megabyte at a time; `sink` must be
 * done with a chunk when its promise resolves: the buffer is reused, and once the stream is
 * finished it goes to the next encoder of the process (encoder-outputs.ts). After `finish`, or
 * after a sink call failed (the sink may still hold a chunk), the encoder must not be used.
 *
 * Record layout (FullSnapshotAsyncWriter): u16 state id before the first record of a state, then
 * i32 key length, key, i32 value length, value; the last record of a state has the meta-data bit
 * on its key's first byte and is followed by the next state id or 0xFFFF.
 */
export class CanonicalStreamEncoder {
  /** From the idle outputs; given back by a finish whose every sink call succeeded. */
  private readonly out = takeEncoderOutput();
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
  /** 'finishing' from finish's start; 'failed' once a sink call rejected. Only 'open' may be used. */
  private state: 'open' | 'finishing' | 'finished' | 'failed' = 'open';
  private flushing = false;

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
   * Never kept past the record: its buffer may go to the next encoder once this one finished.
   */
  get output(): JavaDataOutput {
    this.checkOpen();
    return this.target;
  }

  /** Where records go: the key group's block (compressed streams) or the stream's output. */
  private get target(): JavaDataOutput {
    return this.block ?? this.out;
  }

  /** Checked on every access to `output` (several per record): the message is built only on failure. */
  private checkOpen(): void {
    if (this.state !== 'open') assert(false, `the encoder is open (it is ${this.state})`);
  }

  /** Ends the previous key group (if any) and starts `keyGroup`; key groups never written to stay empty. */
  async beginKeyGroup(keyGroup: number): Promise<void> {
    this.checkOpen();
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
   * goes to the next encoder once the sink is done with its last chunk; after a failed sink call
   * it is left to the garbage collector (the sink may still hold a chunk of it).
   */
  async finish(): Promise<{ offsets: number[]; size: number }> {
    this.checkOpen();
    this.state = 'finishing';
    await this.endKeyGroup();
    while (this.offsets.length < this.numKeyGroups) this.offsets.push(0);
    await this.flush();
    this.state = 'finished';
    giveBackEncoderOutput(this.out);
    return { offsets: this.offsets, size: this.flushed };
  }

  /** The previous record was the last of its state: flag its key and name the next state. */
  private markLastOfState(next: number): void {
    this.target.orByteAt(this.keyAt, META_DATA_FOLLOWS);
    this.target.writeShort(next);
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
    if (this.out.length >= ENCODER_FLUSH_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.out.length === 0) return;
    assert(!this.flushing, 'one flush at a time (every beginKeyGroup awaited)');
    this.flushing = true;
    try {
      await this.sink(this.out.bytesView());
    } catch (e) {
      this.state = 'failed';
      throw e;
    } finally {
      this.flushing = false;
    }
    this.flushed += this.out.length;
    this.out.clear();
  }
}
