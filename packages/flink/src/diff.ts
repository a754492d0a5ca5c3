import { MultisetDigest as Digest, type DiffStatus, type OperatorDiff, type StateDiff } from '@flowstate/core';
import { FlinkOpaqueSerializerError } from './errors.js';
import { KeyedEntryDecoder, type DecodedKeyedEntry } from './keyed/decode.js';
import { stateKind } from './keyed/meta-info.js';
import type { OperatorState } from './metadata/types.js';
import { readOperatorStates } from './operator/reader.js';
import type { FlinkSavepoint, KeyedStreamInfo } from './savepoint.js';
import { describeSnapshot } from './serializers/types.js';

export type FlinkDiffStatus = DiffStatus;

/** flowstate's StateDiff, and whether values were compared. */
export interface FlinkStateDiff extends StateDiff {
  /** False when values could not be read on a side (RocksDB-native without a RocksDB binding, changelog, opaque heap-native): only kind and serializers were compared. */
  readonly valuesCompared: boolean;
}

/** flowstate's OperatorDiff; `uid` is the operator ID (hex) when the metadata has none (before V5). */
export interface FlinkOperatorDiff extends OperatorDiff {
  readonly operatorId: string;
  readonly states: readonly FlinkStateDiff[];
}

export interface FlinkDiffReport {
  readonly equal: boolean;
  readonly operators: readonly FlinkOperatorDiff[];
}

const encoder = new TextEncoder();

interface StateSummary {
  readonly kind: string;
  readonly serializers: string;
  readonly digest: Digest;
  /** How values entered the digest: decoded (format-independent), raw bytes (opaque serializer), or not at all. */
  values: 'decoded' | 'bytes' | 'unreadable';
}

/** A stable text of a decoded value: bigint, Map, bytes and nested objects included. */
export function valueText(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (v === undefined) return 'undefined';
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (v instanceof Uint8Array) return `0x${Buffer.from(v).toString('hex')}`;
  if (v instanceof Map) return `Map{${[...v].map(([k, x]) => `${valueText(k)}:${valueText(x)}`).join(',')}}`;
  if (Array.isArray(v)) return `[${v.map(valueText).join(',')}]`;
  return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${valueText(x)}`).join(',')}}`;
}

/** Canonical MAP records are per user key; heap-native ones hold the whole map: both digest per user key. */
function addDecoded(d: Digest, e: DecodedKeyedEntry): void {
  const base = `${valueText(e.key)}|${valueText(e.namespace)}`;
  if (e.kind === 'MAP' && e.userKey === undefined && e.value instanceof Map) {
    for (const [uk, v] of e.value) d.add(encoder.encode(`${base}|${valueText(uk)}|${valueText(v)}`));
  } else {
    d.add(encoder.encode(`${base}|${e.userKey === undefined ? '' : valueText(e.userKey)}|${valueText(e.value)}`));
  }
}

async function summarize(sp: FlinkSavepoint, op: OperatorState): Promise<Map<string, StateSummary>> {
  const out = new Map<string, StateSummary>();
  for (const info of await sp.keyedStreams(op)) {
    for (const m of info.header?.states ?? []) {
      const serializers = m.serializers.map(([k, s]) => `${k}=${describeSnapshot(s)}`).join(', ');
      if (!out.has(`keyed:${m.name}`)) out.set(`keyed:${m.name}`, { kind: stateKind(m), serializers, digest: new Digest(), values: sp.readsRecords(info) ? 'decoded' : 'unreadable' });
      // One unreadable subtask (RocksDB-native without a binding) makes the whole state's values unreadable.
      if (!sp.readsRecords(info)) out.get(`keyed:${m.name}`)!.values = 'unreadable';
    }
    await summarizeKeyed(sp, info, op.maxParallelism, out);
  }
  for (const s of op.subtasks) {
    const h = s.managedOperatorState;
    if (h === null || h.stream === null) continue;
    for (const st of readOperatorStates(h, await sp.resolve(h.stream), sp.registry).states) {
      const key = `operator:${st.name}`;
      const sum = out.get(key) ?? { kind: st.mode, serializers: st.serializer, digest: new Digest(), values: 'bytes' };
      for (const r of st.raw) sum.digest.add(r);
      out.set(key, sum);
    }
  }
  return out;
}

async function summarizeKeyed(sp: FlinkSavepoint, info: KeyedStreamInfo, maxParallelism: number, out: Map<string, StateSummary>): Promise<void> {
  const states = info.header?.states ?? [];
  const of = (name: string): StateSummary => out.get(`keyed:${name}`)!;
  if (info.format === 'canonical' || (info.format === 'rocksdb-native' && sp.readsRecords(info))) {
    const dec = new KeyedEntryDecoder(info.header!, maxParallelism);
    // RocksDB-native entries are the records canonical savepoints copy: compared the same way.
    const records = info.format === 'canonical' ? sp.canonicalRecords(info) : sp.rocksNativeRecords(info, maxParallelism);
    const file = info.stream?.file ?? sp.nativeLabel(info);
    for await (const e of records) {
      const sum = of(states[e.stateId]!.name);
      try {
        addDecoded(sum.digest, dec.decode(e, file));
      } catch (err) {
        if (!(err instanceof FlinkOpaqueSerializerError)) throw err;
        // Opaque values: compare the record bytes (equal only within the same key-group layout).
        sum.values = 'bytes';
        sum.digest.add(Buffer.concat([e.key, e.value]));
      }
    }
  } else if (info.format === 'heap-native') {
    try {
      for (const e of sp.decodedRecords(info, maxParallelism)) addDecoded(of(e.state).digest, e);
    } catch (err) {
      if (!(err instanceof FlinkOpaqueSerializerError)) throw err;
      for (const m of states) of(m.name).values = 'unreadable';
    }
  }
}

