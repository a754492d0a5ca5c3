import { assert } from './assert.js';

/**
 * Typed errors. Every error has a stable `code` that callers may switch on; messages name the
 * state, file and checkpoint involved so that an operator can act on them without a debugger.
 */
export abstract class FlowstateError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** What every FlowstateError passes on to Error: the error that caused it. */
export interface FlowstateErrorOptions {
  readonly cause?: unknown;
}

/** `Name: message` of an error, or its string form: for logs and failure causes. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

/** The instance fields an errorClass keeps: the first constructor arguments, under `fields`' names. */
export type ErrorFields<Names extends readonly string[], Args extends readonly unknown[]> = {
  readonly [I in keyof Names & `${number}` as Names[I] & string]: Args[I & keyof Args];
};

/**
 * The base class of an error whose constructor arguments make its message, and whose first
 * arguments are also kept as read-only fields: an error declared in one statement,
 *
 *     export class StateMigrationError extends errorClass('STATE_MIGRATION', ['stateName'],
 *       (stateName: string, detail: string) => `state '${stateName}': ${detail}`) {}
 *
 * `new StateMigrationError('count', 'serializer changed', { cause })`. The message function takes
 * every argument but the options (no defaults or rest parameters: its length is their number).
 * `describeCause` ends the message with the cause, for failures whose log line must say why.
 * `base` is an abstract FlowstateError subclass that groups errors (ConfigurationError).
 */
export function errorClass<
  const Code extends string,
  const Names extends readonly string[],
  Args extends readonly unknown[],
  Base extends abstract new (message: string, options?: FlowstateErrorOptions) => FlowstateError = typeof FlowstateError,
>(
  code: Code,
  fields: Names,
  message: (...args: Args) => string,
  options: { readonly describeCause?: boolean; readonly base?: Base } = {},
): abstract new (...args: [...Args, options?: FlowstateErrorOptions]) => InstanceType<Base> & { readonly code: Code } & ErrorFields<Names, Args> {
  const arity = message.length;
  assert(fields.length <= arity, `errorClass ${code}: more fields than message arguments`);
  const base = (options.base ?? FlowstateError) as abstract new (message: string, options?: FlowstateErrorOptions) => FlowstateError;
  abstract class CodedError extends base {
    readonly code: Code = code;
    constructor(...args: unknown[]) {
      const errorOptions = args[arity] as FlowstateErrorOptions | undefined;
      const text = message(...(args.slice(0, arity) as unknown as Args));
      super(options.describeCause === true ? `${text}: ${describeError(errorOptions?.cause)}` : text, errorOptions);
      fields.forEach((name, i) => Object.assign(this, { [name]: args[i] }));
    }
  }
  return CodedError as unknown as ReturnType<typeof errorClass<Code, Names, Args, Base>>;
}

/** A state cannot be restored with the serializer it is registered with now. */
export class StateMigrationError extends errorClass('STATE_MIGRATION', ['stateName'], (stateName: string, detail: string) => `state '${stateName}': ${detail}`) {}

/** Bytes read from a checkpoint or savepoint are not what was written (size, checksum, structure). */
export class CorruptCheckpointError extends FlowstateError {
  readonly code = 'CORRUPT_CHECKPOINT';
  constructor(
    readonly file: string,
    detail: string,
    readonly checkpointId?: number,
    readonly offset?: number,
    options?: { cause?: unknown },
  ) {
    super(
      `corrupt checkpoint data in '${file}'` +
        (checkpointId === undefined ? '' : ` (checkpoint ${checkpointId})`) +
        (offset === undefined ? '' : ` at byte ${offset}`) +
        `: ${detail}`,
      options,
    );
  }
}

/** Low-level decoding failure; readers wrap it into a CorruptCheckpointError naming the file. */
export class CorruptDataError extends FlowstateError {
  readonly code = 'CORRUPT_DATA';
  constructor(
    /** What is wrong, without the offset (so wrappers can place it once). */
    readonly detail: string,
    readonly offset: number,
  ) {
    super(`${detail} (at byte ${offset})`);
  }
}

/** A file or serializer declares a format version this build cannot read. */
export class UnknownFormatVersionError extends FlowstateError {
  readonly code = 'UNKNOWN_FORMAT_VERSION';
  constructor(
    readonly what: string,
    readonly version: number,
    readonly supported: readonly number[],
    readonly file?: string,
  ) {
    super(
      `${what}${file === undefined ? '' : ` in '${file}'`} has unknown format version ${version}` +
        ` (this build reads ${supported.join(', ')})`,
    );
  }
}

/** A serializer snapshot names a serializer type that is not registered. */
export class UnknownSerializerError extends FlowstateError {
  readonly code = 'UNKNOWN_SERIALIZER';
  constructor(readonly typeId: string) {
    super(`no serializer snapshot reader registered for type '${typeId}'`);
  }
}

