import { validationProblemOf, type ValidationProblem } from '@flowstate/core';
import { FlinkOpaqueSerializerError, FlinkUnknownSnapshotClassError } from './errors.js';
import { KeyedEntryDecoder } from './keyed/decode.js';
import { checkKeyedStateMetaInfos } from './keyed/meta-info.js';
import { checkOperatorStateSerializers, readOperatorStates } from './operator/reader.js';
import { FlinkSavepoint, type FlinkSavepointOptions, type KeyedStreamInfo } from './savepoint.js';
import type { KeyedStateHandle, OperatorState, StreamStateHandle } from './metadata/types.js';

/** One finding of `validateFlinkSavepoint`: 'warning' marks a part flowstate could not verify (opaque or unknown serializer). */
export type FlinkValidationProblem = ValidationProblem;

export interface FlinkValidationReport {
  readonly format: 'apache-flink';
  /** No problem of severity 'error'. */
  readonly ok: boolean;
  readonly directory: string;
  readonly metadataReadable: boolean;
  readonly metadataVersion: number | undefined;
  readonly operators: number;
  /** State streams (inline or file) read and walked. */
  readonly streams: number;
  readonly bytesChecked: number;
  readonly keyedRecords: number;
  /** Keyed records whose values were decoded with their serializers (the rest are opaque). */
  readonly decodedRecords: number;
  readonly operatorStateElements: number;
  /** RocksDB-native keyed streams whose SST contents were read record by record (a RocksDB binding was given). */
  readonly rocksNativeStreamsRead: number;
  /** RocksDB-native keyed streams checked only for their files' presence and size (no RocksDB binding). */
  readonly rocksNativeStreamsNotRead: number;
  readonly problems: readonly FlinkValidationProblem[];
}

/** Values flowstate cannot decode are not damage: Flink restores them with the user's classes. */
function unverifiable(e: unknown): boolean {
  return e instanceof FlinkOpaqueSerializerError || e instanceof FlinkUnknownSnapshotClassError;
}

class Walk {
  streams = 0;
  bytes = 0;
  keyedRecords = 0;
  decodedRecords = 0;
  elements = 0;
  nativeRead = 0;
  nativeNotRead = 0;
  readonly problems: FlinkValidationProblem[] = [];
  constructor(readonly sp: FlinkSavepoint) {}

  /** Runs one check; a typed failure becomes a problem and the walk goes on with the next stream. */
  async guard(operator: string, check: () => Promise<void> | void): Promise<void> {
    try {
      await check();
    } catch (e) {
      const p = validationProblemOf(e, operator, unverifiable(e) ? 'warning' : 'error');
      // A missing file is met twice (its size, then its content): report it once.
      if (!this.problems.some((q) => q.message === p.message)) this.problems.push(p);
    }
  }

  async stream(h: StreamStateHandle | null): Promise<void> {
    if (h === null) return;
    const s = await this.sp.resolve(h);
    this.streams++;
    this.bytes += s.bytes.length;
  }
}

/**
 * Walks an Apache Flink savepoint or checkpoint: `_metadata`, then every state stream it
 * references (existence and size of every file; canonical and heap-native keyed streams record by
 * record with their serializers; operator state streams element by element; RocksDB SST files and
 * raw state as files of the declared size, and, with a RocksDB binding in `options.rocksdb`, the
 * RocksDB-native entries of every column family decoded like canonical records). Every failure is
 * a problem naming file and offset.
 */
export async function validateFlinkSavepoint(path: string, options: FlinkSavepointOptions = {}): Promise<FlinkValidationReport> {
  let sp: FlinkSavepoint;
  try {
    sp = await FlinkSavepoint.load(path, options);
  } catch (e) {
    const problems = [validationProblemOf(e, undefined)];
    return { format: 'apache-flink', ok: false, directory: path, metadataReadable: false, metadataVersion: undefined, operators: 0, streams: 0, bytesChecked: 0, keyedRecords: 0, decodedRecords: 0, operatorStateElements: 0, rocksNativeStreamsRead: 0, rocksNativeStreamsNotRead: 0, problems };
  }
  const w = new Walk(sp);
  for (const op of sp.operators) await validateOperator(w, op);
  return {
    format: 'apache-flink',
    ok: !w.problems.some((p) => p.severity === 'error'),
    directory: sp.directory,
    metadataReadable: true,
    metadataVersion: sp.metadata.version,
    operators: sp.operators.length,
    streams: w.streams,
    bytesChecked: w.bytes,
    keyedRecords: w.keyedRecords,
    decodedRecords: w.decodedRecords,
    operatorStateElements: w.elements,
    rocksNativeStreamsRead: w.nativeRead,
    rocksNativeStreamsNotRead: w.nativeNotRead,
    problems: w.problems,
  };
}

