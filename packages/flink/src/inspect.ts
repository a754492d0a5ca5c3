import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isFlinkMetadata } from './metadata/metadata.js';
import type { OperatorState } from './metadata/types.js';
import { stateKind } from './keyed/meta-info.js';
import { readOperatorStates } from './operator/reader.js';
import type { FlinkSavepoint, KeyedFormat } from './savepoint.js';
import { describeSnapshot } from './serializers/types.js';
import { handleSize } from './streams.js';

export interface FlinkStateReport {
  readonly name: string;
  readonly kind: string;
  readonly serializers: Record<string, string>;
  /** Records (canonical: per user key for MAP; heap-native: per key/namespace). Undefined when not scanned or not readable. */
  entries?: number;
  /** Bytes of its records (canonical only). */
  bytes?: number;
}

export interface FlinkOperatorReport {
  readonly uid?: string;
  readonly name?: string;
  readonly operatorId: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly subtasksWithState: number;
  readonly fullyFinished: boolean;
  readonly keyedFormat: KeyedFormat | 'mixed';
  readonly keySerializer?: string;
  readonly keyedStates: FlinkStateReport[];
  readonly operatorStates: FlinkStateReport[];
  readonly coordinatorStateBytes: number;
  readonly stateBytes: number;
  readonly problems: string[];
}

export interface FlinkInspectReport {
  readonly format: 'apache-flink';
  readonly metadataVersion: number;
  readonly checkpointId: string;
  readonly kind: string;
  readonly formatType?: string;
  readonly masterStates: string[];
  readonly operators: FlinkOperatorReport[];
  readonly totalStateBytes: number;
}

/**
 * True when `path` (a directory or a `_metadata` file) is an Apache Flink savepoint or checkpoint:
 * a regular file whose first four bytes are Flink's magic number. Only those bytes are read (every
 * savepoint verb of the CLI asks this of its input, whose `_metadata` may be large), and a FIFO or
 * device planted as `_metadata` is not opened (reading one would block a thread-pool thread).
 */
