import { crc32c, formatChecksum } from '../checksum.js';
import { CorruptCheckpointError, IllegalStateUsageError, StorageNotFoundError, UnknownFormatVersionError } from '../errors.js';
import { writeCommitted, type FileSystem } from '../storage/file-system.js';
import { joinPath } from '../storage/paths.js';

/**
 * The persisted checkpoint history (Flink's checkpoint statistics, kept on storage). One small
 * file per checkpoint or savepoint under `_history/` of the job's checkpoint root, so that it
 * survives restarts and needs no append (S3 has none). See docs/formats.md.
 */
export const CHECKPOINT_HISTORY_DIR = '_history';
export const CHECKPOINT_HISTORY_FORMAT_VERSION = 1;
const HEADER_PREFIX = 'flowstate-checkpoint-history';
/** A history file larger than this is rejected before it is read. */
export const MAX_HISTORY_FILE_BYTES = 1024 * 1024;
/** Bytes of history files one readCheckpointHistory reads at most by default (the newest files first). */
export const MAX_HISTORY_READ_BYTES = 64 * 1024 * 1024;
/** Entries a writer keeps by default; older files are deleted as new ones are written. */
export const DEFAULT_HISTORY_RETAINED = 1000;

export interface CheckpointHistorySubtask {
  readonly operatorUid: string;
  readonly subtaskIndex: number;
  readonly syncDurationMs: number;
  readonly asyncDurationMs: number;
  readonly alignmentDurationMs: number;
  /** Bytes this checkpoint uploaded for the subtask. */
  readonly checkpointedSize: number;
  /** Bytes of the subtask's whole state, reused files included. */
  readonly fullSize: number;
}

export interface CheckpointHistoryEntry {
  readonly checkpointId: number;
  readonly kind: 'CHECKPOINT' | 'SAVEPOINT';
  /** INCREMENTAL when the checkpoint references bytes it did not upload (checkpointedSize < fullSize). */
  readonly snapshotType: 'FULL' | 'INCREMENTAL';
  readonly status: 'COMPLETED' | 'FAILED';
  /** Milliseconds since the epoch. */
  readonly triggerTimestamp: number;
  readonly durationMs: number;
  readonly syncDurationMaxMs: number;
  readonly asyncDurationMaxMs: number;
  readonly alignmentDurationMaxMs: number;
  readonly checkpointedSize: number;
  readonly fullSize: number;
  /** Where the completed checkpoint lives, relative to its storage. */
  readonly pointer?: string;
  readonly failureCause?: string;
  /** Every subtask that acknowledged (for a failed checkpoint: the ones that did before it failed). */
  readonly subtasks: readonly CheckpointHistorySubtask[];
}

/** Builds an entry from the per-subtask figures: maxima, sums and the snapshot type follow from them. */
export function checkpointHistoryEntry(
  base: Pick<CheckpointHistoryEntry, 'checkpointId' | 'kind' | 'status' | 'triggerTimestamp' | 'durationMs' | 'pointer' | 'failureCause'>,
  subtasks: readonly CheckpointHistorySubtask[],
): CheckpointHistoryEntry {
  const max = (f: (s: CheckpointHistorySubtask) => number) => subtasks.reduce((m, s) => Math.max(m, f(s)), 0);
  const sum = (f: (s: CheckpointHistorySubtask) => number) => subtasks.reduce((m, s) => m + f(s), 0);
  const checkpointedSize = sum((s) => s.checkpointedSize);
  const fullSize = sum((s) => s.fullSize);
  const entry: CheckpointHistoryEntry = {
    checkpointId: base.checkpointId,
    kind: base.kind,
    snapshotType: checkpointedSize < fullSize ? 'INCREMENTAL' : 'FULL',
    status: base.status,
    triggerTimestamp: base.triggerTimestamp,
    durationMs: base.durationMs,
    syncDurationMaxMs: max((s) => s.syncDurationMs),
    asyncDurationMaxMs: max((s) => s.asyncDurationMs),
    alignmentDurationMaxMs: max((s) => s.alignmentDurationMs),
    checkpointedSize,
    fullSize,
    ...(base.pointer !== undefined ? { pointer: base.pointer } : {}),
    ...(base.failureCause !== undefined ? { failureCause: base.failureCause } : {}),
    subtasks: [...subtasks].sort((a, b) => (a.operatorUid < b.operatorUid ? -1 : a.operatorUid > b.operatorUid ? 1 : a.subtaskIndex - b.subtaskIndex)),
  };
  return entry;
}

/** `_history/<id, 12 digits>-<trigger ms, 13 digits>.json`: sorts by id; a reused id (a failed checkpoint's) gets its own file. */
export function checkpointHistoryFileName(entry: Pick<CheckpointHistoryEntry, 'checkpointId' | 'triggerTimestamp'>): string {
  return joinPath(CHECKPOINT_HISTORY_DIR, `${String(entry.checkpointId).padStart(12, '0')}-${String(Math.max(0, Math.trunc(entry.triggerTimestamp))).padStart(13, '0')}.json`);
}

