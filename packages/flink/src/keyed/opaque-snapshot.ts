import { FlowstateError } from '@flowstate/core';
import { FlinkUnknownSnapshotClassError } from '../errors.js';
import type { JavaDataInput } from '../io/java-input.js';
import { opaqueSerializer } from '../serializers/composite.js';
import type { FlinkSerializerSnapshot } from '../serializers/types.js';

/** Header bytes an unknown snapshot may span: past this the scan for its end is not tried. */
const MAX_OPAQUE_SCAN_BYTES = 1024 * 1024;
/** Bytes all attempts of one scan may read together: a hostile header cannot make it quadratic. */
const MAX_SCAN_WORK_BYTES = 16 * 1024 * 1024;

/**
 * Reads a serializer snapshot (`read`) and, when its class (or a class nested in it) has no reader,
 * carries it as opaque bytes. Flink's snapshot payloads carry no length, so the end is found from
 * the other side: `headerEnd` (where the stream says its header ends, e.g. the first key-group
 * offset) and `rest` (reads everything after this snapshot up to the end of the header). The
 * payload ends at the one position from which `rest` parses exactly to `headerEnd`; none or
 * several such positions is the original error (the class must then be registered). Without an
 * unknown class `rest` is not called (the caller reads on); with one, `rest` is its result.
 */
export function readOrCarry<T>(
  input: JavaDataInput,
  headerEnd: number | undefined,
  read: () => FlinkSerializerSnapshot,
  rest: () => T,
): { snapshot: FlinkSerializerSnapshot; rest?: T } {
  const start = input.position;
  try {
    return { snapshot: read() };
  } catch (e) {
    if (!(e instanceof FlinkUnknownSnapshotClassError) || headerEnd === undefined || headerEnd - start > MAX_OPAQUE_SCAN_BYTES) throw e;
    input.position = start;
    if (input.readInt() !== 2) throw e;
    const className = input.readUTF();
    const version = input.readInt();
    const payloadStart = input.position;
    let found: { end: number; rest: T } | undefined;
    let work = 0;
    for (let end = payloadStart; end <= headerEnd; end++) {
      input.position = end;
      let parsed: T;
      try {
        parsed = rest();
      } catch (err) {
        if (!(err instanceof FlowstateError)) throw err;
        if ((work += input.position - end + 1) > MAX_SCAN_WORK_BYTES) throw e;
        continue;
      }
      if ((work += input.position - end + 1) > MAX_SCAN_WORK_BYTES) throw e;
      if (input.position !== headerEnd) continue;
      if (found !== undefined) throw e;
      found = { end, rest: parsed };
    }
    if (found === undefined) throw e;
    input.position = headerEnd;
    const snapshot: FlinkSerializerSnapshot = {
      className,
      version,
      // A copy, as in the registry: the stream may be released while the header lives on.
      payload: input.bytes.slice(payloadStart, found.end),
      nested: [],
      config: { opaque: true, unknownClass: e.className },
      serializer: opaqueSerializer(className),
    };
    return { snapshot, rest: found.rest };
  }
}
