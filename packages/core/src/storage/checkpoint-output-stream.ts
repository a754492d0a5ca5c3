import { crc32c, crc32cCombine } from '../checksum.js';
import { IllegalStateUsageError } from '../errors.js';
import { readBackChecksum, type FileSystem, type FileWriter } from './file-system.js';
import type { StreamStateHandle } from './handles.js';
import type { AdoptLocalFileOptions, CheckpointStateOutputStream, FileChecksum } from './spi.js';

/** Default bytes a stream buffers before it writes to its file system. */
export const DEFAULT_WRITE_BUFFER_BYTES = 1 << 20;

/** Writes at least this large go straight to the file system (if under a quarter of the buffer). */
const DIRECT_WRITE_BYTES = 64 << 10;

/** First size of the write buffer, which grows to the stream's buffer size as small writes need it. */
const INITIAL_BUFFER_BYTES = 64 << 10;


/**
 * The one state output stream over a FileSystem (checkpoints, savepoints, conversions): computes
 * the CRC32C on the fly and commits the file atomically on close. Small writes are gathered in
 * one fixed buffer; a write of at least 64 KiB (or a quarter of the buffer) goes straight to the file after
 * the buffered bytes, without a copy: a FileWriter holds no reference to a chunk once its write
 * resolved, and neither does this stream, which is all the CheckpointStateOutputStream contract
 * promises a caller that reuses its buffers.
 */
export class FsCheckpointStateOutputStream implements CheckpointStateOutputStream {
  private writer: Promise<FileWriter> | undefined;
  private buf: Uint8Array | undefined;
  private buffered = 0;
  private pos = 0;
  private crc = 0;
  private closed = false;

  constructor(
    private readonly fs: FileSystem,
    /** Relative to the file system's root. */
    readonly path: string,
    private readonly bufferSize: number = DEFAULT_WRITE_BUFFER_BYTES,
  ) {}

  get position(): number {
    return this.pos;
  }

  async write(bytes: Uint8Array, checksum?: number): Promise<void> {
    if (this.closed) throw new IllegalStateUsageError(undefined, `write to closed checkpoint stream '${this.path}'`);
    if (bytes.length === 0) return;
    // A caller's checksum is combined in whatever the size: combining (precomputed zero-byte
    // operators, < 0.5 µs) costs less than hashing even a 64-byte chunk (native call, ~1 µs), so
    // a block is never hashed twice (issue 16: blocks under 16 KiB were).
    this.crc = checksum !== undefined ? crc32cCombine(this.crc, checksum, bytes.length) : crc32c(bytes, this.crc);
    this.pos += bytes.length;
    if (bytes.length >= Math.min(DIRECT_WRITE_BYTES, this.bufferSize / 4)) {
      await this.flush();
      await (await this.open()).write(bytes);
      return;
    }
    this.buf ??= new Uint8Array(Math.min(this.bufferSize, INITIAL_BUFFER_BYTES));
    if (this.buffered + bytes.length > this.buf.length) this.grow(this.buffered + bytes.length);
    // Full at its largest: the buffered bytes go first.
    if (this.buffered + bytes.length > this.buf.length) await this.flush();
    this.buf.set(bytes, this.buffered);
    this.buffered += bytes.length;
  }

  /**
   * The buffer starts small and doubles up to bufferSize: a stream that only ever buffers a
   * header (its blocks go straight to the file) never allocates the full buffer.
   */
  private grow(needed: number): void {
    const buf = this.buf!;
    if (buf.length >= this.bufferSize) return;
    let size = buf.length;
    while (size < needed && size < this.bufferSize) size *= 2;
    const next = new Uint8Array(Math.min(size, this.bufferSize));
    next.set(buf.subarray(0, this.buffered));
    this.buf = next;
  }

  private open(): Promise<FileWriter> {
    this.writer ??= this.fs.create(this.path);
    return this.writer;
  }

