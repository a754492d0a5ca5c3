import type { JavaDataInput } from '../io/java-input.js';

const OPTIONAL_MAP_HEADER = 0x4f2c69a3d70n;

export interface OptionalMapEntry {
  readonly name: string;
  /** The framed key / value bytes; null when absent (class no longer loadable in Java). */
  readonly key: JavaDataInput | null;
  readonly value: JavaDataInput | null;
}

/** LinkedOptionalMapSerializer: header, i32 n, n x (UTF name, [bool, i32 len, key], [bool, i32 len, value]). */
export function readOptionalMap(input: JavaDataInput, what: string): OptionalMapEntry[] {
  const at = input.position;
  if (input.readLong() !== OPTIONAL_MAP_HEADER) input.fail(`bad ${what} map header`, at);
  const n = input.readCount(`${what} map size`, 4);
  const out: OptionalMapEntry[] = [];
  for (let i = 0; i < n; i++) {
    const name = input.readUTF();
    const key = input.readBoolean() ? input.slice(input.readCount(`${what} key frame`), `${what} key`) : null;
    const value = input.readBoolean() ? input.slice(input.readCount(`${what} value frame`), `${what} value`) : null;
    out.push({ name, key, value });
  }
  return out;
}
