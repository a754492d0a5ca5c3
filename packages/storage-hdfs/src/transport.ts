import type { Redactor } from '@flowstate/core';
import { isRecord, str } from './file-status.js';
import { AttemptFailure, networkFailure, protocolFailure, responseFailure } from './failures.js';

/**
 * One HTTP exchange of a WebHDFS attempt on `fetch`: sending, reading bodies under an idle
 * timeout, following the namenode's redirect to a datanode, and turning every failure into an
 * AttemptFailure. Redirects are never left to `fetch`: the first request of a two-step op must go
 * out without a body, and the Location carries the caller's credentials, so it is followed here,
 * checked, and kept out of every error message.
 */

const ERROR_BODY_LIMIT = 64 * 1024;

/** Aborts a request when neither headers nor body bytes arrive for `ms`. */
export class IdleTimer {
  private readonly controller = new AbortController();
  private handle: ReturnType<typeof setTimeout> | undefined;
  private fired = false;

  constructor(readonly ms: number) {
    this.touch();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** True once the request was aborted for lack of progress. */
  get timedOut(): boolean {
    return this.fired;
  }

  touch(): void {
    if (this.handle !== undefined) clearTimeout(this.handle);
    this.handle = setTimeout(() => {
      this.fired = true;
      this.controller.abort(new Error(`no progress for ${this.ms} ms`));
    }, this.ms);
    this.handle.unref?.();
  }

  clear(): void {
    if (this.handle !== undefined) clearTimeout(this.handle);
    this.handle = undefined;
  }
}

/** Where a two-step op continues: a datanode URL, or (OPEN through a gateway) the data itself. */
export type DatanodeTarget = { location: URL } | { data: Response };

export class WebHdfsTransport {
  constructor(
    private readonly fetchImpl: typeof globalThis.fetch,
    readonly timeoutMs: number,
    private readonly redactor: Redactor,
  ) {}

  timer(): IdleTimer {
    return new IdleTimer(this.timeoutMs);
  }

  async send(op: string, display: string, method: string, url: URL, body: Uint8Array | undefined, timer: IdleTimer): Promise<Response> {
    try {
      const res = await this.fetchImpl(url, {
        method,
        redirect: 'manual',
        signal: timer.signal,
        ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/octet-stream' } }),
      });
      timer.touch();
      return res;
    } catch (e) {
      throw this.networkFailure(op, display, e, timer);
    }
  }

  networkFailure(op: string, display: string, e: unknown, timer: IdleTimer): AttemptFailure {
    return networkFailure(op, display, e, timer.timedOut ? timer.ms : undefined);
  }

  /** Reads a body chunk by chunk, keeping the idle timer alive; failures are transient. */
  async readBody(op: string, display: string, res: Response, timer: IdleTimer, onChunk: (chunk: Uint8Array) => void): Promise<void> {
    const reader = res.body?.getReader();
    if (reader === undefined) return;
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) return;
        timer.touch();
        onChunk(r.value);
      }
    } catch (e) {
      throw this.networkFailure(op, display, e, timer);
    }
  }

  async readText(op: string, display: string, res: Response, timer: IdleTimer, limit = Infinity): Promise<string> {
    const parts: Uint8Array[] = [];
    let total = 0;
    await this.readBody(op, display, res, timer, (c) => {
      if (total < limit) {
        parts.push(c);
        total += c.length;
      }
    });
    return Buffer.concat(parts).toString('utf8');
  }

  /** Reading the (empty or small) body lets the connection be reused. */
  async discard(res: Response): Promise<void> {
    await res.arrayBuffer().catch(() => undefined);
  }

  /** Turns a non-2xx response into a failure, mapping RemoteException to typed errors. */
  async failure(op: string, display: string, res: Response, timer: IdleTimer): Promise<AttemptFailure> {
    let text = '';
    try {
      text = await this.readText(op, display, res, timer, ERROR_BODY_LIMIT);
    } catch {
      // The status alone decides.
    }
    return responseFailure(op, display, res.status, text, res.headers.get('retry-after'), this.redactor);
  }

  /**
   * An OPEN answer whose body is the file: only one that says it is binary, or says nothing. A 200
   * login or error page of an auth proxy or gateway (text/html) must not be read as the file.
   */
  async fileData(op: string, display: string, res: Response): Promise<Response> {
    const type = mediaType(res.headers.get('content-type'));
    if (type === '' || type === 'application/octet-stream') return res;
    await res.body?.cancel().catch(() => undefined);
    throw protocolFailure(op, display, `HTTP ${res.status} with Content-Type '${type.slice(0, 100)}' instead of the file's bytes (application/octet-stream)`, 'not file data', res.status);
  }

  /** Asks the namenode (`url`) where a two-step op goes on: a 307, or a noredirect JSON answer. */
  async locate(op: string, method: string, url: URL, display: string, timer: IdleTimer): Promise<DatanodeTarget> {
    const res = await this.send(op, display, method, url, undefined, timer);
    if (res.status >= 300 && res.status < 400 && res.headers.has('location')) {
      const location = res.headers.get('location') ?? '';
      await this.discard(res);
      return { location: checkLocation(op, display, url, location) };
    }
    if (res.status === 200) {
      const type = res.headers.get('content-type') ?? '';
      // A gateway (HttpFS) serving the bytes itself instead of redirecting.
      if (op === 'OPEN' && !type.includes('json')) return { data: await this.fileData(op, display, res) };
      const text = await this.readText(op, display, res, timer);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const location = isRecord(parsed) ? str(parsed['Location']) : undefined;
      if (location === undefined) throw protocolFailure(op, display, 'namenode answered 200 without a Location', 'no Location', 200);
      return { location: checkLocation(op, display, url, location) };
    }
    if (res.ok || (res.status >= 300 && res.status < 400)) {
      await this.discard(res);
      throw protocolFailure(op, display, `namenode answered HTTP ${res.status} without a Location`, 'no Location', res.status);
    }
    throw await this.failure(op, display, res, timer);
  }
}

/** The media type of a Content-Type header, lower case, without parameters; '' when absent. */
function mediaType(header: string | null): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

function checkLocation(op: string, display: string, requestUrl: URL, location: string): URL {
  let loc: URL;
  try {
    loc = new URL(location, requestUrl);
  } catch {
    throw protocolFailure(op, display, 'Location is not a valid URL', 'bad Location');
  }
  if (loc.protocol !== 'http:' && loc.protocol !== 'https:') {
    throw protocolFailure(op, display, `Location has scheme '${loc.protocol}'`, 'bad Location');
  }
  if (requestUrl.protocol === 'https:' && loc.protocol === 'http:') {
    // The Location carries the delegation token; never let it travel in clear text.
    throw protocolFailure(op, display, 'refusing to follow a redirect from https to http', 'insecure Location');
  }
  return loc;
}
