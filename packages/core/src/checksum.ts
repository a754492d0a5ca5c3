/**
 * CRC32C (Castagnoli) from @flowstate/crc32c: its three-lane SSE4.2 addon where the CPU has the
 * instruction, @node-rs/crc32 elsewhere. Every file a checkpoint writes records this checksum in
 * its handle, and restore verifies it before trusting the bytes. `previous` continues a running
 * checksum over several chunks.
 */
export { crc32c, crc32cImplementation, crc32cRanges, type Crc32cImplementation, type Crc32cImplementationName } from '@flowstate/crc32c';

export function formatChecksum(value: number): string {
  return value.toString(16).padStart(8, '0');
}

/** CRC32C's reflected polynomial. */
const CASTAGNOLI = 0x82f63b78;

function gf2Times(mat: Uint32Array, vec: number): number {
  let sum = 0;
  for (let i = 0; vec !== 0; i++, vec >>>= 1) if (vec & 1) sum ^= mat[i]!;
  return sum >>> 0;
}

function gf2Square(square: Uint32Array, mat: Uint32Array): void {
  for (let n = 0; n < 32; n++) square[n] = gf2Times(mat, mat[n]!);
}

/** ZERO_OPERATORS[k]: the GF(2) matrix that appends 2^k zero bytes to a CRC32C (built on first use). */
let zeroOperators: Uint32Array[] | undefined;

function zeroByteOperators(): Uint32Array[] {
  if (zeroOperators !== undefined) return zeroOperators;
  // The operator for one zero bit, squared three times: one zero byte.
  let op = new Uint32Array(32);
  op[0] = CASTAGNOLI;
  for (let n = 1, row = 1; n < 32; n++, row <<= 1) op[n] = row >>> 0;
  for (let i = 0; i < 3; i++) {
    const sq = new Uint32Array(32);
    gf2Square(sq, op);
    op = sq;
  }
  const ops: Uint32Array[] = [op];
  // Lengths below 2^53.
  for (let k = 1; k < 53; k++) {
    const sq = new Uint32Array(32);
    gf2Square(sq, ops[k - 1]!);
    ops.push(sq);
  }
  zeroOperators = ops;
  return ops;
}

/**
 * The CRC32C of A followed by B, from crc(A), crc(B) and B's length (zlib's crc32_combine, for
 * CRC32C): a stream whose blocks already carry their own checksum gets the whole file's in
 * O(log n) instead of reading every byte a second time.
 */
export function crc32cCombine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB <= 0) return crcA >>> 0;
  const ops = zeroByteOperators();
  let crc = crcA >>> 0;
  let len = lengthB;
  for (let k = 0; len > 0; k++, len = Math.floor(len / 2)) if (len % 2 === 1) crc = gf2Times(ops[k]!, crc);
  return (crc ^ crcB) >>> 0;
}
