/**
 * A WebHDFS test server: one "namenode" and one "datanode" HTTP listener on 127.0.0.1 (ephemeral
 * ports) over an in-memory namespace, speaking the wire protocol of Hadoop's WebHDFS REST API
 * (`/webhdfs/v1/<path>?op=...`) closely enough that a client which passes here should pass
 * against a real cluster, plus fault injection for retry tests.
 *
 * What it emulates (cross-checked against the Hadoop WebHDFS REST API documentation and the
 * namenode/datanode WebHDFS handlers' observable behaviour):
 * - Two-step writes and reads: CREATE/APPEND/OPEN on the namenode answer 307 with a `Location` on
 *   the datanode (which carries the caller's auth parameters and `namenoderpcaddress`, as the real
 *   redirect does); with `noredirect=true` the namenode answers 200 `{"Location": ...}` instead.
 *   The namenode step never changes the namespace and ignores any body sent to it (counted in
 *   `stats.namenodeBodyBytes`, which a correct client keeps at 0). The datanode refuses requests
 *   without `namenoderpcaddress`, so a client must follow the Location rather than build its own.
 * - CREATE (`overwrite`, default false: 403 FileAlreadyExistsException; parents are created,
 *   `createparent=false` honoured; 201 with `Location: hdfs://...`), APPEND (200), OPEN (`offset`,
 *   `length`; Content-Length set; `offset` >= length of a non-empty file is the namenode's 403
 *   IOException "Offset=... out of the range", `length` past EOF is truncated; a directory is 404
 *   "Path is not a file"), MKDIRS, RENAME (legacy form answers `{"boolean": ...}` and returns
 *   false for a missing source, an existing destination file or a missing destination parent,
 *   moving into an existing destination directory; with `renameoptions` it is HDFS's rename2:
 *   empty 200, FileNotFoundException / FileAlreadyExistsException / IOException on failure,
 *   OVERWRITE replaces a file or empty directory atomically), DELETE (`{"boolean": false}` when
 *   missing; a non-empty directory without `recursive=true` is 403
 *   PathIsNotEmptyDirectoryException, which is what the namenode's exception mapper makes of that
 *   IOException; deleting `/` answers false), GETFILESTATUS, LISTSTATUS, LISTSTATUS_BATCH
 *   (`DirectoryListing` / `partialListing` / `remainingEntries`, `startAfter` compared bytewise as
 *   HDFS orders children, page size `listingPageSize` like `dfs.ls.limit`; listing a file returns
 *   the file itself with an empty `pathSuffix`), GETHOMEDIRECTORY.
 * - FileStatus JSON with the documented field set (accessTime, blockSize, childrenNum, fileId,
 *   group, length, modificationTime, owner, pathSuffix, permission, replication, storagePolicy,
 *   type); directories report blockSize/replication 0.
 * - RemoteException JSON bodies with the status codes of the namenode's exception mapper:
 *   400 IllegalArgumentException / UnsupportedOperationException / InvalidPathException,
 *   403 for IOExceptions (AccessControlException, FileAlreadyExistsException,
 *   ParentNotDirectoryException, PathIsNotEmptyDirectoryException, AlreadyBeingCreatedException,
 *   InvalidToken, EOF/offset errors), 404 FileNotFoundException (every missing path; a request
 *   outside `/webhdfs/v1`, as from a client with a wrong endpoint path, is the one bare text/plain
 *   404 without a RemoteException, as any web server would send it). The documented 401
 *   SecurityException belongs to Kerberos setups and is never produced here.
 *   Op names are case-insensitive; an unknown op or an op sent with the wrong HTTP method is 400
 *   IllegalArgumentException, as the real per-method op enums make it.
 * - Path rules of DFSUtil.isValidName: '.', '..' and components containing ':' are 400
 *   InvalidPathException; components over 255 UTF-8 bytes are 403
 *   MaxPathComponentLengthExceededException on namespace-changing ops.
 * - Authentication, pseudo/simple style: `user.name`, or `delegation=<token>` checked against
 *   `delegationTokens` (an unknown token is 403 InvalidToken, and the message names the token kind,
 *   never the token, like the real "can't be found in cache" message; some Hadoop versions wrap it
 *   as SecurityException "Failed to obtain user group information", which clients must treat the
 *   same). With `requireUser`, a request with neither is rejected 403: by default with an
 *   AccessControlException RemoteException body, or, with `authFailureStyle: 'servlet'`, with a
 *   text/html error page and no RemoteException at all, which is what hadoop-auth's
 *   AuthenticationFilter sends when simple auth has anonymous access disabled ("Anonymous requests
 *   are disallowed"); clients must handle both. Without `requireUser`, anonymous requests act as
 *   `dr.who`, Hadoop's default static web user.
 * - Single writer per file while a datanode CREATE/APPEND body is streaming: a second writer gets
 *   403 AlreadyBeingCreatedException. A write whose connection drops keeps the bytes received so
 *   far (the datanode closes the stream it was writing), so a client sees partial data after a
 *   reset and must reconcile before retrying.
 *
 * Fault injection (`faults.add`): status replies (500/503, or any status with a chosen
 * RemoteException, e.g. 403 StandbyException) sent without touching the namespace; connection
 * resets, either after the request took effect (response lost, or cut after `afterBytes` of the
 * response body) or, for datanode writes, after `afterBytes` of the request body were stored;
 * delays (the request takes effect, the response is held `ms`). Rules match on role, op and path
 * prefix, fire `times` times (Infinity: permanently) and are counted per kind in `faultCounts`.
 *
 * Fidelity limits (what it does NOT emulate):
 * - No permission model: permissions, owners, groups, ACLs, sticky bits, umask, superuser and
 *   proxy-user (`doas`) authorisation are recorded or ignored, never enforced. No Kerberos/SPNEGO,
 *   no 401 challenge, no delegation token issue/renew/cancel ops or expiry, no auth cookies.
 * - No blocks, replication, pipelines, block recovery, checksums (GETFILECHECKSUM), storage
 *   policies, erasure coding, quotas, snapshots, xattrs, symlinks, encryption zones, trash.
 * - No leases beyond the in-flight single-writer check: no soft/hard lease expiry, no
 *   RecoveryInProgressException, no lease recovery after a writer dies; no visible-length lag
 *   (GETFILESTATUS shows bytes as they arrive; real HDFS shows only completed blocks of an open
 *   file).
 * - Only the ops listed above; others (GETCONTENTSUMMARY, CONCAT, TRUNCATE, SETTIMES, ...) are 400
 *   UnsupportedOperationException. No HA (StandbyException only via fault injection), no safe
 *   mode, no HttpFS gateway quirks, no SSL, no multiple datanodes or locality, no
 *   `buffersize` effects, no edit log / persistence: everything is lost on close().
 * - A path through a file (`/file/x`) is simply not found; some namenode versions raise
 *   ParentNotDirectoryException for it instead (inject it as a status fault to test that).
 * - Error messages are modelled on Hadoop's but not byte-identical; status codes, exception names
 *   and JSON shapes are what clients should rely on.
 * - Request bodies are always drained before an error reply (the real datanode may reply early),
 *   so a client sees the error response rather than a broken pipe.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

export type ServerRole = 'namenode' | 'datanode';

export interface WebHdfsTestServerOptions {
  /** Reject requests that carry neither `user.name` nor `delegation` (anonymous disallowed). */
  readonly requireUser?: boolean;
  /** How a rejected anonymous request looks; see the header comment. Default 'remote-exception'. */
  readonly authFailureStyle?: 'remote-exception' | 'servlet';
  /** Valid delegation tokens and the user each one authenticates. */
  readonly delegationTokens?: ReadonlyMap<string, string>;
  /** Entries per LISTSTATUS_BATCH page (HDFS's dfs.ls.limit, default 1000). */
  readonly listingPageSize?: number;
  /** false emulates a namenode that predates `noredirect` and always answers 307. Default true. */
  readonly honourNoRedirect?: boolean;
  readonly defaultBlockSize?: number;
  readonly defaultReplication?: number;
  /**
   * Misbehaving-server switch for redaction tests: error messages echo the delegation token the
   * request carried. Real namenodes never do; proxies and buggy gateways have been known to.
   */
  readonly echoTokenInErrors?: boolean;
}

