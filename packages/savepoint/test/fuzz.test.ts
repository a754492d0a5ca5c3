import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { FlowstateError } from '@flowstate/core';
import { convertSavepoint, rescaleSavepoint, validateSavepoint } from '../src/index.js';
import { prng } from './fixture-data.js';
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
    let bytes = Buffer.from(original.get(target)!);
    const kind = int(4);
    let what: string;
    if (kind === 0) {
      const n = 1 + int(4);
      for (let k = 0; k < n; k++) if (bytes.length > 0) bytes[int(bytes.length)]! ^= 1 << int(8);
      what = `${n} bit flip(s)`;
    } else if (kind === 1) {
      const len = int(bytes.length);
      bytes = bytes.subarray(0, len);
      what = `truncate to ${len}`;
    } else if (kind === 2) {
      const at = int(bytes.length + 1);
      const from = int(all.length);
      const n = 1 + int(Math.min(64, all.length - from));
      bytes = Buffer.concat([bytes.subarray(0, at), all.subarray(from, from + n), bytes.subarray(at + (int(2) === 0 ? n : 0))]);
      what = `splice ${n} bytes at ${at}`;
    } else {
      const at = int(bytes.length);
      const n = 1 + int(8);
      for (let k = 0; k < n && at + k < bytes.length; k++) bytes[at + k] = int(256);
      what = `${n} random bytes at ${at}`;
    }
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
