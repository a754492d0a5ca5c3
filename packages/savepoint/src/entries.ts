import {
  CorruptCheckpointError,
  CorruptDataError,
  BlockField,
  DataInputDeserializer,
  ExactDeserializer,
  MapSerializer,
  TIMER_KEY_OFFSET,
  timerHoldsKey,
  TimerSerializer,
  type KeyedStateStreamHeader,
  type RestoredOperatorState,
  type TypeSerializer,
} from '@flowstate/core';
import type { KeyGroupBlock } from '@flowstate/core';
import { wrapDecodeError } from './keyed.js';

interface StateDecoders {
  readonly name: string;
  readonly namespace: TypeSerializer<unknown>;
  /** VALUE, LIST, REDUCING, AGGREGATING: the whole value. */
  readonly value: TypeSerializer<unknown> | undefined;
  /** MAP: one record per user key. */
  readonly userKey: TypeSerializer<unknown> | undefined;
  readonly userValue: TypeSerializer<unknown> | undefined;
  /** A priority queue of timers: each element holds its record's key again. */
  readonly timers: boolean;
}

/**
 * Decodes every field of every record of a keyed stream with the serializers restored from the
 * stream's own header, as a restore would: validation uses it so that a savepoint it calls valid
 * is one the reader can read. Errors are CorruptCheckpointErrors naming the file and the offset
 * of the field.
 */
export class KeyedRecordDecoder {
  private readonly key: TypeSerializer<unknown>;
  private readonly states: readonly StateDecoders[];
  private readonly decoder = new ExactDeserializer();

  constructor(header: KeyedStateStreamHeader, private readonly file: string) {
    try {
      this.key = header.keySerializerSnapshot.restoreSerializer();
      this.states = header.states.map((s) => {
        const namespace = s.namespaceSerializerSnapshot.restoreSerializer();
        const st = s.stateSerializerSnapshot.restoreSerializer();
        if (s.kind !== 'MAP') return { name: s.name, namespace, value: st, userKey: undefined, userValue: undefined, timers: s.kind === 'PRIORITY_QUEUE' && st instanceof TimerSerializer };
        if (!(st instanceof MapSerializer)) throw new CorruptCheckpointError(file, `MAP state '${s.name}' has the serializer '${st.typeId}', not a map serializer`);
        const ms = st as MapSerializer<unknown, unknown>;
        return { name: s.name, namespace, value: undefined, userKey: ms.keySerializer, userValue: ms.valueSerializer, timers: false };
      });
    } catch (e) {
      wrapDecodeError(e, file);
    }
  }

  /** Decodes (and drops) every record of a block, each field in place; throws on the first that does not decode exactly. */
  decodeBlock(block: KeyGroupBlock): void {
    const f = block.fields;
    const field = (serializer: TypeSerializer<unknown>, j: number, which: BlockField, what: string) => {
      const offset = block.offset + f.start(j, which);
      try {
        this.decoder.decodeRange(serializer, f.bytes, f.start(j, which), f.end(j, which), what, offset);
      } catch (e) {
        wrapDecodeError(e, this.file, offset);
      }
    };
    for (let j = 0; j < f.count; j++) {
      const s = this.states[f.stateIndex(j)]!;
      field(this.key, j, BlockField.key, `key of '${s.name}'`);
      field(s.namespace, j, BlockField.namespace, `namespace of '${s.name}'`);
      if (s.value !== undefined) {
        field(s.value, j, BlockField.value, `value of '${s.name}'`);
        if (s.timers) this.checkTimerKey(block, j, s.name);
      } else {
        field(s.userKey!, j, BlockField.userKey, `user key of '${s.name}'`);
        if (f.start(j, BlockField.value) >= 0) field(s.userValue!, j, BlockField.value, `user value of '${s.name}'`);
      }
    }
  }

  /**
   * A timer holds its key twice, as its record's key and in its own bytes; restores file it by
   * either (RocksDB by the record's, heap by its own), so both must be the same bytes.
   */
  private checkTimerKey(block: KeyGroupBlock, j: number, name: string): void {
    const f = block.fields;
    const key = f.bytes.subarray(f.start(j, BlockField.key), f.end(j, BlockField.key));
    const value = f.start(j, BlockField.value);
    if (!timerHoldsKey(f.bytes.subarray(value, f.end(j, BlockField.value)), key)) {
      throw new CorruptCheckpointError(this.file, `a timer of '${name}' holds another key than its record (restores would file it in different key groups)`, undefined, block.offset + value + TIMER_KEY_OFFSET);
    }
  }
}

/**
 * Decodes every element of a restored operator state with its own serializers (list elements, or
 * broadcast key, presence byte and value). Elements carry no file offset: errors name the file,
 * the state and the element's index.
 */
export function decodeOperatorStateElements(s: RestoredOperatorState, file: string): void {
  const name = s.meta.name;
  let first: TypeSerializer<unknown>;
  let second: TypeSerializer<unknown> | undefined;
  try {
    first = s.meta.firstSerializerSnapshot.restoreSerializer();
    second = s.meta.secondSerializerSnapshot?.restoreSerializer();
  } catch (e) {
    wrapDecodeError(e, file);
  }
  if (s.meta.mode === 'BROADCAST' && second === undefined) throw new CorruptCheckpointError(file, `broadcast state '${name}' has no value serializer`);
  s.elements.forEach((bytes, i) => {
    try {
      const input = new DataInputDeserializer(bytes);
      first.deserialize(input);
      if (s.meta.mode === 'BROADCAST' && input.readBoolean()) second!.deserialize(input);
      if (input.remaining !== 0) input.fail(`${input.remaining} trailing bytes`);
    } catch (e) {
      if (e instanceof CorruptDataError) {
        throw new CorruptCheckpointError(file, `element ${i} of operator state '${name}': ${e.detail} (at byte ${e.offset} of the element)`, undefined, undefined, { cause: e });
      }
      wrapDecodeError(e, file);
    }
  });
}
