/**
 * The test registry's invariants that its consumers rely on: ids are unique (they name tests, seeds
 * and bench rows), the bench's storage ratios need 'local' first, and an on-disk backend keeps its
 * files where the suite tells it to (the matrix removes that directory afterwards).
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { computeKeyGroupRangeForOperatorIndex, Serializers } from '@flowstate/core';
import { ALL_CONSUMERS, BACKENDS, backendById, backendsFor, STORAGES, storagesFor } from '@flowstate/test-registry';

describe('test registry', () => {
  it('has unique backend and storage ids, and every consumer runs at least one of each it iterates', () => {
    assert.equal(new Set(BACKENDS.map((b) => b.id)).size, BACKENDS.length);
    assert.equal(new Set(STORAGES.map((s) => s.id)).size, STORAGES.length);
    for (const c of ALL_CONSUMERS) assert.ok(backendsFor(c).length > 0, c);
    assert.equal(storagesFor('bench')[0]?.id, 'local', 'bench storage ratios are relative to the first row');
  });

  it('names the known ids when an id is unknown', () => {
    assert.throws(() => backendById('nope'), /unknown backend 'nope' \(known: .*rocksdb/);
  });

  it('creates on-disk backends under the localDirectory it is given', async () => {
    for (const b of BACKENDS.filter((x) => x.needsLocalDirectory)) {
      const dir = mkdtempSync(join(tmpdir(), `flowstate-registry-${b.id}-`));
      try {
        const kb = await b.create({ localDirectory: dir }).createKeyedStateBackend({
          operatorIdentifier: 'op',
          keySerializer: Serializers.string,
          maxParallelism: 8,
          keyGroupRange: computeKeyGroupRangeForOperatorIndex(8, 1, 0),
        });
        assert.notDeepEqual(readdirSync(dir), [], `${b.id} wrote nothing under ${dir}`);
        kb.dispose();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});
