/** Child-process entry: runs one job (access / snapshot / memory / rss / storage / savepoint / runtime / ttl-compaction / timers / windows) and writes its JSON result to a file. */
import { readFileSync, writeFileSync } from 'node:fs';
import type { StateKind } from './access.js';
import type { BuildOrder } from './build-order.js';
import { PRESETS, type PresetName } from './config.js';

export type Job =
  | { readonly type: 'access'; readonly preset: PresetName; readonly backend: string; readonly kind: StateKind; readonly buildOrder?: BuildOrder; readonly out: string }
  | { readonly type: 'snapshot'; readonly preset: PresetName; readonly backend: string; readonly stateBytes: number; readonly out: string }
  | { readonly type: 'memory'; readonly preset: PresetName; readonly backend: string; readonly out: string }
  | { readonly type: 'rss'; readonly preset: PresetName; readonly backend: string; readonly out: string }
  | { readonly type: 'storage'; readonly preset: PresetName; readonly backend: 'storage'; readonly out: string }
  | { readonly type: 'savepoint'; readonly preset: PresetName; readonly backend: 'savepoint'; readonly out: string }
  | { readonly type: 'runtime'; readonly preset: PresetName; readonly backend: 'runtime'; readonly out: string }
  | { readonly type: 'ttl-compaction'; readonly preset: PresetName; readonly backend: 'rocksdb'; readonly out: string }
  | { readonly type: 'timers'; readonly preset: PresetName; readonly backend: string; readonly out: string }
  | { readonly type: 'windows'; readonly preset: PresetName; readonly backend: 'windows'; readonly out: string };

// Each job imports only its own suite: a child that loaded every suite (savepoint, Flink, S3 and
// HDFS clients...) spent CPU on modules it never ran, once per job.
const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Job;
const p = PRESETS[job.preset];
const log = (s: string) => console.log(s);
let result: unknown;
switch (job.type) {
  case 'access':
    result = await (await import('./access.js')).runAccessSuite(p, job.backend, job.kind, log, job.buildOrder);
    break;
  case 'snapshot':
    result = await (await import('./snapshot.js')).runSnapshotSuite(p, job.backend, job.stateBytes, log);
    break;
  case 'memory':
    result = await (await import('./memory.js')).runMemorySuite(p, job.backend, p.name === 'smoke' ? 1 : 3);
    break;
  case 'rss':
    result = await (await import('./rss.js')).runRssSuite(p, job.backend, log);
    break;
  case 'storage':
    result = await (await import('./storage.js')).runStorageSuite(p, log);
    break;
  case 'savepoint':
    result = await (await import('./savepoint.js')).runSavepointSuite(p, log);
    break;
  case 'runtime':
    result = await (await import('./runtime.js')).runRuntimeSuite(p, log);
    break;
  case 'ttl-compaction':
    result = (await import('./ttl-compaction.js')).runTtlCompactionSuite(p, log);
    break;
  case 'timers':
    result = await (await import('./timers.js')).runTimersSuite(p, job.backend, log);
    break;
  case 'windows':
    result = await (await import('./windows.js')).runWindowsSuite(p, log);
    break;
}
writeFileSync(job.out, JSON.stringify(result));
// Keep-alive sockets (S3 / WebHDFS clients) or native handles must not keep the child alive.
process.exit(0);
