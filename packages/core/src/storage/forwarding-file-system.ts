import type { FileStatus, FileSystem, FileWriter, ReadRange } from './file-system.js';

/**
 * A FileSystem that forwards every call to `inner`: the base of wrappers that change a few calls
 * (fault injection, recording) and pass the rest through unchanged.
 */
export class ForwardingFileSystem implements FileSystem {
  constructor(readonly inner: FileSystem) {}

  get scheme(): string {
    return this.inner.scheme;
  }

  get displayRoot(): string {
    return this.inner.displayRoot;
  }

  create(path: string): Promise<FileWriter> {
    return this.inner.create(path);
  }

  read(path: string, range?: ReadRange): Promise<Uint8Array> {
    return this.inner.read(path, range);
  }

  stat(path: string): Promise<FileStatus | null> {
    return this.inner.stat(path);
  }

  list(dir: string): Promise<FileStatus[]> {
    return this.inner.list(dir);
  }

  delete(path: string): Promise<void> {
    return this.inner.delete(path);
  }

  /** One delete() per path, so that what a subclass does on delete applies to each. */
  async deleteMany(paths: readonly string[]): Promise<void> {
    for (const p of paths) await this.delete(p);
  }

  deleteDirectory(dir: string): Promise<void> {
    return this.inner.deleteDirectory(dir);
  }

  // No linkFrom: a wrapper changes what create() does (faults, records, limits), and a hard link
  // would pass by it. Writers through a wrapper copy their bytes.

  /** None when `inner` cannot list them. */
  listIncomplete(dir: string): Promise<FileStatus[]> {
    return this.inner.listIncomplete?.(dir) ?? Promise.resolve([]);
  }
}
