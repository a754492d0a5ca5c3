import { crc32c } from '@flowstate/core';
import * as snappy from 'snappyjs';
import type { JavaDataInput } from '../io/java-input.js';

/**
 * The Snappy framing format as xerial's SnappyFramedOutputStream writes it (Flink's
 * SnappyStreamCompressionDecorator): a stream identifier, then chunks of at most 64 KiB of
 * uncompressed data, each with the masked CRC32C of its uncompressed bytes; a chunk is stored
 * uncompressed when compressing saves less than 15%.
 */
const MAX_CHUNK = 65536;
const STREAM_ID = new Uint8Array([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]);
/** Decompressed bytes of one key-group block beyond this are refused (a hostile ratio). */
export const MAX_DECOMPRESSED_BLOCK = 256 * 1024 * 1024;

function maskedCrc(data: Uint8Array): number {
  const c = crc32c(data);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** Decodes one framed stream occupying all of `input` (a key-group block); returns the uncompressed bytes. */
export function decodeSnappyFramed(input: JavaDataInput, maxOutput = MAX_DECOMPRESSED_BLOCK): Uint8Array {
  return Buffer.concat(decodeSnappyFramedStreams(input, maxOutput));
}

/**
 * Decodes consecutive framed streams (each starts with its stream identifier) occupying all of
 * `input`: the heap backend compresses every state of a key group as its own stream.
 */
export function decodeSnappyFramedStreams(input: JavaDataInput, maxOutput = MAX_DECOMPRESSED_BLOCK): Uint8Array[] {
  const streams: Uint8Array[] = [];
  let chunks: Uint8Array[] = [];
  let total = 0;
  let sawId = false;
  while (input.remaining > 0) {
    const at = input.position;
    const type = input.readUnsignedByte();
    const len = input.readUnsignedByte() | (input.readUnsignedByte() << 8) | (input.readUnsignedByte() << 16);
    const body = input.readBytes(len);
    if (type === 0xff) {
      if (len !== 6 || Buffer.compare(Buffer.from(body), Buffer.from(STREAM_ID.subarray(4))) !== 0) input.fail('bad Snappy stream identifier', at);
      if (sawId) streams.push(Buffer.concat(chunks));
      chunks = [];
      sawId = true;
      continue;
    }
    if (!sawId) input.fail('Snappy framed stream without stream identifier', at);
    if (type === 0x00 || type === 0x01) {
      if (len < 4) input.fail('Snappy chunk shorter than its checksum', at);
      const crc = body[0]! | (body[1]! << 8) | (body[2]! << 16) | (body[3]! << 24);
      const data = type === 0x01 ? body.subarray(4) : uncompress(input, body.subarray(4), at);
      if (data.length > MAX_CHUNK) input.fail(`Snappy chunk of ${data.length} bytes exceeds ${MAX_CHUNK}`, at);
      if (maskedCrc(data) !== crc >>> 0) input.fail('Snappy chunk checksum mismatch', at);
      total += data.length;
      if (total > maxOutput) input.fail(`decompressed key-group block exceeds ${maxOutput} bytes`, at);
      chunks.push(data);
    } else if (type >= 0x02 && type <= 0x7f) {
      input.fail(`unskippable reserved Snappy chunk type 0x${type.toString(16)}`, at);
    }
    // 0x80-0xfe: padding / skippable chunks
  }
  if (sawId) streams.push(Buffer.concat(chunks));
  return streams;
}

function uncompress(input: JavaDataInput, body: Uint8Array, at: number): Uint8Array {
  try {
    return snappy.uncompress(body, MAX_CHUNK);
  } catch (e) {
    return input.fail(`invalid Snappy chunk: ${(e as Error).message}`, at);
  }
}

/** Encodes bytes as one framed stream (stream identifier + chunks), like xerial's output stream. */
export function encodeSnappyFramed(data: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [STREAM_ID];
  for (let off = 0; off < data.length; off += MAX_CHUNK) {
    const chunk = data.subarray(off, off + MAX_CHUNK);
    const compressed = snappy.compress(chunk);
    const raw = compressed.length / chunk.length >= 0.85;
    const payload = raw ? chunk : compressed;
    const head = new Uint8Array(8);
    const len = payload.length + 4;
    head[0] = raw ? 0x01 : 0x00;
    head[1] = len & 0xff;
    head[2] = (len >> 8) & 0xff;
    head[3] = (len >> 16) & 0xff;
    new DataView(head.buffer).setUint32(4, maskedCrc(chunk), true);
    parts.push(head, payload);
  }
  return Buffer.concat(parts);
}
