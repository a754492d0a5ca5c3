import {
  CorruptCheckpointError,
  CorruptDataError,
  DataInputDeserializer,
  MapSerializer,
  type KeyedStateStreamHeader,
  type RestoredOperatorState,
  type TypeSerializer,
} from '@flowstate/core';
import type { KeyGroupBlock } from '@flowstate/core';
import { decodeExact, wrapDecodeError } from './keyed.js';

interface StateDecoders {
  readonly name: string;
  readonly namespace: TypeSerializer<unknown>;
  /** VALUE, LIST, REDUCING, AGGREGATING: the whole value. */
  readonly value: TypeSerializer<unknown> | undefined;
  /** MAP: one record per user key. */
  readonly userKey: TypeSerializer<unknown> | undefined;
  readonly userValue: TypeSerializer<unknown> | undefined;
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

  constructor(header: KeyedStateStreamHeader, private readonly file: string) {
    try {
      this.key = header.keySerializerSnapshot.restoreSerializer();
      this.states = header.states.map((s) => {
        const namespace = s.namespaceSerializerSnapshot.restoreSerializer();
        const st = s.stateSerializerSnapshot.restoreSerializer();
        if (s.kind !== 'MAP') return { name: s.name, namespace, value: st, userKey: undefined, userValue: undefined };
        if (!(st instanceof MapSerializer)) throw new CorruptCheckpointError(file, `MAP state '${s.name}' has the serializer '${st.typeId}', not a map serializer`);
        const ms = st as MapSerializer<unknown, unknown>;
        return { name: s.name, namespace, value: undefined, userKey: ms.keySerializer, userValue: ms.valueSerializer };
      });
    } catch (e) {
      wrapDecodeError(e, file);
    }
  }

  /** Decodes (and drops) every record of a block; throws on the first that does not decode exactly. */
  decodeBlock(block: KeyGroupBlock): void {
    const at = (view: Uint8Array) => block.offset + (view.byteOffset - block.bytes.byteOffset);
    for (const r of block.records) {
      const s = this.states[r.stateIndex]!;
      decodeExact(this.key, r.key, this.file, at(r.key), `key of '${s.name}'`);
      decodeExact(s.namespace, r.namespace, this.file, at(r.namespace), `namespace of '${s.name}'`);
      if (s.value !== undefined) {
        decodeExact(s.value, r.value!, this.file, at(r.value!), `value of '${s.name}'`);
      } else {
        decodeExact(s.userKey!, r.userKey!, this.file, at(r.userKey!), `user key of '${s.name}'`);
        if (r.value !== null) decodeExact(s.userValue!, r.value, this.file, at(r.value), `user value of '${s.name}'`);
      }
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
