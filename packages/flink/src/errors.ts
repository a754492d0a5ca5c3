import { CorruptCheckpointError, FlowstateError, UnknownSerializerError } from '@flowstate/core';

/**
 * A Flink savepoint uses a feature this package refuses to handle (a metadata or proxy version
 * Flink itself no longer reads, a Java-serialized serializer, a RocksDB-native snapshot...).
 * Names the file and, where known, the byte offset.
 */
export class FlinkUnsupportedError extends FlowstateError {
  readonly code = 'FLINK_UNSUPPORTED';
  constructor(
    readonly file: string,
    readonly feature: string,
    readonly offset?: number,
  ) {
    super(`unsupported Apache Flink feature in '${file}'${offset === undefined ? '' : ` at byte ${offset}`}: ${feature}`);
  }
}

/**
 * A serializer snapshot class has no registered reader. Flink's snapshot payloads carry no length,
 * so the rest of that header cannot be stepped over: register a reader for the class.
 */
export class FlinkUnknownSnapshotClassError extends UnknownSerializerError {
  constructor(
    readonly className: string,
    readonly file: string,
    readonly offset: number,
  ) {
    super(className);
    this.message =
      `no Flink serializer snapshot reader for class '${className}' in '${file}' at byte ${offset}` +
      ' (register one with FlinkSerializerRegistry.register)';
  }
}

/**
 * A value needs decoding but its serializer is carried opaquely (Kryo, Java serialization, a user
 * serializer without plug-in). Names the state and the Java serializer class.
 */
export class FlinkOpaqueSerializerError extends FlowstateError {
  readonly code = 'FLINK_OPAQUE_SERIALIZER';
  constructor(
    readonly stateName: string | undefined,
    readonly serializerClass: string,
    detail = 'values are carried as opaque bytes and cannot be decoded',
  ) {
    super(`${stateName === undefined ? '' : `state '${stateName}': `}serializer '${serializerClass}': ${detail}`);
  }
}

/** A corrupt-input error naming a file of a Flink savepoint and the offset within it. */
export function corrupt(file: string, offset: number, detail: string, cause?: unknown): CorruptCheckpointError {
  return new CorruptCheckpointError(file, detail, undefined, offset, cause === undefined ? undefined : { cause });
}
