import assert from 'node:assert/strict';
import { cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseOperatorParallelism } from '../src/layout.js';
import { FIXTURE, flowstate } from './binary.js';
import { freshPaths } from './in-process.js';

// What a new user hit in `flowstate savepoint` (each case failed before its fix).

const fresh = freshPaths('flowstate-cli-fixes-');

interface Problem {
  code: string;
  message: string;
  file?: string;
}

/** The largest state file of a copy of the fixture (a keyed stream). */
function copyWithVictim(): { dir: string; victim: string } {
  const dir = fresh();
  cpSync(FIXTURE, dir, { recursive: true });
  const victim = readdirSync(dir)
    .filter((f) => f !== '_metadata')
    .sort((a, b) => readFileSync(join(dir, b)).length - readFileSync(join(dir, a)).length)[0]!;
  return { dir, victim };
}

describe('flowstate savepoint: fixes (real binary)', () => {
  it("validate --json: a problem's 'file' is the file's path only, the prose is in 'message'", async () => {
    const missing = fresh();
    const r = await flowstate('savepoint', 'validate', missing, '--json');
    assert.equal(r.code, 3, r.stdout + r.stderr);
    const p = (JSON.parse(r.stdout) as { problems: Problem[] }).problems[0]!;
    assert.equal(p.file, join(missing, '_metadata'));
    assert.match(p.message, /not a savepoint or checkpoint directory/);
  });

  it('a corrupt and a truncated state file are both named by their full path', async () => {
    const corrupt = copyWithVictim();
    const bytes = readFileSync(join(corrupt.dir, corrupt.victim));
    bytes[bytes.length - 3]! ^= 0xff;
    writeFileSync(join(corrupt.dir, corrupt.victim), bytes);
    const truncated = copyWithVictim();
    writeFileSync(join(truncated.dir, truncated.victim), readFileSync(join(truncated.dir, truncated.victim)).subarray(0, 100));
    for (const { dir, victim } of [corrupt, truncated]) {
      const r = await flowstate('savepoint', 'validate', dir, '--json');
      assert.equal(r.code, 1, r.stdout + r.stderr);
      const problems = (JSON.parse(r.stdout) as { problems: Problem[] }).problems.filter((p) => p.code === 'CORRUPT_CHECKPOINT');
      assert.ok(problems.length > 0, r.stdout);
      for (const p of problems) {
        assert.equal(p.file, join(dir, victim), r.stdout);
        assert.ok(p.message.includes(`'${join(dir, victim)}'`), p.message);
      }
    }
  });

  it('diff of a canonical and a native savepoint points to the convert command that works', async () => {
    const native = fresh();
    assert.equal((await flowstate('savepoint', 'convert', FIXTURE, native, '--to', 'native-rocksdb')).code, 0);
    const d = await flowstate('savepoint', 'diff', FIXTURE, native);
    assert.equal(d.code, 4, d.stdout + d.stderr);
    assert.doesNotMatch(d.stderr, /once that backend supports it/);
    const m = /convert it first with 'flowstate savepoint convert (\S+) <new directory> --to canonical'/.exec(d.stderr);
    assert.ok(m !== null, d.stderr);
    assert.equal(m[1], native);
    // Following the advice works.
    const canonical = fresh();
    assert.equal((await flowstate('savepoint', 'convert', m[1]!, canonical, '--to', 'canonical')).code, 0);
    const again = await flowstate('savepoint', 'diff', FIXTURE, canonical);
    assert.equal(again.code, 0, again.stdout + again.stderr);
  });

  it('an output directory inside the input savepoint is refused with a typed error (exit 2)', async () => {
    const input = fresh();
    cpSync(FIXTURE, input, { recursive: true });
    const before = readdirSync(input).sort();
    for (const args of [
      ['convert', input, join(input, 'out'), '--to', 'canonical'],
      ['migrate', input, join(input, 'nested', 'out'), '--to-version', '1'],
      ['rescale', input, join(input, 'out'), '--max-parallelism', '32'],
    ]) {
      const r = await flowstate('savepoint', ...args, '--json');
      assert.equal(r.code, 2, `${args[0]}: ${r.stdout}${r.stderr}`);
      assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'SAVEPOINT_OUTPUT');
      assert.match(r.stderr, /is inside the input savepoint/);
    }
    assert.deepEqual(readdirSync(input).sort(), before, 'nothing was written into the input');
    // A sibling whose name merely starts with the input's is not inside it.
    const sibling = await flowstate('savepoint', 'convert', input, `${input}-copy`, '--to', 'canonical');
    assert.equal(sibling.code, 0, sibling.stderr);
  });

  it('rescale --parallelism applies to keyed operators only, --operator-parallelism to one operator, and the new layout is printed', async () => {
    interface Layout {
      uid: string;
      parallelism: number;
      maxParallelism: number;
      keyed: boolean;
      subtasks: Array<{ subtask: number; keyGroups?: { start: number; end: number } }>;
    }
    const out = fresh();
    const r = await flowstate('savepoint', 'rescale', FIXTURE, out, '--max-parallelism', '32', '--parallelism', '7', '--json');
    assert.equal(r.code, 0, r.stderr);
    const ops = (JSON.parse(r.stdout) as { operators: Layout[] }).operators;
    const keyed = ops.find((o) => o.uid === 'all-kinds')!;
    const source = ops.find((o) => o.uid === 'source')!;
    assert.equal(keyed.parallelism, 7);
    assert.equal(source.parallelism, 2, 'the source (no keyed state) keeps its parallelism');
    assert.equal(source.keyed, false);
    // Seven subtasks whose key-group ranges cover 0..31 in order, once.
    assert.deepEqual(keyed.subtasks.map((s) => s.subtask), [0, 1, 2, 3, 4, 5, 6]);
    let next = 0;
    for (const s of keyed.subtasks) {
      assert.equal(s.keyGroups!.start, next);
      next = s.keyGroups!.end + 1;
    }
    assert.equal(next, 32);
    assert.equal((await flowstate('savepoint', 'validate', out)).code, 0);
    const inspect = await flowstate('savepoint', 'inspect', out, '--no-scan');
    assert.match(inspect.stdout, /operator 'source': parallelism 2, maxParallelism 32/);
    assert.match(inspect.stdout, /operator 'all-kinds': parallelism 7, maxParallelism 32/);

    const human = await flowstate('savepoint', 'rescale', FIXTURE, fresh(), '--max-parallelism', '32', '--parallelism', '7', '--operator-parallelism', 'source=3');
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /operator 'all-kinds': parallelism 7, maxParallelism 32\n\s+subtask 0: key groups 0-4\n/);
    assert.match(human.stdout, /subtask 6: key groups 28-31/);
    assert.match(human.stdout, /operator 'source': parallelism 3, maxParallelism 32 \(no keyed state\)/);

    for (const bad of [['--operator-parallelism', 'nope=3'], ['--operator-parallelism', 'source'], ['--operator-parallelism', 'source=0'], ['--operator', 'all-kinds', '--operator-parallelism', 'source=3']]) {
      const u = await flowstate('savepoint', 'rescale', FIXTURE, fresh(), '--max-parallelism', '32', ...bad);
      assert.equal(u.code, 2, `${bad.join(' ')}: ${u.stderr}`);
    }
  });
});

describe('parseOperatorParallelism', () => {
  it('looks up only the operators given: a uid such as constructor finds nothing else', () => {
    const byUid = parseOperatorParallelism(['map=2']);
    assert.equal(byUid['constructor'], undefined);
    assert.equal(byUid['toString'], undefined);
    assert.equal(parseOperatorParallelism(['constructor=3'])['constructor'], 3);
  });
});
