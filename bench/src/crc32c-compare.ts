/**
 * CRC32C implementations side by side (issue 16, session 14): `@flowstate/crc32c`'s (the addon in
 * this process, see `crc32cImplementation`) against `@node-rs/crc32`, over 64 MiB of random bytes
 * in calls of several sizes. Prints the best of `rounds` per implementation and call size.
 *   node bench/dist/crc32c-compare.js [rounds, default 7]
 */
import { randomBytes } from 'node:crypto';
import { crc32c as nodeRsCrc32c } from '@node-rs/crc32';
import { crc32c, crc32cImplementation } from '@flowstate/core';

const rounds = Number(process.argv[2] ?? 7);
if (!Number.isSafeInteger(rounds) || rounds < 1) {
  console.error('usage: node bench/dist/crc32c-compare.js [rounds ≥ 1]');
  process.exit(2);
}
const data = randomBytes(64 << 20);
const sides: Array<[string, (b: Uint8Array) => number]> = [
  [`@flowstate/crc32c (${crc32cImplementation.name})`, (b) => crc32c(b)],
  ['@node-rs/crc32', (b) => nodeRsCrc32c(b as Buffer)],
];
if (sides[0]![1](data) !== sides[1]![1](data)) throw new Error('the implementations disagree');
for (const chunk of [64 << 20, 512 << 10, 64 << 10, 4 << 10]) {
  const best = sides.map(([, f]) => {
    let min = Infinity;
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      for (let at = 0; at < data.length; at += chunk) f(data.subarray(at, at + chunk));
      min = Math.min(min, performance.now() - t0);
    }
    return min;
  });
  console.log(`${(chunk / 1024).toFixed(0).padStart(6)} KiB calls: ${sides.map(([name], i) => `${name} ${best[i]!.toFixed(2)} ms`).join(', ')} per 64 MiB (${(best[1]! / best[0]!).toFixed(2)}×)`);
}
