import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, type CliIO } from '../src/index.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
/** Apache Flink's test files: ../shared/flink-fixtures from the repo root, or FLOWSTATE_FLINK_FIXTURES. */
export const fixtures = resolve(process.env['FLOWSTATE_FLINK_FIXTURES'] ?? join(repo, '..', 'shared', 'flink-fixtures'));
/** node:test `skip`: the reason when the fixture folder is absent. */
export const skip: string | false = existsSync(join(fixtures, 'README.md')) ? false : `Apache Flink fixtures not found at ${fixtures} (set FLOWSTATE_FLINK_FIXTURES)`;
/** A fixture of Flink's flink-tests module. */
export const tests = (rel: string): string => join(fixtures, 'snuyanzin-flink/flink-tests/src/test/resources', rel);

/** Runs the CLI in-process, capturing its output. */
export async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { stdout: (s) => void (out += s), stderr: (s) => void (err += s), stderrIsTTY: false };
  return { code: await run(args, io), out, err };
}
