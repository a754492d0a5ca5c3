// The checkpoint history page's HTTP server: static assets, the charting library, and two small
// JSON endpoints. It listens on 127.0.0.1 only and serves nothing but what is listed here; a
// savepoint is named by one path segment below the configured savepoint directory, so the page
// cannot be used to read arbitrary files.
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import type { AddressInfo } from 'node:net';
import { FlowstateError, type CheckpointStorage, type FileSystem } from '@flowstate/core';
import { CheckpointUiBusyError, CheckpointUiCancelledError, CheckpointUiPortError } from './errors.js';
import { loadCheckpointsOverview, type CheckpointHistorySource } from './overview.js';
import { inspectSavepointByName, listSavepoints, MAX_LISTED_FILES, MAX_LISTED_SAVEPOINTS, type SavepointList } from './savepoints.js';

export interface CheckpointUiOptions {
  /** The job's checkpoint directory. */
  readonly checkpoints: CheckpointStorage;
  /** Persisted checkpoint statistics, when the writer kept them. */
  readonly history?: CheckpointHistorySource;
  /** A directory of savepoints for the inspector, and its location (URI or path) for SavepointReader. */
  readonly savepoints?: { readonly fileSystem: FileSystem; readonly location: string };
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /**
   * Where the whole text of an internal error goes (stack, cause, system error fields): a request
   * that fails with an error other than a FlowstateError is answered with a generic message only.
   * Default: nowhere.
   */
  readonly log?: (line: string) => void;
}

export interface CheckpointUi {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Savepoint inspections running at once. Each reads a whole savepoint (every key-group block), so a
 * few reloads of the page would otherwise start as many full reads. Decision: over the limit a
 * request is refused with 503 and Retry-After (CheckpointUiBusyError, code UI_BUSY), not queued: a
 * queue would hold sockets and memory for clients that may be gone, and the page can simply retry.
 */
export const MAX_CONCURRENT_SCANS = 2;
const RETRY_AFTER_SECONDS = 2;

/**
 * The code of a failed request's answer when its error is not a FlowstateError (the code the
 * CLI's `--json` errors use for the same). FlowstateErrors are written to be shown; any other
 * error (a bug's TypeError, a system error naming host paths) is not, so its text stays out of
 * the answer and goes to CheckpointUiOptions.log.
 */
export const INTERNAL_ERROR_CODE = 'INTERNAL';
const INTERNAL_ERROR_MESSAGE = "internal error in the checkpoint UI (its details are not in this answer; they go to the UI's log, where one is given)";

/** What close() needs: the requests still running, the scan slots in use, and the signal that stops scans. */
interface Requests {
  readonly inflight: Set<Promise<void>>;
  scans: number;
  readonly closing: AbortController;
}

const ASSETS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'assets');
const uplotDist = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'));

const STATIC: Readonly<Record<string, readonly [string, string]>> = {
  '/': [join(ASSETS, 'index.html'), 'text/html; charset=utf-8'],
  '/app.js': [join(ASSETS, 'app.js'), 'text/javascript; charset=utf-8'],
  '/style.css': [join(ASSETS, 'style.css'), 'text/css; charset=utf-8'],
  '/vendor/uPlot.iife.min.js': [join(uplotDist, 'uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
  '/vendor/uPlot.min.css': [join(uplotDist, 'uPlot.min.css'), 'text/css; charset=utf-8'],
};

/** Starts the page's server on 127.0.0.1; `url` is where a browser opens it. */
export async function startCheckpointUi(options: CheckpointUiOptions): Promise<CheckpointUi> {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CheckpointUiPortError(port, 'not a TCP port (0..65535, 0 picks a free one)');
  const requests: Requests = { inflight: new Set(), scans: 0, closing: new AbortController() };
  const server = createServer((req, res) => {
    const running = handle(options, requests, req, res);
    requests.inflight.add(running);
    void running.finally(() => requests.inflight.delete(running));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  }).catch((e: unknown) => {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointUiPortError(port, code === 'EADDRINUSE' ? 'it is in use' : (e as Error).message, { cause: e });
  });
  const { port: listening } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${listening}/`, close: () => closeServer(server, requests) };
}

/** Host names that reach 127.0.0.1 without a DNS name that a web page could rebind to it. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

function loopbackHost(host: string | undefined): boolean {
  if (host === undefined) return true;
  try {
    return LOOPBACK_HOSTS.has(new URL(`http://${host}`).hostname);
  } catch {
    return false;
  }
}

/** Runs one request; its scan is cancelled when its client disconnects or the UI closes. Never rejects. */
async function handle(options: CheckpointUiOptions, requests: Requests, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (requests.closing.signal.aborted) return send(res, 503, 'text/plain', 'the checkpoint UI is closing', { connection: 'close' });
  const client = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) client.abort(new CheckpointUiCancelledError('the client disconnected'));
  });
  const signal = AbortSignal.any([client.signal, requests.closing.signal]);
  try {
    await route(options, requests, signal, req, res);
  } catch (e) {
    if (res.headersSent || res.destroyed) return;
    const busy = e instanceof CheckpointUiBusyError;
    const status = busy || e instanceof CheckpointUiCancelledError ? 503 : 500;
    send(res, status, 'application/json', JSON.stringify(failureAnswer(e, options.log, req)), busy ? { 'retry-after': String(RETRY_AFTER_SECONDS) } : {});
  }
}

