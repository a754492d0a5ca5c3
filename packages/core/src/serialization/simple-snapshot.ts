import type { DataOutputSerializer } from '../io/data-output.js';
import { SchemaCompatibility, type TypeSerializer, type TypeSerializerSchemaCompatibility, type TypeSerializerSnapshot } from './type-serializer.js';

/**
 * Snapshot of a serializer without configuration: compatible with any serializer of the same
 * type id, incompatible with everything else.
 */
export class SimpleTypeSerializerSnapshot<T> implements TypeSerializerSnapshot<T> {
  readonly version = 1;
  constructor(
    readonly typeId: string,
    private readonly factory: () => TypeSerializer<T>,
  ) {}

  writeConfiguration(_out: DataOutputSerializer): void {}

  restoreSerializer(): TypeSerializer<T> {
    return this.factory();
  }

  resolveSchemaCompatibility(newSerializer: TypeSerializer<T>): TypeSerializerSchemaCompatibility<T> {
    return newSerializer.typeId === this.typeId
      ? SchemaCompatibility.compatibleAsIs()
      : SchemaCompatibility.incompatible(`was '${this.typeId}', now '${newSerializer.typeId}'`);
  }
}