export type Fault =
  /** Reply with this status and a RemoteException body, without touching the namespace. */
  | { readonly kind: 'status'; readonly status: number; readonly exception?: string; readonly javaClassName?: string; readonly retryAfterSeconds?: number }
  /**
   * Drop the connection. Datanode CREATE/APPEND: after storing `afterBytes` (default 0) of the
   * request body. Other requests: after the request took effect, before any response byte or,
   * with `afterBytes`, after the headers and that many response body bytes.
   */
  | { readonly kind: 'reset'; readonly afterBytes?: number }
  /** The request takes effect; the response is held back `ms` milliseconds. */
  | { readonly kind: 'delay'; readonly ms: number };

export interface FaultRule {
  readonly fault: Fault;
  /** How many matching requests it hits; Infinity makes it permanent. Default 1. */
  readonly times?: number;
  readonly role?: ServerRole;
  /** Upper-case op name, e.g. 'CREATE'. */
  readonly op?: string;
  /** HDFS path prefix, e.g. '/data'. */
  readonly pathPrefix?: string;
}

export interface FaultHandle {
  /** How many requests this rule has hit so far. */
  readonly fired: number;
  remove(): void;
}

export interface RequestRecord {
  readonly role: ServerRole;
  readonly method: string;
  readonly op: string;
  readonly path: string;
  /** Query parameters with the delegation token value replaced by '<token>'. */
  readonly params: Readonly<Record<string, string>>;
  /** Status sent, or 0 when the connection was dropped before a response. */
  status: number;
  /** The fault kind that hit this request, if any. */
  fault?: string;
}

interface Meta {
  readonly fileId: number;
  owner: string;
  group: string;
  permission: string;
  modificationTime: number;
  accessTime: number;
}
interface DirNode {
  readonly kind: 'dir';
  readonly children: Map<string, Node>;
  readonly meta: Meta;
}
interface FileNode {
  readonly kind: 'file';
  chunks: Buffer[];
  length: number;
  readonly blockSize: number;
  readonly replication: number;
  readonly meta: Meta;
  /** True while a datanode request streams into it (the emulated lease). */
  writing: boolean;
}
type Node = DirNode | FileNode;

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** A Java exception as the REST layer reports it. */
class RemoteError extends Error {
  constructor(
    readonly status: number,
    readonly exception: string,
    readonly javaClassName: string,
    message: string,
  ) {
    super(message);
  }
}

/** The connection was dropped on purpose (fault) or by the client; nothing more to send. */
class ConnectionGone extends Error {}

const notFound = (msg: string) => new RemoteError(404, 'FileNotFoundException', 'java.io.FileNotFoundException', msg);
const illegalArgument = (msg: string) => new RemoteError(400, 'IllegalArgumentException', 'java.lang.IllegalArgumentException', msg);
const unsupported = (msg: string) => new RemoteError(400, 'UnsupportedOperationException', 'java.lang.UnsupportedOperationException', msg);
const invalidPath = (msg: string) => new RemoteError(400, 'InvalidPathException', 'org.apache.hadoop.fs.InvalidPathException', msg);
const ioException = (msg: string) => new RemoteError(403, 'IOException', 'java.io.IOException', msg);
const alreadyExists = (msg: string) => new RemoteError(403, 'FileAlreadyExistsException', 'org.apache.hadoop.fs.FileAlreadyExistsException', msg);
const parentNotDir = (msg: string) => new RemoteError(403, 'ParentNotDirectoryException', 'org.apache.hadoop.fs.ParentNotDirectoryException', msg);
const accessControl = (msg: string) => new RemoteError(403, 'AccessControlException', 'org.apache.hadoop.security.AccessControlException', msg);

