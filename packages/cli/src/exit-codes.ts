import {
  FlowstateError,
  IllegalStateUsageError,
  StateMigrationError,
  UnknownFormatVersionError,
  UnknownSerializerError,
} from '@flowstate/core';
import { NotASavepointError, SavepointOutputError, UnsupportedSavepointOperationError } from '@flowstate/savepoint';
import { ConfigurationError } from '@flowstate/config';
import { FlinkOpaqueSerializerError, FlinkUnsupportedError } from '@flowstate/flink';
import { CheckpointUiPortError } from '@flowstate/ui';

/** Documented exit codes of `flowstate` (also in packages/savepoint/README.md). */
export const ExitCode = {
  /** Success; for validate: valid; for diff: no differences. */
  OK: 0,
  /** validate found problems; diff found differences. */
  FAILED: 1,
  /** Bad command line: unknown verb or option, missing or malformed argument, unusable output directory, invalid --config, dispose of what is not a savepoint. */
  USAGE: 2,
  /** The input cannot be read: missing, corrupt (checksum, structure, truncation) or escaping paths. */
  CORRUPT: 3,
  /** Understood but not supported: unknown format version, incompatible serializer change, native snapshot. */
  UNSUPPORTED: 4,
  /** A bug in flowstate: please report it with the command line. */
  INTERNAL: 70,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export function exitCodeFor(e: unknown): ExitCodeValue {
  if (e instanceof UnsupportedSavepointOperationError || e instanceof UnknownFormatVersionError || e instanceof StateMigrationError || e instanceof UnknownSerializerError) {
    return ExitCode.UNSUPPORTED;
  }
  // An Apache Flink feature flowstate refuses, or a value behind an opaque serializer: understood, not supported.
  if (e instanceof FlinkUnsupportedError || e instanceof FlinkOpaqueSerializerError) {
    return ExitCode.UNSUPPORTED;
  }
  if (e instanceof SavepointOutputError || e instanceof NotASavepointError || e instanceof IllegalStateUsageError || e instanceof ConfigurationError || e instanceof CheckpointUiPortError) return ExitCode.USAGE;
  if (e instanceof FlowstateError) return ExitCode.CORRUPT;
  return ExitCode.INTERNAL;
}
