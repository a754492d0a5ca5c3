import { FlinkOpaqueSerializerError } from '../errors.js';

/**
 * Key groups exactly as Flink computes them (KeyGroupRangeAssignment, MathUtils): Java's
 * hashCode() of the key object, Flink's murmur finalizer of that int, modulo maxParallelism.
 */

/** MathUtils.murmurHash(int): one Murmur3 round plus fmix, made non-negative. */
export function flinkMurmurHash(code: number): number {
  let h = Math.imul(code | 0, 0xcc9e2d51);
  h = (h << 15) | (h >>> 17);
  h = Math.imul(h, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  h ^= 4;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  if (h >= 0) return h;
  return h !== -0x80000000 ? -h : 0;
}

/** KeyGroupRangeAssignment.computeKeyGroupForKeyHash. */
export function keyGroupForHash(javaHashCode: number, maxParallelism: number): number {
  return flinkMurmurHash(javaHashCode) % maxParallelism;
}

/** KeyGroupRangeAssignment.computeOperatorIndexForKeyGroup. */
export function operatorIndexForKeyGroup(maxParallelism: number, parallelism: number, keyGroup: number): number {
  return Math.floor((keyGroup * parallelism) / maxParallelism);
}

/** KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex: [start, end] inclusive. */
export function keyGroupRangeForOperator(maxParallelism: number, parallelism: number, index: number): { start: number; end: number } {
  return {
    start: Math.floor((index * maxParallelism + parallelism - 1) / parallelism),
    end: Math.floor(((index + 1) * maxParallelism - 1) / parallelism),
  };
}

/** Java's String.hashCode over UTF-16 code units. */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** Java's Long.hashCode. */
export function javaLongHash(v: bigint): number {
  const u = BigInt.asUintN(64, v);
  return Number(BigInt.asIntN(32, (u ^ (u >> 32n)) & 0xffffffffn));
}

const f64 = new DataView(new ArrayBuffer(8));
/** Java's Double.hashCode (doubleToLongBits: every NaN is canonical). */
export function javaDoubleHash(v: number): number {
  if (Number.isNaN(v)) return javaLongHash(0x7ff8000000000000n);
  f64.setFloat64(0, v);
  return javaLongHash(f64.getBigInt64(0));
}
/** Java's Float.hashCode (floatToIntBits). */
export function javaFloatHash(v: number): number {
  if (Number.isNaN(v)) return 0x7fc00000;
  f64.setFloat32(0, v);
  return f64.getInt32(0);
}

/** Java's List.hashCode / TupleN.hashCode fold: 31 * h + element. */
export function javaFoldHash(hashes: readonly number[], initial: number): number {
  let h = initial;
  for (const x of hashes) h = (Math.imul(h, 31) + x) | 0;
  return h;
}

/** Computes Java's hashCode of a decoded key; the serializer knows how (see FlinkTypeSerializer.javaHashCode). */
export function requireHash(hash: number | undefined, serializerClass: string): number {
  if (hash === undefined) throw new FlinkOpaqueSerializerError(undefined, serializerClass, "Java hashCode() of this key type is not known to flowstate (user code); its key group cannot be computed");
  return hash;
}
