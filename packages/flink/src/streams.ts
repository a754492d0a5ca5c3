import { readFile, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PathEscapeError, StorageNotFoundError } from '@flowstate/core';
import { FlinkUnsupportedError } from './errors.js';
import { JavaDataInput } from './io/java-input.js';
import type { StreamStateHandle } from './metadata/types.js';

/** Bytes of one state stream, with the file name and offset that errors should name. */
export interface ResolvedStream {
  readonly bytes: Uint8Array;
  readonly file: string;
  /** Offset of bytes[0] within `file`. */
  readonly baseOffset: number;
}

/** A state file larger than this is refused before it is read (Flink fixtures are far smaller). */
export const MAX_STATE_FILE_BYTES = 1 << 30;

/**
 * Resolves stream handles of a savepoint in `directory` (the directory of `_metadata`): inline
 * bytes, paths relative to it (never escaping it), and absolute paths, which a moved savepoint
 * still finds by file name in its own directory.
 */
export class StreamResolver {
  private readonly cache = new Map<string, Uint8Array>();

  constructor(
    readonly directory: string,
    readonly metadataFile: string,
  ) {}

  async resolve(h: StreamStateHandle): Promise<ResolvedStream> {
    switch (h.type) {
      case 'byte-stream':
        return { bytes: h.data, file: `${this.metadataFile} (inline '${h.name}')`, baseOffset: h.metadataOffset };
      case 'relative-file':
        return this.readChecked(this.confined(h.relativePath), h.size);
      case 'file':
        return this.readChecked(await this.absolute(h.path), h.size);
      case 'segment-file':
      case 'empty-segment-file':
      case 'key-groups-stream':
        throw new FlinkUnsupportedError(this.metadataFile, `${h.type} stream handles (file merging / legacy nesting) cannot be read`);
    }
  }

  private confined(rel: string): string {
    if (rel === '' || isAbsolute(rel) || rel.includes('\\') || normalize(rel).split(sep).includes('..')) {
      throw new PathEscapeError(rel, 'relative state file path leaves the savepoint directory');
    }
    return join(this.directory, rel);
  }

  private async absolute(path: string): Promise<string> {
    const local = path.startsWith('file:') ? fileURLToPath(path.replace(/^file:\/+/, 'file:///')) : path;
    try {
      await stat(local);
      return local;
    } catch {
      // Savepoints are moved: look for the file by its name next to `_metadata`.
      return this.confined(basename(local));
    }
  }

  private async readChecked(path: string, size: number): Promise<ResolvedStream> {
    let bytes = this.cache.get(path);
    if (bytes === undefined) {
      let st;
      try {
        st = await stat(path);
      } catch {
        throw new StorageNotFoundError(path);
      }
      if (st.size > MAX_STATE_FILE_BYTES) throw new FlinkUnsupportedError(path, `state file of ${st.size} bytes exceeds ${MAX_STATE_FILE_BYTES}`);
      bytes = await readFile(path);
      this.cache.set(path, bytes);
    }
    if (bytes.length !== size) {
      new JavaDataInput(bytes, path).fail(`file has ${bytes.length} bytes, its handle says ${size}`, 0);
    }
    return { bytes, file: path, baseOffset: 0 };
  }
}
