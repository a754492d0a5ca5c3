import { inspect } from 'node:util';
import { WebHdfsClient, type WebHdfsClientOptions, type WebHdfsRetryEvent } from '../src/index.js';
import type { WebHdfsTestServer } from './webhdfs-server.js';

/** Fast retries so fault tests stay quick; bounds as in production otherwise. */
export const FAST_RETRY = { maxAttempts: 5, baseDelayMs: 2, maxDelayMs: 20 } as const;

export function clientFor(server: WebHdfsTestServer, overrides: Partial<WebHdfsClientOptions> = {}): { client: WebHdfsClient; retries: WebHdfsRetryEvent[] } {
  const retries: WebHdfsRetryEvent[] = [];
  const client = new WebHdfsClient({
    endpoint: server.namenodeUrl,
    user: 'flink',
    retry: FAST_RETRY,
    requestTimeoutMs: 2_000,
    onRetry: (e) => retries.push(e),
    ...overrides,
  });
  return { client, retries };
}

/** Everything an error could leak through: message, stack, causes, and enumerable fields. */
export function everythingAbout(e: unknown): string {
  return `${String(e)}\n${e instanceof Error ? (e.stack ?? '') : ''}\n${inspect(e, { depth: 10, showHidden: true })}\n${JSON.stringify(e)}`;
}

export function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
