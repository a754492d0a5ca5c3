import type { FileStatus, FileSystem, FileWriter, ReadRange } from './file-system.js';

/**
 * A FileSystem that forwards every call to `inner`: the base of wrappers that change a few calls
 * (fault injection, recording) and pass the rest through unchanged.
 */
export class ForwardingFileSystem implements FileSystem {
  /**
   * The wrapped system's, and only when it has one: callers tell by its presence whether empty
   * directories can be removed without a recursive delete, so a wrapper must not claim it for a
   * system that cannot. `declare`: no class field, so the property is absent (not undefined) when
   * `inner` lacks it. A subclass that intercepts deletes assigns its own in its constructor.
   */
  declare readonly deleteEmptyDirectory?: (dir: string) => Promise<boolean>;

  constructor(readonly inner: FileSystem) {
    const deleteEmptyDirectory = inner.deleteEmptyDirectory;
    if (deleteEmptyDirectory !== undefined) this.deleteEmptyDirectory = (dir) => deleteEmptyDirectory.call(inner, dir);
  }

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

  /**
   * The wrapped system's batch delete (one request per thousand keys on S3, parallel on HDFS),
   * not one delete() per path: a subclass that intercepts delete() overrides deleteMany too.
   */
  deleteMany(paths: readonly string[]): Promise<void> {
    return this.inner.deleteMany(paths);
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
