/**
 * The savepoint suite's yardstick (issue 16): a minimal canonical savepoint writer and reader doing
 * the same work as flowstate's, without its layers. Writer: serialize each key once, murmur3 to its
 * key group, keep (key bytes, value) per key group; then per subtask one file: core's stream header,
 * one block per key group (docs/savepoint-format.md section 4) encoded into one buffer reused from call to call, its
 * CRC32C, written straight to the file; the file's CRC32C combined from the blocks'; fsync, rename,
 * fsync of the directory; a small `_metadata`, fsynced. Reader: each file read in one request
 * into one buffer reused for every file and call, every block's CRC32C verified, every record parsed, its key decoded and checked against its key
 * group, its value copied (or handed out as a view).
 *
 * The writer's files must be byte-identical to flowstate's for the same entries (checked by the
 * suite through their sizes and checksums): otherwise it would not be the same encoding.
 */
import { open, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  assignToKeyGroup,
  computeKeyGroupRangeForOperatorIndex,
  crc32c,
  crc32cCombine,
  DataInputDeserializer,
  DataOutputSerializer,
  KeyedStateStreamEncoder,
  Serializers,
  type KeyedStateMetaInfo,
  type TypeSerializerSnapshot,
} from '@flowstate/core';

export interface MinimalFile {
  readonly path: string;
  readonly size: number;
  readonly checksum: number;
  readonly startKeyGroup: number;
  readonly headerLength: number;
  /** Key-group block offsets, one past the last block included. */
  readonly offsets: readonly number[];
  readonly checksums: readonly number[];
}

interface Entry {
  readonly key: string;
  readonly value: Uint8Array;
}

/**
 * Kept from call to call, as flowstate keeps the read buffers of its last read and the block
 * buffers of its finished encoders for the next ones (session 9): the yardstick does not pay for
 * fresh memory that ours no longer pays for.
 */
const minimalBlock = new DataOutputSerializer(1 << 20);
let minimalReadBuffer = new Uint8Array(0);

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes the entries as `parallelism` canonical keyed streams under `dir` (which exists). */
export async function minimalWrite(
  dir: string,
  data: Iterable<Entry>,
  o: { maxParallelism: number; parallelism: number; states: readonly KeyedStateMetaInfo[] },
): Promise<MinimalFile[]> {
  const key = new DataOutputSerializer(64);
  const byGroup: Array<Array<{ key: Uint8Array; value: Uint8Array }>> = Array.from({ length: o.maxParallelism }, () => []);
  for (const e of data) {
    key.clear();
    Serializers.string.serialize(e.key, key);
    const k = key.toBytes();
    byGroup[assignToKeyGroup(k, o.maxParallelism)]!.push({ key: k, value: e.value });
  }
  const keySnapshot = Serializers.string.snapshotConfiguration() as TypeSerializerSnapshot<unknown>;
  const block = minimalBlock;
  const files: MinimalFile[] = [];
  for (let i = 0; i < o.parallelism; i++) {
    const range = computeKeyGroupRangeForOperatorIndex(o.maxParallelism, o.parallelism, i);
    const header = new KeyedStateStreamEncoder(range, keySnapshot, o.states).encodeHeader();
    const path = join(dir, `keyed-${i}`);
    const fh = await open(`${path}.tmp`, 'wx');
    await fh.write(header);
    let crc = crc32c(header);
    let pos = header.length;
    const offsets: number[] = [];
    const checksums: number[] = [];
    for (let g = range.startKeyGroup; g <= range.endKeyGroup; g++) {
      block.clear();
      block.writeUint32(g);
      for (const e of byGroup[g]!) {
        block.writeVarUint(1);
        block.writeLengthPrefixed(e.key);
        block.writeVarUint(0); // VoidNamespace: no bytes
        // BytesSerializer's own length prefix inside the record's.
        const inner = e.value.length;
        block.writeVarUint(inner + varUintBytes(inner));
        block.writeLengthPrefixed(e.value);
      }
      block.writeVarUint(0);
      const bytes = block.bytesView();
      const c = crc32c(bytes);
      offsets.push(pos);
      checksums.push(c);
      crc = crc32cCombine(crc, c, bytes.length);
      pos += bytes.length;
      await fh.write(bytes);
    }
    offsets.push(pos);
    await fh.sync();
    await fh.close();
    await rename(`${path}.tmp`, path);
    files.push({ path, size: pos, checksum: crc, startKeyGroup: range.startKeyGroup, headerLength: header.length, offsets, checksums });
  }
  await fsyncDir(dir);
  const meta = join(dir, '_metadata');
  await writeFile(`${meta}.tmp`, JSON.stringify(files.map((f) => ({ ...f, offsets: [...f.offsets], checksums: [...f.checksums] }))), { flush: true });
  await rename(`${meta}.tmp`, meta);
  await fsyncDir(dir);
  return files;
}

function varUintBytes(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/**
 * Reads every entry of the files: CRC32C per block, every record parsed, its key decoded (UTF-8)
 * and checked against its key group, `visit` called with the value as a copy (`views` false) or as
 * a view into the file's bytes. Returns the number of entries.
 */
export async function minimalRead(files: readonly MinimalFile[], maxParallelism: number, views: boolean, visit: (key: string, value: Uint8Array) => void): Promise<number> {
  let n = 0;
  const input = new DataInputDeserializer(new Uint8Array(0));
  const field = new DataInputDeserializer(new Uint8Array(0));
  // One buffer for every file (a fresh one per file costs a page fault per 4 KiB, which is not the
  // format's cost), a plain Uint8Array (Buffer's subarray, once per field, costs several times more).
  const largest = Math.max(0, ...files.map((f) => f.size - f.headerLength));
  if (minimalReadBuffer.length < largest) minimalReadBuffer = new Uint8Array(Buffer.allocUnsafeSlow(largest).buffer, 0, largest);
  const whole = minimalReadBuffer;
  for (const f of files) {
    const fh = await open(f.path, 'r');
    const buf = whole.subarray(0, f.size - f.headerLength);
    try {
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, f.headerLength + got);
        if (bytesRead === 0) throw new Error(`${f.path}: short read`);
        got += bytesRead;
      }
    } finally {
      await fh.close();
    }
    for (let i = 0; i + 1 < f.offsets.length; i++) {
      const bytes = buf.subarray(f.offsets[i]! - f.headerLength, f.offsets[i + 1]! - f.headerLength);
      if (crc32c(bytes) !== f.checksums[i]) throw new Error(`${f.path}: CRC32C mismatch in block ${i}`);
      const g = f.startKeyGroup + i;
      input.reset(bytes);
      if (input.readUint32() !== g) throw new Error(`${f.path}: block ${i} holds another key group`);
      while (input.readVarUint() !== 0) {
        const keyBytes = input.readLengthPrefixed();
        input.readLengthPrefixed(); // namespace
        const valueField = input.readLengthPrefixed();
        if (assignToKeyGroup(keyBytes, maxParallelism) !== g) throw new Error(`${f.path}: key outside its key group`);
        field.reset(keyBytes);
        const key = field.readString();
        field.reset(valueField);
        const inner = field.readLengthPrefixed();
        visit(key, views ? inner : new Uint8Array(inner));
        n++;
      }
    }
  }
  return n;
}
