/** `flowstate ui` writes the whole text of the page's internal errors to stderr (the page answers them with a generic message). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileSystemRegistry, memoryFileSystemProvider } from '@flowstate/core';
import { ExitCode, run, type CliIO } from '../src/index.js';
import { testDirectory } from './in-process.js';

describe('flowstate ui: internal errors', () => {
  it('logs an internal error of a request in full on stderr, and answers it without its text', async () => {
    const checkpoints = testDirectory('flowstate-cli-ui-log-');
    memoryFileSystemProvider.forget('ui-log');
    // The store the CLI resolves for the same URI (one per name): its listing fails as a bug would.
    const store = fileSystemRegistry.resolve('memory://ui-log');
    store.list = () => Promise.reject(new TypeError('secret detail of /host/path'));
    let stdout = '';
    let stderr = '';
    const io: CliIO = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), stderrIsTTY: false };
    let ended = false;
    const running = run(['ui', '--checkpoints', checkpoints, '--savepoints', 'memory://ui-log'], io).finally(() => (ended = true));
    try {
      // Its URL on stdout: the page is up (a run that ends first failed to start it).
      while (!stdout.includes('\n')) {
        assert.equal(ended, false, `flowstate ui ended before printing its URL: ${stderr}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      const answer = await fetch(new URL('/api/savepoints', stdout.trim()));
      const body = await answer.text();
      assert.equal(answer.status, 500);
      assert.doesNotMatch(body, /secret/);
      assert.match(stderr, /flowstate ui: .*\/api\/savepoints.*TypeError: secret detail of \/host\/path/s);
    } finally {
      process.emit('SIGINT');
      assert.equal(await running, ExitCode.OK);
      memoryFileSystemProvider.forget('ui-log');
    }
  });
});
