import {
  checkRestoredKeySerializer,
  deserializeExact,
  defaultSerializerRegistry,
  IllegalStateUsageError,
  isKeyGroupsStateHandle,
  KeyGroupRange,
  readKeyedStateHeader,
  readKeyGroups,
  restoredQueueSinks,
  type PriorityQueueStates,
  type StateKind,
  StateMigrationError,
  type KeyedStateBackendParameters,
  type KeyedStateMetaInfo,
  type TypeSerializer,
  keyIdOf,
  type IdentityFn,
} from '@flowstate/core';
import { mapKeySerializer, mapValueSerializer, type Registered } from './heap-registered.js';
import type { HeapMap } from './heap-map.js';

/** What a heap restore needs from its backend, and no more. */
export interface HeapRestoreTarget {
  readonly operatorIdentifier: string;
  readonly keySerializer: TypeSerializer<unknown>;
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;
  /** The identity of primitive keys (primitiveIdentity; see keyIdOf); undefined for other key types. */
  readonly keyIdentity: IdentityFn<unknown> | undefined;
  /** The registration a restored state's entries go into, created on first sight. */
  restoredState(meta: KeyedStateMetaInfo & { kind: StateKind }): Registered;
  /** Where restored priority queues go. */
  readonly queues: PriorityQueueStates;
}

/**
 * Restores heap keyed state from canonical key-group streams. The handles may come from several
 * old subtasks (rescaling): only the key groups intersecting this backend's range are read.
 * Values are deserialized with the *restored* serializers; compatibility with the serializers the
 * job registers now is resolved lazily, on first registration (see resolveRestored).
 */
export async function restoreHeapKeyedState<K>(backend: HeapRestoreTarget, params: KeyedStateBackendParameters<K>): Promise<void> {
  const handles = params.restoreState ?? [];
  if (handles.length === 0) return;
  const reader = params.stateHandleReader;
  if (reader === undefined) throw new IllegalStateUsageError(undefined, 'restoreState was given without a stateHandleReader');
  const registry = params.serializerRegistry ?? defaultSerializerRegistry;

  for (const h of handles) {
    if (!isKeyGroupsStateHandle(h)) {
      throw new IllegalStateUsageError(undefined, `heap backends restore canonical 'key-groups' handles, got '${h.type}' (convert the savepoint to canonical first)`);
    }
    const range = KeyGroupRange.fromJSON(h.keyGroupRange).intersection(backend.keyGroupRange);
    if (range.isEmpty) continue;
    const header = await readKeyedStateHeader(reader, h, registry);
    checkRestoredKeySerializer(header.keySerializerSnapshot, backend.keySerializer, backend.operatorIdentifier);
    const keySerializer = backend.keySerializer;

    const sinks = restoredQueueSinks(header, backend.queues);
    const targets = header.states.map((meta) => {
      if (meta.kind === 'PRIORITY_QUEUE') return undefined;
      const reg = backend.restoredState({ ...meta, kind: meta.kind });
      if (reg.table.meta.kind !== meta.kind) {
        throw new StateMigrationError(meta.name, `restored as ${meta.kind} from one handle and ${reg.table.meta.kind} from another`);
      }
      const m = reg.table.meta;
      return {
        reg,
        isMap: meta.kind === 'MAP',
        userKeySerializer: meta.kind === 'MAP' ? mapKeySerializer(m) : undefined,
        userValueSerializer: meta.kind === 'MAP' ? mapValueSerializer(m) : undefined,
      };
    });

    await readKeyGroups(reader, h, header, range, (g, rec) => {
      const sink = sinks[rec.stateIndex];
      if (sink !== undefined) return sink.add(g, rec.key, rec.value!);
      const t = targets[rec.stateIndex]!;
      const meta = t.reg.table.meta;
      const key = deserializeExact(keySerializer, rec.key, 'key');
      const keyId = keyIdOf(backend.keyIdentity, key, rec.key);
      const ns = deserializeExact(meta.namespaceSerializer, rec.namespace, 'namespace');
      const nsId = t.reg.nsIdentity(ns);
      if (t.isMap) {
        const uk = deserializeExact(t.userKeySerializer!, rec.userKey!, 'map key');
        const uv = rec.value === null ? null : deserializeExact(t.userValueSerializer!, rec.value, 'map value');
        const existing = t.reg.table.get(g, keyId, nsId)?.value as HeapMap | undefined;
        if (existing !== undefined) t.reg.mapKeys!.set(existing, uk, uv);
        else t.reg.table.put(g, keyId, key, nsId, ns, t.reg.mapKeys!.single(uk, uv));
      } else {
        t.reg.table.put(g, keyId, key, nsId, ns, deserializeExact(meta.stateSerializer, rec.value!, 'value'));
      }
    }, { signal: params.signal, operatorIdentifier: backend.operatorIdentifier, maxParallelism: backend.maxParallelism });
    for (const s of sinks) s?.flush();
  }
}
