import { collectStreamHandles, isKeyGroupsStateHandle, SHARED_STATE_DIR, type CheckpointStorage, type KeyedStateHandle, type OperatorStateHandle, type SharedStateRegistry, type StreamStateHandle } from '@flowstate/core';

/** The handles one subtask produced for a checkpoint. */
export interface AcknowledgedHandles {
  readonly keyed: KeyedStateHandle | null;
  readonly operator: OperatorStateHandle | null;
  readonly channelState: StreamStateHandle | null;
}

/**
 * Deletes the exclusive files an acknowledgement references. Only handle types whose files belong
 * to this one checkpoint are touched; other keyed handle types (e.g. incremental ones sharing
 * files between checkpoints) are left to discardUnregisteredShared.
 */
export async function discardExclusiveFiles(storage: CheckpointStorage, ack: AcknowledgedHandles): Promise<void> {
  const streams = [];
  if (ack.keyed && isKeyGroupsStateHandle(ack.keyed)) streams.push(ack.keyed.stream);
  if (ack.operator) streams.push(ack.operator.stream);
  if (ack.channelState) streams.push(ack.channelState);
  // A file under shared/ is never exclusive, whatever handle points to it: discardUnregisteredShared decides.
  for (const h of streams) if (h.type !== 'file' || !h.path.startsWith(`${SHARED_STATE_DIR}/`)) await storage.discardStateHandle(h).catch(() => {});
}

/**
 * Deletes the shared files `ack` references that no checkpoint registered (uploads of a failed
 * checkpoint; reused files stay). `keep`: files the registry does not know but that are not this
 * checkpoint's to delete (those of a restored checkpoint the run does not own).
 */
export async function discardUnregisteredShared(storage: CheckpointStorage, ack: object, registry: SharedStateRegistry | undefined, keep: ReadonlySet<string> = new Set()): Promise<void> {
  for (const h of collectStreamHandles(ack)) {
    if (h.type === 'file' && h.path.startsWith(`${SHARED_STATE_DIR}/`) && registry?.entry(h.path) === undefined && !keep.has(h.path)) {
      await storage.discardStateHandle(h).catch(() => {});
    }
  }
}
