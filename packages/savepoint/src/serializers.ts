import { ListSerializerSnapshot, MapSerializerSnapshot, RecordSerializerSnapshot, type TypeSerializerSnapshot } from '@flowstate/core';

/**
 * A compact, human-readable description of a serializer snapshot, e.g. `list<string>`,
 * `map<string, int32>`, `record Order{id: int64, note: string}`, `custom-id@v2`.
 */
export function describeSnapshot(s: TypeSerializerSnapshot<unknown>): string {
  if (s instanceof ListSerializerSnapshot) return `list<${describeSnapshot(s.elementSnapshot as TypeSerializerSnapshot<unknown>)}>`;
  if (s instanceof MapSerializerSnapshot) {
    return `map<${describeSnapshot(s.keySnapshot as TypeSerializerSnapshot<unknown>)}, ${describeSnapshot(s.valueSnapshot as TypeSerializerSnapshot<unknown>)}>`;
  }
  if (s instanceof RecordSerializerSnapshot) {
    return `record ${s.recordName}{${s.fields.map((f) => `${f.name}: ${describeSnapshot(f.snapshot)}`).join(', ')}}`;
  }
  return s.version === 1 ? s.typeId : `${s.typeId}@v${s.version}`;
}
