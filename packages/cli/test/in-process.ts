import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after } from 'node:test';
import { run, type CliIO } from '../src/index.js';
import { repo, type Result } from './binary.js';

// What the CLI tests share besides the binary (binary.ts): the CLI run in this process, the Apache
// Flink fixtures, and temp directories.

/** Runs the CLI in this process (it sees this process's environment), capturing what it writes. */
export async function runCli(argv: readonly string[]): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), stderrIsTTY: false };
  const code = await run([...argv], io);
  return { code, stdout, stderr };
}

/** The Apache Flink fixtures: read-only, outside the repository (FLOWSTATE_FLINK_FIXTURES moves them). */
export const FLINK_FIXTURES = resolve(process.env['FLOWSTATE_FLINK_FIXTURES'] ?? join(repo, '..', 'shared', 'flink-fixtures'));

/** The `skip` of a test that needs the Flink fixtures: false, or why it is skipped. */
export const SKIP_WITHOUT_FLINK_FIXTURES: false | string = existsSync(join(FLINK_FIXTURES, 'README.md')) ? false : `Apache Flink fixtures not found at ${FLINK_FIXTURES} (set FLOWSTATE_FLINK_FIXTURES)`;

/** A temp directory for the calling test file, removed after its tests. */
export function testDirectory(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs `fn` with a new temp directory, removed afterwards. */
export async function withTempDirectory<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** New paths (not yet created) under one temp directory of the calling test file, removed after its tests. */
export function freshPaths(prefix: string): () => string {
  const root = testDirectory(prefix);
  let n = 0;
  return () => join(root, `out-${n++}`);
}
