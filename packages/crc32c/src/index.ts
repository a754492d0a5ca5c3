import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { types } from 'node:util';

/**
 * Which code computes `crc32c` in this process:
 * - `'sse4.2-three-lanes'`: this package's addon (x86-64 with SSE4.2), about 2× `@node-rs/crc32`
 *   on large inputs;
 * - `'@node-rs/crc32'`: everywhere else, or when the addon does not load, or when
 *   `FLOWSTATE_CRC32C=@node-rs/crc32` asks for it.
 */
export type Crc32cImplementationName = 'sse4.2-three-lanes' | '@node-rs/crc32';

export interface Crc32cImplementation {
  readonly name: Crc32cImplementationName;
  /** Why the addon is not used (absent when it is). */
  readonly fallbackReason?: string;
  /** The addon file in use (absent for the fallback). */
  readonly file?: string;
  /**
   * Whether `crc32cRanges` computes on a libuv pool thread (the addon), or on the calling thread
   * before it returns (the fallback, or an addon built before crc32cRanges existed).
   */
  readonly rangesOnPool: boolean;
}

interface Addon {
  readonly accelerated: boolean;
  readonly crc32c?: (bytes: Uint8Array, previous: number) => number;
  readonly crc32cRanges?: ComputeRanges;
}

const ADDON = 'flowstate_crc32c.node';
const FALLBACK: Crc32cImplementationName = '@node-rs/crc32';

/** A build from source wins over the prebuilt one shipped in the package. */
function addonCandidates(): string[] {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  return [`${root}build/Release/${ADDON}`, `${root}prebuilds/${process.platform}-${process.arch}/${ADDON}`];
}

/** FLOWSTATE_CRC32C: unset (the addon where it loads) or '@node-rs/crc32' (always the fallback). */
function fallbackRequested(): boolean {
  const v = process.env['FLOWSTATE_CRC32C'];
  if (v === undefined || v === '') return false;
  if (v === FALLBACK) return true;
  process.emitWarning(`FLOWSTATE_CRC32C='${v}' is not a known value (unset, or '${FALLBACK}'); ignored`, { code: 'FLOWSTATE_CRC32C_UNKNOWN' });
  return false;
}

type Compute = (bytes: Uint8Array, previous: number) => number;
type ComputeRanges = (bytes: Uint8Array, bounds: Float64Array) => Promise<Uint32Array>;

/** The first candidate that loads and is accelerated; otherwise why none is. */
function loadAddon(): { readonly compute?: Compute; readonly computeRanges?: ComputeRanges; readonly implementation: Crc32cImplementation } {
  if (fallbackRequested()) return { implementation: { name: FALLBACK, fallbackReason: `FLOWSTATE_CRC32C=${FALLBACK}`, rangesOnPool: false } };
  const reasons: string[] = [];
  for (const file of addonCandidates()) {
    if (!existsSync(file)) continue;
    let addon: Addon;
    try {
      addon = createRequire(import.meta.url)(file) as Addon;
    } catch (e) {
      reasons.push(`${file} does not load: ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    if (!addon.accelerated || addon.crc32c === undefined) return { implementation: { name: FALLBACK, fallbackReason: 'this CPU has no SSE4.2 crc32 instruction', rangesOnPool: false } };
    // An addon built before crc32cRanges existed still serves crc32c; its ranges are then computed here.
    if (addon.crc32cRanges === undefined) return { compute: addon.crc32c, implementation: { name: 'sse4.2-three-lanes', file, rangesOnPool: false } };
    return { compute: addon.crc32c, computeRanges: addon.crc32cRanges, implementation: { name: 'sse4.2-three-lanes', file, rangesOnPool: true } };
  }
  return { implementation: { name: FALLBACK, fallbackReason: reasons.length > 0 ? reasons.join('; ') : `no addon built for ${process.platform}-${process.arch}`, rangesOnPool: false } };
}

const loaded = loadAddon();
const compute = loaded.compute ?? fallbackCrc32c;

/** What computes `crc32c` in this process, and why when it is the fallback. */
export const crc32cImplementation: Crc32cImplementation = loaded.implementation;

/** @node-rs/crc32, loaded on first use: where the addon serves, its own binary is never needed. */
let nodeRs: Compute | undefined;

function fallbackCrc32c(data: Uint8Array, previous: number): number {
  nodeRs ??= (createRequire(import.meta.url)('@node-rs/crc32') as { crc32c: Compute }).crc32c;
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return nodeRs(buf, previous) >>> 0;
}

/**
 * CRC32C (Castagnoli) of `data`, continuing `previous` (the CRC32C of the bytes before it; 0 to
 * start): `crc32c(b, crc32c(a)) === crc32c(a ++ b)`. Unsigned 32-bit.
 */
export function crc32c(data: Uint8Array, previous = 0): number {
  if (data.length === 0) return previous >>> 0;
  return compute(data, previous >>> 0);
}

/**
 * The CRC32C of each range `[bounds[k], bounds[k + 1])` of `data` (k from 0 to bounds.length - 2),
 * computed on a libuv pool thread where the addon serves, so that checking a large read does not
 * hold up the main thread: `result[k] === crc32c(data.subarray(bounds[k], bounds[k + 1]))`. Do not
 * modify or transfer `data` until the promise settles. With the fallback the CRCs are computed
 * before this returns (`crc32cImplementation.rangesOnPool` tells which). `bounds` must ascend,
 * whole numbers within `[0, data.length]`, at least one of them: anything else, or bytes that are
 * not a Uint8Array, is a programmer error (TypeError).
 */
export function crc32cRanges(data: Uint8Array, bounds: Float64Array): Promise<Uint32Array> {
  if (loaded.computeRanges !== undefined) return loaded.computeRanges(data, bounds);
  checkBounds(data, bounds);
  const crcs = new Uint32Array(bounds.length - 1);
  for (let k = 0; k < crcs.length; k++) crcs[k] = crc32c(data.subarray(bounds[k]!, bounds[k + 1]!));
  return Promise.resolve(crcs);
}

/** The addon's own checks, for the fallback: the same TypeError on the same bounds. */
function checkBounds(data: Uint8Array, bounds: Float64Array): void {
  // util.types, not instanceof: the addon takes typed arrays of any realm (vm contexts).
  if (!types.isUint8Array(data)) throw new TypeError('crc32cRanges(bytes: Uint8Array, bounds: Float64Array) expected');
  let ok = types.isFloat64Array(bounds) && bounds.length > 0;
  for (let k = 0; ok && k < bounds.length; k++) {
    const v = bounds[k]!;
    ok = Number.isInteger(v) && v >= 0 && v <= data.length && (k === 0 || v >= bounds[k - 1]!);
  }
  if (!ok) throw new TypeError('crc32cRanges: bounds must be a non-empty Float64Array of ascending whole numbers within the bytes');
}