/** An I/O operation against checkpoint storage failed. Never carries credentials. */
export class StorageError extends FlowstateError {
  readonly code: string = 'STORAGE_ERROR';
  constructor(
    readonly path: string,
    detail: string,
    options?: { cause?: unknown; transient?: boolean },
  ) {
    super(`storage error on '${path}': ${detail}`, options);
    this.transient = options?.transient ?? false;
  }
  /** True when retrying the same operation may succeed (throttling, 5xx, connection reset). */
  readonly transient: boolean;
}

/** A file that should exist in storage does not. */
export class StorageNotFoundError extends StorageError {
  override readonly code = 'STORAGE_NOT_FOUND';
  /** `path` is the file's path or URI only; what it means for the caller goes in `detail`. */
  constructor(path: string, detail?: string) {
    super(path, detail === undefined ? 'no such file' : `no such file (${detail})`);
  }
}

/** A path given to storage would escape its root ('..', absolute paths, URL tricks, symlinks). */
export class PathEscapeError extends FlowstateError {
  readonly code = 'PATH_ESCAPE';
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`path '${path}' is not allowed: ${detail}`);
  }
}

/** State was used in a way the contract forbids (kind clash, null element, closed backend...). */
export class IllegalStateUsageError extends FlowstateError {
  readonly code = 'ILLEGAL_STATE_USAGE';
  constructor(
    readonly stateName: string | undefined,
    detail: string,
  ) {
    super(stateName === undefined ? detail : `state '${stateName}': ${detail}`);
  }
}

/** A snapshot would exceed the configured maximum size of in-memory checkpoint storage. */
export class StateSizeExceededError extends FlowstateError {
  readonly code = 'STATE_SIZE_EXCEEDED';
  constructor(
    readonly size: number,
    readonly maxSize: number,
    readonly checkpointId?: number,
  ) {
    super(
      `state of ${size} bytes exceeds the maximum of ${maxSize} bytes for in-memory checkpoint storage` +
        (checkpointId === undefined ? '' : ` (checkpoint ${checkpointId})`) +
        '; use a file system checkpoint storage for larger state',
    );
  }
}

/** The asynchronous part of a snapshot was cancelled before it completed. */
/** A restore was cancelled through its AbortSignal (a failover or a cancelled job); the backend released what it built. */
export class RestoreCancelledError extends FlowstateError {
  readonly code = 'RESTORE_CANCELLED';
  constructor(
    readonly operatorIdentifier: string,
    options?: { cause?: unknown },
  ) {
    super(`restore of '${operatorIdentifier}' was cancelled`, options);
  }
}

/** Throws RestoreCancelledError once `signal` is aborted (checked between key groups and handles). */
export function checkRestoreNotCancelled(signal: AbortSignal | undefined, operatorIdentifier: string): void {
  if (signal?.aborted === true) throw new RestoreCancelledError(operatorIdentifier, { cause: signal.reason });
}

export class SnapshotCancelledError extends FlowstateError {
  readonly code = 'SNAPSHOT_CANCELLED';
  constructor(readonly checkpointId: number) {
    super(`snapshot for checkpoint ${checkpointId} was cancelled`);
  }
}

/**
 * A checkpoint references a shared file it did not write, and the SharedStateRegistry cannot vouch
 * for it: the file was already discarded (or never confirmed). Completing the checkpoint would
 * leave a restore point with a missing file, so the checkpoint must fail instead (FLINK-29913).
 */
export class SharedStateDiscardedError extends FlowstateError {
  readonly code = 'SHARED_STATE_DISCARDED';
  constructor(
    readonly checkpointId: number,
    readonly file: string,
    detail: string,
  ) {
    super(`checkpoint ${checkpointId} reuses shared file '${file}': ${detail}`);
  }
}

/**
 * A backend's local file failed verification before it was uploaded for a checkpoint (e.g. a
 * RocksDB SST whose block checksums do not match). The checkpoint fails: completing it would
 * make every later checkpoint that reuses the file, and every restore from it, inherit the damage.
 */
export class CorruptLocalStateError extends errorClass(
  'CORRUPT_LOCAL_STATE',
  ['file', 'checkpointId'],
  (file: string, checkpointId: number, detail: string) => `local state file '${file}' failed verification before upload for checkpoint ${checkpointId}: ${detail}`,
) {}

/** A StateTtlConfig that cannot work (non-positive TTL, unknown update type, a cleanup bound < 1...). */
export class TtlConfigError extends FlowstateError {
  readonly code = 'TTL_CONFIG';
  constructor(
    readonly stateName: string | undefined,
    detail: string,
  ) {
    super(stateName === undefined ? `invalid state TTL config: ${detail}` : `state '${stateName}': invalid state TTL config: ${detail}`);
  }
}
