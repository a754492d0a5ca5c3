import { StorageError, StorageNotFoundError } from '../errors.js';
import type { FileStatus, FileSystem, FileWriter, ReadRange } from './file-system.js';
import { confinePath } from './paths.js';

/** A file system in process memory, for tests and small jobs. Files become visible on commit. */
export class MemoryFileSystem implements FileSystem {
  readonly scheme = 'memory';
  private readonly files = new Map<string, Uint8Array>();

  constructor(readonly displayRoot = 'memory://') {}

  async create(path: string): Promise<FileWriter> {
    const p = confinePath(path);
    if (p === '') throw new StorageError(path, 'cannot create a file at the root');
    const chunks: Uint8Array[] = [];
    let state: 'open' | 'committed' | 'aborted' = 'open';
    return {
      write: async (chunk) => {
        if (state !== 'open') throw new StorageError(p, `write after ${state}`);
        // Buffer.from copies; Buffer#slice would not, and the caller may reuse its buffer.
        chunks.push(Buffer.from(chunk));
      },
      commit: async () => {
        if (state !== 'open') throw new StorageError(p, `commit after ${state}`);
        state = 'committed';
        this.files.set(p, Buffer.concat(chunks));
      },
      abort: async () => {
        if (state === 'open') state = 'aborted';
      },
    };
  }

  async read(path: string, range?: ReadRange): Promise<Uint8Array> {
    const p = confinePath(path);
    const data = this.files.get(p);
    if (data === undefined) throw new StorageNotFoundError(p);
    if (range === undefined) return Buffer.from(data);
    if (range.offset < 0 || range.length < 0 || range.offset + range.length > data.length) {
      throw new StorageError(p, `range [${range.offset}, +${range.length}) is outside the file of ${data.length} bytes`);
    }
    return Buffer.from(data.subarray(range.offset, range.offset + range.length));
  }

  async stat(path: string): Promise<FileStatus | null> {
    const p = confinePath(path);
    const data = this.files.get(p);
    return data === undefined ? null : { path: p, size: data.length };
  }

  async list(dir: string): Promise<FileStatus[]> {
    const d = confinePath(dir);
    const prefix = d === '' ? '' : `${d}/`;
    const out: FileStatus[] = [];
    for (const [p, data] of this.files) if (p.startsWith(prefix)) out.push({ path: p, size: data.length });
    return out;
  }

  async delete(path: string): Promise<void> {
    this.files.delete(confinePath(path));
  }

  async deleteMany(paths: readonly string[]): Promise<void> {
    for (const p of paths) this.files.delete(confinePath(p));
  }

  async deleteDirectory(dir: string): Promise<void> {
    for (const f of await this.list(dir)) this.files.delete(f.path);
  }

  /** Test hook: replace a file's bytes (to simulate corruption or truncation). */
  overwriteForTest(path: string, data: Uint8Array): void {
    this.files.set(confinePath(path), data);
  }
}
