/** Big-endian int32s that, written over a length or count, ask for an allocation of up to 2 GiB. */
const HUGE = [0x7fffffff, 0x40000000, 0x10000000, 0x01000000, -1];

/**
 * Mutations of a file's bytes for the fuzz tests: bit flips, a truncation, a splice of bytes from
 * elsewhere in the savepoint (a length or offset that points at real data), random bytes, or
 * (with `huge`) a huge int32 over what may be a length or count.
 */
export function mutate(original: Uint8Array, all: Uint8Array, int: (n: number) => number, huge = false): { bytes: Uint8Array; what: string } {
  let bytes = Buffer.from(original);
  const kind = int(huge ? 5 : 4);
  if (kind === 4 && bytes.length >= 4) {
    const at = int(bytes.length - 3);
    const v = HUGE[int(HUGE.length)]!;
    bytes.writeInt32BE(v, at);
    return { bytes, what: `int32 ${v} at ${at}` };
  }
  if (kind === 0) {
    const n = 1 + int(4);
    for (let k = 0; k < n; k++) if (bytes.length > 0) bytes[int(bytes.length)]! ^= 1 << int(8);
    return { bytes, what: `${n} bit flip(s)` };
  }
  if (kind === 1) {
    const len = int(bytes.length);
    return { bytes: bytes.subarray(0, len), what: `truncate to ${len}` };
  }
  if (kind === 2) {
    const at = int(bytes.length + 1);
    const from = int(all.length);
    const n = 1 + int(Math.min(64, all.length - from));
    bytes = Buffer.concat([bytes.subarray(0, at), all.subarray(from, from + n), bytes.subarray(at + (int(2) === 0 ? n : 0))]);
    return { bytes, what: `splice ${n} bytes at ${at}` };
  }
  const at = int(bytes.length);
  const n = 1 + int(8);
  for (let k = 0; k < n && at + k < bytes.length; k++) bytes[at + k] = int(256);
  return { bytes, what: `${n} random bytes at ${at}` };
}
