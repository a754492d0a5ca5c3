/**
 * MurmurHash3 x64 128-bit (as Guava's Hashing.murmur3_128(seed)), returning the 16 bytes of
 * HashCode.asBytes(): h1 then h2, each little-endian. Flink's StreamGraphHasherV2 derives an
 * operator's ID from its uid this way (seed 0, the uid's UTF-8 bytes).
 */
const M64 = (1n << 64n) - 1n;
const C1 = 0x87c37b91114253d5n;
const C2 = 0x4cf5ad432745937fn;

function rotl(x: bigint, r: bigint): bigint {
  return ((x << r) | (x >> (64n - r))) & M64;
}

function fmix(k: bigint): bigint {
  k ^= k >> 33n;
  k = (k * 0xff51afd7ed558ccdn) & M64;
  k ^= k >> 33n;
  k = (k * 0xc4ceb9fe1a85ec53n) & M64;
  k ^= k >> 33n;
  return k;
}

function le64(b: Uint8Array, at: number, n = 8): bigint {
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[at + i]!);
  return v;
}

/** Guava's mixK1 / mixK2: multiply, rotate, multiply (the constants swap between the halves). */
function mixK(k: bigint, first: bigint, r: bigint, second: bigint): bigint {
  return (rotl((k * first) & M64, r) * second) & M64;
}

/** The block step of one half: rotate, add the other half, times 5 plus a constant. */
function mixH(h: bigint, other: bigint, r: bigint, add: bigint): bigint {
  return (((rotl(h, r) + other) & M64) * 5n + add) & M64;
}

const mixK1 = (k: bigint): bigint => mixK(k, C1, 31n, C2);
const mixK2 = (k: bigint): bigint => mixK(k, C2, 33n, C1);

export function murmur3_128(data: Uint8Array, seed = 0): Uint8Array {
  let h1 = BigInt(seed >>> 0);
  let h2 = h1;
  const nblocks = Math.floor(data.length / 16);
  for (let i = 0; i < nblocks; i++) {
    h1 = mixH(h1 ^ mixK1(le64(data, i * 16)), h2, 27n, 0x52dce729n);
    h2 = mixH(h2 ^ mixK2(le64(data, i * 16 + 8)), h1, 31n, 0x38495ab5n);
  }
  const tail = nblocks * 16;
  const rem = data.length - tail;
  if (rem > 8) h2 ^= mixK2(le64(data, tail + 8, rem - 8));
  if (rem > 0) h1 ^= mixK1(le64(data, tail, Math.min(rem, 8)));
  const len = BigInt(data.length);
  h1 ^= len;
  h2 ^= len;
  h1 = (h1 + h2) & M64;
  h2 = (h2 + h1) & M64;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h1 = (h1 + h2) & M64;
  h2 = (h2 + h1) & M64;
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[i] = Number((h1 >> BigInt(8 * i)) & 0xffn);
    out[8 + i] = Number((h2 >> BigInt(8 * i)) & 0xffn);
  }
  return out;
}

/** Flink's OperatorID of an operator with `.uid(uid)`, as the 32 hex digits `_metadata` stores. */
export function operatorIdFromUid(uid: string): string {
  return Buffer.from(murmur3_128(new TextEncoder().encode(uid), 0)).toString('hex');
}
