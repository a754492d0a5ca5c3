import assert from 'node:assert/strict';
import { CorruptCheckpointError, FsCheckpointStorage, KeyGroupRange, MemoryFileSystem, SAVEPOINT, Serializers } from '@flowstate/core';
import { checkpointKeyed } from '../harness/checkpoint.js';
import { expectRejects } from '../harness/expect.js';
import type { Fixture } from '../harness/fixture.js';
import { assertMixed } from '../harness/mixed-workload.js';
import { caseSeed, formatSeed } from '../harness/prng.js';
import { filledBackend } from '../harness/filled-backend.js';
import { restoreKeyed } from '../harness/restore.js';
import { conformanceGroup } from '../registry.js';

const SEED = caseSeed(0x5eed0901);

type Damage = 'truncated' | 'flipped' | 'missing';

export const corruptionGroup = conformanceGroup('corrupt checkpoints', [
  { name: `a truncated state file fails restore with CorruptCheckpointError naming the file (${formatSeed(SEED)})`, run: (fx) => damaged(fx, 'truncated') },
  { name: `a flipped byte in a state file fails restore with CorruptCheckpointError naming the file (${formatSeed(SEED)})`, run: (fx) => damaged(fx, 'flipped') },
  { name: `a missing state file fails restore with CorruptCheckpointError naming the file (${formatSeed(SEED)})`, run: (fx) => damaged(fx, 'missing') },
  { name: `restore with another maxParallelism fails with CorruptCheckpointError naming the file and the offset (${formatSeed(SEED)})`, run: otherMaxParallelism },
]);

/**
 * A savepoint's keys hash to other key groups under another maxParallelism: the blocks' checksums hold, so only
 * the per-key check in the block reader can refuse such a restore, and it names where the key is.
 */
async function otherMaxParallelism(fx: Fixture): Promise<void> {
  const { kb } = await filledBackend(fx, SEED, 300);
  const fs = new MemoryFileSystem();
  // A savepoint: every backend restores its canonical key-groups stream record by record.
  const cp = await checkpointKeyed(fx, [kb], { storage: new FsCheckpointStorage(fs), options: SAVEPOINT });
  const stateFiles = (await fs.list('')).filter((f) => !/(^|\/)_metadata$/.test(f.path)).map((f) => f.path);
  const maxParallelism = kb.maxParallelism * 2;
  const restore = restoreKeyed(fx, cp, { keySerializer: Serializers.string, maxParallelism, keyGroupRange: KeyGroupRange.of(0, maxParallelism - 1) });
  const err = await expectRejects(`restore with maxParallelism ${maxParallelism}`, CorruptCheckpointError, restore);
  assert.ok(stateFiles.some((f) => err.file.includes(f)), `the error names a state file (${stateFiles.join(', ')}): ${err.message}`);
  assert.ok(err.offset !== undefined && err.offset > 0, `the error names the record's offset: ${err.message}`);
  assert.match(err.message, /hashes to key group \d+ \(maxParallelism \d+\)/);
}

/**
 * Damages each file the checkpoint wrote, one at a time, and expects restore itself (not some later
 * read) to refuse it, naming the file so an operator knows what to look at.
 */
async function damaged(fx: Fixture, damage: Damage): Promise<void> {
  const { kb, work } = await filledBackend(fx, SEED, 300);

  // Always a file system in memory, whatever storage the backend's suite configured: we need the files.
  const fs = new MemoryFileSystem();
  const storage = new FsCheckpointStorage(fs);
  const cp = await checkpointKeyed(fx, [kb], { storage });
  const stateFiles = (await fs.list('')).filter((f) => !/(^|\/)_metadata$/.test(f.path));
  assert.ok(stateFiles.length > 0, 'the checkpoint wrote at least one state file');

  for (const file of stateFiles) {
    const original = await fs.read(file.path);
    if (damage === 'missing') {
      await fs.delete(file.path);
    } else if (damage === 'truncated') {
      fs.overwriteForTest(file.path, original.slice(0, Math.floor(original.length / 2)));
    } else {
      // A real copy: read() may return a Buffer, whose slice() is a view that would damage `original`.
      const flipped = Uint8Array.from(original);
      const at = Math.floor(flipped.length / 2);
      flipped[at] = flipped[at]! ^ 0xff;
      fs.overwriteForTest(file.path, flipped);
    }
    const err = await expectRejects(`restore with ${damage} '${file.path}'`, CorruptCheckpointError, restoreKeyed(fx, cp, { keySerializer: Serializers.string }));
    assert.ok(err.message.includes(file.path), `the error names the file '${file.path}': ${err.message}`);
    fs.overwriteForTest(file.path, original);
  }

  // With every file repaired the same checkpoint restores: the failures were the damage's.
  assertMixed(await restoreKeyed(fx, cp, { keySerializer: Serializers.string }), work.model, work.keys, 'restored after repair');
}
