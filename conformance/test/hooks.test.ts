import { strict as assert } from 'node:assert';
import { it } from 'node:test';
import { runConformance, type ConformanceHooks, type ConformanceTestOptions } from '../src/index.js';
import { recordingApi } from './recording-api.js';

/** Registers the suite with a recording test API and returns each case's skip reason by name. */
function register(hooks: ConformanceHooks | Record<string, unknown>): Map<string, ConformanceTestOptions['skip']> {
  const { api, cases } = recordingApi();
  runConformance({ name: 'recorded', createBackend: () => assert.fail('registration alone creates no backend'), hooks: hooks as ConformanceHooks, test: api });
  return new Map([...cases].map(([name, c]) => [name, c.skip]));
}

const needsHook = (name: string) => name.startsWith('a local file damaged after the synchronous part');

it('a case that needs a hook is registered as not applicable without it, and runs with it', () => {
  const without = [...register({})].filter(([name]) => needsHook(name));
  assert.equal(without.length, 1, 'the local-file case is registered');
  assert.match(String(without[0]![1]), /^not applicable: the backend provides no 'corruptLocalSnapshotFile' hook/);
  const withHook = [...register({ corruptLocalSnapshotFile: () => 'file' })].filter(([name]) => needsHook(name));
  assert.equal(withHook[0]![1], undefined, 'runs when the hook is given');
});

it('an unknown or non-function hook is refused instead of silently skipping the case it meant to enable', () => {
  assert.throws(() => register({ corruptLocalSnapshotFiles: () => 'typo' }), /unknown hook 'corruptLocalSnapshotFiles'/);
  assert.throws(() => register({ corruptLocalSnapshotFile: 'not a function' }), /must be a function/);
});
