import { strict as assert } from 'node:assert';
import { it } from 'node:test';
import { CONFORMANCE_GROUPS } from '../src/cases/index.js';
import { caseSeed, caseSeeds } from '../src/harness/prng.js';
import { conformanceGroup } from '../src/registry.js';

const run = async (): Promise<void> => {};

it('a group refuses two cases of the same name, and keeps distinct ones in order', () => {
  assert.throws(() => conformanceGroup('g', [{ name: 'a', run }, { name: 'b', run }, { name: 'a', run }]), /conformance group 'g' has two cases named 'a'/);
  assert.deepEqual(conformanceGroup('g', [{ name: 'b', run }, { name: 'a', run }]).cases.map((c) => c.name), ['b', 'a']);
});

it("a default seed already used by a registered case is refused; a new one is not", () => {
  assert.ok(CONFORMANCE_GROUPS.length > 0, 'the cases (and their seeds) are loaded');
  assert.throws(() => caseSeed(0x5eed0801), /two conformance cases have the default seed 0x5eed0801/);
  assert.throws(() => caseSeeds({ fresh: 0x7e570001, taken: 0x5eed0901 }), /seed 0x5eed0901/);
  const env = process.env['FLOWSTATE_CONFORMANCE_SEED'];
  assert.equal(caseSeed(0x7e570002), env === undefined || env === '' ? 0x7e570002 : Number(env) >>> 0);
});
