import { IllegalStateUsageError } from '@flowstate/core';
import { FlinkUnsupportedError } from './errors.js';
import { operatorIdFromUid } from './hash/murmur3-128.js';
import { KeyedEntryDecoder } from './keyed/decode.js';
import { encodeCanonicalStream, encodeOperatorStream, type CanonicalRecord } from './keyed/encode.js';
import { writeFlinkMetadata } from './metadata/metadata.js';
import type { KeyedStateHandle, OperatorState, OperatorStreamHandle } from './metadata/types.js';
import { readOperatorStates } from './operator/reader.js';
import type { FlinkSavepoint } from './savepoint.js';
import { addToKeyGroup, copyKeyed, copyOperator, rewriteOperatorUnchanged, rewriteRunningSubtasks, inputDirectoryOf, withOutputDirectory, type StreamEmitter } from './writer.js';

export interface FlinkSurgery {
  /** Operators (uid or hex ID) to remove. */
  readonly removeOperators?: readonly string[];
  /** uid -> new uid: the operator ID becomes murmur3_128 of the new uid (as Flink derives it). */
  readonly renameUids?: Readonly<Record<string, string>>;
  /** States to drop (keyed or operator state), by operator (uid or ID) and state name. */
  readonly dropStates?: readonly { readonly operator: string; readonly state: string }[];
}

const matches = (op: OperatorState, x: string): boolean => x === op.uid || x === op.operatorId;

/**
 * Removes operators, renames uids and drops states of a Flink savepoint, writing a new one
 * (the input is never changed). Keyed state of operators that lose a state is written canonical.
 */
export async function rewriteFlinkSavepoint(sp: FlinkSavepoint, outDir: string, surgery: FlinkSurgery): Promise<{ files: string[] }> {
  for (const x of [...(surgery.removeOperators ?? []), ...Object.keys(surgery.renameUids ?? {}), ...(surgery.dropStates ?? []).map((d) => d.operator)]) {
    if (!sp.operators.some((op) => matches(op, x))) throw new IllegalStateUsageError(undefined, `no operator with uid or ID '${x}' in ${sp.metadataFile}`);
  }
  return withOutputDirectory(outDir, async (em) => {
    const operators: OperatorState[] = [];
    for (const op of sp.operators) {
      if ((surgery.removeOperators ?? []).some((x) => matches(op, x))) continue;
      const drops = new Set((surgery.dropStates ?? []).filter((d) => matches(op, d.operator)).map((d) => d.state));
      let out = drops.size === 0 ? await rewriteOperatorUnchanged(sp, em, op) : await dropStates(sp, em, op, drops);
      const renamed = Object.entries(surgery.renameUids ?? {}).find(([from]) => matches(op, from))?.[1];
      if (renamed !== undefined) out = { ...out, operatorId: operatorIdFromUid(renamed), ...(sp.metadata.version >= 5 ? { uid: renamed } : {}) };
      operators.push(out);
    }
    const ids = operators.map((o) => o.operatorId);
    if (new Set(ids).size !== ids.length) throw new IllegalStateUsageError(undefined, 'two operators would have the same operator ID');
    await em.write('_metadata', writeFlinkMetadata({ ...sp.metadata, operators }));
    return { files: [...em.written] };
  }, inputDirectoryOf(sp));
}

async function dropStates(sp: FlinkSavepoint, em: StreamEmitter, op: OperatorState, drops: Set<string>): Promise<OperatorState> {
  return rewriteRunningSubtasks(sp, op, async (s, info) => {
    let keyed: KeyedStateHandle | null = s.managedKeyedState;
    const dropsKeyed = info?.header?.states.some((m) => drops.has(m.name)) === true;
    if (!dropsKeyed) keyed = await copyKeyed(sp, em, keyed);
    else if (keyed !== null && info?.header !== undefined && keyed.type === 'key-groups' && keyed.stream !== null) {
      if (info.format !== 'canonical' && info.format !== 'heap-native') throw new FlinkUnsupportedError(sp.metadataFile, `dropping a state of ${info.format} keyed state`);
      const header = info.header;
      const kept = header.states.filter((m) => !drops.has(m.name));
      const newId = new Map(kept.map((m, i) => [m.name, i]));
      const byKg = new Map<number, CanonicalRecord[]>();
      const push = (kg: number, r: CanonicalRecord): void => addToKeyGroup(byKg, kg, r);
      if (info.format === 'canonical') {
        for (const r of sp.canonicalRecords(info)) {
          const id = newId.get(header.states[r.stateId]!.name);
          if (id !== undefined) push(r.keyGroup, { ...r, stateId: id });
        }
      } else {
        const enc = new KeyedEntryDecoder({ ...header, states: kept }, op.maxParallelism);
        for (const g of sp.heapKeyGroups(info)) for (const e of g.entries) {
          const id = newId.get(e.state);
          if (id !== undefined) for (const r of enc.encode(e, id)) push(g.keyGroup, r);
        }
        for (const l of byKg.values()) l.sort((a, b) => a.stateId - b.stateId || Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
      }
      const encoded = encodeCanonicalStream({ ...header, states: kept }, keyed.startKeyGroup, keyed.offsets.length, (kg) => byKg.get(kg) ?? []);
      keyed = { type: 'key-groups', tag: 7, startKeyGroup: keyed.startKeyGroup, offsets: encoded.offsets, stream: await em.emit(keyed.stream, encoded.bytes) };
    } else {
      throw new FlinkUnsupportedError(sp.metadataFile, `dropping a state of ${info?.format ?? 'unknown'} keyed state`);
    }
    let opState: OperatorStreamHandle | null = s.managedOperatorState;
    if (opState !== null && opState.stream !== null) {
      const { header, states } = readOperatorStates(opState, await sp.resolve(opState.stream), sp.registry);
      const firstOffset = new Map(opState.states.map((x) => [x.name, x.offsets[0] ?? Number.MAX_SAFE_INTEGER]));
      const keptStates = states.filter((x) => !drops.has(x.name)).sort((a, b) => firstOffset.get(a.name)! - firstOffset.get(b.name)!);
      const enc = encodeOperatorStream(
        { ...header, operatorStates: header.operatorStates.filter((m) => !drops.has(m.name)), broadcastStates: header.broadcastStates.filter((m) => !drops.has(m.name)) },
        keptStates.map((x) => ({ name: x.name, mode: x.mode, elements: x.raw })),
      );
      opState = { ...opState, states: opState.states.filter((x) => !drops.has(x.name)).map((x) => ({ ...x, offsets: enc.offsets.get(x.name) ?? [] })), stream: await em.emit(opState.stream, enc.bytes) };
    }
    return { ...s, managedKeyedState: keyed, managedOperatorState: opState, rawKeyedState: await copyKeyed(sp, em, s.rawKeyedState), rawOperatorState: await copyOperator(sp, em, s.rawOperatorState) };
  });
}
