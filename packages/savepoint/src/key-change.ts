import {
  bytesEqual,
  CorruptCheckpointError,
  DataOutputSerializer,
  StateMigrationError,
  TimerSerializer,
  TimerSerializerSnapshot,
  timerHoldsKey,
  type TypeSerializer,
  type TypeSerializerSnapshot,
} from '@flowstate/core';
import { UnsupportedSavepointOperationError } from './errors.js';
import { decodeExact } from './keyed.js';
import type { RecordOrigin, StatePlan } from './rewrite.js';

/** A key serializer change the writer was asked for: the new serializer, and how old keys become new ones. */
export interface KeyChange {
  readonly serializer: TypeSerializer<unknown>;
  readonly convert: ((oldKey: unknown) => unknown) | undefined;
}

/** The conversion of old keys: the caller's, or the one the new serializer's compatibility resolution allows. */
export function keyConversion(uid: string, old: TypeSerializerSnapshot<unknown>, kc: KeyChange): (old: unknown) => unknown {
  if (kc.convert !== undefined) return kc.convert;
  const compat = old.resolveSchemaCompatibility(kc.serializer);
  if (compat.type === 'COMPATIBLE_AS_IS') return (k) => k;
  if (compat.type === 'COMPATIBLE_AFTER_MIGRATION') return compat.migrate;
  throw new StateMigrationError(`<key of ${uid}>`, `the new key serializer '${kc.serializer.typeId}' cannot take over the keys (${compat.type === 'INCOMPATIBLE' ? compat.reason : compat.type}); pass a conversion function`);
}

/** A converted key, as a value (for elements that embed it) and serialized (the record key). */
interface NewKey {
  readonly key: unknown;
  readonly bytes: Uint8Array;
}

/**
 * Converts serialized keys. A timer record is converted twice, once for its element's key and once
 * for its record key: the last conversion is remembered so that the user's function runs once per
 * record and both get the very same new key.
 */
export class KeyRekeying {
  private readonly out = new DataOutputSerializer(64);
  private lastInput: Uint8Array | undefined;
  private last: NewKey | undefined;

  constructor(
    private readonly oldSerializer: TypeSerializer<unknown>,
    readonly serializer: TypeSerializer<unknown>,
    private readonly convert: (oldKey: unknown) => unknown,
  ) {}

  rekey(bytes: Uint8Array, origin: RecordOrigin): NewKey {
    if (this.last !== undefined && bytesEqual(bytes, this.lastInput!)) return this.last;
    const key = this.convert(decodeExact(this.oldSerializer, bytes, origin.file, origin.offset, 'key'));
    this.out.clear();
    this.serializer.serialize(key, this.out);
    // A copy: the input may be a view of a read buffer that the next block overwrites.
    this.lastInput = new Uint8Array(bytes);
    this.last = { key, bytes: this.out.toBytes() };
    return this.last;
  }
}

/**
 * The plan of a priority-queue state under a key serializer change. A timer holds its key twice,
 * as its record's key and inside its own bytes, and restores file it by either (heap by the
 * element's, RocksDB by the record's): each timer is decoded, given its record's new key and
 * written with a timer serializer of the new key serializer, which the header then names. Other
 * element types may embed the key in ways this tool cannot know: the key change is refused.
 */
export function rekeyPriorityQueue(uid: string, plan: StatePlan, rekeying: KeyRekeying): StatePlan {
  const meta = plan.meta;
  const old = meta.stateSerializerSnapshot;
  if (!(old instanceof TimerSerializerSnapshot)) {
    throw new UnsupportedSavepointOperationError(
      `changing the key serializer of operator '${uid}'`,
      `its priority-queue state '${meta.name}' holds '${old.typeId}' elements, which may carry the key inside them; only timers can be re-keyed (remove the state first)`,
    );
  }
  const reader = old.restoreSerializer() as TimerSerializer<unknown, unknown>;
  const writer = new TimerSerializer(rekeying.serializer, reader.namespaceSerializer);
  const out = new DataOutputSerializer(64);
  const inner = plan.transform;
  return {
    meta: { ...meta, stateSerializerSnapshot: writer.snapshotConfiguration() },
    transform: (r, o) => {
      const rec = inner === undefined ? r : inner(r, o);
      if (rec === null) return null;
      const timer = decodeExact(reader, rec.value!, o.file, o.offset, `timer of '${meta.name}'`);
      // The record key is what gets converted: a timer under another key would silently take it over.
      if (!timerHoldsKey(rec.value!, rec.key)) throw new CorruptCheckpointError(o.file, `a timer of '${meta.name}' holds another key than its record`, undefined, o.offset);
      out.clear();
      writer.serialize({ ...timer, key: rekeying.rekey(rec.key, o).key }, out);
      return { ...rec, value: out.toBytes() };
    },
  };
}

