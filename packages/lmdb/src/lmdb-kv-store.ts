import { rmSync } from 'node:fs';
import { FlowstateError, IllegalStateUsageError, type KvEntry, type KvKeySpace, type KvReadableKeySpace, type KvStore, type KvView } from '@flowstate/core';
import { open, type Database, type RangeOptions, type RootDatabase, type Transaction } from 'lmdb';

/**
 * The longest key lmdb-js stores when no page size is given (DEFAULT_MAX_KEY_SIZE in lmdb/open.js,
 * the same on every OS). A row key is [key group][key][namespace][map key], so this bounds them
 * together; RocksDB has no such limit, which is why a longer row fails with a typed error here.
 */
export const LMDB_MAX_KEY_BYTES = 1978;

/**
 * The default of the `maxReaders` option: read transactions an environment can have open at once,
 * one per view (a running snapshot) and lmdb-js's own for live reads. LMDB's default of 126 failed
 * the 126th concurrent snapshot; a slot costs 64 bytes of the lock file, and LMDB scans only the
 * slots in use.
 */
export const LMDB_MAX_READERS = 1024;

/**
 * The bounds of `maxReaders`. Live reads need a slot of their own besides a running snapshot's
 * (with one slot, the first write after a snapshot began leaves no reader for the next live read);
 * the top keeps the lock file LMDB maps per environment (64 bytes a slot) at 4 MiB.
 */
const MIN_READERS = 2;
const MAX_READERS = 65536;

/** Throws IllegalStateUsageError unless `maxReaders` is an integer from MIN_READERS to MAX_READERS. */
export function checkMaxReaders(maxReaders: number): void {
  checkIntegerOption('maxReaders', maxReaders, MIN_READERS, MAX_READERS);
}

/** Keys deleted per batch by deleteRange, so that clearing a huge map needs no huge array. */
const DELETE_BATCH = 1024;

/**
 * The most named databases an environment may reserve. LMDB allocates room for every slot in
 * each transaction (a million slots made every write ten times slower, ~2^30 fails to allocate),
 * and a negative count wraps around and corrupts the native heap, so the option is checked first.
 */
const MAX_KEY_SPACES = 65536;

/** Throws IllegalStateUsageError unless `maxKeySpaces` is an integer from 1 to MAX_KEY_SPACES. */
export function checkMaxKeySpaces(maxKeySpaces: number): void {
  checkIntegerOption('maxKeySpaces', maxKeySpaces, 1, MAX_KEY_SPACES);
}

