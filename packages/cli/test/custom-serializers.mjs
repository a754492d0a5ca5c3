// A custom serializer and the registry that reads its snapshots, for `--serializers` tests:
//   flowstate savepoint inspect <dir> --serializers packages/cli/test/custom-serializers.mjs
import { checkVersion, defaultSerializerRegistry, SimpleTypeSerializerSnapshot } from '@flowstate/core';

/** Strings stored upper-cased: a stand-in for any application serializer. */
export class UpperStringSerializer {
  static INSTANCE = new UpperStringSerializer();
  typeId = 'upper-string';
  isImmutableType = true;
  serialize(value, out) {
    out.writeString(value.toUpperCase());
  }
  deserialize(input) {
    return input.readString();
  }
  copy(value) {
    return value;
  }
  snapshotConfiguration() {
    return new SimpleTypeSerializerSnapshot('upper-string', () => UpperStringSerializer.INSTANCE);
  }
}

export const registry = defaultSerializerRegistry.extend().register('upper-string', (version) => {
  checkVersion('upper-string', version, [1]);
  return UpperStringSerializer.INSTANCE.snapshotConfiguration();
});
