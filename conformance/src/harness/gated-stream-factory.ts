import assert from 'node:assert/strict';
import type { CheckpointedStateScope, CheckpointStateOutputStream, CheckpointStreamFactory, MemoryFileSystem, StreamStateHandle } from '@flowstate/core';

/** What happened to one stream a snapshot opened. */
export interface StreamRecord {
  readonly scope: CheckpointedStateScope;
  aborted: boolean;
  /** Set when closeAndGetHandle succeeded. */
  handle: StreamStateHandle | undefined;
}

/**
 * Observes the streams of one snapshot and, when gated, holds every write (and close) until
 * `release()`, telling the test when the first one arrives. That makes "cancel while the backend is
 * writing" deterministic instead of a race against the event loop. The ledger lets a test check
 * that a cancelled snapshot aborted what it opened: in memory an unaborted stream is invisible,
 * on a real file system it is a leaked temporary file.
 */
export class GatedStreamFactory implements CheckpointStreamFactory {
  readonly firstUse: Promise<void>;
  readonly streams: StreamRecord[] = [];
  private signalFirstUse!: () => void;
  private readonly gate: Promise<void>;
  private openGate!: () => void;

  private readonly gateWrites: boolean;

  /** `closesOnly`: writes pass, closes wait (firstUse is then the first close). */
  constructor(
    private readonly inner: CheckpointStreamFactory,
    options: { readonly gated?: boolean; readonly closesOnly?: boolean } = {},
  ) {
    this.gateWrites = options.closesOnly !== true;
    this.firstUse = new Promise((resolve) => (this.signalFirstUse = resolve));
    this.gate = new Promise((resolve) => (this.openGate = resolve));
    if (options.gated === false) this.openGate();
  }

  get checkpointId(): number {
    return this.inner.checkpointId;
  }

  release(): void {
    this.openGate();
  }

  /** Streams that were neither aborted nor closed: partial writes nobody will clean up. */
  get unsettled(): StreamRecord[] {
    return this.streams.filter((s) => !s.aborted && s.handle === undefined);
  }

  discardStateHandle(handle: StreamStateHandle): Promise<void> {
    return this.inner.discardStateHandle(handle);
  }

  createCheckpointStateOutputStream(scope: CheckpointedStateScope): CheckpointStateOutputStream {
    const stream = this.inner.createCheckpointStateOutputStream(scope);
    const record: StreamRecord = { scope, aborted: false, handle: undefined };
    this.streams.push(record);
    const waitForGate = async (): Promise<void> => {
      this.signalFirstUse();
      await this.gate;
    };
    return {
      get position(): number {
        return stream.position;
      },
      write: async (bytes: Uint8Array, checksum?: number): Promise<void> => {
        if (this.gateWrites) await waitForGate();
        await stream.write(bytes, checksum);
      },
      closeAndGetHandle: async (): Promise<StreamStateHandle> => {
        await waitForGate();
        record.handle = await stream.closeAndGetHandle();
        return record.handle;
      },
      abort: async (): Promise<void> => {
        record.aborted = true;
        await stream.abort();
      },
    };
  }
}

/** No new file in storage, and every stream the snapshot opened was aborted or closed (then deleted). */
export async function assertNothingLeft(fs: MemoryFileSystem, filesBefore: readonly string[], streams: GatedStreamFactory): Promise<void> {
  assert.deepStrictEqual((await fs.list('')).map((f) => f.path), [...filesBefore], 'a cancelled snapshot leaves no file in storage');
  assert.deepStrictEqual(
    streams.unsettled.map((s) => s.scope),
    [],
    `every stream a cancelled snapshot opened is aborted or closed; ${streams.unsettled.length} of ${streams.streams.length} were left open`,
  );
}
