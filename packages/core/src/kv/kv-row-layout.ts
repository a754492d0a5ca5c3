import { CorruptDataError } from '../errors.js';
import { DataInputDeserializer } from '../io/data-input.js';
import { DataOutputSerializer } from '../io/data-output.js';

/**
 * Row keys of keyed state in a KvStore, laid out as in Flink's RocksDB backend so that a key
 * group, a key and a namespace are each a contiguous range:
 *
 *   [key group: 1 byte if maxParallelism <= 128, else 2 bytes, big-endian]
 *   [varuint length][serialized key][varuint length][serialized namespace]
 *   [serialized user key]                                     (map state only)
 *
 * Flink writes the key and namespace lengths only when they could be ambiguous; we always write
 * them, which keeps the layout unambiguous for every serializer and lets us parse rows back.
 */
export class KvRowLayout {
  readonly keyGroupPrefixBytes: 1 | 2;
  /**
   * The reader of every parse(): rows of one scan are views of one buffer, and reset() keeps its
   * DataView while the buffer stays the same (a new deserializer and DataView per row were about
   * a third of parse()'s time; a canonical snapshot parses every row). Holds the last row parsed
   * until the next.
   */
  private readonly input = new DataInputDeserializer(new Uint8Array(0));

  constructor(readonly maxParallelism: number) {
    this.keyGroupPrefixBytes = maxParallelism <= 128 ? 1 : 2;
  }

  writeKeyGroup(out: DataOutputSerializer, keyGroup: number): void {
    if (this.keyGroupPrefixBytes === 1) out.writeUint8(keyGroup);
    else out.writeUint16(keyGroup);
  }

  /** The first row key of `keyGroup` (also the exclusive upper bound of keyGroup - 1). */
  keyGroupStart(keyGroup: number): Uint8Array {
    const out = new DataOutputSerializer(2);
    this.writeKeyGroup(out, keyGroup);
    return out.toBytes();
  }

  /** Writes [key group][lp(key)][lp(namespace)] (+ user key when given) to `out`. */
  writeRow(out: DataOutputSerializer, keyGroup: number, key: Uint8Array, namespace: Uint8Array, userKey?: Uint8Array): void {
    this.writeKeyGroup(out, keyGroup);
    out.writeLengthPrefixed(key);
    out.writeLengthPrefixed(namespace);
    if (userKey !== undefined) out.writeBytes(userKey);
  }

  /** Splits a row key into its parts (views into `row`). */
  parse(row: Uint8Array): ParsedRow {
    const input = this.input;
    input.reset(row);
    const keyGroup = this.keyGroupPrefixBytes === 1 ? input.readUint8() : input.readUint16();
    const key = input.readLengthPrefixed();
    const namespace = input.readLengthPrefixed();
    const userKey = input.readBytes(input.remaining);
    if (key.length === 0 && row.length < 3) throw new CorruptDataError('row key too short', 0);
    return { keyGroup, key, namespace, userKey };
  }
}

export interface ParsedRow {
  readonly keyGroup: number;
  readonly key: Uint8Array;
  readonly namespace: Uint8Array;
  /** Empty for non-map states. */
  readonly userKey: Uint8Array;
}
