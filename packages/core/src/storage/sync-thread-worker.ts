/**
 * A sync thread (sync-threads.ts): fsyncs the descriptors the main thread sends, one at a time,
 * and answers each with its outcome. The descriptors are the process's: the main thread keeps
 * each open until its answer arrives.
 */
import { fdatasyncSync, fsyncSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { SyncAnswer, SyncRequest, SyncThreadReady } from './sync-thread-protocol.js';

const port = parentPort;
if (port === null) throw new Error('sync-thread-worker.js runs as a worker thread only');

port.on('message', (request: SyncRequest) => {
  const answer: SyncAnswer = { id: request.id };
  try {
    (request.dataOnly ? fdatasyncSync : fsyncSync)(request.fd);
  } catch (e) {
    const x = e as NodeJS.ErrnoException;
    answer.failure = { message: x.message, code: x.code, errno: x.errno, syscall: x.syscall };
  }
  port.postMessage(answer);
});
port.postMessage({ ready: true } satisfies SyncThreadReady);
