import { JavaDataOutput } from '../io/java-output.js';
import { encodeSnappyFramed } from '../compression/snappy.js';
import { writeCanonicalKeyGroup } from './canonical.js';
import { writeKeyedHeader, writeOperatorHeader, type KeyedStreamHeader, type OperatorStreamHeader } from './proxy.js';

export interface CanonicalRecord {
  readonly stateId: number;
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/**
 * A canonical keyed state stream (KeyGroupsSavepointStateHandle): the header, then one block per
 * non-empty key group of [start, start + count) in ascending order. Returns the bytes and the
 * handle's offsets (0 = empty key group).
 */
export function encodeCanonicalStream(
  header: Omit<KeyedStreamHeader, 'length'>,
  startKeyGroup: number,
  numKeyGroups: number,
  recordsOf: (keyGroup: number) => readonly CanonicalRecord[],
): { bytes: Uint8Array; offsets: number[] } {
  // Size the buffer once: growing a large stream by doubling costs more than encoding it.
  let estimate = 4096;
  const all: (readonly CanonicalRecord[])[] = [];
  for (let kg = startKeyGroup; kg < startKeyGroup + numKeyGroups; kg++) {
    const records = recordsOf(kg);
    all.push(records);
    for (const r of records) estimate += 10 + r.key.length + r.value.length;
  }
  const out = new JavaDataOutput(estimate);
  writeKeyedHeader(out, header);
  const offsets: number[] = [];
  for (let kg = startKeyGroup; kg < startKeyGroup + numKeyGroups; kg++) {
    const records = all[kg - startKeyGroup]!;
    if (records.length === 0) {
      offsets.push(0);
      continue;
    }
    offsets.push(out.length);
    if (!header.compression) {
      writeCanonicalKeyGroup(out, records);
      continue;
    }
    const block = new JavaDataOutput();
    writeCanonicalKeyGroup(block, records);
    out.writeBytes(encodeSnappyFramed(block.bytesView()));
  }
  return { bytes: out.bytesView(), offsets };
}

export interface OperatorStateData {
  readonly name: string;
  readonly mode: 'SPLIT_DISTRIBUTE' | 'UNION' | 'BROADCAST';
  /** List states: one entry per element. Broadcast: one entry, `i32 size + entries`. */
  readonly elements: readonly Uint8Array[];
}

/**
 * An operator state stream: the header, then the states' data in the order given; returns the
 * bytes and every state's element offsets (what its OperatorStreamStateHandle lists).
 */
export function encodeOperatorStream(header: Omit<OperatorStreamHeader, 'length'>, states: readonly OperatorStateData[]): { bytes: Uint8Array; offsets: Map<string, number[]> } {
  const out = new JavaDataOutput(1024);
  writeOperatorHeader(out, header);
  const offsets = new Map<string, number[]>();
  for (const s of states) {
    const list: number[] = [];
    for (const e of s.elements) {
      list.push(out.length);
      out.writeBytes(e);
    }
    offsets.set(s.name, list);
  }
  return { bytes: out.toBytes(), offsets };
}
