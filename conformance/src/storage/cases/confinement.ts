import assert from 'node:assert/strict';
import { PathEscapeError } from '@flowstate/core';
import { storageCase, type StorageCaseGroup } from '../storage-case.js';

/** Paths that must never be accepted, for any operation. */
export const ESCAPING_PATHS: readonly string[] = [
  '..',
  '../x',
  '/abs',
  '/',
  'a/../../b',
  'a/..',
  '%2e%2e/x',
  '%2E%2e/x',
  'a%2fb',
  'http://x',
  's3://other-bucket/x',
  'file:///etc/passwd',
  'a\\b',
  '..\\x',
  'C:\\x',
  'a/./b',
  './a',
  'a//b',
  '~/x',
  'a\0b',
];

/** Path confinement: no operation accepts a path that could leave the root. */
export function confinementCases(): StorageCaseGroup {
  return {
    name: 'path confinement',
    cases: [
      ...ESCAPING_PATHS.map((bad) =>
        storageCase(`rejects ${JSON.stringify(bad)} in every operation with PathEscapeError`, async (fs, base) => {
          const ops: Record<string, () => Promise<unknown>> = {
            create: async () => fs.create(bad),
            read: async () => fs.read(bad),
            'read range': async () => fs.read(bad, { offset: 0, length: 1 }),
            stat: async () => fs.stat(bad),
            list: async () => fs.list(bad),
            delete: async () => fs.delete(bad),
            deleteMany: async () => fs.deleteMany([`${base}/fine`, bad]),
            deleteDirectory: async () => fs.deleteDirectory(bad),
          };
          for (const [op, fn] of Object.entries(ops)) {
            await assert.rejects(fn, (e: unknown) => e instanceof PathEscapeError, `${op}(${JSON.stringify(bad)}) must throw PathEscapeError`);
          }
        }),
      ),
    ],
  };
}
