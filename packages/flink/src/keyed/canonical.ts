import { assert } from '@flowstate/core';
import type { JavaDataInput } from '../io/java-input.js';
import type { JavaDataOutput } from '../io/java-output.js';

/** FullSnapshotUtil: the "meta data follows" bit on a key's first byte, and the end-of-key-group mark. */
export const META_DATA_FOLLOWS = 0x80;
export const END_OF_KEY_GROUP = 0xffff;

/** One record of a canonical key-group block: key and value bytes exactly as RocksDB stores them. */
export interface RawKeyedEntry {
  readonly keyGroup: number;
  readonly stateId: number;
  /** [key-group prefix][key][namespace][user key], with the meta-data flag cleared. */
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  /** Offset of the record in its file (for error messages). */
  readonly offset: number;
}

/** The assertion message of a stream read after FlinkSavepoint.releaseStreams() (a caller's bug). */
export const READ_AFTER_RELEASE = 'a stream was read after FlinkSavepoint.releaseStreams()';

/**
 * Walks one canonical key-group block (KeyGroupsSavepointStateHandle; FullSnapshotAsyncWriter):
 * u16 first state id, then length-prefixed key/value records; a record whose key carries the
 * meta-data bit is followed by the next state id or 0xFFFF. Records are walked even when their
 * serializers are opaque. `endsAtMark`: the input is exactly the block, so bytes after the
 * end-of-key-group mark are corrupt (Flink would lose records there too).
 */
export function* readCanonicalKeyGroup(input: JavaDataInput, keyGroup: number, numStates: number, endsAtMark = false): Generator<RawKeyedEntry> {
  let stateId = input.readUnsignedShort();
  if (stateId >= numStates) input.fail(`key group ${keyGroup}: state id ${stateId} outside the ${numStates} states of the header`, input.position - 2);
  for (;;) {
    const offset = input.fileOffset;
    const keyLen = input.readCount('key length');
    let key = input.readBytes(keyLen);
    const value = input.readBytes(input.readCount('value length'));
    if (keyLen === 0) input.fail(`key group ${keyGroup}: empty key`, offset - input.baseOffset);
    const last = (key[0]! & META_DATA_FOLLOWS) !== 0;
    if (last) {
      key = new Uint8Array(key);
      key[0] = key[0]! & ~META_DATA_FOLLOWS;
    }
    yield { keyGroup, stateId, key, value, offset };
    // Resumed after FlinkSavepoint.releaseStreams() (the block's buffer detached): never read zeros as records.
    assert(input.bytes.length !== 0, READ_AFTER_RELEASE);
    if (!last) continue;
    const next = input.readUnsignedShort();
    if (next === END_OF_KEY_GROUP) {
      if (endsAtMark && input.remaining !== 0) input.fail(`key group ${keyGroup}: ${input.remaining} bytes after the end-of-key-group mark`);
      return;
    }
    if (next >= numStates) input.fail(`key group ${keyGroup}: state id ${next} outside the ${numStates} states of the header`, input.position - 2);
    stateId = next;
  }
}

/** Writes one canonical block from records grouped by state (in the order given). */
export function writeCanonicalKeyGroup(out: JavaDataOutput, records: readonly { stateId: number; key: Uint8Array; value: Uint8Array }[]): void {
  if (records.length === 0) return;
  out.writeShort(records[0]!.stateId);
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const next = records[i + 1];
    const last = next === undefined || next.stateId !== r.stateId;
    out.writeInt(r.key.length);
    const keyAt = out.length;
    out.writeBytes(r.key);
    if (last) out.orByteAt(keyAt, META_DATA_FOLLOWS);
    out.writeInt(r.value.length);
    out.writeBytes(r.value);
    if (last) out.writeShort(next === undefined ? END_OF_KEY_GROUP : next.stateId);
  }
}
