import type { StreamStateHandle } from '../storage/handles.js';
import type { AdoptLocalFileOptions, CheckpointedStateScope, CheckpointStateOutputStream, CheckpointStreamFactory } from '../storage/spi.js';

/**
 * The output stream of a snapshot's asynchronous part, honouring the SPI's cancellation promise:
 * every call checks `checkCancelled` before and after it runs (a cancel() that arrives while a
 * write or the close is in flight is seen as soon as that call returns), and `discard()` removes
 * whatever the stream produced: the open stream is aborted, a closed one's file is deleted.
 */
export class SnapshotOutputStream implements CheckpointStateOutputStream {
  private closedHandle: StreamStateHandle | undefined;

  private constructor(
    private readonly inner: CheckpointStateOutputStream,
    private readonly streamFactory: CheckpointStreamFactory,
    private readonly checkCancelled: () => void,
  ) {}

  /** Checks for cancellation before the stream is even opened: a cancelled snapshot creates nothing. */
  static open(streamFactory: CheckpointStreamFactory, scope: CheckpointedStateScope, checkCancelled: () => void): SnapshotOutputStream {
    checkCancelled();
    return new SnapshotOutputStream(streamFactory.createCheckpointStateOutputStream(scope), streamFactory, checkCancelled);
  }

  get position(): number {
    return this.inner.position;
  }

  async write(bytes: Uint8Array, checksum?: number): Promise<void> {
    this.checkCancelled();
    await this.inner.write(bytes, checksum);
    this.checkCancelled();
  }

  async closeAndGetHandle(): Promise<StreamStateHandle> {
    this.checkCancelled();
    this.closedHandle = await this.inner.closeAndGetHandle();
    this.checkCancelled();
    return this.closedHandle;
  }

  /** Forwarded when the storage's stream can adopt local files; a handle it returns is discarded like a closed stream's. */
  async adoptLocalFile(localPath: string, options?: AdoptLocalFileOptions): Promise<StreamStateHandle | null> {
    this.checkCancelled();
    if (this.inner.adoptLocalFile === undefined) return null;
    const handle = await this.inner.adoptLocalFile(localPath, options);
    if (handle !== null) this.closedHandle = handle;
    this.checkCancelled();
    return handle;
  }

  abort(): Promise<void> {
    return this.inner.abort();
  }

  /**
   * After a failure or cancellation: leaves nothing that no checkpoint will reference. Never
   * throws; the caller reports the original failure, which matters more than a failed cleanup.
   */
  async discard(): Promise<void> {
    if (this.closedHandle !== undefined) await this.streamFactory.discardStateHandle(this.closedHandle).catch(() => {});
    else await this.inner.abort().catch(() => {});
  }
}