/** Throws IllegalStateUsageError naming the option unless `value` is an integer from `min` to `max`. */
function checkIntegerOption(name: string, value: number, min: number, max: number): void {
  if (Number.isInteger(value) && value >= min && value <= max) return;
  throw new IllegalStateUsageError(undefined, `LMDB ${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
}

/** Byte keys and byte values: the store never sees objects, only what core's row layout wrote. */
const BINARY = { keyEncoding: 'binary', encoding: 'binary' } as const;

export interface LmdbKvStoreOptions {
  /**
   * Directory of the LMDB environment, owned by the store: close() deletes it. A new, empty one:
   * key spaces get numbered databases in the order they are first asked for, so the store does
   * not reopen an environment an earlier store filled.
   */
  readonly path: string;
  /** LMDB reserves a slot per named database (one per state) when the environment opens. */
  readonly maxKeySpaces: number;
  /** Read transactions (running snapshots, and live reads) open at once; 2 to 65536 (default LMDB_MAX_READERS). */
  readonly maxReaders?: number;
}

/**
 * A KvStore in one LMDB environment: each key space is a named database (LMDB's "dbi"), so a
 * state's rows never share a B-tree with another state's and need no prefix. LMDB's default
 * comparator (memcmp, then shorter first) is exactly the order the KvStore SPI asks for.
 *
 * Every write is its own synchronous write transaction, because state access is synchronous and
 * must read its own writes. The environment is opened with noSync: the directory is working state,
 * rebuilt from checkpoints after a crash, so paying an fsync per write (~50x slower) buys nothing.
 */
export class LmdbKvStore implements KvStore {
  private readonly env: RootDatabase<Uint8Array, Uint8Array>;
  private readonly spaces = new Map<string, LmdbKeySpace>();
  /** Views not released yet; close() must end their read transactions before the environment. */
  private readonly openViews = new Set<LmdbView>();
  /** The number in the name of the next named database (see openDatabase). */
  private nextDatabase = 0;
  private closed = false;
  private readonly maxReaders: number;

  constructor(readonly options: LmdbKvStoreOptions) {
    checkMaxKeySpaces(options.maxKeySpaces);
    this.maxReaders = options.maxReaders ?? LMDB_MAX_READERS;
    checkMaxReaders(this.maxReaders);
    // noSubdir false: lmdb-js otherwise takes a path whose name has a dot for a file, next to a
    // '-lock' file that close() would leave behind.
    this.env = open<Uint8Array, Uint8Array>({ path: options.path, noSubdir: false, maxDbs: options.maxKeySpaces, maxReaders: this.maxReaders, noSync: true, ...BINARY });
  }

  keySpace(name: string): KvKeySpace {
    let space = this.spaces.get(name);
    if (space === undefined) {
      space = new LmdbKeySpace(name, this.openDatabase(name), this.env, this);
      this.spaces.set(name, space);
    }
    return space;
  }

  /** The named database of a key space; LMDB's refusals (too many) become typed errors. */
  private openDatabase(name: string): Database<Uint8Array, Uint8Array> {
    try {
      // Numbered, not named after the state: LMDB names are C strings (a NUL ends them) and
      // lmdb-js encodes them as UTF-8 (lone surrogates become U+FFFD), so two states would share
      // a database. The environment is always fresh, so nothing else needs the name. The prefix
      // keeps them apart from lmdb-js's own entries in the main database.
      const db = this.env.openDB<Uint8Array, Uint8Array>(`state/${this.nextDatabase}`, BINARY);
      this.nextDatabase++;
      return db;
    } catch (e) {
      if (this.closed) throw this.failure(e);
      throw new IllegalStateUsageError(name, `LMDB cannot open a database for this state in ${this.options.path} (at most ${this.options.maxKeySpaces} states, see maxKeySpaces): ${(e as Error).message}`);
    }
  }

  keySpaceNames(): string[] {
    return [...this.spaces.keys()];
  }

  /**
   * A read transaction is LMDB's snapshot: it sees the database as of its start for as long as it
   * stays open, while writes go on. Opening it is all a checkpoint's synchronous part costs. While
   * it is open, LMDB cannot reuse the pages later writes free, so the file grows until release().
   */
  view(): KvView {
    let txn: Transaction;
    try {
      txn = this.env.useReadTransaction();
    } catch (e) {
      throw this.failure(e);
    }
    const v = new LmdbView(txn, new Map(this.spaces), (released) => this.openViews.delete(released));
    this.openViews.add(v);
    return v;
  }

  /**
   * What a failed lmdb-js call throws instead of its plain Error: found only once a call failed, so
   * reads and writes check nothing. After close() (the backend disposed), lmdb-js says "Can not renew
   * a transaction from a closed database"; with every reader slot taken, MDB_READERS_FULL.
   * @internal For the store's key spaces.
   */
  failure(e: unknown): unknown {
    if (e instanceof FlowstateError) return e;
    const path = this.options.path;
    if (this.closed) return new IllegalStateUsageError(undefined, `the LMDB store in ${path} is closed (its keyed state backend was disposed)`);
    if (e instanceof Error && e.message.includes('MDB_READERS_FULL')) {
      return new IllegalStateUsageError(undefined, `the LMDB store in ${path} has ${this.maxReaders} read transactions open, the most it can (see maxReaders): too many views (snapshots) not released`);
    }
    return e;
  }

  close(): void {
    this.closed = true;
    // The backend's dispose() releases running snapshots' views before it closes the store; end
    // any view still open anyway (its later release() is then a no-op): LMDB must not close under it.
    for (const v of [...this.openViews]) v.release();
    // Nothing is queued (every write was synchronous), so the close completes before it returns.
    void this.env.close();
    rmSync(this.options.path, { recursive: true, force: true });
  }
}

/**
 * lmdb-js refuses range bounds longer than the key limit. No stored key is that long, so a longer
 * bound can be cut to the limit: the cut is the only stored key the cut bound would wrongly admit
 * (as lower bound) or wrongly exclude (as upper bound), hence exclusiveStart and inclusiveEnd. Such
 * bounds are not exotic: resuming a scan after a key of exactly the limit asks for limit + 1 bytes.
 */
function rangeOf(lower: Uint8Array, upper: Uint8Array): RangeOptions {
  const max = LMDB_MAX_KEY_BYTES;
  return {
    start: lower.length > max ? lower.subarray(0, max) : lower,
    exclusiveStart: lower.length > max,
    end: upper.length > max ? upper.subarray(0, max) : upper,
    inclusiveEnd: upper.length > max,
  };
}

/**
 * lmdb-js returns Buffers (fresh ones; nothing else refers to their bytes). Core copies with
 * slice(), which on a Buffer is a view instead of a copy, so hand out plain Uint8Arrays: the same
 * bytes, without the copy.
 */
function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Reads of a named database: live, or in the read transaction of a view. */
class LmdbReader implements KvReadableKeySpace {
  constructor(
    protected readonly db: Database<Uint8Array, Uint8Array>,
    protected readonly store: LmdbKvStore,
    private readonly view?: LmdbView,
  ) {}

  get(key: Uint8Array): Uint8Array | undefined {
    if (key.length > LMDB_MAX_KEY_BYTES) return undefined; // never stored (put refuses it)
    let value: Uint8Array | undefined;
    try {
      value = this.db.get(key, { transaction: this.view?.transaction() });
    } catch (e) {
      throw this.store.failure(e);
    }
    return value === undefined ? undefined : plain(value);
  }

  scan(lower: Uint8Array, upper: Uint8Array, limit: number): KvEntry[] {
    try {
      // Always with an explicit start: lmdb-js otherwise starts at [5], hiding key groups 0 to 4.
      const range = this.db.getRange({ ...rangeOf(lower, upper), limit, transaction: this.view?.transaction() });
      return Array.from(range, ({ key, value }) => [plain(key), plain(value)] as const);
    } catch (e) {
      throw this.store.failure(e);
    }
  }
}

class LmdbKeySpace extends LmdbReader implements KvKeySpace {
  constructor(
    readonly name: string,
    db: Database<Uint8Array, Uint8Array>,
    private readonly env: RootDatabase<Uint8Array, Uint8Array>,
    store: LmdbKvStore,
  ) {
    super(db, store);
  }

  /** This key space as `view` sees it. */
  asOf(view: LmdbView): KvReadableKeySpace {
    return new LmdbReader(this.db, this.store, view);
  }

  private checkKey(key: Uint8Array): void {
    if (key.length <= LMDB_MAX_KEY_BYTES) return;
    throw new IllegalStateUsageError(this.name, `a row key of ${key.length} bytes exceeds LMDB's limit of ${LMDB_MAX_KEY_BYTES} bytes (serialized key, namespace and map key together)`);
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.checkKey(key);
    try {
      this.db.putSync(key, value);
    } catch (e) {
      throw this.store.failure(e);
    }
  }

  delete(key: Uint8Array): void {
    if (key.length > LMDB_MAX_KEY_BYTES) return;
    try {
      this.db.removeSync(key);
    } catch (e) {
      throw this.store.failure(e);
    }
  }

  deleteRange(lower: Uint8Array, upper: Uint8Array): void {
    try {
      // LMDB has no range delete: delete key by key, all in one write transaction.
      this.env.transactionSync(() => {
        for (;;) {
          const keys = Array.from(this.db.getKeys({ ...rangeOf(lower, upper), limit: DELETE_BATCH }));
          for (const k of keys) this.db.removeSync(k);
          if (keys.length < DELETE_BATCH) return;
        }
      });
    } catch (e) {
      throw this.store.failure(e);
    }
  }

  /** One write transaction: readers see all of the entries or none; a refused key writes none. */
  putAll(entries: readonly KvEntry[]): void {
    for (const [key] of entries) this.checkKey(key);
    try {
      this.env.transactionSync(() => {
        for (const [key, value] of entries) this.db.putSync(key, value);
      });
    } catch (e) {
      throw this.store.failure(e);
    }
  }
}

/** A read transaction and the key spaces that existed when it began. */
class LmdbView implements KvView {
  private txn: Transaction | undefined;
  private readonly readers = new Map<string, KvReadableKeySpace>();

  constructor(
    txn: Transaction,
    spaces: ReadonlyMap<string, LmdbKeySpace>,
    private readonly onRelease: (view: LmdbView) => void,
  ) {
    this.txn = txn;
    // A database opened after the transaction began is unknown to it: such a state has no rows here.
    for (const [name, space] of spaces) this.readers.set(name, space.asOf(this));
  }

  /** The read transaction; a released one must never reach LMDB. */
  transaction(): Transaction {
    if (this.txn === undefined) throw new IllegalStateUsageError(undefined, 'LMDB view read after release()');
    return this.txn;
  }

  keySpace(name: string): KvReadableKeySpace | undefined {
    return this.readers.get(name);
  }

  release(): void {
    if (this.txn === undefined) return;
    this.txn.done();
    this.txn = undefined;
    this.onRelease(this);
  }
}