const GET_OPS = new Set(['OPEN', 'GETFILESTATUS', 'LISTSTATUS', 'LISTSTATUS_BATCH', 'GETHOMEDIRECTORY', 'GETCONTENTSUMMARY', 'GETFILECHECKSUM', 'GETDELEGATIONTOKEN', 'GETXATTRS', 'LISTXATTRS', 'GETACLSTATUS', 'CHECKACCESS', 'GETTRASHROOT', 'GETQUOTAUSAGE', 'GETFILEBLOCKLOCATIONS']);
const PUT_OPS = new Set(['CREATE', 'MKDIRS', 'RENAME', 'SETREPLICATION', 'SETOWNER', 'SETPERMISSION', 'SETTIMES', 'RENEWDELEGATIONTOKEN', 'CANCELDELEGATIONTOKEN', 'CREATESNAPSHOT', 'RENAMESNAPSHOT', 'SETXATTR', 'REMOVEXATTR', 'CREATESYMLINK', 'SETSTORAGEPOLICY', 'ALLOWSNAPSHOT', 'DISALLOWSNAPSHOT']);
const POST_OPS = new Set(['APPEND', 'CONCAT', 'TRUNCATE', 'UNSETSTORAGEPOLICY']);
const DELETE_OPS = new Set(['DELETE', 'DELETESNAPSHOT']);
const OPS_BY_METHOD: Record<string, { readonly ops: ReadonlySet<string>; readonly enumName: string }> = {
  GET: { ops: GET_OPS, enumName: 'GetOpParam' },
  PUT: { ops: PUT_OPS, enumName: 'PutOpParam' },
  POST: { ops: POST_OPS, enumName: 'PostOpParam' },
  DELETE: { ops: DELETE_OPS, enumName: 'DeleteOpParam' },
};
const IMPLEMENTED_NAMENODE_OPS = new Set(['OPEN', 'GETFILESTATUS', 'LISTSTATUS', 'LISTSTATUS_BATCH', 'GETHOMEDIRECTORY', 'CREATE', 'MKDIRS', 'RENAME', 'APPEND', 'DELETE']);
const NAMENODE_RPC_ADDRESS = '127.0.0.1:8020';
const MAX_COMPONENT_BYTES = 255;
const WEBHDFS_PREFIX = '/webhdfs/v1';

function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function json(status: number, value: unknown, extraHeaders: Record<string, string> = {}): Reply {
  return { status, headers: { 'content-type': 'application/json', ...extraHeaders }, body: Buffer.from(JSON.stringify(value)) };
}

function remoteReply(e: RemoteError): Reply {
  return json(e.status, { RemoteException: { exception: e.exception, javaClassName: e.javaClassName, message: e.message } });
}

function empty(status: number, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'content-type': 'application/octet-stream', ...headers }, body: Buffer.alloc(0) };
}

function parseBool(params: URLSearchParams, name: string, dflt: boolean): boolean {
  const v = params.get(name);
  if (v === null || v === '') return dflt;
  if (/^true$/i.test(v)) return true;
  if (/^false$/i.test(v)) return false;
  throw illegalArgument(`Invalid value for webhdfs parameter "${name}": Failed to parse "${v}" to Boolean.`);
}

function parseLong(params: URLSearchParams, name: string, dflt: number | undefined, min = 0): number | undefined {
  const v = params.get(name);
  if (v === null || v === '' || v.toLowerCase() === 'null') return dflt;
  if (!/^-?\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) {
    throw illegalArgument(`Invalid value for webhdfs parameter "${name}": ${v} is not a valid value (must be >= ${min})`);
  }
  return Number(v);
}

