/**
 * Interleaved timing of a subject and its baselines in one process: short rounds, the sides
 * alternating within each round (subject first in even rounds, baseline first in odd ones), one
 * ratio per round. On a shared machine a neighbour's burst, a GC or a frequency change then falls
 * on both sides of a round, or spoils one round's ratio instead of a whole side's median; the
 * report gives the median of the per-round ratios and their p25–p75.
 *
 * Running each side in its own block (tinybench's task after task) let the same code measure
 * 0.26× on one backend and 0.93× on its twin in the same run (issue 16).
 *
 * Garbage collection (with `collect`, a minor GC): a young-generation collection costs about as much
 * as the survivors it copies, so in short rounds whichever side happened to fill the young
 * generation paid for both (listAddAll: one side 5× slower in every other round, at random). So
 * each side's timed part ends by collecting the young generation twice (the second promotes what
 * survived the first): every side starts with an empty young generation and pays for exactly its
 * own garbage and survivors. The cost of the two collections on an empty young generation
 * (measured once, the median of 15) is subtracted, as neither side causes it. Resets run outside
 * timing and are collected outside timing too.
 */
import { summarize, type Summary } from './stats.js';

/** One side: a batch of operations, and an optional reset run after each batch, outside timing. */
export interface Side {
  readonly run: () => void;
  readonly reset?: () => void;
  /**
   * A side that times itself, e.g. in another process (plain C++ RocksDB): runs `batches` batches
   * and returns their length in ms on its own clock; `run` and `reset` are then not used.
   */
  readonly runTimed?: (batches: number) => number;
}

/** Puts a shared key sequence back, so that every side of a round touches the same keys in the same order. */
export interface Rewindable {
  save(): number;
  restore(position: number): void;
}

export interface InterleaveOptions {
  /** The clock, in ms (process CPU time for single-threaded subjects, wall time otherwise). */
  readonly clock: () => number;
  /** Operations per batch (a side's `run`). */
  readonly opsPerBatch: number;
  /** Target timed length of one side's part of a round. */
  readonly roundMs: number;
  /** Timed budget: rounds run until the first two sides (subject and baseline) have taken 2 × timeMs together, and at least minRounds. */
  readonly timeMs: number;
  readonly minRounds: number;
  /** Untimed warm-up per side (alternating), also used to size the rounds. */
  readonly warmupMs: number;
  readonly warmupBatches: number;
  readonly keys?: Rewindable;
  /** A minor (young-generation) GC, e.g. `gc({ type: 'minor' })` under --expose-gc; without it GC falls where it falls. */
  readonly collect?: () => void;
}

export interface InterleavedResult {
  /** Per side: ops/s of every kept round (the same rounds for every side). */
  readonly opsPerSec: readonly number[][];
  /** Rounds run, kept or not. */
  readonly rounds: number;
  /**
   * Rounds left out because a side's net time (after subtracting the collections' fixed cost) was
   * ≤ 0: its ops/s would be a huge number from noise, not a measurement (tiny batches of the smoke preset).
   */
  readonly skippedRounds: number;
}

/** No comparison may run forever on a clock that does not advance (e.g. a coarse CPU clock). */
const MAX_ROUNDS = 100_000;

/** Collects the young generation twice: what survived the first collection is promoted by the second. */
function collectYoung(collect: () => void): void {
  collect();
  collect();
}

/**
 * Runs `batches` batches of a side; returns their timed length in ms (resets excluded; with
 * `collect`, the collection of the side's own garbage included, its fixed cost `emptyMs` excluded).
 */
function timeBatches(side: Side, batches: number, o: InterleaveOptions, emptyMs: number): number {
  const { clock, collect } = o;
  if (side.runTimed) return side.runTimed(batches);
  if (side.reset === undefined) {
    const t0 = clock();
    for (let i = 0; i < batches; i++) side.run();
    if (collect) collectYoung(collect);
    return clock() - t0 - (collect ? emptyMs : 0);
  }
  let timed = 0;
  for (let i = 0; i < batches; i++) {
    const t0 = clock();
    side.run();
    if (collect) collectYoung(collect);
    timed += clock() - t0 - (collect ? emptyMs : 0);
    side.reset();
    if (collect) collectYoung(collect);
  }
  return timed;
}

