import { randomUUID } from 'node:crypto';
import { runStorageConformance } from '@flowstate/conformance';
import { S3FileSystem } from '../src/index.js';
import { s3rverClientConfig, startS3rver, type S3rverInstance } from './s3rver-harness.js';

const BUCKET = 'flowstate-conformance';
const MiB = 1024 * 1024;

// One s3rver for the whole suite, started on first use; every test gets its own key prefix.
let server: Promise<S3rverInstance> | undefined;

runStorageConformance({
  name: 'S3FileSystem on s3rver',
  // Above 64 MiB and not a multiple of the part size: nine 8 MiB parts and a ragged tail.
  largeFileBytes: 65 * MiB + 123,
  // Above 1000: two ListObjectsV2 pages and two DeleteObjects batches.
  manyFiles: 1100,
  notApplicable: {
    listIncomplete: 'an unfinished multipart upload never becomes an object; a bucket lifecycle rule (AbortIncompleteMultipartUpload) reclaims it',
    deleteEmptyDirectory: 'S3 has no directories: a prefix exists only while objects carry it',
  },
  createFileSystem: async () => {
    const s = await (server ??= startS3rver({ buckets: [BUCKET] }));
    return new S3FileSystem({
      bucket: BUCKET,
      prefix: `run-${randomUUID()}`,
      clientConfig: s3rverClientConfig(s.endpoint),
      partSize: 8 * MiB,
      queueSize: 4,
      retryBaseDelayMs: 10,
    });
  },
  cleanup: async () => {
    await (await server)?.stop();
  },
});
