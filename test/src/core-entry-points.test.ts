/**
 * `@flowstate/core`'s grouped entry points resolve through the package's `exports` map (a typo
 * there breaks only consumers, never the monorepo's own relative imports), and the root stays
 * their union plus the shared basics, so no import of the root breaks.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import * as root from '@flowstate/core';
import * as checkpoint from '@flowstate/core/checkpoint';
import * as kv from '@flowstate/core/kv';
import * as serialization from '@flowstate/core/serialization';
import * as spi from '@flowstate/core/spi';
import * as state from '@flowstate/core/state';
import * as storage from '@flowstate/core/storage';

const GROUPS = { state, spi, serialization, storage, checkpoint, kv } as const;
/** Root-only: cross-cutting helpers that belong to no group. */
const BASICS = ['crc32c', 'crc32cImplementation', 'crc32cCombine', 'crc32cRanges', 'formatChecksum', 'mulberry32', 'assert', 'AssertionError'];

describe('@flowstate/core entry points', () => {
  it('every group name is the very binding the root exports', () => {
    for (const [group, m] of Object.entries(GROUPS)) {
      for (const [name, value] of Object.entries(m)) assert.equal((root as Record<string, unknown>)[name], value, `${group}.${name}`);
    }
  });

  it('every root value belongs to a group or to the shared basics', () => {
    const grouped = new Set(Object.values(GROUPS).flatMap((m) => Object.keys(m)));
    const orphans = Object.keys(root).filter((n) => !grouped.has(n) && !BASICS.includes(n));
    assert.deepEqual(orphans, []);
  });

  it('groups what their names say', () => {
    assert.ok('ValueStateDescriptor' in state && 'VoidNamespace' in state);
    assert.ok('AbstractKeyedStateBackend' in spi && 'KeyGroupRange' in spi);
    assert.ok('Serializers' in serialization && 'DataOutputSerializer' in serialization);
    assert.ok('FsCheckpointStorage' in storage && 'MemoryFileSystem' in storage);
    assert.ok('CompletedCheckpointStore' in checkpoint && 'SharedStateRegistry' in checkpoint);
    assert.ok('MinimalKvStore' in kv && 'KvKeyedStateBackend' in kv);
    for (const m of Object.values(GROUPS)) assert.equal(m.FlowstateError, root.FlowstateError, 'errors are in every group');
  });
});
