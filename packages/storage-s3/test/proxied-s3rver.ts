import { after, before, beforeEach } from 'node:test';
import { FaultProxy } from './fault-proxy.js';
import { startS3rver, type S3rverInstance } from './s3rver-harness.js';

/** An s3rver with one bucket behind a fault proxy, for the calling test file; set once its `before` hook ran. */
export interface ProxiedS3rver {
  readonly server: S3rverInstance;
  readonly proxy: FaultProxy;
}

/**
 * Starts s3rver and a fault proxy in front of it before the calling test file's tests, stops both
 * after them, and clears the proxy's faults and counts before each test (then runs `beforeEachTest`).
 */
export function proxiedS3rver(bucket: string, beforeEachTest: () => void = () => {}): ProxiedS3rver {
  const s3 = {} as { server: S3rverInstance; proxy: FaultProxy };
  before(async () => {
    s3.server = await startS3rver({ buckets: [bucket] });
    s3.proxy = await FaultProxy.start({ host: '127.0.0.1', port: s3.server.port });
  });
  after(async () => {
    await s3.proxy?.close();
    await s3.server?.stop();
  });
  beforeEach(() => {
    s3.proxy.clear();
    s3.proxy.resetCounts();
    beforeEachTest();
  });
  return s3;
}