export class WebHdfsTestServer {
  readonly stats = { namenodeRequests: 0, datanodeRequests: 0, namenodeBodyBytes: 0, redirects: 0, noredirectLocations: 0 };
  readonly requestLog: RequestRecord[] = [];
  private readonly rules: Array<{ rule: FaultRule; remaining: number; fired: number }> = [];
  private readonly counts = new Map<string, number>();
  private readonly root: DirNode;
  private nextFileId = 16385;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly options: WebHdfsTestServerOptions,
    private readonly namenode: http.Server,
    private readonly datanode: http.Server,
  ) {
    this.root = this.newDir('hdfs');
  }

  /** Starts both listeners on 127.0.0.1 with ephemeral ports. */
  static async start(options: WebHdfsTestServerOptions = {}): Promise<WebHdfsTestServer> {
    const nn = http.createServer();
    const dn = http.createServer();
    const server = new WebHdfsTestServer(options, nn, dn);
    for (const [role, s] of [['namenode', nn], ['datanode', dn]] as const) {
      // Generous keep-alive so client connection reuse is not cut by the server's idle timer
      // mid-test (that would be a fault nobody injected).
      s.keepAliveTimeout = 30_000;
      s.on('connection', (sock: Socket) => {
        server.sockets.add(sock);
        sock.on('close', () => server.sockets.delete(sock));
      });
      s.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
        server.onRequest(role, req, res).catch((e: unknown) => {
          // A bug in the emulator, not a fault: recorded so tests can insist there are none.
          server.internalErrors.push(e);
          req.socket.destroy();
        });
      });
      await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    }
    server.namenodeUrl = `http://127.0.0.1:${(nn.address() as AddressInfo).port}`;
    server.datanodeUrl = `http://127.0.0.1:${(dn.address() as AddressInfo).port}`;
    return server;
  }

  /** Base URL of the namenode listener (what a client's endpoint is). */
  namenodeUrl = '';
  /** Base URL of the datanode listener (where the namenode redirects to). */
  datanodeUrl = '';
  /** Exceptions the emulator threw while handling a request (each one dropped a connection). */
  readonly internalErrors: unknown[] = [];

  /** Stops both listeners; rejects if the emulator itself failed on any request meanwhile. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all([this.namenode, this.datanode].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    if (this.internalErrors.length > 0) throw new AggregateError(this.internalErrors, `the WebHDFS test server failed internally ${this.internalErrors.length} time(s)`);
  }

  // ---------------------------------------------------------------- fault injection

  readonly faults = {
    add: (rule: FaultRule): FaultHandle => {
      const entry = { rule, remaining: rule.times ?? 1, fired: 0 };
      this.rules.push(entry);
      return {
        get fired() {
          return entry.fired;
        },
        remove: () => {
          const i = this.rules.indexOf(entry);
          if (i >= 0) this.rules.splice(i, 1);
        },
      };
    },
    clear: (): void => {
      this.rules.length = 0;
    },
  };

  /** Faults injected so far, by kind: 'status:500', 'status:503', 'reset', 'delay', ... */
  faultCounts(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  resetFaultCounts(): void {
    this.counts.clear();
  }

  private takeFault(role: ServerRole, op: string, path: string): Fault | undefined {
    for (const entry of this.rules) {
      const r = entry.rule;
      if (entry.remaining <= 0) continue;
      if (r.role !== undefined && r.role !== role) continue;
      if (r.op !== undefined && r.op !== op) continue;
      if (r.pathPrefix !== undefined && !path.startsWith(r.pathPrefix)) continue;
      entry.remaining--;
      entry.fired++;
      const key = r.fault.kind === 'status' ? `status:${r.fault.status}` : r.fault.kind;
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
      return r.fault;
    }
    return undefined;
  }

  // ---------------------------------------------------------------- direct namespace access for tests

  /** The bytes of a file, or undefined if there is no file at this absolute path. */
  readFile(path: string): Buffer | undefined {
    const n = this.lookup(this.split(path));
    return n?.kind === 'file' ? Buffer.concat(n.chunks) : undefined;
  }

  /** Seeds a file (creating parents) without going through HTTP. */
  writeFile(path: string, data: Uint8Array, owner = 'hdfs'): void {
    const parts = this.split(path);
    const parent = this.mkdirsInternal(parts.slice(0, -1), owner);
    const name = parts[parts.length - 1];
    if (name === undefined) throw new Error('cannot write the root');
    const f = this.newFile(owner, this.options.defaultBlockSize ?? 134217728, this.options.defaultReplication ?? 3);
    f.chunks = [Buffer.from(data)];
    f.length = data.length;
    parent.children.set(name, f);
  }

  exists(path: string): boolean {
    return this.lookup(this.split(path)) !== undefined;
  }

  /** Every file below an absolute directory, as absolute paths, sorted. */
  listFiles(dir = '/'): string[] {
    const out: string[] = [];
    const walk = (n: Node, p: string) => {
      if (n.kind === 'file') out.push(p);
      else for (const [name, c] of n.children) walk(c, p === '/' ? `/${name}` : `${p}/${name}`);
    };
    const start = this.lookup(this.split(dir));
    if (start !== undefined) walk(start, dir === '/' ? '/' : dir.replace(/\/+$/, ''));
    return out.sort();
  }

  // ---------------------------------------------------------------- namespace

  private newMeta(owner: string, permission: string): Meta {
    const now = Date.now();
    return { fileId: this.nextFileId++, owner, group: 'supergroup', permission, modificationTime: now, accessTime: now };
  }

  private newDir(owner: string): DirNode {
    return { kind: 'dir', children: new Map(), meta: { ...this.newMeta(owner, '755'), accessTime: 0 } };
  }

  private newFile(owner: string, blockSize: number, replication: number, permission = '644'): FileNode {
    return { kind: 'file', chunks: [], length: 0, blockSize, replication, meta: this.newMeta(owner, permission), writing: false };
  }

  /** Splits an absolute HDFS path into validated components ('/' → []). */
  private split(path: string): string[] {
    if (!path.startsWith('/')) throw invalidPath(`Invalid path name Path is not absolute: ${path}`);
    const parts = path.split('/').filter((p) => p !== '');
    for (const p of parts) {
      if (p === '.' || p === '..' || p.includes(':')) throw invalidPath(`Invalid path name ${path}`);
    }
    return parts;
  }

  private checkComponentLengths(parts: readonly string[], path: string): void {
    for (const p of parts) {
      const len = Buffer.byteLength(p, 'utf8');
      if (len > MAX_COMPONENT_BYTES) {
        throw new RemoteError(
          403,
          'MaxPathComponentLengthExceededException',
          'org.apache.hadoop.hdfs.protocol.FSLimitException$MaxPathComponentLengthExceededException',
          `The maximum path component name limit of ${p.slice(0, 32)}... in directory ${path} is exceeded: limit=${MAX_COMPONENT_BYTES} length=${len}`,
        );
      }
    }
  }

  private lookup(parts: readonly string[]): Node | undefined {
    let n: Node = this.root;
    for (const p of parts) {
      if (n.kind !== 'dir') return undefined;
      const c: Node | undefined = n.children.get(p);
      if (c === undefined) return undefined;
      n = c;
    }
    return n;
  }

  /** The parent directory of `parts`, or a ParentNotDirectoryException/undefined. */
  private parentDir(parts: readonly string[], path: string): DirNode | undefined {
    let n: Node = this.root;
    for (let i = 0; i < parts.length - 1; i++) {
      const c: Node | undefined = n.kind === 'dir' ? n.children.get(parts[i]!) : undefined;
      if (c === undefined) return undefined;
      if (c.kind === 'file') throw parentNotDir(`/${parts.slice(0, i + 1).join('/')} (is not a directory) in ${path}`);
      n = c;
    }
    return n.kind === 'dir' ? n : undefined;
  }

  private mkdirsInternal(parts: readonly string[], owner: string): DirNode {
    let n: DirNode = this.root;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      const c = n.children.get(p);
      if (c === undefined) {
        const d = this.newDir(owner);
        n.children.set(p, d);
        n.meta.modificationTime = Date.now();
        n = d;
      } else if (c.kind === 'file') {
        const at = `/${parts.slice(0, i + 1).join('/')}`;
        if (i === parts.length - 1) throw alreadyExists(`Path is not a directory: ${at}`);
        throw parentNotDir(`Parent path is not a directory: ${at}`);
      } else {
        n = c;
      }
    }
    return n;
  }

  private status(n: Node, pathSuffix: string): Record<string, unknown> {
    return {
      accessTime: n.meta.accessTime,
      blockSize: n.kind === 'file' ? n.blockSize : 0,
      childrenNum: n.kind === 'dir' ? n.children.size : 0,
      fileId: n.meta.fileId,
      group: n.meta.group,
      length: n.kind === 'file' ? n.length : 0,
      modificationTime: n.meta.modificationTime,
      owner: n.meta.owner,
      pathSuffix,
      permission: n.meta.permission,
      replication: n.kind === 'file' ? n.replication : 0,
      storagePolicy: 0,
      type: n.kind === 'file' ? 'FILE' : 'DIRECTORY',
    };
  }

  /** The entries a listing of `n` returns, sorted as HDFS sorts them (bytewise). */
  private listing(n: Node): Array<Record<string, unknown>> {
    if (n.kind === 'file') return [this.status(n, '')];
    return [...n.children.keys()].sort(utf8Compare).map((name) => this.status(n.children.get(name)!, name));
  }

  // ---------------------------------------------------------------- HTTP

  private async onRequest(role: ServerRole, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (role === 'namenode') this.stats.namenodeRequests++;
    else this.stats.datanodeRequests++;
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const op = (url.searchParams.get('op') ?? '').toUpperCase();
    const params: Record<string, string> = {};
    for (const [k, v] of url.searchParams) params[k] = k === 'delegation' ? '<token>' : v;
    let path = '';
    try {
      path = decodeURIComponent(url.pathname.slice(WEBHDFS_PREFIX.length)) || '/';
    } catch {
      path = url.pathname;
    }
    const record: RequestRecord = { role, method, op, path, params, status: 0 };
    this.requestLog.push(record);

    if (!url.pathname.startsWith(WEBHDFS_PREFIX)) {
      await this.drain(req, role);
      record.status = 404;
      this.send(res, { status: 404, headers: { 'content-type': 'text/plain' }, body: Buffer.from('Not Found') });
      return;
    }

    const fault = this.takeFault(role, op, path);
    if (fault !== undefined) record.fault = fault.kind === 'status' ? `status:${fault.status}` : fault.kind;
    if (fault?.kind === 'status') {
      await this.drain(req, role);
      record.status = fault.status;
      this.send(res, faultReply(fault));
      return;
    }
    const reset = fault?.kind === 'reset' ? fault : undefined;
    const isBodyWrite = role === 'datanode' && ((method === 'PUT' && op === 'CREATE') || (method === 'POST' && op === 'APPEND'));

    let reply: Reply;
    try {
      const user = this.authenticate(url, role);
      if (typeof user !== 'string') {
        reply = user;
      } else if (role === 'namenode') {
        reply = await this.handleNamenode(req, method, op, path, url, user);
      } else {
        reply = await this.handleDatanode(req, method, op, path, url, user, isBodyWrite ? reset : undefined);
      }
    } catch (e) {
      if (e instanceof ConnectionGone) return;
      const err = e instanceof RemoteError ? e : new RemoteError(500, 'RuntimeException', 'java.lang.RuntimeException', String(e));
      reply = remoteReply(this.options.echoTokenInErrors ? this.echoToken(err, url) : err);
    }
    // Whatever the handler did not read is drained, so the error reply is what the client sees.
    await this.drain(req, role);

    if (fault?.kind === 'delay') await sleep(fault.ms);
    if (reset !== undefined && !isBodyWrite) return sendCut(req, res, reply, reset.afterBytes);
    record.status = reply.status;
    this.send(res, reply);
  }

  private echoToken(e: RemoteError, url: URL): RemoteError {
    const token = url.searchParams.get('delegation');
    if (token === null) return e;
    return new RemoteError(e.status, e.exception, e.javaClassName, `${e.message} (request delegation=${token})`);
  }

  private send(res: http.ServerResponse, reply: Reply): void {
    if (res.destroyed) return;
    res.writeHead(reply.status, { ...reply.headers, 'content-length': String(reply.body.length) });
    res.end(reply.body);
  }

  private async drain(req: http.IncomingMessage, role: ServerRole): Promise<void> {
    if (req.readableEnded || req.destroyed) return;
    try {
      for await (const chunk of req) {
        if (role === 'namenode') this.stats.namenodeBodyBytes += (chunk as Buffer).length;
      }
    } catch {
      // The client went away; nothing to drain.
    }
  }

  /** The effective user, or a ready-made rejection. */
  private authenticate(url: URL, role: ServerRole): string | Reply {
    const token = url.searchParams.get('delegation');
    if (token !== null && token !== '') {
      const user = this.options.delegationTokens?.get(token);
      if (user === undefined) {
        // The real message names the token's identifier (kind, sequence number, owner) as decoded
        // from the token; an unparseable or unknown token never has its secret echoed.
        throw new RemoteError(403, 'InvalidToken', 'org.apache.hadoop.security.token.SecretManager$InvalidToken', `token (HDFS_DELEGATION_TOKEN) can't be found in cache`);
      }
      return user;
    }
    const user = url.searchParams.get('user.name');
    if (user !== null && user !== '') return user;
    if (this.options.requireUser) {
      if (this.options.authFailureStyle === 'servlet') {
        const html = `<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>\n<title>Error 403 Anonymous requests are disallowed</title>\n</head>\n<body><h2>HTTP ERROR 403</h2>\n<p>Problem accessing ${WEBHDFS_PREFIX}. Reason:\n<pre>    Anonymous requests are disallowed</pre></p>\n</body>\n</html>\n`;
        return { status: 403, headers: { 'content-type': 'text/html;charset=utf-8' }, body: Buffer.from(html) };
      }
      throw accessControl(`Anonymous requests are disallowed (${role} requires user.name or delegation)`);
    }
    return 'dr.who';
  }

  private checkOp(method: string, op: string): void {
    const table = OPS_BY_METHOD[method];
    if (table === undefined) throw unsupported(`HTTP method ${method} is not supported`);
    if (op === '') throw illegalArgument(`Invalid value for webhdfs parameter "op": op is missing`);
    if (!table.ops.has(op)) {
      throw illegalArgument(`Invalid value for webhdfs parameter "op": No enum constant org.apache.hadoop.hdfs.web.resources.${table.enumName}.Op.${op}`);
    }
  }

  private redirect(op: string, path: string, url: URL, extra: Record<string, string>): Reply {
    const loc = new URL(this.datanodeUrl);
    loc.pathname = WEBHDFS_PREFIX + path.split('/').map(encodeURIComponent).join('/');
    const q = new URLSearchParams();
    q.set('op', op);
    for (const k of ['user.name', 'delegation', 'doas']) {
      const v = url.searchParams.get(k);
      if (v !== null) q.set(k, v);
    }
    q.set('namenoderpcaddress', NAMENODE_RPC_ADDRESS);
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    loc.search = q.toString();
    const noredirect = parseBool(url.searchParams, 'noredirect', false);
    if (noredirect && this.options.honourNoRedirect !== false) {
      this.stats.noredirectLocations++;
      return json(200, { Location: loc.toString() });
    }
    this.stats.redirects++;
    return empty(307, { location: loc.toString() });
  }

  private async handleNamenode(req: http.IncomingMessage, method: string, op: string, path: string, url: URL, user: string): Promise<Reply> {
    this.checkOp(method, op);
    if (!IMPLEMENTED_NAMENODE_OPS.has(op)) throw unsupported(`op ${op} is not emulated by the WebHDFS test server`);
    const q = url.searchParams;
    const parts = this.split(path);
    // The namenode step of a two-step op never reads the body; a real namenode ignores it.
    await this.drain(req, 'namenode');
    switch (op) {
      case 'CREATE':
        return this.redirect(op, path, url, createRedirectParams(q));
      case 'APPEND': {
        const n = this.lookup(parts);
        if (n === undefined) throw notFound(`failed to append to non-existent file ${path} for client 127.0.0.1`);
        if (n.kind === 'dir') throw notFound(`Cannot append to directory ${path}`);
        return this.redirect(op, path, url, {});
      }
      case 'OPEN':
        return this.redirect(op, path, url, this.openRedirectParams(parts, path, q));
      case 'GETFILESTATUS': {
        const n = this.lookup(parts);
        if (n === undefined) throw notFound(`File does not exist: ${path}`);
        return json(200, { FileStatus: this.status(n, '') });
      }
      case 'LISTSTATUS': {
        const n = this.lookup(parts);
        if (n === undefined) throw notFound(`File ${path} does not exist.`);
        return json(200, { FileStatuses: { FileStatus: this.listing(n) } });
      }
      case 'LISTSTATUS_BATCH':
        return this.listStatusBatch(parts, path, q);
      case 'GETHOMEDIRECTORY':
        return json(200, { Path: `/user/${user}` });
      case 'MKDIRS': {
        this.checkComponentLengths(parts, path);
        const d = this.mkdirsInternal(parts, user);
        const perm = q.get('permission');
        if (perm !== null && /^[0-1]?[0-7]{3}$/.test(perm) && d !== this.root && d.meta.owner === user) d.meta.permission = perm.slice(-3);
        return json(200, { boolean: true });
      }
      case 'RENAME':
        return this.rename(parts, path, q);
      case 'DELETE':
        return this.delete(parts, path, parseBool(q, 'recursive', false));
      default:
        throw unsupported(`op ${op} is not emulated by the WebHDFS test server`);
    }
  }

  /** OPEN's redirect parameters, once the offset is known to be within the file. */
  private openRedirectParams(parts: readonly string[], path: string, q: URLSearchParams): Record<string, string> {
    const offset = parseLong(q, 'offset', 0) ?? 0;
    const length = parseLong(q, 'length', undefined);
    const n = this.lookup(parts);
    if (n === undefined) throw notFound(`File ${path} not found.`);
    const len = n.kind === 'file' ? n.length : 0;
    if (offset >= len && len > 0) throw ioException(`Offset=${offset} out of the range [0, ${len}); OPEN, path=${path}`);
    const extra: Record<string, string> = { offset: String(offset) };
    if (length !== undefined) extra['length'] = String(length);
    return extra;
  }

  private listStatusBatch(parts: readonly string[], path: string, q: URLSearchParams): Reply {
    const n = this.lookup(parts);
    if (n === undefined) throw notFound(`File ${path} does not exist.`);
    const startAfter = q.get('startAfter') ?? '';
    let all = this.listing(n);
    if (startAfter !== '' && n.kind === 'dir') all = all.filter((s) => utf8Compare(String(s['pathSuffix']), startAfter) > 0);
    const pageSize = Math.max(1, this.options.listingPageSize ?? 1000);
    const page = all.slice(0, pageSize);
    return json(200, { DirectoryListing: { partialListing: { FileStatuses: { FileStatus: page } }, remainingEntries: all.length - page.length } });
  }

  private delete(parts: readonly string[], path: string, recursive: boolean): Reply {
    if (parts.length === 0) return json(200, { boolean: false });
    const parent = this.parentDir(parts, path);
    const name = parts[parts.length - 1]!;
    const n = parent?.children.get(name);
    if (parent === undefined || n === undefined) return json(200, { boolean: false });
    if (n.kind === 'dir' && n.children.size > 0 && !recursive) {
      throw new RemoteError(403, 'PathIsNotEmptyDirectoryException', 'org.apache.hadoop.fs.PathIsNotEmptyDirectoryException', `\`${path} is non empty': Directory is not empty`);
    }
    parent.children.delete(name);
    parent.meta.modificationTime = Date.now();
    return json(200, { boolean: true });
  }

  private rename(parts: readonly string[], path: string, q: URLSearchParams): Reply {
    const destination = q.get('destination');
    if (destination === null || destination === '') throw illegalArgument(`Invalid value for webhdfs parameter "destination": null`);
    if (!destination.startsWith('/')) throw illegalArgument(`Invalid parameter value: destination = "${destination}" is not an absolute path.`);
    const dparts = this.split(destination);
    const optsRaw = q.get('renameoptions');
    const legacy = optsRaw === null || optsRaw === '';
    const opts = new Set((optsRaw ?? '').split(',').map((s) => s.trim().toUpperCase()).filter((s) => s !== ''));
    for (const o of opts) {
      if (o !== 'NONE' && o !== 'OVERWRITE' && o !== 'TO_TRASH') {
        throw illegalArgument(`Invalid value for webhdfs parameter "renameoptions": No enum constant org.apache.hadoop.fs.Options.Rename.${o}`);
      }
    }
    const overwrite = opts.has('OVERWRITE');
    const srcParent = parts.length === 0 ? undefined : this.parentDir(parts, path);
    const srcName = parts[parts.length - 1];
    const src = srcName === undefined ? undefined : srcParent?.children.get(srcName);
    const isPrefix = dparts.length >= parts.length && parts.every((p, i) => dparts[i] === p);

    if (legacy) return this.legacyRename({ parent: srcParent, name: srcName, node: src }, parts, dparts, destination, isPrefix);

    // rename2 (Options.Rename): void on success, exceptions otherwise.
    if (src === undefined || srcParent === undefined || srcName === undefined) {
      throw notFound(`rename source ${path} is not found.`);
    }
    const dstName = dparts[dparts.length - 1];
    if (dstName === undefined) throw ioException(`rename destination cannot be the root`);
    if (src.kind === 'dir' && isPrefix) throw ioException(`Rename destination ${destination} is a directory or file under source ${path}`);
    if (dparts.join('/') === parts.join('/')) {
      if (src.kind === 'file') throw alreadyExists(`The source ${path} and destination ${destination} are the same`);
      throw ioException(`The source ${path} and destination ${destination} are the same`);
    }
    const dstParent = this.parentDir(dparts, destination);
    if (dstParent === undefined) throw notFound(`rename destination parent ${destination} not found.`);
    this.checkComponentLengths([dstName], destination);
    const existing = dstParent.children.get(dstName);
    if (existing !== undefined) {
      if (!overwrite) throw alreadyExists(`rename destination ${destination} already exists.`);
      if (existing.kind !== src.kind) {
        throw ioException(`Source ${path} Destination ${destination} both should be either file or directory`);
      }
      if (existing.kind === 'dir' && existing.children.size > 0) throw ioException(`rename destination directory is not empty: ${destination}`);
    }
    srcParent.children.delete(srcName);
    dstParent.children.set(dstName, src);
    srcParent.meta.modificationTime = dstParent.meta.modificationTime = Date.now();
    return empty(200);
  }

  /** The legacy rename (no renameoptions): false instead of exceptions; into an existing directory moves the source under it. */
  private legacyRename(
    source: { readonly parent: DirNode | undefined; readonly name: string | undefined; readonly node: Node | undefined },
    parts: readonly string[],
    dparts: readonly string[],
    destination: string,
    isPrefix: boolean,
  ): Reply {
    const { parent: srcParent, name: srcName, node: src } = source;
    const no = json(200, { boolean: false });
    if (src === undefined || srcParent === undefined || srcName === undefined) return no;
    let dstParent: DirNode | undefined;
    let dstName: string;
    const target = this.lookup(dparts);
    if (target?.kind === 'dir') {
      // Legacy rename into an existing directory moves the source under it.
      dstParent = target;
      dstName = srcName;
      if (dstParent.children.has(dstName)) return no;
    } else if (target?.kind === 'file') {
      return dparts.join('/') === parts.join('/') ? json(200, { boolean: true }) : no;
    } else {
      try {
        dstParent = this.parentDir(dparts, destination);
      } catch {
        return no;
      }
      dstName = dparts[dparts.length - 1] ?? '';
      if (dstParent === undefined || dstName === '') return no;
    }
    if (src.kind === 'dir' && isPrefix) return no;
    this.checkComponentLengths([dstName], destination);
    srcParent.children.delete(srcName);
    dstParent.children.set(dstName, src);
    srcParent.meta.modificationTime = dstParent.meta.modificationTime = Date.now();
    return json(200, { boolean: true });
  }

  private async handleDatanode(
    req: http.IncomingMessage,
    method: string,
    op: string,
    path: string,
    url: URL,
    user: string,
    reset: { readonly afterBytes?: number } | undefined,
  ): Promise<Reply> {
    this.checkOp(method, op);
    if (op !== 'CREATE' && op !== 'APPEND' && op !== 'OPEN') throw illegalArgument(`Invalid operation ${op} for the datanode`);
    const q = url.searchParams;
    if ((q.get('namenoderpcaddress') ?? '') === '') throw illegalArgument(`namenoderpcaddress is not specified.`);
    const parts = this.split(path);
    const name = parts[parts.length - 1];
    if (name === undefined) throw ioException(`${op} of the root directory`);

    if (op === 'OPEN') return this.openFile(parts, path, q);
    const file = op === 'CREATE' ? this.createFile(parts, name, path, q, user) : this.fileToAppend(parts, path);
    await this.receiveBody(req, file, reset);
    if (op === 'CREATE') return empty(201, { location: `hdfs://${NAMENODE_RPC_ADDRESS}${path.split('/').map(encodeURIComponent).join('/')}` });
    return empty(200);
  }

  /** The datanode's OPEN: the file's bytes from `offset`, `length` of them at most. */
  private openFile(parts: readonly string[], path: string, q: URLSearchParams): Reply {
    const offset = parseLong(q, 'offset', 0) ?? 0;
    const length = parseLong(q, 'length', undefined);
    const n = this.lookup(parts);
    if (n === undefined) throw notFound(`File does not exist: ${path}`);
    if (n.kind === 'dir') throw notFound(`Path is not a file: ${path}`);
    if (offset > n.length) throw new RemoteError(403, 'EOFException', 'java.io.EOFException', 'Cannot seek after EOF');
    const end = length === undefined ? n.length : Math.min(n.length, offset + length);
    n.meta.accessTime = Date.now();
    return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: Buffer.concat(n.chunks).subarray(offset, end) };
  }

  /** The datanode's CREATE: a new, empty file (replacing one with `overwrite`), its parents made unless `createparent=false`. */
  private createFile(parts: readonly string[], name: string, path: string, q: URLSearchParams, user: string): FileNode {
    const overwrite = parseBool(q, 'overwrite', false);
    const createParent = parseBool(q, 'createparent', true);
    const blockSize = parseLong(q, 'blocksize', this.options.defaultBlockSize ?? 134217728, 1)!;
    const replication = parseLong(q, 'replication', this.options.defaultReplication ?? 3, 1)!;
    const permission = q.get('permission');
    this.checkComponentLengths(parts, path);
    let parent = this.parentDir(parts, path);
    if (parent === undefined) {
      if (!createParent) throw notFound(`Parent directory doesn't exist: ${path.slice(0, path.lastIndexOf('/')) || '/'}`);
      parent = this.mkdirsInternal(parts.slice(0, -1), user);
    }
    const existing = parent.children.get(name);
    if (existing?.kind === 'dir') throw alreadyExists(`${path} already exists as a directory`);
    if (existing?.kind === 'file') {
      if (existing.writing) throw this.beingCreated(path);
      if (!overwrite) throw alreadyExists(`${path} for client 127.0.0.1 already exists`);
    }
    const file = this.newFile(user, blockSize, replication, permission !== null && /^[0-1]?[0-7]{3}$/.test(permission) ? permission.slice(-3) : '644');
    parent.children.set(name, file);
    parent.meta.modificationTime = Date.now();
    return file;
  }

  private fileToAppend(parts: readonly string[], path: string): FileNode {
    const n = this.lookup(parts);
    if (n === undefined) throw notFound(`failed to append to non-existent file ${path} for client 127.0.0.1`);
    if (n.kind === 'dir') throw notFound(`Cannot append to directory ${path}`);
    if (n.writing) throw this.beingCreated(path);
    return n;
  }

  /**
   * Appends the request body to `file`. With `reset`, the connection is cut after `afterBytes`
   * (ConnectionGone); whatever arrived stays, as when a datanode closes the stream it was writing.
   */
  private async receiveBody(req: http.IncomingMessage, file: FileNode, reset: { readonly afterBytes?: number } | undefined): Promise<void> {
    file.writing = true;
    let received = 0;
    try {
      for await (const raw of req) {
        let chunk = raw as Buffer;
        if (reset !== undefined && received + chunk.length >= (reset.afterBytes ?? 0)) {
          chunk = chunk.subarray(0, Math.max(0, (reset.afterBytes ?? 0) - received));
          this.appendChunk(file, chunk);
          req.socket.destroy();
          throw new ConnectionGone();
        }
        received += chunk.length;
        this.appendChunk(file, chunk);
      }
      if (reset !== undefined) {
        // The whole body fit under afterBytes: cut the connection before the response.
        req.socket.destroy();
        throw new ConnectionGone();
      }
    } catch (e) {
      // Whatever arrived stays: the datanode closes the stream it was writing.
      if (e instanceof ConnectionGone) throw e;
      throw new ConnectionGone();
    } finally {
      file.writing = false;
      file.meta.modificationTime = Date.now();
    }
  }

  private appendChunk(file: FileNode, chunk: Buffer): void {
    if (chunk.length === 0) return;
    file.chunks.push(Buffer.from(chunk));
    file.length += chunk.length;
  }

  private beingCreated(path: string): RemoteError {
    return new RemoteError(
      403,
      'AlreadyBeingCreatedException',
      'org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException',
      `Failed to APPEND_FILE ${path} for DFSClient_NONMAPREDUCE on 127.0.0.1 because this file lease is currently owned by another client`,
    );
  }
}