/**
 * Whether `path` (relative to the checkpoint root) is a history file: one named as
 * checkpointHistoryFileName names them, directly in `_history/`. Files of other names, and any in
 * folders below it, are not the history's: neither read nor pruned.
 */
export function isCheckpointHistoryFile(path: string): boolean {
  return HISTORY_FILE.test(path);
}

const HISTORY_FILE = new RegExp(`^${CHECKPOINT_HISTORY_DIR}/\\d{12}-\\d{13}\\.json$`);

/**
 * Two lines: `flowstate-checkpoint-history 1 <CRC32C of the body, 8 hex> <body bytes>` and the
 * body, the entry as one line of JSON.
 */
export function encodeCheckpointHistoryEntry(entry: CheckpointHistoryEntry): Uint8Array {
  const body = Buffer.from(JSON.stringify(entry), 'utf8');
  const header = `${HEADER_PREFIX} ${CHECKPOINT_HISTORY_FORMAT_VERSION} ${formatChecksum(crc32c(body))} ${body.length}\n`;
  return Buffer.concat([Buffer.from(header, 'utf8'), body, Buffer.from('\n', 'utf8')]);
}

/** Decodes and checks one history file (header, length, CRC32C, structure); errors name `file`. */
export function decodeCheckpointHistoryEntry(bytes: Uint8Array, file: string): CheckpointHistoryEntry {
  if (bytes.length > MAX_HISTORY_FILE_BYTES) throw new CorruptCheckpointError(file, `history file of ${bytes.length} bytes exceeds the limit of ${MAX_HISTORY_FILE_BYTES}`);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nl = buf.indexOf(0x0a);
  if (nl < 0 || nl > 128) throw new CorruptCheckpointError(file, 'history file has no header line', undefined, 0);
  const m = /^(\S+) (\d+) ([0-9a-f]{8}) (\d+)$/.exec(buf.subarray(0, nl).toString('utf8'));
  if (m === null || m[1] !== HEADER_PREFIX) throw new CorruptCheckpointError(file, 'not a flowstate checkpoint history file', undefined, 0);
  const version = Number(m[2]);
  if (version !== CHECKPOINT_HISTORY_FORMAT_VERSION) throw new UnknownFormatVersionError('checkpoint history', version, [CHECKPOINT_HISTORY_FORMAT_VERSION], file);
  const length = Number(m[4]);
  const body = buf.subarray(nl + 1, nl + 1 + length);
  if (body.length !== length || buf.length !== nl + 2 + length || buf[buf.length - 1] !== 0x0a) {
    throw new CorruptCheckpointError(file, `history body should have ${length} bytes and end with a newline; the file has ${buf.length - nl - 1} after the header`, undefined, nl + 1);
  }
  const actual = formatChecksum(crc32c(body));
  if (actual !== m[3]) throw new CorruptCheckpointError(file, `history CRC32C is ${actual}, expected ${m[3]}`, undefined, nl + 1);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new CorruptCheckpointError(file, `history body is not JSON: ${(e as Error).message}`, undefined, nl + 1, { cause: e });
  }
  return checkEntryStructure(parsed, file);
}

function checkEntryStructure(v: unknown, file: string): CheckpointHistoryEntry {
  const fail = (what: string): never => {
    throw new CorruptCheckpointError(file, `history entry: ${what}`);
  };
  if (typeof v !== 'object' || v === null) return fail('not an object');
  const o = v as Record<string, unknown>;
  const num = (k: string, src: Record<string, unknown> = o) => (typeof src[k] === 'number' && Number.isFinite(src[k]) ? true : fail(`'${k}' is not a finite number`));
  for (const k of ['checkpointId', 'triggerTimestamp', 'durationMs', 'syncDurationMaxMs', 'asyncDurationMaxMs', 'alignmentDurationMaxMs', 'checkpointedSize', 'fullSize']) num(k);
  if (o.kind !== 'CHECKPOINT' && o.kind !== 'SAVEPOINT') fail(`unknown kind ${String(o.kind)}`);
  if (o.snapshotType !== 'FULL' && o.snapshotType !== 'INCREMENTAL') fail(`unknown snapshotType ${String(o.snapshotType)}`);
  if (o.status !== 'COMPLETED' && o.status !== 'FAILED') fail(`unknown status ${String(o.status)}`);
  for (const k of ['pointer', 'failureCause']) if (o[k] !== undefined && typeof o[k] !== 'string') fail(`'${k}' is not a string`);
  if (!Array.isArray(o.subtasks)) return fail("'subtasks' is not an array");
  for (const s of o.subtasks as unknown[]) {
    if (typeof s !== 'object' || s === null || typeof (s as Record<string, unknown>).operatorUid !== 'string') fail('a subtask has no operatorUid');
    for (const k of ['subtaskIndex', 'syncDurationMs', 'asyncDurationMs', 'alignmentDurationMs', 'checkpointedSize', 'fullSize']) num(k, s as Record<string, unknown>);
  }
  return o as unknown as CheckpointHistoryEntry;
}

