// The UI tests' shared helpers: the savepoint package's committed fixture (source tree), copied
// into any file system, and a GET against the UI's server.
import { readdirSync, readFileSync } from 'node:fs';
import { request, type ClientRequest } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FileSystem } from '@flowstate/core';

/** A savepoint whose scan reads several files: the savepoint package's fixture of format version 1. */
export const FIXTURE = fileURLToPath(new URL('../../../savepoint/test/fixtures/v1', import.meta.url));

/** Copies FIXTURE into `dir` of `fs`. */
export async function copyFixture(fs: FileSystem, dir: string): Promise<void> {
  for (const name of readdirSync(FIXTURE)) {
    const w = await fs.create(`${dir}/${name}`);
    await w.write(readFileSync(join(FIXTURE, name)));
    await w.commit();
  }
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** GETs `path` of the server at `url` with `headers`; `sent` gets the request once it is sent (to destroy it). */
export function get(url: string, path: string, headers: Record<string, string> = {}, sent: (req: ClientRequest) => void = () => {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
    sent(req);
  });
}
