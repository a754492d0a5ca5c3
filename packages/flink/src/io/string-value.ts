import type { JavaDataInput } from './java-input.js';
import type { JavaDataOutput } from './java-output.js';

/**
 * Flink's own string encoding (types/StringValue.writeString, used by StringSerializer): the
 * length + 1 (0 = null) as 7-bit groups low first, then every UTF-16 unit the same way.
 */
export function readStringValue(input: JavaDataInput): string | null {
  const at = input.position;
  const lenPlus1 = readVarChar(input, 5);
  if (lenPlus1 === 0) return null;
  const len = lenPlus1 - 1;
  // Every UTF-16 unit takes at least one byte: bound the length by what is left.
  if (len > input.remaining) input.fail(`string length ${len} exceeds the ${input.remaining} bytes left`, at);
  // A unit below 0x80 is one byte of its own value: such strings (most keys) need no unit-by-unit decoding.
  return input.readAsciiChars(len) ?? readStringUnits(input, len);
}

/** `len` UTF-16 units, each as 7-bit groups low first (the general path of readStringValue). */
export function readStringUnits(input: JavaDataInput, len: number): string {
  const units = new Array<number>(len);
  for (let i = 0; i < len; i++) {
    const c = readVarChar(input, 3);
    if (c > 0xffff) input.fail('string character exceeds 16 bits');
    units[i] = c;
  }
  let s = '';
  for (let k = 0; k < len; k += 4096) s += String.fromCharCode(...units.slice(k, k + 4096));
  return s;
}

function readVarChar(input: JavaDataInput, maxBytes: number): number {
  let v = 0;
  let shift = 0;
  for (let i = 0; i < maxBytes; i++) {
    const b = input.readUnsignedByte();
    v += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return v;
    shift += 7;
  }
  return input.fail('variable-length integer too long');
}

function writeVarChar(out: JavaDataOutput, v: number): void {
  while (v >= 0x80) {
    out.writeByte((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.writeByte(v);
}

export function writeStringValue(out: JavaDataOutput, s: string | null): void {
  if (s === null) return out.writeByte(0);
  writeVarChar(out, s.length + 1);
  for (let i = 0; i < s.length; i++) writeVarChar(out, s.charCodeAt(i));
}
