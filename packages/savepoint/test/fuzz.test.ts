import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { FlowstateError } from '@flowstate/core';
import { convertSavepoint, rescaleSavepoint, validateSavepoint } from '../src/index.js';
import { prng } from './fixture-data.js';
import { flinkFixturesSkip, fuzzFlink } from './flink-fuzz.js';
import { mutate } from './mutate.js';
import { cleanup, FIXTURE_V1, readEverything, replaceFileResealed, resealMetadataFrame, tempDir } from './helpers.js';

const ITERATIONS = Number(process.env.FLOWSTATE_FUZZ_ITERATIONS ?? 300);
const SEED = Number(process.env.FLOWSTATE_FUZZ_SEED ?? 0x5eed1);
const root = tempDir('flowstate-fuzz-');
after(() => cleanup(root));

/**
 * Mutates the v1 fixture (bit flips, truncations, extensions, splices of bytes from elsewhere in
 * the savepoint) and reads everything back. Half of the mutations re-seal the checksums the
 * metadata holds, so the decoders behind the checksums see the damage too. Every outcome must be
 * either the original content or a FlowstateError (with re-sealed checksums, also a different but
 * well-formed savepoint, which no checksum can catch); anything else (TypeError, RangeError,
 * AssertionError, a hang) fails the test with the seed and iteration that reproduce it.
 */
it(`fuzz: ${ITERATIONS} mutated savepoints read back identically or fail with a typed error`, { timeout: Math.max(120_000, ITERATIONS * 200) }, async () => {
  console.log(`fuzz: seed ${SEED}, ${ITERATIONS} iterations (FLOWSTATE_FUZZ_SEED / FLOWSTATE_FUZZ_ITERATIONS to change)`);
  const files = readdirSync(FIXTURE_V1).sort();
  const original = new Map(files.map((f) => [f, readFileSync(join(FIXTURE_V1, f))]));
  const all = Buffer.concat([...original.values()]);
  const baseline = await readEverything(FIXTURE_V1);
  const rand = prng(SEED);
  const int = (n: number) => Math.floor(rand() * n);
  const outcomes = { identical: 0, differentButWellFormed: 0, typed: new Map<string, number>() };

  for (let i = 0; i < ITERATIONS; i++) {
    const dir = join(root, String(i));
    mkdirSync(dir);
    for (const [f, b] of original) writeFileSync(join(dir, f), b);
    const target = files[int(files.length)]!;
    const { bytes, what } = mutate(original.get(target)!, all, int);
    const reseal = int(2) === 0;
    if (target === '_metadata') writeFileSync(join(dir, target), reseal ? resealMetadataFrame(bytes) : bytes);
    else if (reseal) replaceFileResealed(dir, target, bytes);
    else writeFileSync(join(dir, target), bytes);

    const context = `iteration ${i} (seed ${SEED}): ${what} in ${target}${reseal ? ', checksums re-sealed' : ''}`;
    let readError: FlowstateError | undefined;
    try {
      const content = await readEverything(dir);
      if (content === baseline) outcomes.identical++;
      // Behind re-sealed checksums a mutation can be a different but well-formed savepoint (a
      // changed value, say); that cannot be detected and must merely decode without crashing.
      else if (reseal) outcomes.differentButWellFormed++;
      else assert.fail(`${context}: read succeeded with different content although no checksum was re-sealed`);
    } catch (e) {
      if (!(e instanceof FlowstateError)) assert.fail(`${context}: untyped ${String((e as Error)?.stack ?? e)}`);
      outcomes.typed.set(e.code, (outcomes.typed.get(e.code) ?? 0) + 1);
      readError = e;
    }
    try {
      const report = await validateSavepoint(dir);
      // What validate calls valid, the reader must read (validation decodes every entry).
      if (report.ok && readError !== undefined) assert.fail(`${context}: validate reports a valid savepoint, but reading it fails: ${readError.message}`);
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      assert.fail(`${context}: validate threw ${String((e as Error)?.stack ?? e)}`);
    }
    // Every tenth input also goes through the rewrite paths (verified copy and re-partitioning).
    if (i % 10 === 0) {
      for (const [name, op] of [
        // Outputs next to the input: an output inside the input savepoint is refused.
        ['convert', () => convertSavepoint(dir, `${dir}-converted`, 'canonical')],
        ['rescale', () => rescaleSavepoint(dir, `${dir}-rescaled`, { maxParallelism: 32, parallelism: 3 })],
      ] as const) {
        try {
          await op();
        } catch (e) {
          if (!(e instanceof FlowstateError)) assert.fail(`${context}: ${name} threw untyped ${String((e as Error)?.stack ?? e)}`);
        }
      }
    }
    cleanup(dir);
    cleanup(`${dir}-converted`);
    cleanup(`${dir}-rescaled`);
  }
  const typed = ITERATIONS - outcomes.identical - outcomes.differentButWellFormed;
  console.log(
    `fuzz: ${ITERATIONS} iterations: ${outcomes.identical} read back identically, ${typed} typed errors ${JSON.stringify(Object.fromEntries(outcomes.typed))}, ` +
      `${outcomes.differentButWellFormed} well-formed variants behind re-sealed checksums`,
  );
});

const FLINK_ITERATIONS = Number(process.env.FLOWSTATE_FLINK_FUZZ_ITERATIONS ?? Math.ceil(ITERATIONS / 3));

/**
 * The same mutations on Apache Flink's own savepoints and checkpoints (`_metadata` and state
 * streams): reading, inspecting, validating, diffing, converting and rescaling must fail with a
 * FlowstateError or succeed, never throw anything else, and never allocate by a mutated length.
 */
it(`fuzz: ${FLINK_ITERATIONS} mutated Apache Flink savepoints fail with typed errors only, in bounded memory`, { skip: flinkFixturesSkip, timeout: Math.max(120_000, FLINK_ITERATIONS * 400) }, async () => {
  const r = await fuzzFlink(root, FLINK_ITERATIONS, SEED, prng(SEED ^ 0xf11c));
  console.log(
    `fuzz (Apache Flink): seed ${SEED}, ${r.iterations} iterations (${r.metadataMutations} of _metadata, ${r.streamMutations} of state files; FLOWSTATE_FLINK_FUZZ_ITERATIONS to change): ` +
      `${r.readable} still readable, typed errors ${JSON.stringify(Object.fromEntries(r.typed))}, 0 untyped; peak growth within an iteration ${(r.peakGrowth / 1048576).toFixed(1)} MiB, largest single allocation ${r.largestAllocation} bytes`,
  );
  assert.equal(r.readable + [...r.typed.values()].reduce((a, b) => a + b, 0), r.iterations);
});