  private async flush(): Promise<void> {
    const w = await this.open();
    if (this.buffered === 0) return;
    const n = this.buffered;
    this.buffered = 0;
    await w.write(this.buf!.subarray(0, n));
  }

  async closeAndGetHandle(): Promise<StreamStateHandle> {
    if (this.closed) throw new IllegalStateUsageError(undefined, `checkpoint stream '${this.path}' closed twice`);
    try {
      await this.flush();
      await (await this.open()).commit();
      this.closed = true;
    } catch (e) {
      await this.abort();
      throw e;
    }
    this.buf = undefined;
    return { type: 'file', path: this.path, size: this.pos, checksum: this.crc };
  }

  /**
   * Links the local file in (FileSystem.linkFrom) when the file system can and nothing was
   * written yet, then takes the size and CRC32C of what the new name holds, read back through
   * it: a file changed before the link shows in the checksum, like bytes changed before a copy.
   * A caller's `checksum` reads the new name instead of the read-back, while the link is made
   * durable (it reads the file anyway: one read instead of two, and no wait for the fsync).
   */
  async adoptLocalFile(localPath: string, options: AdoptLocalFileOptions = {}): Promise<StreamStateHandle | null> {
    if (this.closed) throw new IllegalStateUsageError(undefined, `adopt into closed checkpoint stream '${this.path}'`);
    if (this.fs.linkFrom === undefined || this.pos > 0 || this.writer !== undefined) return null;
    const { checksum, sourceSyncing } = options;
    let sum: FileChecksum | undefined;
    let ran = false;
    // The caller's sync of the local file runs on while the link is made and made durable, instead
    // of before the link (issue 16: a 10 MB incremental checkpoint waited for it, then for the
    // directory's sync, one after the other).
    const whileSyncing =
      checksum === undefined && sourceSyncing === undefined
        ? undefined
        : async (linkedPath: string) => {
            sum = await alongSourceSync(sourceSyncing, checksum?.(linkedPath));
            // Only once both ended: a file system that does not await `whileSyncing` is declined below.
            ran = true;
          };
    const sourceSynced = options.sourceSynced === true || sourceSyncing !== undefined;
    if (!(await this.fs.linkFrom(localPath, this.path, { sourceSynced, ...(whileSyncing === undefined ? {} : { whileSyncing }) }))) return null;
    if (whileSyncing !== undefined && !ran) {
      // A file system that ignores `whileSyncing` (or resolves before it ended) linked without
      // the caller's check (an SST's block verification) or before its sync ended: undone, so the
      // caller takes its copy path.
      await this.fs.delete(this.path);
      return null;
    }
    this.closed = true;
    if (sum !== undefined) return { type: 'file', path: this.path, size: sum.size, checksum: sum.checksum };
    try {
      const st = await this.fs.stat(this.path);
      if (st === null) throw new IllegalStateUsageError(undefined, `linked file '${this.path}' vanished`);
      return { type: 'file', path: this.path, size: st.size, checksum: await readBackChecksum(this.fs, this.path, st.size) };
    } catch (e) {
      await this.fs.delete(this.path).catch(() => {});
      throw e;
    }
  }

  async abort(): Promise<void> {
    this.closed = true;
    this.buf = undefined;
    this.buffered = 0;
    if (this.writer !== undefined) {
      const w = await this.writer.catch(() => undefined);
      await w?.abort().catch(() => {});
    }
  }
}

/** Waits for the caller's source sync and its checksum (either may be absent) to settle; then throws the sync's failure, else the checksum's. */
async function alongSourceSync(sourceSyncing: Promise<void> | undefined, summing: Promise<FileChecksum> | undefined): Promise<FileChecksum | undefined> {
  const [synced, summed] = await Promise.allSettled([sourceSyncing, summing]);
  if (synced.status === 'rejected') throw synced.reason;
  if (summed.status === 'rejected') throw summed.reason;
  return summed.value;
}