export async function isFlinkSavepoint(path: string): Promise<boolean> {
  try {
    let file = path;
    let stats = await stat(path);
    if (stats.isDirectory()) stats = await stat((file = join(path, '_metadata')));
    if (!stats.isFile()) return false;
    // Non-blocking too: a FIFO swapped in after the stat must not block the open.
    const fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const head = new Uint8Array(4);
      const { bytesRead } = await fh.read(head, 0, 4, 0);
      return bytesRead === 4 && isFlinkMetadata(head);
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
}

function operatorBytes(op: OperatorState): number {
  let n = handleSize(op.coordinatorState);
  for (const s of op.subtasks) {
    for (const h of [s.managedOperatorState, s.rawOperatorState]) n += handleSize(h?.stream ?? null);
    for (const k of [s.managedKeyedState, s.rawKeyedState]) {
      if (k === null) continue;
      if (k.type === 'key-groups') n += handleSize(k.stream);
      else if (k.type === 'incremental') n += handleSize(k.meta) + [...k.shared, ...k.private].reduce((a, x) => a + handleSize(x.handle), 0);
    }
  }
  return n;
}

/** Operators, states with kinds, serializers, entry counts and sizes; `scan` walks every record. */
export async function inspectFlinkSavepoint(sp: FlinkSavepoint, options: { scan?: boolean } = {}): Promise<FlinkInspectReport> {
  const operators: FlinkOperatorReport[] = [];
  for (const op of sp.operators) operators.push(await inspectOperator(sp, op, options.scan !== false));
  return {
    format: 'apache-flink',
    metadataVersion: sp.metadata.version,
    checkpointId: sp.metadata.checkpointId.toString(),
    kind: sp.properties?.kind ?? 'UNKNOWN (metadata < V4 does not say)',
    ...(sp.properties?.formatType === undefined ? {} : { formatType: sp.properties.formatType }),
    masterStates: sp.metadata.masterStates.map((m) => m.name),
    operators,
    totalStateBytes: operators.reduce((a, o) => a + o.stateBytes, 0),
  };
}

async function inspectOperator(sp: FlinkSavepoint, op: OperatorState, scan: boolean): Promise<FlinkOperatorReport> {
  const problems: string[] = [];
  const keyed = await inspectKeyedStates(sp, op, scan, problems);
  const operatorStates = await inspectOperatorStates(sp, op, problems);
  const fmt = [...keyed.formats];
  return {
    ...(op.uid === undefined || op.uid === '' ? {} : { uid: op.uid }),
    ...(op.name === undefined || op.name === '' ? {} : { name: op.name }),
    operatorId: op.operatorId,
    parallelism: op.parallelism,
    maxParallelism: op.maxParallelism,
    subtasksWithState: op.subtasks.filter((s) => !s.finished).length,
    fullyFinished: op.fullyFinished,
    keyedFormat: fmt.length === 0 ? 'none' : fmt.length === 1 ? fmt[0]! : 'mixed',
    ...(keyed.keySerializer === undefined ? {} : { keySerializer: keyed.keySerializer }),
    keyedStates: [...keyed.states.values()],
    operatorStates,
    coordinatorStateBytes: handleSize(op.coordinatorState),
    stateBytes: operatorBytes(op),
    problems,
  };
}

type KeyedStreamInfo = Awaited<ReturnType<FlinkSavepoint['keyedStreams']>>[number];

interface KeyedInspection {
  readonly states: Map<string, FlinkStateReport>;
  readonly formats: Set<KeyedFormat>;
  readonly keySerializer: string | undefined;
}

/** Keyed states from every subtask's header; with `scan`, counts their records. Problems are collected, not thrown. */
async function inspectKeyedStates(sp: FlinkSavepoint, op: OperatorState, scan: boolean, problems: string[]): Promise<KeyedInspection> {
  const states = new Map<string, FlinkStateReport>();
  const formats = new Set<KeyedFormat>();
  let keySerializer: string | undefined;
  let infos: KeyedStreamInfo[] = [];
  try {
    infos = await sp.keyedStreams(op);
  } catch (e) {
    // One unreadable header (e.g. a user serializer without its plug-in) must not hide the other operators.
    problems.push(`keyed state: ${(e as Error).message}`);
  }
  for (const info of infos) {
    formats.add(info.format);
    if (info.header === undefined) continue;
    keySerializer ??= describeSnapshot(info.header.keySerializer);
    for (const m of info.header.states) {
      if (states.has(m.name)) continue;
      const serializers: Record<string, string> = {};
      for (const [k, s] of m.serializers) serializers[k] = describeSnapshot(s);
      states.set(m.name, { name: m.name, kind: stateKind(m), serializers });
    }
    if (!scan || !sp.readsRecords(info)) continue;
    // A scanned state without records (timers that never fired, say) has 0 entries, not "unknown".
    for (const m of info.header.states) {
      const r = states.get(m.name)!;
      r.entries ??= 0;
      if (info.format !== 'heap-native') r.bytes ??= 0;
    }
    try {
      await countKeyedRecords(sp, op, info, states);
    } catch (e) {
      problems.push(`subtask ${info.subtask}: ${(e as Error).message}`);
    }
  }
  return { states, formats, keySerializer };
}

/** Adds one subtask's records to the entry counts (and, for canonical and RocksDB-native streams, byte sizes). */
async function countKeyedRecords(sp: FlinkSavepoint, op: OperatorState, info: KeyedStreamInfo, states: Map<string, FlinkStateReport>): Promise<void> {
  const header = info.header;
  if (header === undefined) return;
  const add = (e: { stateId: number; key: Uint8Array; value: Uint8Array }, overhead: number): void => {
    const r = states.get(header.states[e.stateId]!.name)!;
    r.entries = (r.entries ?? 0) + 1;
    r.bytes = (r.bytes ?? 0) + e.key.length + e.value.length + overhead;
  };
  if (info.format === 'canonical') {
    for (const e of sp.canonicalRecords(info)) add(e, 8);
    return;
  }
  if (info.format === 'rocksdb-native') {
    // RocksDB entries: key and value bytes (no length fields; SST overhead not counted).
    for await (const e of sp.rocksNativeRecords(info, op.maxParallelism)) add(e, 0);
    return;
  }
  for (const e of sp.decodedRecords(info, op.maxParallelism)) {
    const r = states.get(e.state)!;
    r.entries = (r.entries ?? 0) + 1;
  }
}

/** Operator (non-keyed) states of every subtask, merged by name. Problems are collected, not thrown. */
async function inspectOperatorStates(sp: FlinkSavepoint, op: OperatorState, problems: string[]): Promise<FlinkStateReport[]> {
  const opStates = new Map<string, FlinkStateReport>();
  for (const s of op.subtasks) {
    const h = s.managedOperatorState;
    if (h === null || h.stream === null) continue;
    try {
      for (const st of readOperatorStates(h, await sp.resolve(h.stream), sp.registry).states) {
        const r = opStates.get(st.name) ?? { name: st.name, kind: st.mode, serializers: { [st.mode === 'BROADCAST' ? 'KEY -> VALUE' : 'VALUE_SERIALIZER']: shortSerializerNames(st.serializer) }, entries: 0, bytes: 0 };
        r.entries = (r.entries ?? 0) + (st.values?.length ?? st.raw.length);
        r.bytes = (r.bytes ?? 0) + st.raw.reduce((a, b) => a + b.length, 0);
        opStates.set(st.name, r);
      }
    } catch (e) {
      problems.push(`subtask ${s.index} operator state: ${(e as Error).message}`);
    }
  }
  return [...opStates.values()];
}

/** 'org.apache...IntSerializer -> ...StringSerializer$X' -> 'IntSerializer -> StringSerializer'. */
function shortSerializerNames(serializer: string): string {
  return serializer.split(' -> ').map((c) => c.replace(/^.*[.$](\w+Serializer)(\$\w+)?$/, '$1')).join(' -> ');
}

/** Human-readable inspect output. */
export function formatFlinkInspect(r: FlinkInspectReport, location: string): string {
  const lines = [
    `Apache Flink ${r.kind.startsWith('UNKNOWN') ? 'savepoint or checkpoint (metadata before V4 does not say which)' : r.kind.toLowerCase()}${r.formatType === undefined ? '' : ` (${r.formatType})`}: ${location}`,
    `metadata version ${r.metadataVersion}, checkpoint ${r.checkpointId}, ${r.operators.length} operators, ${r.totalStateBytes} bytes of state` +
      (r.masterStates.length > 0 ? `, master states: ${r.masterStates.join(', ')}` : ''),
  ];
  for (const o of r.operators) {
    lines.push('');
    lines.push(`operator ${o.uid ?? `(no uid) ${o.operatorId}`}${o.uid !== undefined ? ` [${o.operatorId}]` : ''}${o.name === undefined ? '' : ` "${o.name}"`}`);
    lines.push(`  parallelism ${o.parallelism}, maxParallelism ${o.maxParallelism}, ${o.fullyFinished ? 'fully finished' : `${o.subtasksWithState} subtask states`}, ${o.stateBytes} bytes` +
      (o.keyedFormat === 'none' ? '' : `, keyed state ${o.keyedFormat}`) + (o.keySerializer === undefined ? '' : `, key ${o.keySerializer}`) +
      (o.coordinatorStateBytes > 0 ? `, coordinator state ${o.coordinatorStateBytes} bytes` : ''));
    for (const s of [...o.keyedStates, ...o.operatorStates]) {
      const ser = Object.entries(s.serializers).map(([k, v]) => `${k.replace('_SERIALIZER', '').toLowerCase()} ${v}`).join(', ');
      lines.push(`  ${s.kind.padEnd(16)} ${s.name}: ${ser}${s.entries === undefined ? '' : `; ${s.entries} entries`}${s.bytes === undefined ? '' : `, ${s.bytes} bytes`}`);
    }
    for (const p of o.problems) lines.push(`  ! ${p}`);
  }
  return lines.join('\n');
}