/** CREATE's redirect parameters: the namenode's defaults and the client's own settings, checked. */
function createRedirectParams(q: URLSearchParams): Record<string, string> {
  const extra: Record<string, string> = { createflag: '', createparent: String(parseBool(q, 'createparent', true)), overwrite: String(parseBool(q, 'overwrite', false)) };
  for (const k of ['blocksize', 'replication', 'permission', 'buffersize']) {
    const v = q.get(k);
    if (v !== null) extra[k] = v;
  }
  parseLong(q, 'blocksize', undefined, 1);
  parseLong(q, 'replication', undefined, 1);
  return extra;
}

/** The reply of an injected HTTP error: a RemoteException, with Retry-After when the fault asks for it. */
function faultReply(fault: Extract<Fault, { kind: 'status' }>): Reply {
  const exception = fault.exception ?? (fault.status >= 500 ? 'RuntimeException' : 'IOException');
  const reply = remoteReply(new RemoteError(fault.status, exception, fault.javaClassName ?? `java.lang.${exception}`, `injected fault: HTTP ${fault.status}`));
  if (fault.retryAfterSeconds !== undefined) reply.headers['retry-after'] = String(fault.retryAfterSeconds);
  return reply;
}

/** Sends the head and `afterBytes` of the body of `reply`, then cuts the connection; without `afterBytes`, cuts it at once. */
function sendCut(req: http.IncomingMessage, res: http.ServerResponse, reply: Reply, afterBytes: number | undefined): void {
  if (afterBytes === undefined) {
    req.socket.destroy();
    return;
  }
  res.writeHead(reply.status, { ...reply.headers, 'content-length': String(reply.body.length) });
  res.write(reply.body.subarray(0, afterBytes), () => {
    // Give the partial body a moment to leave the socket before the connection is cut.
    setTimeout(() => req.socket.destroy(), 10);
  });
}
