import { Packr } from 'msgpackr';
import type { DataInputDeserializer } from '../io/data-input.js';
import type { DataOutputSerializer } from '../io/data-output.js';
import { SimpleTypeSerializerSnapshot } from './simple-snapshot.js';
import type { TypeSerializer, TypeSerializerSnapshot } from './type-serializer.js';

// Plain MessagePack (no msgpackr record extension), so other languages can read the bytes.
// Maps are written as msgpack maps and read back as JS objects (string keys) or Maps (other keys).
const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint', moreTypes: false });

/**
 * Arbitrary JS values as MessagePack. Deterministic for the same value shape (object keys are
 * written in insertion order), which is enough for values; prefer explicit serializers for keys.
 */
export class MsgpackSerializer<T = unknown> implements TypeSerializer<T> {
  static readonly INSTANCE = new MsgpackSerializer<unknown>();
  readonly typeId = 'msgpack';
  readonly isImmutableType = false;

  serialize(value: T, out: DataOutputSerializer): void {
    out.writeLengthPrefixed(packr.pack(value));
  }

  deserialize(input: DataInputDeserializer): T {
    const bytes = input.readLengthPrefixed();
    try {
      return packr.unpack(bytes) as T;
    } catch (e) {
      input.fail(`invalid MessagePack value: ${(e as Error).message}`);
    }
  }

  copy(value: T): T {
    return value === null || typeof value !== 'object' ? value : structuredClone(value);
  }

  snapshotConfiguration(): TypeSerializerSnapshot<T> {
    return new SimpleTypeSerializerSnapshot<T>(this.typeId, () => this);
  }
}
