import { readFile } from 'node:fs/promises';
import { storageErrorFromErrno } from '@flowstate/core';

/**
 * A whole file (a `_metadata`, an OperatorSnapshotUtil file) as bytes. A path that exists but
 * cannot be read (a directory named `_metadata`, no permission) is a StorageError naming it and
 * the errno, as for every other file of a savepoint.
 */
export async function readWholeFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    throw storageErrorFromErrno(path, 'read', e);
  }
}
