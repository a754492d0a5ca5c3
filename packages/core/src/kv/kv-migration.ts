import { DataInputDeserializer } from '../io/data-input.js';
import { DataOutputSerializer } from '../io/data-output.js';
import type { ListSerializer, MapSerializer } from '../serialization/collections.js';
import { deserializeExact, type TypeSerializer } from '../serialization/type-serializer.js';
import type { RegisteredKvState } from './kv-registered.js';
import type { KvRowLayout } from './kv-row-layout.js';
import { forEachEntry, type KvEntry } from './kv-store.js';
import { decodeKvList, encodeKvList } from './kv-values.js';

const ALL_ROWS_LOWER = new Uint8Array(0);
/** Above every row key: rows start with a key group, at most 2 bytes < 0xffff. */
const ALL_ROWS_UPPER = new Uint8Array([0xff, 0xff, 0xff]);

/**
 * Rewrites every value of a state: read with the old serializer, migrate, write with the new one.
 * All rewrites go into one putAll applied at the end, so a migration that fails half way leaves
 * the key space untouched (and the state still restored, to be migrated again).
 */
export function migrateKeySpace(reg: RegisteredKvState, layout: KvRowLayout, oldSer: TypeSerializer<unknown>, newSer: TypeSerializer<unknown>, migrate: (v: unknown) => unknown): void {
  const rewrite = valueRewriter(reg, layout, oldSer, newSer, migrate);
  const rows: KvEntry[] = [];
  forEachEntry(reg.space, ALL_ROWS_LOWER, ALL_ROWS_UPPER, (row, value) => rows.push([row, rewrite(row, value)]));
  reg.space.putAll(rows);
}

function valueRewriter(reg: RegisteredKvState, layout: KvRowLayout, oldSer: TypeSerializer<unknown>, newSer: TypeSerializer<unknown>, migrate: (v: unknown) => unknown): (row: Uint8Array, value: Uint8Array) => Uint8Array {
  const out = new DataOutputSerializer(64);
  const encode = (s: TypeSerializer<unknown>, v: unknown): Uint8Array => {
    out.clear();
    s.serialize(v, out);
    return out.toBytes();
  };
  if (reg.kind === 'LIST') {
    const oldE = (oldSer as ListSerializer<unknown>).elementSerializer;
    const newE = (newSer as ListSerializer<unknown>).elementSerializer;
    return (_row, value) => {
      const list = migrate(decodeKvList(value).map((e) => deserializeExact(oldE, e, `element of '${reg.name}'`))) as unknown[];
      return encodeKvList(list.map((v) => encode(newE, v)));
    };
  }
  if (reg.kind === 'MAP') {
    const om = oldSer as MapSerializer<unknown, unknown>;
    const nm = newSer as MapSerializer<unknown, unknown>;
    return (row, value) => {
      const uk = deserializeExact(om.keySerializer, layout.parse(row).userKey, `map key of '${reg.name}'`);
      const input = new DataInputDeserializer(value);
      const v = om.deserializeNullableValue(input);
      if (input.remaining !== 0) input.fail(`map value of '${reg.name}' has trailing bytes`);
      // The map serializer's migration works on maps; a row is a one-entry map.
      const migrated = migrate(new Map([[uk, v]])) as Map<unknown, unknown>;
      out.clear();
      nm.serializeNullableValue(migrated.get(uk) ?? null, out);
      return out.toBytes();
    };
  }
  return (_row, value) => encode(newSer, migrate(deserializeExact(oldSer, value, `value of '${reg.name}'`)));
}
