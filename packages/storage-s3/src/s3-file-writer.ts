import { createHash, randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { CompleteMultipartUploadCommand, type CompletedPart, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { StorageError, StorageOperationError, StorageOutcomeUnknownError, type FileWriter } from '@flowstate/core';

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
  headObject(): Promise<HeadOfObject | undefined>;
}

/** What HeadObject tells about an object. */
export interface HeadOfObject {
  readonly size: number;
  readonly eTag: string | undefined;
  /** User metadata, by key without `x-amz-meta-` (as the SDK returns it: in lower case). */
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * The user-metadata key (sent as `x-amz-meta-flowstate-upload`) under which every object we write
 * carries the token of the writer that wrote it. Lower case, as S3 returns metadata keys, and
 * namespaced so that no one else's metadata takes it: 16 bytes of key and 36 of value, far
 * below S3's 2 KB for all user metadata. S3FileSystem offers no way to set metadata of one's own.
 */
export const UPLOAD_TOKEN_METADATA = 'flowstate-upload';

/** Whether a multipart upload whose completion failed did create the object after all. */
type Completion = 'completed' | 'failed' | { readonly unknown: string };

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
  /** The parts the last CompleteMultipartUpload request named, once lib-storage sent one. */
  private completedParts: readonly CompletedPart[] | undefined;
  /**
   * This writer's object carries it (UPLOAD_TOKEN_METADATA), so that a completion whose outcome is
   * in doubt can recognise the object as ours whatever the store makes its ETags of.
   */
  private readonly token = randomUUID();

  constructor(private readonly ctx: WriterContext) {
    // Stream errors surface through `outcome`; without a listener they would crash the process.
    this.body.on('error', () => {});
    this.upload = new Upload({
      client: observed(ctx.client, (command) => {
        if (command instanceof CompleteMultipartUploadCommand) this.completedParts = command.input.MultipartUpload?.Parts ?? [];
      }),
      // lib-storage sends the metadata with CreateMultipartUpload, and with the PutObject of a file
      // smaller than one part. PutObject needs no check (a retry writes the same bytes again), but
      // the token there too lets a failed completion at the same key tell that object is not its own.
      params: { Bucket: ctx.bucket, Key: ctx.key, Body: this.body, Metadata: { [UPLOAD_TOKEN_METADATA]: this.token } },
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
    // A copy, because the caller may reuse its buffer once we return, while the bytes wait in the stream.
    if (!this.body.destroyed && !this.body.write(Buffer.from(chunk))) await this.drained();
    if (this.body.destroyed) {
      const r = await this.outcome;
      throw await this.fail(r.ok ? new Error('upload stream closed') : r.error);
    }
  }

  /**
   * Resolves once the body takes more bytes or is destroyed, never waiting on a destroyed body: a
   * part that fails destroys it at once (lib-storage stops reading it), so its 'close' may be long
   * gone, while `outcome` settles only after the other parts in flight. Any other failure of the
   * upload destroys the body when `outcome` settles, which ends this wait too.
   */
  private drained(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.body.destroyed) return resolve();
      const done = () => {
        this.body.off('drain', done);
        this.body.off('close', done);
        resolve();
      };
      this.body.on('drain', done);
      this.body.on('close', done);
    });
  }

  async commit(): Promise<void> {
    if (this.state !== 'open') throw new StorageError(this.ctx.display, `commit after ${this.state}`);
    this.state = 'committing';
    this.body.end();
    const r = await this.outcome;
    if (!r.ok) {
      const completion = await this.completionDespite(r.error);
      if (completion === 'failed') throw await this.fail(r.error);
      if (completion !== 'completed') throw await this.fail(this.outcomeUnknown(r.error, completion.unknown));
    }
    this.state = 'committed';
  }

  /**
   * CompleteMultipartUpload is not idempotent: when S3 completed the upload but the response was
   * lost, the retry finds no upload any more and fails. So when a completion failed in a way that
   * may have taken effect, we look at the object: it is ours if it carries our token. Its size and
   * age prove nothing (an older file of the same size may be there), and a completion refused
   * outright (a first attempt's 4xx) never took effect.
   */
  private async completionDespite(error: unknown): Promise<Completion> {
    if (!completionMayHaveApplied(error)) return 'failed';
    let head: HeadOfObject | undefined;
    try {
      head = await this.ctx.headObject();
    } catch (e) {
      return { unknown: `looking at the object failed too (${detailOf(e, this.ctx.display)})` };
    }
    // S3 is read-after-write consistent: had the upload completed, the object would be there.
    if (head === undefined) return 'failed';
    const token = uploadTokenOf(head.metadata);
    // Another token: an older file at the key (or a later writer's), not what our upload made.
    if (token !== undefined) return token === this.token ? 'completed' : 'failed';
    return this.completionByETag(head.eTag);
  }

  /**
   * For an object without a token, from a store that drops user metadata (or written by someone
   * else): it is ours if its ETag is the one S3 derives from the parts we completed it with. Stores
   * that make their ETags otherwise (SSE-KMS, SSE-C, some S3-compatible stores) cannot be checked.
   */
  private completionByETag(eTag: string | undefined): Completion {
    const expected = this.completedParts === undefined ? undefined : multipartETag(this.completedParts);
    const actual = comparableETag(eTag);
    if (expected === undefined || actual === undefined) {
      return { unknown: `the object's ETag ${eTag ?? '(none)'} cannot be checked against the uploaded parts` };
    }
    return actual === expected ? 'completed' : 'failed';
  }

  private outcomeUnknown(error: unknown, why: string): StorageOutcomeUnknownError {
    const attempts = error instanceof StorageOperationError ? error.attempts : 1;
    return new StorageOutcomeUnknownError(
      this.ctx.display,
      `CompleteMultipartUpload failed in a way that may have completed the upload, and ${why}: the file may or may not exist`,
      { operation: 'CompleteMultipartUpload', attempts },
      { cause: error },
    );
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

/** `client`, telling `onSend` about every command before sending it. */
function observed(client: S3Client, onSend: (command: unknown) => void): S3Client {
  const send = client.send.bind(client) as (command: unknown, options?: unknown) => Promise<unknown>;
  const view = Object.create(client) as S3Client;
  Object.defineProperty(view, 'send', {
    value: (command: unknown, options?: unknown) => {
      onSend(command);
      return send(command, options);
    },
  });
  return view;
}

/**
 * True when a failed upload failed in CompleteMultipartUpload, and an attempt of it may have
 * completed the upload: it was retried (an earlier attempt failed transiently, and may have done
 * its work before failing), or its last attempt failed transiently (a network error, a 5xx).
 */
function completionMayHaveApplied(error: unknown): boolean {
  if (!(error instanceof StorageOperationError) || error.operation !== 'CompleteMultipartUpload') return false;
  return error.attempts > 1 || error.transient;
}

/**
 * The upload token an object's metadata carries, if any. The SDK gives metadata keys as the HTTP
 * layer does, which is in lower case with Node's; a custom request handler may keep another case.
 */
function uploadTokenOf(metadata: Readonly<Record<string, string>>): string | undefined {
  for (const [key, value] of Object.entries(metadata)) if (key.toLowerCase() === UPLOAD_TOKEN_METADATA) return value;
  return undefined;
}

const PART_ETAG = /^"?([0-9a-f]{32})"?$/i;
const MULTIPART_ETAG = /^"?([0-9a-f]{32}-[1-9][0-9]*)"?$/i;

/** S3's ETag of a multipart object: the MD5 of its parts' binary MD5s, '-', the number of parts. */
function multipartETag(parts: readonly CompletedPart[]): string | undefined {
  const md5 = createHash('md5');
  for (const part of parts) {
    const hex = PART_ETAG.exec(part.ETag ?? '')?.[1];
    if (hex === undefined) return undefined;
    md5.update(Buffer.from(hex, 'hex'));
  }
  return parts.length === 0 ? undefined : `${md5.digest('hex')}-${parts.length}`;
}

/** An ETag in the multipart form, unquoted and in lower case; undefined for any other form. */
function comparableETag(eTag: string | undefined): string | undefined {
  return MULTIPART_ETAG.exec(eTag ?? '')?.[1]?.toLowerCase();
}

/** An error's message without the "storage error on '<path>': " that would repeat our path. */
function detailOf(e: unknown, display: string): string {
  const message = e instanceof Error ? e.message : String(e);
  const prefix = `storage error on '${display}': `;
  return message.startsWith(prefix) ? message.slice(prefix.length) : message;
}
