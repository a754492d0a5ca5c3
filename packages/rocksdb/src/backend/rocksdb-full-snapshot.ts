import {
  DataOutputSerializer,
  type KeyedStateHandle,
  type KeyedStateStreamEncoder,
  type SnapshotContext,
  type SnapshotResources,
  type SnapshotResult,
  type SnapshotStrategy,
} from '@flowstate/core';
import { decodeListElements, type Snapshot } from '../native.js';
import type { RegisteredRocksState } from './rocksdb-registered.js';
import { stateStreamEncoder, type RocksSnapshotSource } from './rocksdb-snapshot.js';

/** What the synchronous part captured: a RocksDB snapshot, and the states as of then. */
interface RocksFullSnapshotResources extends SnapshotResources {
  readonly snap: Snapshot;
  readonly states: readonly RegisteredRocksState[];
  readonly encoder: KeyedStateStreamEncoder;
}

/**
 * Canonical full snapshots of a RocksDB backend (savepoints, or incremental checkpoints disabled;
 * Flink's RocksFullSnapshotStrategy): the synchronous part takes a RocksDB snapshot; the
 * asynchronous part streams the key groups in order through the same encoder the heap backends
 * use, so the result restores into any backend.
 */
export class RocksFullSnapshotStrategy implements SnapshotStrategy<KeyedStateHandle, RocksFullSnapshotResources> {
  constructor(private readonly source: RocksSnapshotSource) {}

  syncPrepareResources(): RocksFullSnapshotResources | null {
    const states = [...this.source.states.values()];
    if (states.length === 0) return null;
    const encoder = stateStreamEncoder(this.source, states);
    const snap = this.source.db.getSnapshot();
    return { snap, states, encoder, release: () => snap.release() };
  }

  async asyncSnapshot(resources: RocksFullSnapshotResources, context: SnapshotContext): Promise<SnapshotResult<KeyedStateHandle>> {
    const { encoder } = resources;
    const out = context.openStream('EXCLUSIVE');
    await out.write(encoder.encodeHeader());
    const listOut = new DataOutputSerializer(256);
    for (const g of this.source.keyGroupRange) {
      context.throwIfCancelled();
      encoder.beginKeyGroup(g);
      resources.states.forEach((s, i) => this.writeState(resources.snap, s, i, g, encoder, listOut));
      await out.write(encoder.endKeyGroup());
      await context.yieldIfBusy();
    }
    // The stream checks cancellation after the close too: a cancel() during it deletes the file.
    const stream = await out.closeAndGetHandle();
    const handle = encoder.finish(stream);
    return { jobManagerOwnedSnapshot: handle, checkpointedSize: stream.size, fullSize: stream.size };
  }

  /** Writes the rows of one state in key group `g`, as of the snapshot. */
  private writeState(snap: Snapshot, s: RegisteredRocksState, i: number, g: number, encoder: KeyedStateStreamEncoder, listOut: DataOutputSerializer): void {
    const layout = this.source.layout;
    const it = this.source.db.iterator(s.cf, { lowerBound: layout.keyGroupStart(g), upperBound: layout.keyGroupStart(g + 1), snapshot: snap, fillCache: false });
    try {
      it.seekToFirst();
      while (it.valid()) {
        for (const [row, value] of it.nextBatch(1024)) {
          const p = layout.parse(row);
          if (s.kind === 'MAP') {
            encoder.writeMapEntry(i, p.key, p.namespace, p.userKey, value[0] === 1 ? value.subarray(1) : null);
          } else if (s.kind === 'LIST') {
            // Merge format [u32 len][bytes]... -> canonical list: varuint count, lp(element)...
            const elements = decodeListElements(value);
            listOut.clear();
            listOut.writeVarUint(elements.length);
            for (const e of elements) listOut.writeLengthPrefixed(e);
            encoder.writeEntry(i, p.key, p.namespace, listOut.bytesView());
          } else {
            encoder.writeEntry(i, p.key, p.namespace, value);
          }
        }
      }
    } finally {
      it.close();
    }
  }
}
