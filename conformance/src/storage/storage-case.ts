import assert from 'node:assert/strict';
import { StorageNotFoundError, type FileSystem } from '@flowstate/core';

/**
 * Optional parts of the FileSystem contract. A storage that does not implement one declares it
 * not applicable with a reason; the cases that need it are then reported as skipped with that
 * reason, never as passed.
 */
export type StorageCapability = 'listIncomplete' | 'deleteEmptyDirectory';

export const STORAGE_CAPABILITIES: Readonly<Record<StorageCapability, string>> = Object.freeze({
  listIncomplete:
    'FileSystem.listIncomplete: files of writers that never committed (temporary files a crash left behind), ' +
    'hidden from list() and deleted by garbage collection.',
  deleteEmptyDirectory:
    'FileSystem.deleteEmptyDirectory: removes a directory only if it is empty, never recursively ' +
    '(storage with real directories; an object store has none to remove).',
});

/** One test of the storage suite: it gets a fresh file system and a private directory below its root. */
export interface StorageCase {
  readonly name: string;
  readonly requires?: readonly StorageCapability[];
  run(fs: FileSystem, base: string): Promise<void>;
}

export interface StorageCaseGroup {
  readonly name: string;
  readonly cases: readonly StorageCase[];
}

/** Sizes the suite is run with; a storage may raise them (S3 needs > 1000 files to cross a page). */
export interface StorageSuiteSettings {
  readonly largeFileBytes: number;
  readonly manyFiles: number;
}

export const MiB = 1 << 20;

export function storageCase(name: string, run: (fs: FileSystem, base: string) => Promise<void>, requires?: readonly StorageCapability[]): StorageCase {
  return requires === undefined ? { name, run } : { name, run, requires };
}

export async function assertNotFound(fn: () => Promise<unknown>): Promise<void> {
  await assert.rejects(fn, (e: unknown) => e instanceof StorageNotFoundError && e.code === 'STORAGE_NOT_FOUND');
}

export function sortByPath<T extends { path: string }>(files: T[]): T[] {
  return [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
