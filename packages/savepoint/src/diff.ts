import { DataOutputSerializer, MultisetDigest, type DiffStatus, type OperatorDiff, type StateDiff } from '@flowstate/core';
import type { SavepointReader } from './reader.js';
import { describeSnapshot } from './serializers.js';

export type { DiffStatus, OperatorDiff, StateDiff } from '@flowstate/core';

export interface DiffReport {
  readonly equal: boolean;
  readonly operators: readonly OperatorDiff[];
}

interface StateSummary {
  readonly kind: string;
  readonly serializers: string;
  readonly digest: MultisetDigest;
}

async function summarize(r: SavepointReader, uid: string, onBlock?: (n: number) => void): Promise<Map<string, StateSummary>> {
  const out = new Map<string, StateSummary>();
  const op = r.operator(uid);
  if (op.subtasks.some((s) => s.keyed.length > 0)) {
    const states = await r.keyedStates(uid);
    const keySer = await r.keySerializer(uid);
    const digests = states.map((s) => {
      const d: StateSummary = { kind: s.kind, serializers: `key ${keySer === undefined ? '?' : describeSnapshot(keySer)}, namespace ${s.namespaceSerializer}, value ${s.stateSerializer}`, digest: new MultisetDigest() };
      out.set(`keyed:${s.name}`, d);
      return d;
    });
    const buf = new DataOutputSerializer(256);
    for await (const { block, stateIndexMap } of r.keyedBlocks(uid)) {
      for (const rec of block.records) {
        buf.clear();
        buf.writeLengthPrefixed(rec.key);
        buf.writeLengthPrefixed(rec.namespace);
        if (rec.userKey !== undefined) buf.writeLengthPrefixed(rec.userKey);
        buf.writeBoolean(rec.value !== null);
        if (rec.value !== null) buf.writeLengthPrefixed(rec.value);
        digests[stateIndexMap[rec.stateIndex]!]!.digest.add(buf.bytesView());
      }
      onBlock?.(block.length);
    }
  }
  if (op.subtasks.some((s) => s.operator.length > 0)) {
    for (const sub of await r.readOperatorStateStreams(uid)) {
      for (const s of sub) {
        const key = `operator:${s.meta.name}`;
        let d = out.get(key);
        const first = d === undefined;
        if (d === undefined) {
          d = {
            kind: s.meta.mode,
            serializers: describeSnapshot(s.meta.firstSerializerSnapshot) + (s.meta.secondSerializerSnapshot === undefined ? '' : ` -> ${describeSnapshot(s.meta.secondSerializerSnapshot)}`),
            digest: new MultisetDigest(),
          };
          out.set(key, d);
        }
        // Broadcast state: one copy is the state.
        if (s.meta.mode === 'BROADCAST' && !first) continue;
        for (const e of s.elements) d.digest.add(e);
      }
    }
  }
  return out;
}

/**
 * Compares two savepoints operator by operator and state by state: presence, parallelism,
 * kinds, serializers, and content (as multisets of serialized records, so a rescaled copy of the
 * same state compares equal). Streams both savepoints.
 */
export async function diffSavepoints(a: SavepointReader, b: SavepointReader, options: { onBytes?: (n: number) => void } = {}): Promise<DiffReport> {
  const uidsA = a.metadata.operators.map((o) => o.uid);
  const uidsB = b.metadata.operators.map((o) => o.uid);
  const operators: OperatorDiff[] = [];
  for (const uid of [...uidsA, ...uidsB.filter((u) => !uidsA.includes(u))]) {
    const inA = uidsA.includes(uid);
    const inB = uidsB.includes(uid);
    if (!inA || !inB) {
      operators.push({ uid, status: inA ? 'removed' : 'added', changes: [], states: [] });
      continue;
    }
    const oa = a.operator(uid);
    const ob = b.operator(uid);
    const changes: string[] = [];
    if (oa.parallelism !== ob.parallelism) changes.push(`parallelism ${oa.parallelism} -> ${ob.parallelism}`);
    if (oa.maxParallelism !== ob.maxParallelism) changes.push(`maxParallelism ${oa.maxParallelism} -> ${ob.maxParallelism}`);
    const sa = await summarize(a, uid, options.onBytes);
    const sb = await summarize(b, uid, options.onBytes);
    const states: StateDiff[] = [];
    for (const key of [...sa.keys(), ...[...sb.keys()].filter((k) => !sa.has(k))]) {
      const [category, ...rest] = key.split(':');
      const name = rest.join(':');
      const x = sa.get(key);
      const y = sb.get(key);
      const cat = category === 'keyed' ? 'keyed' : 'operator';
      if (x === undefined || y === undefined) {
        states.push({ name, category: cat, status: x === undefined ? 'added' : 'removed', changes: [], entriesA: x?.digest.count, entriesB: y?.digest.count });
        continue;
      }
      const c: string[] = [];
      if (x.kind !== y.kind) c.push(`kind ${x.kind} -> ${y.kind}`);
      if (x.serializers !== y.serializers) c.push(`serializers ${x.serializers} -> ${y.serializers}`);
      if (x.digest.count !== y.digest.count) c.push(`entries ${x.digest.count} -> ${y.digest.count}`);
      else if (!x.digest.equals(y.digest)) c.push('content differs');
      states.push({ name, category: cat, status: c.length === 0 ? 'equal' : 'changed', changes: c, entriesA: x.digest.count, entriesB: y.digest.count });
    }
    const status: DiffStatus = changes.length === 0 && states.every((s) => s.status === 'equal') ? 'equal' : 'changed';
    operators.push({ uid, status, changes, states });
  }
  return { equal: operators.every((o) => o.status === 'equal'), operators };
}