async function validateOperator(w: Walk, op: OperatorState): Promise<void> {
  const name = op.uid === undefined || op.uid === '' ? op.operatorId : op.uid;
  await w.guard(name, () => w.stream(op.coordinatorState));
  for (const s of op.subtasks) {
    for (const h of [s.managedOperatorState, s.rawOperatorState]) await w.guard(name, () => w.stream(h?.stream ?? null));
    const managed = s.managedOperatorState;
    if (managed !== null && managed.stream !== null) {
      await w.guard(name, async () => {
        const stream = await w.sp.resolve(managed.stream!);
        const read = readOperatorStates(managed, stream, w.sp.registry);
        checkOperatorStateSerializers(read, stream);
        for (const st of read.states) w.elements += st.values?.length ?? st.raw.length;
      });
    }
    await w.guard(name, () => keyedFiles(w, s.rawKeyedState));
    await w.guard(name, () => keyedFiles(w, s.managedKeyedState));
    for (const c of [...s.inputChannelState, ...s.resultSubpartitionState]) await w.guard(name, () => w.stream(c.stream));
  }
  let infos: KeyedStreamInfo[] = [];
  await w.guard(name, async () => {
    infos = await w.sp.keyedStreams(op);
  });
  for (const info of infos) await w.guard(name, () => walkKeyed(w, info, op.maxParallelism));
  overlaps(w, op, name);
}

/** Every file a keyed handle references exists with its declared size. */
async function keyedFiles(w: Walk, h: KeyedStateHandle | null): Promise<void> {
  if (h === null) return;
  if (h.type === 'key-groups') return w.stream(h.stream);
  if (h.type === 'incremental') {
    await w.stream(h.meta);
    for (const f of [...h.shared, ...h.private]) await w.stream(f.handle);
  }
}

async function walkKeyed(w: Walk, info: KeyedStreamInfo, maxParallelism: number): Promise<void> {
  // Before the records: a contradicted state without records is corrupt too (convert refuses it).
  if (info.header !== undefined) checkKeyedStateMetaInfos(info.header.states, info.stream?.file ?? w.sp.metadataFile, info.stream?.baseOffset ?? 0);
  if (info.format === 'rocksdb-native') {
    if (!w.sp.readsRecords(info)) {
      w.nativeNotRead++;
      return;
    }
    w.nativeRead++;
    // One pass (each pass opens the RocksDB copy): every entry is walked even after an opaque value,
    // whose error is reported once the walk is complete, as for canonical streams.
    const dec = new KeyedEntryDecoder(info.header!, maxParallelism);
    let opaque: unknown;
    for await (const e of w.sp.rocksNativeRecords(info, maxParallelism)) {
      w.keyedRecords++;
      if (opaque !== undefined) continue;
      try {
        dec.decode(e, `${w.sp.nativeLabel(info)} column family '${dec.stateName(e.stateId)}'`);
        w.decodedRecords++;
      } catch (err) {
        if (!unverifiable(err)) throw err;
        opaque = err;
      }
    }
    if (opaque !== undefined) throw opaque;
  } else if (info.format === 'canonical') {
    for (const _ of w.sp.canonicalRecords(info)) w.keyedRecords++;
    // Values second: a structural walk of the whole stream even when one serializer is opaque.
    for (const _ of w.sp.decodedRecords(info, maxParallelism)) w.decodedRecords++;
  } else if (info.format === 'heap-native') {
    // Heap-native blocks have no record lengths: walking them is decoding them.
    for (const _ of w.sp.decodedRecords(info, maxParallelism)) {
      w.keyedRecords++;
      w.decodedRecords++;
    }
  }
}

/** Two subtasks claiming one key group: Flink would restore that key group twice. */
function overlaps(w: Walk, op: OperatorState, name: string): void {
  const owner = new Map<number, number>();
  for (const s of op.subtasks) {
    const h = s.managedKeyedState;
    if (h === null) continue;
    const range = h.type === 'key-groups' ? [h.startKeyGroup, h.startKeyGroup + h.offsets.length] : 'numKeyGroups' in h ? [h.startKeyGroup, h.startKeyGroup + h.numKeyGroups] : undefined;
    if (range === undefined) continue;
    for (let kg = range[0]!; kg < range[1]!; kg++) {
      const prev = owner.get(kg);
      if (prev !== undefined) {
        w.problems.push({ severity: 'error', code: 'KEY_GROUP_OVERLAP', message: `operator '${name}': key group ${kg} is in the state of subtasks ${prev} and ${s.index}`, file: w.sp.metadataFile, operator: name });
        return;
      }
      owner.set(kg, s.index);
    }
  }
}

/** Human-readable validation output. */
export function formatFlinkValidation(r: FlinkValidationReport): string {
  const errors = r.problems.filter((p) => p.severity === 'error').length;
  const warnings = r.problems.length - errors;
  const out = [
    r.ok
      ? `OK: ${r.directory} is a valid Apache Flink savepoint or checkpoint (metadata V${r.metadataVersion}, ${r.operators} operators, ${r.streams} state streams, ${r.bytesChecked} bytes checked, ` +
        `${r.keyedRecords} keyed records of which ${r.decodedRecords} decoded, ${r.operatorStateElements} operator state elements)${warnings > 0 ? `, ${warnings} part(s) not verified` : ''}` +
        (r.rocksNativeStreamsRead > 0 ? `; ${r.rocksNativeStreamsRead} RocksDB-native stream(s) read entry by entry` : '') +
        (r.rocksNativeStreamsNotRead > 0 ? `; ${r.rocksNativeStreamsNotRead} RocksDB-native stream(s) checked for file presence and size only (no RocksDB binding)` : '')
      : `INVALID: ${r.directory}: ${errors} error(s), ${warnings} warning(s)`,
  ];
  for (const p of r.problems) out.push(`  ${p.severity} ${p.code}${p.offset === undefined ? '' : ` @${p.offset}`}: ${p.message}`);
  return out.join('\n');
}
