import { crc32c } from '../checksum.js';
import { FlowstateError } from '../errors.js';
import { murmur3_32 } from '../keygroups/murmur3.js';

/** One finding of a savepoint validation (flowstate's own format or Apache Flink's). */
export interface ValidationProblem {
  /** 'error': the savepoint is damaged; 'warning': suspicious or not verifiable, but readable. */
  readonly severity: 'error' | 'warning';
  /** The FlowstateError code, or a validation code (KEY_GROUP_GAP, KEY_GROUP_OVERLAP, UNREFERENCED_FILE). */
  readonly code: string;
  readonly message: string;
  readonly file?: string;
  readonly offset?: number;
  readonly operator?: string;
}

/**
 * A typed error as a validation problem, with the file and offset it names. Anything that is not
 * a FlowstateError is a bug, not a finding, and is rethrown.
 */
export function validationProblemOf(e: unknown, operator?: string, severity: 'error' | 'warning' = 'error'): ValidationProblem {
  if (!(e instanceof FlowstateError)) throw e;
  const f = e as FlowstateError & { file?: unknown; offset?: unknown; path?: unknown };
  return {
    severity,
    code: e.code,
    message: e.message,
    ...(typeof f.file === 'string' ? { file: f.file } : typeof f.path === 'string' ? { file: f.path } : {}),
    ...(typeof f.offset === 'number' ? { offset: f.offset } : {}),
    ...(operator === undefined ? {} : { operator }),
  };
}

/**
 * An order-independent digest of a multiset of records: the count and wrapping sums of two
 * independent 32-bit hashes per record. Lets two savepoints be compared state by state while
 * streaming, with memory independent of their size, even when key groups or parallelism differ.
 */
export class MultisetDigest {
  count = 0;
  private a = 0;
  private b = 0;
  add(bytes: Uint8Array): void {
    this.count++;
    this.a = (this.a + crc32c(bytes)) >>> 0;
    this.b = (this.b + murmur3_32(bytes, 0x5bd1e995)) >>> 0;
  }
  equals(o: MultisetDigest): boolean {
    return this.count === o.count && this.a === o.a && this.b === o.b;
  }
}

/** Savepoint diffs (flowstate's own format and Apache Flink's) report in these terms. */
export type DiffStatus = 'equal' | 'changed' | 'added' | 'removed';

export interface StateDiff {
  readonly name: string;
  /** 'keyed' or the operator state's distribution mode. */
  readonly category: 'keyed' | 'operator';
  readonly status: DiffStatus;
  /** Human-readable differences (kind, serializers, entry counts, content). */
  readonly changes: readonly string[];
  readonly entriesA: number | undefined;
  readonly entriesB: number | undefined;
}

export interface OperatorDiff {
  readonly uid: string;
  readonly status: DiffStatus;
  readonly changes: readonly string[];
  readonly states: readonly StateDiff[];
}

