/** Child-process entry: runs one job (access / snapshot / memory / rss / storage / savepoint / runtime / ttl-compaction / timers / windows) and writes its JSON result to a file. */
import { readFileSync, writeFileSync } from 'node:fs';
import { runAccessSuite, type StateKind } from './access.js';
import { PRESETS, type PresetName } from './config.js';
import { runMemorySuite } from './memory.js';
import { runRssSuite } from './rss.js';
import { runRuntimeSuite } from './runtime.js';
import { runSavepointSuite } from './savepoint.js';
import { runSnapshotSuite } from './snapshot.js';
import { runStorageSuite } from './storage.js';
import { runTtlCompactionSuite } from './ttl-compaction.js';
import { runTimersSuite } from './timers.js';
import { runWindowsSuite } from './windows.js';

export type Job =
  | { readonly type: 'access'; readonly preset: PresetName; readonly backend: string; readonly kind: StateKind; readonly out: string }
  | { readonly type: 'snapshot'; readonly preset: PresetName; readonly backend: string; readonly stateBytes: number; readonly out: string }
  | { readonly type: 'memory'; readonly preset: PresetName; readonly backend: string; readonly out: string }
  | { readonly type: 'rss'; readonly preset: PresetName; readonly backend: string; readonly out: string }
  | { readonly type: 'storage'; readonly preset: PresetName; readonly backend: 'storage'; readonly out: string }
  | { readonly type: 'savepoint'; readonly preset: PresetName; readonly backend: 'savepoint'; readonly out: string }
  | { readonly type: 'runtime'; readonly preset: PresetName; readonly backend: 'runtime'; readonly out: string }
  | { readonly type: 'ttl-compaction'; readonly preset: PresetName; readonly backend: 'rocksdb'; readonly out: string }
  | { readonly type: 'timers'; readonly preset: PresetName; readonly backend: string; readonly out: string }
  | { readonly type: 'windows'; readonly preset: PresetName; readonly backend: 'windows'; readonly out: string };

const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Job;
const p = PRESETS[job.preset];
const log = (s: string) => console.log(s);
let result: unknown;
switch (job.type) {
  case 'access':
    result = await runAccessSuite(p, job.backend, job.kind, log);
    break;
  case 'snapshot':
    result = await runSnapshotSuite(p, job.backend, job.stateBytes, log);
    break;
  case 'memory':
    result = await runMemorySuite(p, job.backend, p.name === 'smoke' ? 1 : 3);
    break;
  case 'rss':
    result = await runRssSuite(p, job.backend, log);
    break;
  case 'storage':
    result = await runStorageSuite(p, log);
    break;
  case 'savepoint':
    result = await runSavepointSuite(p, log);
    break;
  case 'runtime':
    result = await runRuntimeSuite(p, log);
    break;
  case 'ttl-compaction':
    result = runTtlCompactionSuite(p, log);
    break;
  case 'timers':
    result = await runTimersSuite(p, job.backend, log);
    break;
  case 'windows':
    result = await runWindowsSuite(p, log);
    break;
}
writeFileSync(job.out, JSON.stringify(result));
// Keep-alive sockets (S3 / WebHDFS clients) or native handles must not keep the child alive.
process.exit(0);
