/** Bad arguments are usage errors (exit 2) with a message, never an internal error with a stack trace. */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { ExitCode } from '../src/index.js';
import { runCli, testDirectory } from './in-process.js';

describe('flowstate ui', () => {
  it('--port beyond 65535 is a usage error, not an internal error', async () => {
    const dir = testDirectory('flowstate-cli-ui-');
    for (const port of ['65536', '70000']) {
      const r = await runCli(['ui', '--checkpoints', dir, '--port', port]);
      assert.equal(r.code, ExitCode.USAGE, r.stderr);
      assert.match(r.stderr, /--port must be a port from 1 to 65535/);
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
    }
  });

  it('a --port in use is a usage error naming the port, not an internal error', async () => {
    const dir = testDirectory('flowstate-cli-ui-');
    const busy = createServer();
    await new Promise<void>((done) => busy.listen(0, '127.0.0.1', done));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = await runCli(['ui', '--checkpoints', dir, '--port', String(port)]);
      assert.equal(r.code, ExitCode.USAGE, r.stderr);
      assert.match(r.stderr, new RegExp(`${port}.*in use|in use.*${port}`));
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
    } finally {
      await new Promise((done) => busy.close(done));
    }
  });
});
