import { DataOutputSerializer } from '../../io/data-output.js';
import { writeOperatorStateStream, type OperatorStateContent, type OperatorStateMetaInfo } from '../../snapshot/operator-state-stream.js';
import type { OperatorStateHandle } from '../../storage/handles.js';
import type { SnapshotResult } from '../spi.js';
import { NO_RESOURCES_TO_RELEASE, type SnapshotContext, type SnapshotResources, type SnapshotStrategy } from '../snapshot/snapshot-strategy.js';
import type { BroadcastEntry, ListEntry } from './operator-states.js';

/** Restored bytes of a state that has not been registered yet (serializers resolved on registration). */
export interface PendingState {
  readonly meta: OperatorStateMetaInfo;
  readonly elements: Uint8Array[];
}

/** The serialized operator state, captured by the synchronous part. */
interface OperatorSnapshotResources extends SnapshotResources {
  readonly contents: readonly OperatorStateContent[];
}

/**
 * Operator state snapshots (Flink's DefaultOperatorStateBackendSnapshotStrategy): operator state is
 * small, so the synchronous part serializes all of it and the asynchronous part only writes.
 */
export class OperatorStateSnapshotStrategy implements SnapshotStrategy<OperatorStateHandle, OperatorSnapshotResources> {
  constructor(
    private readonly lists: ReadonlyMap<string, ListEntry>,
    private readonly broadcasts: ReadonlyMap<string, BroadcastEntry>,
    private readonly pending: ReadonlyMap<string, PendingState>,
  ) {}

  syncPrepareResources(): OperatorSnapshotResources | null {
    const out = new DataOutputSerializer(256);
    const contents = [...this.listContents(out), ...this.broadcastContents(out)];
    // Restored but never registered: carried over byte for byte.
    for (const p of this.pending.values()) contents.push({ meta: p.meta, elements: p.elements });
    return contents.length === 0 ? null : { contents, release: NO_RESOURCES_TO_RELEASE.release };
  }

  async asyncSnapshot(resources: OperatorSnapshotResources, context: SnapshotContext): Promise<SnapshotResult<OperatorStateHandle>> {
    const handle = await writeOperatorStateStream(context.openStream('EXCLUSIVE'), resources.contents);
    return { jobManagerOwnedSnapshot: handle, checkpointedSize: handle.stateSize, fullSize: handle.stateSize };
  }

  private listContents(out: DataOutputSerializer): OperatorStateContent[] {
    return [...this.lists].map(([name, e]) => ({
      meta: { name, mode: e.mode, firstSerializerSnapshot: e.serializer.snapshotConfiguration(), secondSerializerSnapshot: undefined },
      elements: e.list.map((v) => bytesOf(out, () => e.serializer.serialize(v, out))),
    }));
  }

  private broadcastContents(out: DataOutputSerializer): OperatorStateContent[] {
    return [...this.broadcasts].map(([name, e]) => ({
      meta: { name, mode: 'BROADCAST', firstSerializerSnapshot: e.keySerializer.snapshotConfiguration(), secondSerializerSnapshot: e.valueSerializer.snapshotConfiguration() },
      elements: [...e.map.values()].map(([k, v]) =>
        bytesOf(out, () => {
          e.keySerializer.serialize(k, out);
          out.writeBoolean(v !== null && v !== undefined);
          if (v !== null && v !== undefined) e.valueSerializer.serialize(v, out);
        }),
      ),
    }));
  }
}

function bytesOf(out: DataOutputSerializer, write: () => void): Uint8Array {
  out.clear();
  write();
  return out.toBytes();
}
