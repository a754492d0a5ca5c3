import { PathEscapeError } from '../errors.js';

/** Where a checkpoint directory layout keeps files shared between checkpoints (incremental state). */
export const SHARED_STATE_DIR = 'shared';

/**
 * Normalizes a relative path and rejects anything that could escape the root: absolute paths,
 * '..' segments, backslashes, NUL, percent-encoded separators or dots, URL schemes, and empty or
 * '.' segments. Returns the canonical form ('a/b/c').
 */
export function confinePath(path: string): string {
  if (typeof path !== 'string') throw new PathEscapeError(String(path), 'not a string');
  if (path === '') return '';
  if (path.includes('\0')) throw new PathEscapeError(path, 'contains NUL');
  if (path.includes('\\')) throw new PathEscapeError(path, 'contains a backslash');
  if (/%(2e|2f|5c|00)/i.test(path)) throw new PathEscapeError(path, 'contains a percent-encoded dot, slash or NUL');
  if (/^[a-z][a-z0-9+.-]*:/i.test(path)) throw new PathEscapeError(path, 'looks like a URL');
  if (path.startsWith('/') || path.startsWith('~')) throw new PathEscapeError(path, 'is absolute');
  const parts = path.split('/');
  if (parts[parts.length - 1] === '') parts.pop();
  for (const p of parts) {
    if (p === '..') throw new PathEscapeError(path, "contains '..'");
    if (p === '' || p === '.') throw new PathEscapeError(path, 'contains an empty or "." segment');
  }
  return parts.join('/');
}

export function joinPath(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/');
}
