import type { FileStatus, FileSystem, FileWriter, ReadRange } from './file-system.js';
import { MemoryFileSystem } from './memory-file-system.js';
import { confinePath, joinPath } from './paths.js';

/**
 * `memory://name/dir` for tests: one MemoryFileSystem per name (the URI's authority) for the
 * life of the provider, so that a checkpoint directory and a savepoint under it, opened through
 * separate URIs, see the same files, as directories of one disk would. A FileSystemProvider,
 * structurally: file-system-registry.ts imports this file, so this one cannot import it back.
 */
export class MemoryFileSystemProvider {
  readonly schemes: readonly string[] = ['memory'];
  private readonly stores = new Map<string, MemoryFileSystem>();

  open(uri: URL): FileSystem {
    const name = uri.host;
    let store = this.stores.get(name);
    if (store === undefined) {
      store = new MemoryFileSystem(`memory://${name}`);
      this.stores.set(name, store);
    }
    const dir = confinePath(decodeURIComponent(uri.pathname).replace(/^\/+|\/+$/g, ''));
    return dir === '' ? store : new SubdirectoryFileSystem(store, dir);
  }

  /** Drops every file under `memory://name` (tests that reuse a name start empty). */
  forget(name: string): void {
    this.stores.delete(name);
  }
}

/** A directory of another file system, seen as a file system of its own. */
export class SubdirectoryFileSystem implements FileSystem {
  readonly scheme: string;
  readonly displayRoot: string;

  constructor(
    private readonly parent: FileSystem,
    private readonly dir: string,
  ) {
    this.scheme = parent.scheme;
    this.displayRoot = `${parent.displayRoot.replace(/\/+$/, '')}/${dir}`;
  }

  private inside(path: string): string {
    return joinPath(this.dir, confinePath(path));
  }

  private relative(files: FileStatus[]): FileStatus[] {
    return files.map((f) => ({ path: f.path.slice(this.dir.length + 1), size: f.size }));
  }

  async create(path: string): Promise<FileWriter> {
    return this.parent.create(this.inside(path));
  }
  async read(path: string, range?: ReadRange): Promise<Uint8Array> {
    return this.parent.read(this.inside(path), range);
  }
  async stat(path: string): Promise<FileStatus | null> {
    const s = await this.parent.stat(this.inside(path));
    return s === null ? null : { path: confinePath(path), size: s.size };
  }
  async list(dir: string): Promise<FileStatus[]> {
    return this.relative(await this.parent.list(this.inside(dir)));
  }
  async delete(path: string): Promise<void> {
    return this.parent.delete(this.inside(path));
  }
  async deleteMany(paths: readonly string[]): Promise<void> {
    return this.parent.deleteMany(paths.map((p) => this.inside(p)));
  }
  async deleteDirectory(dir: string): Promise<void> {
    return this.parent.deleteDirectory(this.inside(dir));
  }
}

/** The provider core's process-wide registry serves `memory://` with. */
export const memoryFileSystemProvider = new MemoryFileSystemProvider();
