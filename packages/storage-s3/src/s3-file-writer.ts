import { PassThrough } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { StorageError, type FileWriter } from '@flowstate/core';

/** What a writer needs from its file system; built by S3FileSystem.create from private members. */
export interface WriterContext {
  /** `s3://bucket/prefix/path` */
  readonly display: string;
  /** Sends every command through the file system's retry policy. */
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly partSize: number;
  readonly queueSize: number;
  abortMultipartUpload(uploadId: string): Promise<void>;
  toStorageError(e: unknown): StorageError;
  /** The object as S3 has it now, if it exists. */
  headObject(): Promise<{ size: number; lastModified: Date | undefined } | undefined>;
}

/**
 * Streams a file into a lib-storage Upload through a PassThrough: Upload cuts the stream into
 * parts of `partSize` and keeps at most `queueSize` of them in flight, so memory stays around
 * (queueSize + 1) × partSize however large the file. A file smaller than one part becomes a single
 * PutObject when the stream ends, which is also why nothing is sent before commit for small files.
 */
export class S3FileWriter implements FileWriter {
  private state: 'open' | 'committing' | 'committed' | 'aborted' | 'failed' = 'open';
  private readonly body = new PassThrough();
  private readonly upload: Upload;
  /** Settles when the upload has finished or failed and no request of it is in flight any more. */
  private readonly outcome: Promise<{ ok: true } | { ok: false; error: unknown }>;
  private failure: { error: unknown } | undefined;
  private discarded = false;
  private bytesWritten = 0;
  private readonly startedAt = Date.now();

  constructor(private readonly ctx: WriterContext) {
    // Stream errors surface through `outcome`; without a listener they would crash the process.
    this.body.on('error', () => {});
    this.upload = new Upload({
      client: ctx.client,
      params: { Bucket: ctx.bucket, Key: ctx.key, Body: this.body },
      partSize: ctx.partSize,
      queueSize: ctx.queueSize,
      // We abort the multipart upload ourselves, after the last in-flight part has settled; lib-storage
      // would do it while parts are still being sent, and let an abort failure hide the real error.
      leavePartsOnError: true,
    });
    this.outcome = this.upload.done().then(
      () => ({ ok: true as const }),
      (error: unknown) => {
        this.failure = { error };
        this.body.destroy();
        return { ok: false as const, error };
      },
    );
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.state !== 'open') throw new StorageError(this.ctx.display, `write after ${this.state}`);
    if (this.failure !== undefined) throw await this.fail(this.failure.error);
    if (chunk.length === 0) return;
    this.bytesWritten += chunk.length;
    // A copy, because the caller may reuse its buffer once we return, while the bytes wait in the stream.
    if (!this.body.write(Buffer.from(chunk))) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.body.off('drain', done);
          this.body.off('close', done);
          resolve();
        };
        this.body.on('drain', done);
        this.body.on('close', done);
      });
    }
    if (this.body.destroyed) {
      const r = await this.outcome;
      throw await this.fail(r.ok ? new Error('upload stream closed') : r.error);
    }
  }

  async commit(): Promise<void> {
    if (this.state !== 'open') throw new StorageError(this.ctx.display, `commit after ${this.state}`);
    this.state = 'committing';
    this.body.end();
    const r = await this.outcome;
    if (!r.ok && !(await this.completedDespite())) throw await this.fail(r.error);
    this.state = 'committed';
  }

  /**
   * CompleteMultipartUpload is not idempotent: when S3 completed the upload but the response was
   * lost, the retry finds no upload any more and fails. The object then exists, with exactly our
   * size and a modification time after this writer started: the commit did happen.
   */
  private async completedDespite(): Promise<boolean> {
    if (this.upload.uploadId === undefined) return false; // single PutObject: retries are idempotent
    const head = await this.ctx.headObject().catch(() => undefined);
    if (head === undefined || head.size !== this.bytesWritten) return false;
    // Allow for clock skew between this host and S3.
    return head.lastModified === undefined || head.lastModified.getTime() >= this.startedAt - 5_000;
  }

  async abort(): Promise<void> {
    if (this.state === 'committed' || this.state === 'aborted') return;
    if (this.state === 'committing') {
      // Racing a commit: the upload finishes or fails on its own; an object that made it stays.
      await this.outcome;
      return;
    }
    this.state = 'aborted';
    // Failing the stream makes every Upload worker stop; `outcome` settles once in-flight parts have.
    this.body.destroy(new Error('aborted by the writer'));
    await this.outcome;
    await this.discard();
  }

  private async fail(error: unknown): Promise<StorageError> {
    if (this.state === 'open' || this.state === 'committing') this.state = 'failed';
    await this.discard();
    return this.ctx.toStorageError(error);
  }

  private async discard(): Promise<void> {
    if (this.discarded) return;
    this.discarded = true;
    if (this.upload.uploadId !== undefined) await this.ctx.abortMultipartUpload(this.upload.uploadId);
  }
}
