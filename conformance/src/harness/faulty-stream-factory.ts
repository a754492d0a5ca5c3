import type { CheckpointedStateScope, CheckpointStateOutputStream, CheckpointStreamFactory, StreamStateHandle } from '@flowstate/core';

/** The storage failure a FaultyStreamFactory injects; a test expects exactly this error back. */
export class InjectedStorageFailure extends Error {
  constructor(readonly operation: 'write' | 'close', readonly callNumber: number) {
    super(`injected storage failure on ${operation} call #${callNumber}`);
    this.name = 'InjectedStorageFailure';
  }
}

/**
 * Fails one call of a snapshot's streams, counted over all of them in call order: the
 * `failOn`-th (1-based) write, or close. The failing call does not reach the inner stream, as a
 * storage that rejects a request; the stream stays open for the snapshot to abort.
 */
export class FaultyStreamFactory implements CheckpointStreamFactory {
  private calls = 0;
  private failure: InjectedStorageFailure | undefined;

  constructor(
    private readonly inner: CheckpointStreamFactory,
    private readonly operation: 'write' | 'close',
    private readonly failOn: number,
  ) {}

  /** The failure, once injected. */
  get injected(): InjectedStorageFailure | undefined {
    return this.failure;
  }

  get checkpointId(): number {
    return this.inner.checkpointId;
  }

  discardStateHandle(handle: StreamStateHandle): Promise<void> {
    return this.inner.discardStateHandle(handle);
  }

  private maybeFail(operation: 'write' | 'close'): void {
    if (operation !== this.operation || ++this.calls !== this.failOn) return;
    this.failure = new InjectedStorageFailure(operation, this.calls);
    throw this.failure;
  }

  createCheckpointStateOutputStream(scope: CheckpointedStateScope): CheckpointStateOutputStream {
    const stream = this.inner.createCheckpointStateOutputStream(scope);
    return {
      get position(): number {
        return stream.position;
      },
      write: async (bytes: Uint8Array, checksum?: number): Promise<void> => {
        this.maybeFail('write');
        await stream.write(bytes, checksum);
      },
      closeAndGetHandle: async (): Promise<StreamStateHandle> => {
        this.maybeFail('close');
        return stream.closeAndGetHandle();
      },
      abort: () => stream.abort(),
    };
  }
}