/** A failed request's answer: a FlowstateError's message and code; for any other error a generic one, its whole text logged. */
function failureAnswer(e: unknown, log: CheckpointUiOptions['log'], req: IncomingMessage): { error: string; code: string } {
  if (e instanceof FlowstateError) return { error: e.message, code: e.code };
  logQuietly(log, `checkpoint UI: ${req.method ?? 'GET'} ${req.url ?? '/'} failed with an internal error: ${inspect(e)}`);
  return { error: INTERNAL_ERROR_MESSAGE, code: INTERNAL_ERROR_CODE };
}

/** A log function that throws must not turn one failed request into an unhandled rejection. */
function logQuietly(log: CheckpointUiOptions['log'], line: string): void {
  try {
    log?.(line);
  } catch {
    // Nothing else to tell it to: the request's answer is sent regardless.
  }
}

/** Inspects one savepoint in one of the MAX_CONCURRENT_SCANS slots. */
async function scanSavepoint(savepoints: NonNullable<CheckpointUiOptions['savepoints']>, requests: Requests, name: string, signal: AbortSignal): Promise<unknown> {
  if (requests.scans >= MAX_CONCURRENT_SCANS) throw new CheckpointUiBusyError(MAX_CONCURRENT_SCANS);
  requests.scans++;
  try {
    return await inspectSavepointByName(savepoints, name, { signal });
  } finally {
    requests.scans--;
  }
}

async function route(options: CheckpointUiOptions, requests: Requests, signal: AbortSignal, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // A page of another site whose name was rebound to 127.0.0.1 would be same-origin: refuse it.
  if (!loopbackHost(req.headers.host)) return send(res, 403, 'text/plain', 'only for 127.0.0.1 or localhost');
  if (req.method !== 'GET') return send(res, 405, 'text/plain', 'only GET');
  const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
  const asset = STATIC[path];
  if (asset !== undefined) return send(res, 200, asset[1], await readFile(asset[0]));
  if (path === '/api/checkpoints') return sendJson(res, await loadCheckpointsOverview(options.checkpoints, options.history));
  if (path === '/api/savepoints') return sendJson(res, options.savepoints ? { ...(await listSavepoints(options.savepoints.fileSystem)), location: options.savepoints.location } : NO_SAVEPOINTS);
  const sp = /^\/api\/savepoints\/([^/]+)$/.exec(path);
  if (sp !== null && options.savepoints) {
    let name: string;
    try {
      name = decodeURIComponent(sp[1]!);
    } catch {
      return send(res, 400, 'application/json', JSON.stringify({ error: `savepoint name '${sp[1]!}' is not valid percent-encoding` }));
    }
    return sendJson(res, await scanSavepoint(options.savepoints, requests, name, signal));
  }
  send(res, 404, 'text/plain', 'not found');
}

/** `/api/savepoints` without a savepoint directory (`location` null: the page tells an empty directory from none given). */
const NO_SAVEPOINTS: SavepointList & { location: null } = { savepoints: [], truncated: false, limits: { files: MAX_LISTED_FILES, savepoints: MAX_LISTED_SAVEPOINTS }, location: null };

function sendJson(res: ServerResponse, value: unknown): void {
  send(res, 200, 'application/json', JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
}

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array, headers: Readonly<Record<string, string>> = {}): void {
  res.writeHead(status, { ...headers, 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}

/**
 * Stops accepting connections, cancels running scans (each stops at its next read) and resolves
 * once every request's handler has finished, so nothing reads the caller's storage after close()
 * resolves. Answers still being written are then cut off with their connections: waiting for a
 * client that stops reading would hold close() forever.
 */
async function closeServer(server: Server, requests: Requests): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  requests.closing.abort(new CheckpointUiCancelledError('the checkpoint UI is closing'));
  server.closeIdleConnections();
  await Promise.allSettled([...requests.inflight]);
  server.closeAllConnections();
  await closed;
}
