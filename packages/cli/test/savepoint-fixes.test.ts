import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FIXTURE, flowstate } from './binary.js';

// What a new user hit in `flowstate savepoint` (each case failed before its fix).

const root = mkdtempSync(join(tmpdir(), 'flowstate-cli-fixes-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `d-${n++}`);

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
    const missing = join(root, 'no-savepoint-here');
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
});
