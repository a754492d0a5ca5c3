import { PERMANENT_FAILURE, StorageError, StorageNotFoundError, type FileWriter } from '@flowstate/core';
import { WebHdfsAlreadyExistsError, WebHdfsError, WebHdfsLengthMismatchError, WebHdfsOutcomeUnknownError, WebHdfsRetriesExhaustedError } from './errors.js';
import type { HdfsFileStatus } from './file-status.js';
import type { WebHdfsClient } from './webhdfs-client.js';

/**
 * Writes through a temporary file. Chunks go out as CREATE/APPEND; when one of those fails with
 * an unknown outcome the writer reconciles against the file's length instead of resending blindly:
 * HDFS appends are sequential, so whatever landed is a prefix of the chunk, and only the rest is
 * sent. Every resend after such a failure re-reads the length first, because a write still in
 * flight on the datanode holds the file's lease (later writers get AlreadyBeingCreatedException,
 * a retriable error) and the length is only final once that write is done. commit() checks the
 * finished file's length before publishing it, in case a reported length was not final after all.
 */
export class WebHdfsFileWriter implements FileWriter {
  private state: 'open' | 'committed' | 'aborted' | 'failed' = 'open';
  private buffered: Uint8Array[] = [];
  private bufferedBytes = 0;
  /** The temp file is known to exist. */
  private created = false;
  /** A CREATE was sent, so the temp file may exist. */
  private touched = false;
  /** Bytes known to be in the temp file. */
  private written = 0;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: WebHdfsClient,
    private readonly rel: string,
    private readonly finalPath: string,
    private readonly tempPath: string,
    private readonly chunkSize: number,
    private readonly createOptions: { blockSize?: number; replication?: number; permission?: string },
  ) {}

  /** Runs operations one at a time even if the caller does not await between them. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  write(chunk: Uint8Array): Promise<void> {
    // Copied now: the caller may reuse its buffer as soon as this returns. Not chunk.slice():
    // on a Buffer that is a view, not a copy.
    const copy = new Uint8Array(chunk);
    return this.serial(async () => {
      if (this.state !== 'open') throw new StorageError(this.rel, `write after ${this.state}`);
      if (copy.length === 0) return;
      this.buffered.push(copy);
      this.bufferedBytes += copy.length;
      if (this.bufferedBytes >= this.chunkSize) await this.guard(() => this.flush());
    });
  }

  commit(): Promise<void> {
    return this.serial(async () => {
      if (this.state !== 'open') throw new StorageError(this.rel, `commit after ${this.state}`);
      await this.guard(async () => {
        await this.flush();
        if (!this.created) await this.writeChunk(new Uint8Array(0));
        await this.checkTempLength();
        await this.renameIntoPlace();
      });
      this.state = 'committed';
    });
  }

  abort(): Promise<void> {
    return this.serial(async () => {
      if (this.state === 'committed') return;
      this.state = 'aborted';
      this.buffered = [];
      this.bufferedBytes = 0;
      if (this.touched) {
        await this.client.delete(this.tempPath);
        // Only forget the temp file once it is surely gone, so that a repeated abort retries.
        this.touched = false;
      }
    });
  }

  /** A failed write or commit leaves the writer failed; abort() still cleans up. */
  private async guard(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.state = 'failed';
      this.buffered = [];
      this.bufferedBytes = 0;
      throw e;
    }
  }

  private async flush(): Promise<void> {
    if (this.bufferedBytes === 0) return;
    const data = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered, this.bufferedBytes);
    this.buffered = [];
    this.bufferedBytes = 0;
    await this.writeChunk(data);
  }

  private async writeChunk(data: Uint8Array): Promise<void> {
    const base = this.written;
    this.touched = true;
    try {
      if (!this.created) await this.client.create(this.tempPath, data, { overwrite: false, ...this.createOptions });
      else await this.client.append(this.tempPath, data);
      this.created = true;
      this.written = base + data.length;
      return;
    } catch (e) {
      if (!(e instanceof WebHdfsOutcomeUnknownError)) throw e;
      await this.reconcileChunk(data, base, e);
    }
  }

  /**
   * After a CREATE or APPEND whose outcome is unknown: looks at the temporary file and sends only
   * what did not land. HDFS appends are sequential, so whatever landed is a prefix of the chunk.
   */
  private async reconcileChunk(data: Uint8Array, base: number, first: WebHdfsOutcomeUnknownError): Promise<void> {
    const display = this.client.uri(this.tempPath);
    const op = this.created ? 'APPEND' : 'CREATE';
    const step = async (): Promise<void> => {
      const st = await this.statTemp();
      if (st === null) {
        if (this.created) throw new WebHdfsError(display, `${op}: the temporary file disappeared while being written`, { operation: op });
        await this.client.create(this.tempPath, data, { overwrite: false, maxAttempts: 1, ...this.createOptions });
      } else {
        this.created = true;
        const landed = st.length - base;
        if (st.type !== 'FILE' || landed < 0 || landed > data.length) {
          throw new WebHdfsError(display, `${op}: the temporary file has ${st.length} bytes where ${base} to ${base + data.length} were expected; something else wrote to it`, { operation: op });
        }
        if (landed < data.length) await this.client.append(this.tempPath, data.subarray(landed), { maxAttempts: 1 });
      }
      this.created = true;
      this.written = base + data.length;
    };
    // Transient failures (including a lease still held by the lost write) and a CREATE that
    // collides with the lost write's file: look at the file again and go on from there.
    const again = (e: unknown) => e instanceof StorageError && (e.transient || (e instanceof WebHdfsAlreadyExistsError && !this.created));
    await this.reconcile(op, display, 'could not complete the write', first, step, again);
  }

  private async statTemp(): Promise<HdfsFileStatus | null> {
    try {
      return await this.client.getFileStatus(this.tempPath);
    } catch (e) {
      if (e instanceof StorageNotFoundError) return null;
      throw e;
    }
  }

  /**
   * Reconciling trusts the length GETFILESTATUS reports, and real HDFS may report less than has
   * landed while a lost write still holds the file open (only completed blocks count): the resend
   * then duplicates bytes. So no temporary file is published unless it holds exactly the bytes
   * written. One that does not is garbage, deleted here (best effort; abort() tries again).
   */
  private async checkTempLength(): Promise<void> {
    const st = await this.client.getFileStatus(this.tempPath);
    if (st.type === 'FILE' && st.length === this.written) return;
    const detail = `the temporary file ${this.client.uri(this.tempPath)} has ${st.length} bytes where ${this.written} were written; not published`;
    const error = new WebHdfsLengthMismatchError(this.client.uri(this.finalPath), detail, { operation: 'GETFILESTATUS' });
    try {
      await this.client.delete(this.tempPath);
      this.touched = false;
    } catch {
      // The mismatch is what the caller must see; abort() deletes the file later.
    }
    throw error;
  }

  private async renameIntoPlace(): Promise<void> {
    try {
      await this.client.rename2(this.tempPath, this.finalPath, { overwrite: true });
      this.touched = false;
      return;
    } catch (e) {
      if (!(e instanceof WebHdfsOutcomeUnknownError)) throw e;
    }
    // The rename may have happened. It did if the temp file is gone and the final file has our
    // length (a concurrent writer of the same path with the same length is indistinguishable,
    // and equally valid: create() promises last-writer-wins, not identity).
    const display = this.client.uri(this.finalPath);
    const step = async (): Promise<void> => {
      if ((await this.statTemp()) === null) {
        const fin = await this.client.getFileStatus(this.finalPath).catch((e: unknown) => {
          if (e instanceof StorageNotFoundError) return null;
          throw e;
        });
        if (fin?.type !== 'FILE' || fin.length !== this.written) {
          throw new WebHdfsError(display, 'RENAME: outcome unknown, the temporary file is gone and the final file is not the one written', { operation: 'RENAME' });
        }
      } else {
        await this.client.rename2(this.tempPath, this.finalPath, { overwrite: true, maxAttempts: 1 });
      }
      this.touched = false;
    };
    await this.reconcile('RENAME', display, 'could not publish the file', undefined, step, (e) => e instanceof StorageError && e.transient);
  }

  /**
   * Repeats a look-then-act `step` under the client's retry policy until it succeeds or fails for
   * good. The lost request was the first attempt, so `step` gets the remaining ones, each after a
   * backoff: the first one too, to let the lost request settle on the server.
   */
  private async reconcile(op: string, display: string, what: string, first: unknown, step: () => Promise<void>, again: (e: unknown) => boolean): Promise<void> {
    const policy = this.client.retry;
    const exhausted = (cause: unknown) =>
      new WebHdfsRetriesExhaustedError(display, `${op}: ${what} after ${policy.maxAttempts} attempts`, { operation: op, attempts: policy.maxAttempts }, { cause });
    if (policy.maxAttempts < 2) throw exhausted(first);
    await policy.sleep(policy.delay(1));
    await policy.run({
      idempotent: true,
      maxAttempts: policy.maxAttempts - 1,
      attempt: step,
      classify: (e) => (again(e) ? { transient: true, applied: 'maybe' } : PERMANENT_FAILURE),
      giveUp: (e, { reason }) => (reason === 'permanent' ? e : exhausted(e)),
    });
  }
}
