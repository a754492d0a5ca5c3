import { randomUUID } from 'node:crypto';
import { runStorageConformance } from '@flowstate/conformance';
import { WebHdfsFileSystem, type WebHdfsClientOptions } from '../src/index.js';
import { WebHdfsTestServer } from './webhdfs-server.js';

const MiB = 1 << 20;
const TOKEN = 'HAAEZmxpbmsEZmxpbmsAigGR-conformance-token';

// Two full runs: the 307 protocol with pseudo authentication, and the noredirect protocol with a
// delegation token. One emulator serves both; every FileSystem gets its own base directory.
let server: Promise<WebHdfsTestServer> | undefined;
const start = () =>
  (server ??= WebHdfsTestServer.start({
    requireUser: true,
    delegationTokens: new Map([[TOKEN, 'flink']]),
    // Small pages so that listing the 1100-file directory takes many LISTSTATUS_BATCH rounds.
    listingPageSize: 128,
  }));

const variants: Array<{ name: string; auth: Partial<WebHdfsClientOptions> }> = [
  { name: 'WebHdfsFileSystem (307 redirects, user.name)', auth: { user: 'flink', redirectMode: 'redirect' } },
  { name: 'WebHdfsFileSystem (noredirect, delegation token)', auth: { delegationToken: TOKEN, redirectMode: 'noredirect' } },
];

for (const [i, v] of variants.entries()) {
  runStorageConformance({
    name: v.name,
    // Above 64 MiB and not a multiple of the 8 MiB write chunk: one CREATE, eight APPENDs, a ragged tail.
    largeFileBytes: 65 * MiB + 123,
    manyFiles: 1100,
    createFileSystem: async () => {
      const s = await start();
      return new WebHdfsFileSystem({
        client: { endpoint: s.namenodeUrl, retry: { baseDelayMs: 5, maxDelayMs: 100 }, ...v.auth },
        basePath: `/flowstate/conformance/run-${randomUUID()}`,
        writeChunkSize: 8 * MiB,
      });
    },
    // The last variant's cleanup stops the emulator; close() also fails if it broke internally.
    ...(i === variants.length - 1 ? { cleanup: async () => (await server)?.close() } : {}),
  });
}
