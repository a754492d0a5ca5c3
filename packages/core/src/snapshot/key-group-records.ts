import { assert } from '../assert.js';
import { DataInputDeserializer } from '../io/data-input.js';
import type { SnapshotStateKind } from '../state/descriptors.js';

/** One record read back from a key group block, as raw bytes. */
export interface KeyedStateRecord {
  readonly stateIndex: number;
  readonly key: Uint8Array;
  readonly namespace: Uint8Array;
  /** The value (non-MAP states) or the user value (MAP; null when the user value is null). */
  readonly value: Uint8Array | null;
  /** Only for MAP states. */
  readonly userKey: Uint8Array | undefined;
}

/** Numbers per record in KeyGroupRecordFields: the state index, then [start, end) of each field. */
const STRIDE = 9;

/** A record's byte fields, as KeyGroupRecordFields.start / end take them (the number is where the field's start is kept). */
export const BlockField = { key: 1, namespace: 3, value: 5, userKey: 7 } as const;
export type BlockField = (typeof BlockField)[keyof typeof BlockField];

/** Start (and end) of a field a record does not have: a null MAP user value, the user key of other kinds. */
const ABSENT = -1;

/**
 * Where the fields of each record of a verified key-group block lie in its bytes: positions, not an
 * object and three views per record. A reader that decodes every field in place (a savepoint read,
 * with ExactDeserializer.decodeRange) then allocates nothing per record for the block's structure,
 * which was most of its garbage; `record(j)` builds the KeyedStateRecord for consumers that want one.
 */
export class KeyGroupRecordFields {
  private constructor(
    /** The block's bytes: every position is an index into it. */
    readonly bytes: Uint8Array,
    /** Stream offset of the block (record offsets are this plus a position). */
    readonly offset: number,
    private readonly at: readonly number[],
  ) {}

  /**
   * Parses the records of the block of key group `expectedKeyGroup` (u32 key group, records,
   * varuint 0; see KeyedStateStreamEncoder): every length is checked against the block, every
   * state index against `states`. Errors are CorruptDataErrors at their stream offset.
   */
  static parse(bytes: Uint8Array, offset: number, expectedKeyGroup: number, states: readonly { readonly kind: SnapshotStateKind }[]): KeyGroupRecordFields {
    const input: DataInputDeserializer = new DataInputDeserializer(bytes, offset);
    const g = input.readUint32();
    if (g !== expectedKeyGroup) input.fail(`block holds key group ${g}, expected ${expectedKeyGroup}`);
    const at: number[] = [];
    for (;;) {
      const ref = input.readVarUint();
      if (ref === 0) break;
      const stateIndex = ref - 1;
      const meta = states[stateIndex];
      if (meta === undefined) input.fail(`record refers to state #${stateIndex}, the header has ${states.length}`);
      at.push(stateIndex);
      pushField(input, at); // key
      pushField(input, at); // namespace
      if (meta.kind === 'MAP') {
        const userKey = fieldStart(input);
        const userKeyEnd = input.position;
        if (input.readBoolean()) pushField(input, at);
        else at.push(ABSENT, ABSENT);
        at.push(userKey, userKeyEnd);
      } else {
        pushField(input, at);
        at.push(ABSENT, ABSENT);
      }
    }
    if (input.remaining !== 0) input.fail(`${input.remaining} trailing bytes after key group ${g}`);
    return new KeyGroupRecordFields(bytes, offset, at);
  }

  get count(): number {
    return this.at.length / STRIDE;
  }

  stateIndex(j: number): number {
    return this.at[j * STRIDE]!;
  }

  /** Where `field` of record j starts in `bytes`; -1 when the record has none (a null MAP user value; the user key of other kinds). */
  start(j: number, field: BlockField): number {
    return this.at[j * STRIDE + field]!;
  }

  /** Where `field` of record j ends in `bytes` (exclusive). */
  end(j: number, field: BlockField): number {
    return this.at[j * STRIDE + field + 1]!;
  }

  /** Stream offset of record j's key, for error messages. */
  recordOffset(j: number): number {
    return this.offset + this.start(j, BlockField.key);
  }

  /** Record j (0 <= j < count, asserted) with its fields as views into the block's bytes. */
  record(j: number): KeyedStateRecord {
    if (j >>> 0 !== j || j >= this.count) assert(false, `record ${j} in [0, ${this.count})`);
    // Subarrays inline (no closure per record): this runs for every record of a block read as records.
    const { at, bytes } = this;
    const i = j * STRIDE;
    const value = at[i + BlockField.value]!;
    const userKey = at[i + BlockField.userKey]!;
    return {
      stateIndex: at[i]!,
      key: bytes.subarray(at[i + BlockField.key]!, at[i + BlockField.key + 1]!),
      namespace: bytes.subarray(at[i + BlockField.namespace]!, at[i + BlockField.namespace + 1]!),
      value: value === ABSENT ? null : bytes.subarray(value, at[i + BlockField.value + 1]!),
      userKey: userKey === ABSENT ? undefined : bytes.subarray(userKey, at[i + BlockField.userKey + 1]!),
    };
  }
}

/** Skips a length-prefixed field (checked like readLengthPrefixed) and returns where its bytes start. */
function fieldStart(input: DataInputDeserializer): number {
  const n = input.readLength('byte length');
  const start = input.position;
  input.skip(n);
  return start;
}

function pushField(input: DataInputDeserializer, at: number[]): void {
  const start = fieldStart(input);
  at.push(start, input.position);
}
