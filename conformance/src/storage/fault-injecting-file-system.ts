import { ForwardingFileSystem, StorageError, type FileSystem, type FileWriter, type ReadRange } from '@flowstate/core';

export type FaultMode = 'none' | 'transient' | 'permanent';

/**
 * Wraps a FileSystem and injects failures, for tests of what a checkpoint does when storage
 * breaks: `failWritesAfterBytes` makes writes fail once that many bytes went through (a disk that
 * fills up, a connection that dies mid-upload); `mode` says whether the failure is transient
 * (retrying may succeed) or permanent. Counts every injected fault.
 */
export class FaultInjectingFileSystem extends ForwardingFileSystem {
  mode: FaultMode = 'none';
  failWritesAfterBytes = 0;
  failReads = false;
  failDeletes = false;
  /**
   * Targeted, independent of `mode`: a commit of a matching path reaches storage, then fails as if
   * its response was lost (the caller believes the file was not written).
   */
  loseCommitResponse: ((path: string) => boolean) | undefined;
  /** Targeted, independent of `mode`: deleting a matching path (or directory) fails; nothing is deleted. */
  failDeleteOf: ((path: string) => boolean) | undefined;
  private written = 0;
  readonly injected = { writes: 0, commits: 0, reads: 0, deletes: 0, lostResponses: 0 };

  constructor(inner: FileSystem) {
    super(inner);
    // ForwardingFileSystem passes deleteEmptyDirectory through when `inner` has it: the delete
    // faults apply to it too, or a test asking for failing deletes would see this one succeed.
    const removeEmpty = this.deleteEmptyDirectory;
    if (removeEmpty !== undefined) {
      (this as { deleteEmptyDirectory?: (dir: string) => Promise<boolean> }).deleteEmptyDirectory = async (dir) => {
        this.throwIfDeleteFails(dir);
        return removeEmpty(dir);
      };
    }
  }

  /** The delete faults: every delete while `failDeletes` (in a fault mode), and any of a path `failDeleteOf` matches. */
  private throwIfDeleteFails(path: string): void {
    if ((this.mode !== 'none' && this.failDeletes) || this.failDeleteOf?.(path)) {
      this.injected.deletes++;
      throw this.fault(path, 'delete');
    }
  }

  private fault(path: string, what: string): StorageError {
    return new StorageError(path, `injected ${this.mode} fault on ${what}`, { transient: this.mode === 'transient' });
  }

  override async create(path: string): Promise<FileWriter> {
    const w = await this.inner.create(path);
    return {
      write: async (chunk) => {
        if (this.mode !== 'none' && this.written + chunk.length > this.failWritesAfterBytes) {
          this.injected.writes++;
          throw this.fault(path, 'write');
        }
        this.written += chunk.length;
        await w.write(chunk);
      },
      commit: async () => {
        if (this.mode !== 'none' && this.written > this.failWritesAfterBytes) {
          this.injected.commits++;
          throw this.fault(path, 'commit');
        }
        await w.commit();
        if (this.loseCommitResponse?.(path)) {
          this.injected.lostResponses++;
          throw new StorageError(path, 'injected fault: the commit succeeded, its response was lost', { transient: true });
        }
      },
      abort: () => w.abort(),
    };
  }

  override async read(path: string, range?: ReadRange): Promise<Uint8Array> {
    if (this.mode !== 'none' && this.failReads) {
      this.injected.reads++;
      throw this.fault(path, 'read');
    }
    return this.inner.read(path, range);
  }

  override async delete(path: string): Promise<void> {
    this.throwIfDeleteFails(path);
    return this.inner.delete(path);
  }

  /** Path by path, so that the delete faults apply to each (the paths before a failing one are deleted). */
  override async deleteMany(paths: readonly string[]): Promise<void> {
    for (const p of paths) await this.delete(p);
  }

  override async deleteDirectory(dir: string): Promise<void> {
    this.throwIfDeleteFails(dir);
    return this.inner.deleteDirectory(dir);
  }
}
