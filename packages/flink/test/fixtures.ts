import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repo root: packages/flink/dist/test -> ../../../.. */
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

/** Apache Flink's own test files: ../shared/flink-fixtures from the repo root, or FLOWSTATE_FLINK_FIXTURES. */
export const FLINK_FIXTURES = resolve(process.env['FLOWSTATE_FLINK_FIXTURES'] ?? join(repoRoot, '..', 'shared', 'flink-fixtures'));

export const fixturesPresent = existsSync(join(FLINK_FIXTURES, 'README.md'));

/** node:test option: skip with the reason when the fixture folder is absent. */
export const needsFixtures: { skip: string | false } = {
  skip: fixturesPresent ? false : `Apache Flink fixtures not found at ${FLINK_FIXTURES} (set FLOWSTATE_FLINK_FIXTURES)`,
};

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

export function allFixtureFiles(): string[] {
  return fixturesPresent ? walk(FLINK_FIXTURES, []) : [];
}

export function metadataFiles(): string[] {
  return allFixtureFiles().filter((f) => f.endsWith('/_metadata'));
}

const TESTS = 'snuyanzin-flink/flink-tests/src/test/resources';
export function fixture(rel: string): string {
  return rel.startsWith('/') ? rel : rel.includes('/') && !rel.startsWith('new-') && !rel.startsWith('operatorstate') && !rel.startsWith('type-') && !rel.startsWith('legacy-')
    ? join(FLINK_FIXTURES, rel)
    : join(FLINK_FIXTURES, TESTS, rel);
}

/** A small deterministic PRNG for mutation tests: core's mulberry32. */
export { mulberry32 as prng } from '@flowstate/core';
