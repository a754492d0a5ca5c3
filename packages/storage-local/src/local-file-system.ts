import { randomUUID } from 'node:crypto';
import { constants as fsc, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import {
  confinePath,
  PathEscapeError,
  StorageError,
  StorageNotFoundError,
  TemporaryNameListing,
  type FileStatus,
  type FileSystem,
  type FileWriter,
  type ReadRange,
} from '@flowstate/core/storage';

/** Suffix of files being written; never a valid final name, so listings can tell orphans apart. */
export const IN_PROGRESS_SUFFIX = '.inprogress';

/** ENOTDIR: a component of the path is a file, so nothing exists at the path either. */
function isNotFound(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Why an operation failed, in words, for the codes input paths provoke. */
function describeCode(code: string | undefined, fallback: string): string {
  if (code === 'ENAMETOOLONG') return 'ENAMETOOLONG (a path segment or the whole path is longer than the file system allows)';
  if (code === 'EISDIR') return 'EISDIR (it is a directory, not a file)';
  if (code === 'EACCES' || code === 'EPERM') return `${code} (permission denied)`;
  return code ?? fallback;
}

/**
 * Local disk. Writes go to a temporary file next to the target, which is fsynced, renamed into
 * place and whose directory is fsynced: a file is either absent or complete, even across crashes.
 * Paths are confined to the root, including through symlinks.
 */
export class LocalFileSystem extends TemporaryNameListing implements FileSystem {
  readonly scheme = 'file';
  readonly root: string;

  constructor(root: string) {
    super();
    this.root = resolve(root);
  }

  get displayRoot(): string {
    return this.root;
  }

  private realRootPromise: Promise<string> | undefined;

  /** The root with symlinks resolved, computed once (every path check needs it). */
  private realRoot(): Promise<string> {
    this.realRootPromise ??= fsp.realpath(this.root).catch(() => {
      // Not created yet: try again next time.
      this.realRootPromise = undefined;
      return this.root;
    });
    return this.realRootPromise;
  }

  /** Absolute path for a confined relative path; rejects symlinked parents that leave the root. */
  private async resolvePath(path: string): Promise<string> {
    const p = confinePath(path);
    const abs = p === '' ? this.root : join(this.root, ...p.split('/'));
    // Walk up to the deepest existing ancestor and check where it really points.
    let probe = abs;
    for (;;) {
      try {
        const real = await fsp.realpath(probe);
        const rel = relative(await this.realRoot(), real);
        // '..foo' is a valid name inside the root; only '..' itself or '../...' leaves it.
        if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
          throw new PathEscapeError(path, 'resolves outside the storage root through a symbolic link');
        }
        return abs;
      } catch (e) {
        // Any other failure (ENAMETOOLONG, EACCES, ELOOP...) is a typed storage error.
        if (!isNotFound(e)) this.wrap(path, 'resolve', e);
        const parent = dirname(probe);
        if (parent === probe || !parent.startsWith(this.root)) return abs;
        probe = parent;
      }
    }
  }

  private wrap(path: string, what: string, e: unknown): never {
    if (e instanceof StorageError || e instanceof PathEscapeError) throw e;
    if (isNotFound(e)) throw new StorageNotFoundError(`${this.root}/${path}`);
    const code = (e as NodeJS.ErrnoException)?.code;
    throw new StorageError(`${this.root}/${path}`, `${what} failed: ${describeCode(code, (e as Error).message)}`, {
      cause: e,
      transient: code === 'EAGAIN' || code === 'EBUSY' || code === 'EINTR',
    });
  }

  async create(path: string): Promise<FileWriter> {
    const target = await this.resolvePath(path);
    if (target === this.root) throw new StorageError(path, 'cannot create a file at the root');
    const dir = dirname(target);
    const temp = `${target}.${randomUUID().slice(0, 8)}${IN_PROGRESS_SUFFIX}`;
    let fh: FileHandle;
    try {
      await fsp.mkdir(dir, { recursive: true });
      fh = await fsp.open(temp, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o644);
    } catch (e) {
      this.wrap(path, 'create', e);
    }
    let state: 'open' | 'committed' | 'aborted' = 'open';
    const abort = async () => {
      if (state !== 'open') return;
      state = 'aborted';
      await fh.close().catch(() => {});
      await fsp.rm(temp, { force: true });
    };
    return {
      write: async (chunk) => {
        if (state !== 'open') throw new StorageError(path, `write after ${state}`);
        try {
          let off = 0;
          while (off < chunk.length) {
            const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
            off += bytesWritten;
          }
        } catch (e) {
          await abort();
          this.wrap(path, 'write', e);
        }
      },
      commit: async () => {
        if (state !== 'open') throw new StorageError(path, `commit after ${state}`);
        try {
          await fh.sync();
          await fh.close();
          state = 'committed';
          await fsp.rename(temp, target);
          await fsyncDirectory(dir);
        } catch (e) {
          if (state === 'open') await abort();
          else await fsp.rm(temp, { force: true }).catch(() => {});
          this.wrap(path, 'commit', e);
        }
      },
      abort,
    };
  }

  async read(path: string, range?: ReadRange): Promise<Uint8Array> {
    const abs = await this.resolvePath(path);
    try {
      if (range === undefined) return await fsp.readFile(abs);
      const fh = await fsp.open(abs, 'r');
      try {
        const { size } = await fh.stat();
        if (range.offset < 0 || range.length < 0 || range.offset + range.length > size) {
          throw new StorageError(`${this.root}/${path}`, `range [${range.offset}, +${range.length}) is outside the file of ${size} bytes`);
        }
        const buf = range.into !== undefined && range.into.length >= range.length ? range.into.subarray(0, range.length) : Buffer.allocUnsafe(range.length);
        let got = 0;
        while (got < range.length) {
          const { bytesRead } = await fh.read(buf, got, range.length - got, range.offset + got);
          if (bytesRead === 0) throw new StorageError(`${this.root}/${path}`, 'file shrank while reading');
          got += bytesRead;
        }
        return buf;
      } finally {
        await fh.close();
      }
    } catch (e) {
      this.wrap(path, 'read', e);
    }
  }

  async stat(path: string): Promise<FileStatus | null> {
    const abs = await this.resolvePath(path);
    try {
      const st = await fsp.stat(abs);
      return st.isFile() ? { path: confinePath(path), size: st.size } : null;
    } catch (e) {
      if (isNotFound(e)) return null;
      this.wrap(path, 'stat', e);
    }
  }

  protected async walk(dir: string, incomplete: boolean): Promise<FileStatus[]> {
    const base = confinePath(dir);
    const abs = await this.resolvePath(base);
    const out: FileStatus[] = [];
    const walk = async (absDir: string, relDir: string): Promise<void> => {
      let entries;
      try {
        entries = await fsp.readdir(absDir, { withFileTypes: true });
      } catch (e) {
        if (isNotFound(e) || (e as NodeJS.ErrnoException)?.code === 'ENOTDIR') return;
        this.wrap(relDir, 'list', e);
      }
      for (const ent of entries) {
        const rel = relDir === '' ? ent.name : `${relDir}/${ent.name}`;
        const p = join(absDir, ent.name);
        // Symlinks are not followed: they could lead outside the root.
        if (ent.isDirectory()) await walk(p, rel);
        // Files still being written are not visible until commit renames them.
        else if (ent.isFile() && ent.name.endsWith(IN_PROGRESS_SUFFIX) === incomplete) {
          // A file may vanish between readdir and stat (a concurrent abort or delete): skip it.
          const st = await fsp.stat(p).catch((e: unknown) => (isNotFound(e) ? null : this.wrap(rel, 'stat', e)));
          if (st !== null) out.push({ path: rel, size: st.size });
        }
      }
    };
    await walk(abs, base);
    return out;
  }

  async delete(path: string): Promise<void> {
    const abs = await this.resolvePath(path);
    if (abs === this.root) throw new StorageError(path, 'refusing to delete the root');
    try {
      await fsp.rm(abs, { force: true });
    } catch (e) {
      this.wrap(path, 'delete', e);
    }
  }

  async deleteMany(paths: readonly string[]): Promise<void> {
    for (const p of paths) await this.delete(p);
  }

  async deleteDirectory(dir: string): Promise<void> {
    const abs = await this.resolvePath(dir);
    try {
      await fsp.rm(abs, { recursive: true, force: true });
      if (abs === this.root) await fsp.mkdir(abs, { recursive: true });
    } catch (e) {
      this.wrap(dir, 'delete directory', e);
    }
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
