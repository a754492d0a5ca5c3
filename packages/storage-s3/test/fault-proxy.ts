import { createServer, request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * An HTTP proxy on 127.0.0.1 in front of s3rver that injects faults: error responses (500, 503,
 * 403...), connection resets in the middle of a request or response body, slow responses, and
 * answers of stores that behave differently from s3rver (rewritten headers or body, a response of its own).
 * Rules are consumed in order; each says how often it fires and which requests it matches.
 * A permanent rule never runs out. Every injected fault is counted by kind.
 *
 * The Host header is forwarded unchanged, so SigV4 signatures (computed for the proxy's address)
 * still verify at s3rver.
 */

export type Fault =
  | { readonly kind: 'status'; readonly status: number; readonly code?: string; readonly message?: string; readonly echoAuthorization?: boolean }
  /** Forwards this many request body bytes upstream, then resets both connections. */
  | { readonly kind: 'reset-request'; readonly afterBytes: number }
  /** Forwards the response head and this many body bytes, then resets the client connection. */
  | { readonly kind: 'reset-response'; readonly afterBytes: number }
  /** Holds the response this long before forwarding it. */
  | { readonly kind: 'slow'; readonly delayMs: number }
  /** Forwards the request, then replaces the response body with what `rewrite` makes of it: a store that answers differently from s3rver. */
  | { readonly kind: 'rewrite-body'; readonly rewrite: (body: string, req: RequestInfo) => string }
  /** Forwards the request, then sends the response with the headers `rewrite` makes of s3rver's (e.g. another ETag, no user metadata). */
  | { readonly kind: 'rewrite-headers'; readonly rewrite: (headers: IncomingHttpHeaders, req: RequestInfo) => IncomingHttpHeaders }
  /** Answers without forwarding: `respond` writes the whole response, as another server would. */
  | { readonly kind: 'respond'; readonly respond: (req: IncomingMessage, res: ServerResponse) => void };

export interface RequestInfo {
  readonly method: string;
  /** '/bucket/key...' without the query. */
  readonly pathname: string;
  readonly query: URLSearchParams;
}

export type RequestMatcher = (req: RequestInfo) => boolean;

/** Matchers for the S3 operations that FileSystem uses (path-style URLs: /bucket/key). */
export const ops = {
  any: (() => true) as RequestMatcher,
  putObject: ((r) => r.method === 'PUT' && !r.query.has('partNumber') && hasKey(r)) as RequestMatcher,
  uploadPart: ((r) => r.method === 'PUT' && r.query.has('partNumber')) as RequestMatcher,
  /** UploadPart of part `n` and every later part. */
  uploadPartsFrom: (n: number): RequestMatcher => (r) => r.method === 'PUT' && Number(r.query.get('partNumber')) >= n,
  /** UploadPart of exactly part `n`. */
  uploadPartNumber: (n: number): RequestMatcher => (r) => r.method === 'PUT' && Number(r.query.get('partNumber')) === n,
  createMultipartUpload: ((r) => r.method === 'POST' && r.query.has('uploads')) as RequestMatcher,
  completeMultipartUpload: ((r) => r.method === 'POST' && r.query.has('uploadId')) as RequestMatcher,
  getObject: ((r) => r.method === 'GET' && hasKey(r)) as RequestMatcher,
  headObject: ((r) => r.method === 'HEAD' && hasKey(r)) as RequestMatcher,
  listObjects: ((r) => r.method === 'GET' && !hasKey(r) && r.query.get('list-type') === '2') as RequestMatcher,
  listObjectsNextPage: ((r) => r.method === 'GET' && !hasKey(r) && r.query.has('continuation-token')) as RequestMatcher,
  deleteObject: ((r) => r.method === 'DELETE' && hasKey(r)) as RequestMatcher,
  deleteObjects: ((r) => r.method === 'POST' && r.query.has('delete')) as RequestMatcher,
};

/** Path-style URLs: '/bucket/key'. The SDK sends bucket-level requests as '/bucket/' or '/bucket'. */
function hasKey(r: RequestInfo): boolean {
  const rest = r.pathname.replace(/^\/+/, '');
  const slash = rest.indexOf('/');
  return slash >= 0 && slash < rest.length - 1;
}

export type FaultCounter = 'status500' | 'status503' | 'statusOther' | 'resetRequest' | 'resetResponse' | 'slow' | 'rewriteBody' | 'rewriteHeaders' | 'respond';

export interface FaultCounts extends Record<FaultCounter, number> {
  /** Requests that reached the proxy. */
  requests: number;
  /** Faults injected by permanent rules (also counted under their kind). */
  permanent: number;
}

interface Rule {
  readonly fault: Fault;
  remaining: number;
  readonly match: RequestMatcher;
  readonly permanent: boolean;
}

/** One request as the proxy saw it; `end` is set when its response finished or its socket closed. */
export interface LoggedRequest {
  readonly info: RequestInfo;
  readonly start: number;
  end: number | undefined;
}

export class FaultProxy {
  readonly counts: FaultCounts = emptyCounts();
  /** Every request since the last resetCounts(), with timings. */
  readonly requests: LoggedRequest[] = [];
  /** One line per injected fault, for failure messages. */
  readonly log: string[] = [];
  private rules: Rule[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
  ) {}

  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined;
    const server = createServer((req, res) => proxy!.handle(req, res, target));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    proxy = new FaultProxy(server, `http://127.0.0.1:${port}`);
    server.on('connection', (s) => {
      proxy!.sockets.add(s);
      s.on('close', () => proxy!.sockets.delete(s));
    });
    return proxy;
  }

  /** Injects `fault` into the next `times` requests that `match` (default: any request). */
  inject(fault: Fault, options: { times?: number; match?: RequestMatcher } = {}): this {
    this.rules.push({ fault, remaining: options.times ?? 1, match: options.match ?? ops.any, permanent: false });
    return this;
  }

  /** Injects `fault` into every matching request from now on, until clear(). */
  failPermanently(fault: Fault, match: RequestMatcher = ops.any): this {
    this.rules.push({ fault, remaining: Number.POSITIVE_INFINITY, match, permanent: true });
    return this;
  }

  /** Rules not yet used up (permanent ones included). */
  get pendingRules(): number {
    return this.rules.filter((r) => r.remaining > 0).length;
  }

  clear(): void {
    this.rules = [];
  }

  resetCounts(): void {
    Object.assign(this.counts, emptyCounts());
    this.log.length = 0;
    this.requests.length = 0;
  }

  /** Requests seen that match. */
  countOf(match: RequestMatcher): number {
    return this.requests.filter((r) => match(r.info)).length;
  }

  /** The most matching requests that were in flight at the same time. */
  maxConcurrent(match: RequestMatcher): number {
    const edges: [number, number][] = [];
    for (const r of this.requests) {
      if (!match(r.info)) continue;
      edges.push([r.start, 1], [r.end ?? Number.POSITIVE_INFINITY, -1]);
    }
    edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let now = 0;
    let max = 0;
    for (const [, d] of edges) max = Math.max(max, (now += d));
    return max;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private take(info: RequestInfo): Rule | undefined {
    const rule = this.rules.find((r) => r.remaining > 0 && r.match(info));
    if (rule !== undefined) rule.remaining--;
    return rule;
  }

  private count(rule: Rule, counter: FaultCounter, info: RequestInfo): void {
    this.counts[counter]++;
    if (rule.permanent) this.counts.permanent++;
    this.log.push(`${counter}${rule.permanent ? ' (permanent)' : ''}: ${info.method} ${info.pathname}?${info.query.toString()}`);
  }

  private handle(req: IncomingMessage, res: ServerResponse, target: { host: string; port: number }): void {
    this.counts.requests++;
    const url = new URL(req.url ?? '/', 'http://proxy');
    const info: RequestInfo = { method: req.method ?? 'GET', pathname: url.pathname, query: url.searchParams };
    const logged: LoggedRequest = { info, start: performance.now(), end: undefined };
    this.requests.push(logged);
    res.on('close', () => (logged.end = performance.now()));
    const rule = this.take(info);
    const fault = rule?.fault;
    if (rule !== undefined && fault?.kind === 'status') return this.replyWithStatus(rule, fault, req, res, info);
    if (rule !== undefined && fault?.kind === 'respond') {
      this.count(rule, 'respond', info);
      return fault.respond(req, res);
    }
    const relay = openRelay(req, target);
    if (rule !== undefined && fault?.kind === 'reset-request') return this.resetRequest(rule, fault, req, relay, info);
    req.pipe(relay.upstream);
    relay.upstream.on('response', (up) => {
      const forward = () => {
        if (rule !== undefined && fault?.kind === 'reset-response') return this.resetResponse(rule, fault, req, res, up, relay, info);
        if (rule !== undefined && fault?.kind === 'rewrite-body') return this.rewriteBody(rule, fault, res, up, info);
        if (rule !== undefined && fault?.kind === 'rewrite-headers') return this.rewriteHeaders(rule, fault, res, up, info);
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      };
      if (rule !== undefined && fault?.kind === 'slow') {
        this.count(rule, 'slow', info);
        const timer = setTimeout(forward, fault.delayMs);
        // The client gave up (its timeout): drop the upstream response too.
        res.on('close', () => {
          if (!res.writableEnded && !res.headersSent) {
            clearTimeout(timer);
            up.destroy();
          }
        });
      } else {
        forward();
      }
    });
  }

  /** Answers with an S3 error document instead of forwarding (once the request body is read). */
  private replyWithStatus(rule: Rule, fault: Extract<Fault, { kind: 'status' }>, req: IncomingMessage, res: ServerResponse, info: RequestInfo): void {
    this.count(rule, fault.status === 500 ? 'status500' : fault.status === 503 ? 'status503' : 'statusOther', info);
    req.resume();
    req.on('end', () => {
      const code = fault.code ?? (fault.status === 503 ? 'SlowDown' : fault.status === 500 ? 'InternalError' : 'AccessDenied');
      let message = fault.message ?? `injected ${fault.status}`;
      let extra = '';
      if (fault.echoAuthorization === true) {
        // What a real SignatureDoesNotMatch reply contains: the key id and request details.
        const auth = String(req.headers.authorization ?? '');
        const keyId = /Credential=([^/]+)/.exec(auth)?.[1] ?? '';
        message = `The request signature we calculated does not match. Authorization: ${auth}`;
        extra = `<AWSAccessKeyId>${keyId}</AWSAccessKeyId><StringToSign>${auth}</StringToSign>`;
      }
      const body =
        req.method === 'HEAD'
          ? ''
          : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message>${extra}<RequestId>fault-proxy</RequestId></Error>`;
      res.writeHead(fault.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  }

  /** Forwards `afterBytes` of the request body, then resets both connections. */
  private resetRequest(rule: Rule, fault: Extract<Fault, { kind: 'reset-request' }>, req: IncomingMessage, relay: Relay, info: RequestInfo): void {
    let seen = 0;
    req.on('data', (chunk: Buffer) => {
      if (relay.done) return;
      if (seen + chunk.length >= fault.afterBytes) {
        relay.upstream.write(chunk.subarray(0, Math.max(0, fault.afterBytes - seen)));
        this.count(rule, 'resetRequest', info);
        relay.resetBoth();
      } else {
        relay.upstream.write(chunk);
        seen += chunk.length;
      }
    });
    req.on('end', () => {
      // The body was shorter than afterBytes: reset before any response instead.
      if (!relay.done) {
        this.count(rule, 'resetRequest', info);
        relay.resetBoth();
      }
    });
  }

  /** Forwards the response head and at most `afterBytes` of its body (never all of it), then resets the client's connection. */
  private resetResponse(rule: Rule, fault: Extract<Fault, { kind: 'reset-response' }>, req: IncomingMessage, res: ServerResponse, up: IncomingMessage, relay: Relay, info: RequestInfo): void {
    const declared = Number(up.headers['content-length'] ?? NaN);
    // Keep at least the last byte back, so the client can never see a complete body.
    const limit = Number.isFinite(declared) ? Math.min(fault.afterBytes, Math.max(0, declared - 1)) : fault.afterBytes;
    res.writeHead(up.statusCode ?? 502, up.headers);
    let sent = 0;
    let cutScheduled = false;
    const scheduleCut = (delayMs: number) => {
      if (cutScheduled) return;
      cutScheduled = true;
      setTimeout(() => {
        this.count(rule, 'resetResponse', info);
        relay.done = true;
        up.destroy();
        req.socket.resetAndDestroy();
      }, delayMs);
    };
    if (limit === 0 || req.method === 'HEAD') {
      res.flushHeaders();
      scheduleCut(0);
      return;
    }
    up.on('data', (chunk: Buffer) => {
      if (cutScheduled) return;
      if (sent + chunk.length >= limit) {
        res.write(chunk.subarray(0, limit - sent));
        sent = limit;
        // Let the partial body reach the client before the reset.
        scheduleCut(20);
        up.pause();
      } else {
        res.write(chunk);
        sent += chunk.length;
      }
    });
    up.on('end', () => scheduleCut(0));
  }

  /** Sends the upstream response with the headers `rewrite` makes of its own, and its body as it is. */
  private rewriteHeaders(rule: Rule, fault: Extract<Fault, { kind: 'rewrite-headers' }>, res: ServerResponse, up: IncomingMessage, info: RequestInfo): void {
    this.count(rule, 'rewriteHeaders', info);
    res.writeHead(up.statusCode ?? 502, fault.rewrite({ ...up.headers }, info));
    up.pipe(res);
  }

  /** Reads the whole upstream response body and sends what `rewrite` makes of it instead. */
  private rewriteBody(rule: Rule, fault: Extract<Fault, { kind: 'rewrite-body' }>, res: ServerResponse, up: IncomingMessage, info: RequestInfo): void {
    const chunks: Buffer[] = [];
    up.on('data', (chunk: Buffer) => chunks.push(chunk));
    up.on('end', () => {
      this.count(rule, 'rewriteBody', info);
      const body = Buffer.from(fault.rewrite(Buffer.concat(chunks).toString('utf8'), info), 'utf8');
      const headers = { ...up.headers, 'content-length': String(body.length) };
      delete headers['transfer-encoding'];
      res.writeHead(up.statusCode ?? 502, headers);
      res.end(body);
    });
  }
}

/** The upstream request of one proxied request, and whether either side was reset already. */
interface Relay {
  readonly upstream: ClientRequest;
  done: boolean;
  /** Resets the client's connection and drops the upstream request (once). */
  resetBoth(): void;
}

function openRelay(req: IncomingMessage, target: { host: string; port: number }): Relay {
  const headers: OutgoingHttpHeaders = { ...req.headers };
  // We relay the body ourselves; "100-continue" is handled by our server, not forwarded.
  delete headers.expect;
  const upstream = httpRequest({ host: target.host, port: target.port, method: req.method, path: req.url, headers });
  const relay: Relay = {
    upstream,
    done: false,
    resetBoth: () => {
      if (relay.done) return;
      relay.done = true;
      upstream.destroy();
      req.socket.resetAndDestroy();
    },
  };
  upstream.on('error', () => {
    if (!relay.done) {
      relay.done = true;
      req.socket.destroy();
    }
  });
  return relay;
}

function emptyCounts(): FaultCounts {
  return { requests: 0, permanent: 0, status500: 0, status503: 0, statusOther: 0, resetRequest: 0, resetResponse: 0, slow: 0, rewriteBody: 0, rewriteHeaders: 0, respond: 0 };
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