export interface CheckpointHistory {
  /** Oldest first (by checkpoint id, then trigger time). */
  readonly entries: readonly CheckpointHistoryEntry[];
  /** Files that could not be read; they do not hide the others. */
  readonly unreadable: ReadonlyArray<{ readonly file: string; readonly error: Error }>;
  /** Older history files listed but not read: beyond `maxEntries`, or beyond `maxBytes` of files read; also files pruned between the listing and their read. */
  readonly omitted: number;
}

export interface ReadCheckpointHistoryOptions {
  /** The newest this many entries (default DEFAULT_HISTORY_RETAINED). */
  readonly maxEntries?: number;
  /**
   * Bytes of history files read at most, by their listed sizes (default MAX_HISTORY_READ_BYTES):
   * the newest files that fit are read, older ones are counted in `omitted`.
   */
  readonly maxBytes?: number;
  readonly signal?: AbortSignal;
}

/**
 * Reads the history kept under a job's checkpoint root (`fs` is rooted there, as the
 * FsCheckpointStorage's file system is). Files are checked one by one: a corrupt one is reported
 * in `unreadable`, the rest are returned.
 */
export async function readCheckpointHistory(fs: FileSystem, options: ReadCheckpointHistoryOptions = {}): Promise<CheckpointHistory> {
  const max = options.maxEntries ?? DEFAULT_HISTORY_RETAINED;
  const maxBytes = options.maxBytes ?? MAX_HISTORY_READ_BYTES;
  for (const [name, n] of [['maxEntries', max], ['maxBytes', maxBytes]] as const) {
    // NaN, Infinity or a negative count would read every file.
    if (!Number.isSafeInteger(n) || n < 0) throw new IllegalStateUsageError(undefined, `readCheckpointHistory: ${name} must be a non-negative integer, got ${n}`);
  }
  const files = (await fs.list(CHECKPOINT_HISTORY_DIR)).filter((f) => isCheckpointHistoryFile(f.path)).sort((a, b) => (a.path < b.path ? -1 : 1));
  // The newest files within both limits (a file over MAX_HISTORY_FILE_BYTES is refused unread).
  let first = files.length;
  for (let budget = maxBytes; first > 0 && files.length - first < max; first--) {
    const size = files[first - 1]!.size;
    const cost = size > MAX_HISTORY_FILE_BYTES ? 0 : size;
    if (cost > budget) break;
    budget -= cost;
  }
  const entries: CheckpointHistoryEntry[] = [];
  const unreadable: Array<{ file: string; error: Error }> = [];
  let pruned = 0;
  for (const f of files.slice(first)) {
    options.signal?.throwIfAborted();
    const name = `${fs.displayRoot}/${f.path}`;
    try {
      if (f.size > MAX_HISTORY_FILE_BYTES) throw new CorruptCheckpointError(name, `history file of ${f.size} bytes exceeds the limit of ${MAX_HISTORY_FILE_BYTES}`);
      // The listed bytes only: a file that grew since is not read past the limits it was chosen by.
      entries.push(decodeCheckpointHistoryEntry(await fs.read(f.path, { offset: 0, length: f.size }), name));
    } catch (e) {
      // Pruned by the job's writer since the listing: no longer part of the history.
      if (e instanceof StorageNotFoundError) {
        pruned++;
        continue;
      }
      if (!(e instanceof CorruptCheckpointError || e instanceof UnknownFormatVersionError)) throw e;
      unreadable.push({ file: name, error: e });
    }
  }
  return { entries, unreadable, omitted: first + pruned };
}

/**
 * Writes history entries next to the checkpoints and keeps the newest `retained` of them. A
 * failed write never fails a checkpoint: the caller logs it.
 */
export class CheckpointHistoryWriter {
  private known: Promise<string[]> | undefined;

  constructor(
    readonly fs: FileSystem,
    readonly retained = DEFAULT_HISTORY_RETAINED,
  ) {}

  async write(entry: CheckpointHistoryEntry): Promise<void> {
    const path = checkpointHistoryFileName(entry);
    await writeCommitted(this.fs, path, (w) => w.write(encodeCheckpointHistoryEntry(entry)));
    const known = await this.knownFiles();
    if (!known.includes(path)) known.push(path);
    known.sort();
    const excess = known.splice(0, Math.max(0, known.length - this.retained));
    if (excess.length > 0) await this.fs.deleteMany(excess);
  }

  /**
   * One listing per writer (the history of earlier runs), then the names are tracked here. Shared
   * by concurrent writes: each filling the list itself, one would replace the names another had
   * added or pruned. A failed listing is retried by the next write.
   */
  private knownFiles(): Promise<string[]> {
    this.known ??= this.fs.list(CHECKPOINT_HISTORY_DIR).then(
      // History files only: pruning deletes the oldest of these, never another file under `_history/`.
      (files) => files.map((f) => f.path).filter(isCheckpointHistoryFile),
      (e: unknown) => {
        this.known = undefined;
        throw e;
      },
    );
    return this.known;
  }
}
