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

/** What a stand-in proxy does to one exchange: the URL sent on, and the answer passed back. */
export interface ProxyRewrite {
  readonly url?: (url: URL) => URL;
  /** A replacement answer, or undefined to pass the server's on. */
  readonly response?: (url: URL, res: Response) => Promise<Response | undefined> | Response | undefined;
}

/**
 * A `fetch` for the client that stands in for a proxy or gateway in front of the test server
 * (HttpFS dropping parameters it does not know, an auth proxy's login page...).
 */
export function proxyFetch(rewrite: ProxyRewrite): typeof fetch {
  return async (input, init) => {
    const original = new URL(input instanceof Request ? input.url : String(input));
    const url = rewrite.url?.(original) ?? original;
    const res = await fetch(url, init);
    const replaced = await rewrite.response?.(url, res);
    if (replaced === undefined || replaced === res) return res;
    // The server's answer is dropped: release its connection.
    if (!res.bodyUsed) await res.body?.cancel().catch(() => undefined);
    return replaced;
  };
}

/** A 200 JSON answer, as a server would send it. */
export function jsonResponse(value: unknown): Response {
  return new Response(JSON.stringify(value), { status: 200, headers: { 'content-type': 'application/json' } });
}