function compareState(x: StateSummary, y: StateSummary): string[] {
  const c: string[] = [];
  if (x.kind !== y.kind) c.push(`kind ${x.kind} -> ${y.kind}`);
  if (x.serializers !== y.serializers) c.push(`serializers ${x.serializers} -> ${y.serializers}`);
  if (x.values === 'unreadable' || y.values === 'unreadable') return c;
  if (x.digest.count !== y.digest.count) c.push(`entries ${x.digest.count} -> ${y.digest.count}`);
  else if (x.values !== y.values) c.push('values not comparable (decoded on one side, opaque bytes on the other)');
  else if (!x.digest.equals(y.digest)) c.push('values differ');
  return c;
}

function entries(s: StateSummary | undefined): number | undefined {
  return s === undefined || s.values === 'unreadable' ? undefined : s.digest.count;
}

function operatorName(op: OperatorState): string {
  return op.uid === undefined || op.uid === '' ? op.operatorId : op.uid;
}

/**
 * Compares two Apache Flink savepoints or checkpoints: operators by operator ID (= murmur3_128 of
 * the uid), then per state kind, serializers, entry counts and a digest of the decoded values
 * (independent of format, key groups and parallelism; opaque values by their bytes).
 */
export async function diffFlinkSavepoints(a: FlinkSavepoint, b: FlinkSavepoint): Promise<FlinkDiffReport> {
  const ids = [...new Set([...a.operators, ...b.operators].map((o) => o.operatorId))];
  const operators: FlinkOperatorDiff[] = [];
  for (const id of ids) {
    const oa = a.operators.find((o) => o.operatorId === id);
    const ob = b.operators.find((o) => o.operatorId === id);
    const uid = operatorName((oa ?? ob)!);
    if (oa === undefined || ob === undefined) {
      operators.push({ uid, operatorId: id, status: oa === undefined ? 'added' : 'removed', changes: [], states: [] });
      continue;
    }
    const changes: string[] = [];
    if (oa.parallelism !== ob.parallelism) changes.push(`parallelism ${oa.parallelism} -> ${ob.parallelism}`);
    if (oa.maxParallelism !== ob.maxParallelism) changes.push(`maxParallelism ${oa.maxParallelism} -> ${ob.maxParallelism}`);
    const [sa, sb] = [await summarize(a, oa), await summarize(b, ob)];
    const states: FlinkStateDiff[] = [];
    for (const key of [...new Set([...sa.keys(), ...sb.keys()])].sort()) {
      const [x, y] = [sa.get(key), sb.get(key)];
      const [category, name] = [key.startsWith('keyed:') ? 'keyed' : 'operator', key.slice(key.indexOf(':') + 1)] as const;
      if (x === undefined || y === undefined) {
        states.push({ name, category, status: x === undefined ? 'added' : 'removed', changes: [], entriesA: entries(x), entriesB: entries(y), valuesCompared: false });
        continue;
      }
      const c = compareState(x, y);
      const valuesCompared = x.values !== 'unreadable' && y.values !== 'unreadable';
      states.push({ name, category, status: c.length === 0 ? 'equal' : 'changed', changes: c, entriesA: entries(x), entriesB: entries(y), valuesCompared });
    }
    const status: FlinkDiffStatus = changes.length === 0 && states.every((s) => s.status === 'equal') ? 'equal' : 'changed';
    operators.push({ uid, operatorId: id, status, changes, states });
  }
  return { equal: operators.every((o) => o.status === 'equal'), operators };
}

/** Human-readable diff output. */
export function formatFlinkDiff(r: FlinkDiffReport, a: string, b: string): string {
  const mark = { equal: ' ', changed: '~', added: '+', removed: '-' } as const;
  const out: string[] = [`diff ${a} ${b} (Apache Flink): ${r.equal ? 'no differences' : 'different'}`];
  for (const op of r.operators) {
    out.push(`${mark[op.status]} operator '${op.uid}'${op.uid === op.operatorId ? '' : ` [${op.operatorId}]`}${op.status === 'equal' ? '' : ` ${op.status}`}${op.changes.length > 0 ? `: ${op.changes.join(', ')}` : ''}`);
    for (const s of op.states) {
      const n = s.status === 'added' ? s.entriesB : s.entriesA;
      const what = s.status === 'changed' ? s.changes.join(', ') : n === undefined ? 'entries not readable' : `${n} entries`;
      out.push(`  ${mark[s.status]} ${s.category} state '${s.name}' ${s.status}: ${what}${s.status === 'equal' && !s.valuesCompared ? ' (values not compared: RocksDB-native without a RocksDB binding, changelog or opaque)' : ''}`);
    }
  }
  return out.join('\n');
}