/** The time collectYoung takes on an empty young generation (median of 15), in ms; 0 without `collect`. */
function emptyCollectMs(o: InterleaveOptions): number {
  const collect = o.collect;
  if (collect === undefined) return 0;
  collectYoung(collect);
  const xs: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t0 = o.clock();
    collectYoung(collect);
    xs.push(o.clock() - t0);
  }
  return summarize(xs).median;
}

/** The order of the sides in round `r`: the first two swap every round, the others follow. */
function order(n: number, r: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  if (n >= 2 && r % 2 === 1) [idx[0], idx[1]] = [idx[1]!, idx[0]!];
  return idx;
}

/** One round: every side runs `batches` batches, each starting from the same keys. Returns each side's timed ms. */
function round(sides: readonly Side[], batches: number, r: number, o: InterleaveOptions, emptyMs: number): number[] {
  const ms = sides.map(() => 0);
  const pos = o.keys?.save();
  for (const s of order(sides.length, r)) {
    if (pos !== undefined) o.keys!.restore(pos);
    ms[s] = timeBatches(sides[s]!, batches, o, emptyMs);
  }
  return ms;
}

/**
 * Warms every side up (one batch each per round, alternating) and returns the batches per round:
 * the same for every side (same keys, same work), enough for the slower of the first two to fill `roundMs`.
 */
function warmUp(sides: readonly Side[], o: InterleaveOptions): number {
  const timed = sides.map(() => 0);
  let r = 0;
  // Without collections: a batch's own time sizes the rounds (a collection costs more than some batches).
  const bare = { ...o, collect: undefined };
  for (; r < MAX_ROUNDS && (r < o.warmupBatches || timed[0]! + timed[1]! < 2 * o.warmupMs); r++) round(sides, 1, r, bare, 0).forEach((ms, s) => (timed[s]! += ms));
  const perBatch = Math.max(...timed.slice(0, 2)) / Math.max(r, 1);
  return Math.max(1, Math.round(o.roundMs / Math.max(perBatch, 1e-3)));
}

/** Times `sides` (at least two: subject, baseline, then any information-only ones) in interleaved rounds. */
export function runInterleaved(sides: readonly Side[], o: InterleaveOptions): InterleavedResult {
  if (sides.length < 2) throw new Error('an interleaved comparison needs a subject and a baseline');
  const emptyMs = emptyCollectMs(o);
  const batches = warmUp(sides, o);
  if (o.collect) collectYoung(o.collect);
  const opsPerSec: number[][] = sides.map(() => []);
  const total = sides.map(() => 0);
  let r = 0;
  let skippedRounds = 0;
  for (; r < MAX_ROUNDS && (r < o.minRounds || total[0]! + total[1]! < 2 * o.timeMs); r++) {
    const ms = round(sides, batches, r, o, emptyMs);
    // The budget counts the collections' fixed cost too: net times of tiny batches (the smoke
    // preset) can be about zero, and a budget of net time would then never run out.
    ms.forEach((m, s) => (total[s]! += Math.max(m, 0) + (o.collect ? emptyMs * (sides[s]!.reset ? batches : 1) : 0)));
    if (ms.some((m) => m <= 0)) {
      skippedRounds++;
      continue;
    }
    ms.forEach((m, s) => opsPerSec[s]!.push((batches * o.opsPerBatch * 1000) / m));
  }
  return { opsPerSec, rounds: r, skippedRounds };
}

/** Per-round ratios of side `a` to side `b` (same rounds), summarized: median and p25–p75. */
export function roundRatios(res: InterleavedResult, a: number, b: number): Summary {
  const xs = res.opsPerSec[a]!;
  const ys = res.opsPerSec[b]!;
  return summarize(xs.map((x, i) => x / ys[i]!));
}
