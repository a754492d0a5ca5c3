import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  collectStreamHandles,
  computeOperatorIndexForKeyGroup,
  CorruptCheckpointError,
  crc32cCombine,
  formatChecksum,
  isKeyGroupsStateHandle,
  joinPath,
  METADATA_FILE_NAME,
  readOperatorStateStream,
  readKeyedStateHeader,
  readKeyGroupBlocks,
  streamHandleName,
  type KeyedStateHandle,
  type NativeSnapshotFormat,
  type KeyedStateStreamHeader,
  type KeyGroupsStateHandle,
  type OperatorSnapshotMetadata,
  type SerializerSnapshotRegistry,
  type StreamStateHandle,
  type ValidationProblem,
  validationProblemOf,
} from '@flowstate/core';
import { SavepointDirectory } from './directory.js';
import type { SavepointStorageOptions } from './location.js';
import { randomFileNames, SavepointOutput } from './output.js';
import { decodeOperatorStateElements, KeyedRecordDecoder } from './entries.js';
import { CANONICAL, convertHandle, type NativeFormatOptions } from './native-conversion.js';
import { handleFile, mergeHeaders, wrapDecodeError } from './keyed.js';
import { SavepointReader } from './reader.js';

export type { ValidationProblem } from '@flowstate/core';

export interface ValidationReport {
  /** No problem of severity 'error'. */
  readonly ok: boolean;
  readonly directory: string;
  /** False when `_metadata` itself could not be read: nothing else was checked. */
  readonly metadataReadable: boolean;
  readonly formatVersion: number | undefined;
  readonly operators: number;
  readonly filesChecked: number;
  readonly bytesChecked: number;
  readonly keyGroupBlocks: number;
  readonly records: number;
  readonly problems: readonly ValidationProblem[];
}

export interface ValidateOptions extends NativeFormatOptions, SavepointStorageOptions {
  readonly registry?: SerializerSnapshotRegistry;
  /** Progress: bytes done of a total known up front. */
  readonly onProgress?: (done: number, total: number) => void;
}


/**
 * Checks a savepoint end to end, streaming: `_metadata` (version, CRC32C, structure, no escaping
 * paths), every referenced file (present, size, CRC32C in 4 MiB chunks), every keyed stream
 * (header, each key-group block's CRC32C and structure, every key in its key group, every key,
 * namespace and value decoded with the savepoint's own serializers), every operator state stream
 * (every element decoded), and that each keyed operator covers every key group exactly once.
 * Memory: one file chunk or one key-group block at a time. Problems are collected, not thrown;
 * anything that is not a FlowstateError is a bug and propagates.
 */
export async function validateSavepoint(directory: string, options: ValidateOptions = {}): Promise<ValidationReport> {
  const problems: ValidationProblem[] = [];
  let reader: SavepointReader;
  try {
    reader = await SavepointReader.load(directory, options);
  } catch (e) {
    problems.push(validationProblemOf(e));
    return { ok: false, directory, metadataReadable: false, formatVersion: undefined, operators: 0, filesChecked: 0, bytesChecked: 0, keyGroupBlocks: 0, records: 0, problems };
  }
  const dir = reader.dir;
  const files = referencedFiles(reader);
  const total = [...files.values()].reduce((a, h) => a + h.size, 0);
  let done = 0;
  let bytesChecked = 0;
  const progress = (n: number) => {
    bytesChecked += n;
    done += n;
    options.onProgress?.(done, total);
  };
  const badFiles = await checkFiles(reader, files, problems, progress);
  await findUnreferencedFiles(dir, files, problems);

  const counts = { blocks: 0, records: 0 };
  const work = await mkdtemp(join(tmpdir(), 'flowstate-validate-'));
  try {
    for (const op of reader.metadata.operators) {
      const ctx: KeyedCheckContext = { reader, op, badFiles, problems, counts, progress, work, formats: options.nativeFormats ?? [] };
      await checkKeyedState(ctx);
      await checkOperatorState(ctx);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return {
    ok: !problems.some((p) => p.severity === 'error'),
    directory: dir.path,
    metadataReadable: true,
    formatVersion: reader.formatVersion,
    operators: reader.metadata.operators.length,
    filesChecked: files.size,
    bytesChecked,
    keyGroupBlocks: counts.blocks,
    records: counts.records,
    problems,
  };
}

/** Every file the metadata references, once (several handles may share one), by name. */
function referencedFiles(reader: SavepointReader): Map<string, StreamStateHandle> {
  const files = new Map<string, StreamStateHandle>();
  for (const op of reader.metadata.operators) {
    for (const s of op.subtasks) {
      for (const h of s.keyed) {
        if (isKeyGroupsStateHandle(h)) files.set(handleFile(h), h.stream);
        // Native handles: every file they reference (RocksDB: SSTs in shared/, MANIFEST, meta) is verified whole.
        else for (const f of collectStreamHandles(h)) files.set(streamHandleName(f), f);
      }
      for (const h of s.operator) files.set(streamHandleName(h.stream), h.stream);
      // In-flight records of an unaligned checkpoint: opaque here, verified whole (size, CRC32C).
      for (const h of s.channelState ?? []) files.set(streamHandleName(h), h);
    }
  }
  return files;
}

/**
 * Checks every file's presence and size, and the CRC32C of every file but the keyed streams: those
 * are read once, block by block, by checkKeyedState, which computes their whole-file CRC32C on the
 * way (header and blocks are contiguous and cover the file). Returns the files found bad.
 */
async function checkFiles(reader: SavepointReader, files: ReadonlyMap<string, StreamStateHandle>, problems: ValidationProblem[], progress: (n: number) => void): Promise<Set<string>> {
  const ops = reader.metadata.operators;
  const keyedFiles = new Set<string>();
  for (const op of ops) for (const s of op.subtasks) for (const h of s.keyed) if (isKeyGroupsStateHandle(h)) keyedFiles.add(handleFile(h));
  for (const op of ops) for (const s of op.subtasks) for (const h of s.operator) keyedFiles.delete(streamHandleName(h.stream));
  const badFiles = new Set<string>();
  for (const [name, h] of files) {
    try {
      await reader.dir.checkSize(h);
    } catch (e) {
      // Missing or wrong size: nothing more to learn from this file.
      badFiles.add(name);
      problems.push(validationProblemOf(e));
      continue;
    }
    if (keyedFiles.has(name)) continue;
    try {
      await reader.dir.streamFile(h, undefined, progress);
    } catch (e) {
      // Wrong CRC32C: reported once, not again by the decoders that would read it.
      badFiles.add(name);
      problems.push(validationProblemOf(e));
    }
  }
  return badFiles;
}

/** Warnings for files in the checkpoint's own directory that nothing references (not shared/: other checkpoints use it). */
async function findUnreferencedFiles(dir: SavepointDirectory, files: ReadonlyMap<string, StreamStateHandle>, problems: ValidationProblem[]): Promise<void> {
  try {
    const referenced = new Set([...files.keys(), joinPath(dir.exclusiveDir, METADATA_FILE_NAME)]);
    for (const f of await dir.fs.list(dir.exclusiveDir)) {
      if (!referenced.has(f.path)) {
        problems.push({ severity: 'warning', code: 'UNREFERENCED_FILE', message: `'${dir.fileName(f.path)}' is not referenced by the metadata`, file: dir.fileName(f.path) });
      }
    }
  } catch (e) {
    problems.push(validationProblemOf(e));
  }
}

interface KeyedCheckContext {
  readonly reader: SavepointReader;
  readonly op: OperatorSnapshotMetadata;
  /** Files found missing or of the wrong size: not read again. */
  readonly badFiles: ReadonlySet<string>;
  readonly problems: ValidationProblem[];
  readonly counts: { blocks: number; records: number };
  readonly progress: (bytes: number) => void;
  /** Scratch directory (native handles are converted to canonical streams here). */
  readonly work: string;
  readonly formats: readonly NativeSnapshotFormat[];
}

/** A canonical keyed stream to check, and the directory it is read from. */
interface CanonicalSource {
  readonly handle: KeyGroupsStateHandle;
  readonly dir: SavepointDirectory;
  /** For a stream converted from a native handle: the native handle's name (errors name it). */
  readonly nativeName?: string;
}

/**
 * Keyed state of one operator: every canonical stream block by block (checksums, keys in their
 * key groups, every entry decoded), native RocksDB handles through their canonical conversion,
 * consistent headers across subtasks, and key-group coverage.
 */
async function checkKeyedState(ctx: KeyedCheckContext): Promise<void> {
  const { reader, op, problems } = ctx;
  const keyed = op.subtasks.flatMap((s) => s.keyed);
  const sources: CanonicalSource[] = [];
  for (const [i, h] of keyed.entries()) {
    if (isKeyGroupsStateHandle(h)) {
      if (!ctx.badFiles.has(handleFile(h))) sources.push({ handle: h, dir: reader.dir });
    } else if (ctx.formats.some((f) => f.isHandle(h))) {
      if (collectStreamHandles(h).some((f) => ctx.badFiles.has(streamHandleName(f)))) continue;
      try {
        const c = await nativeAsCanonical(h, ctx, join(ctx.work, `${op.subtasks.length}-${i}-${sources.length}`));
        if (c !== undefined) sources.push(c);
      } catch (e) {
        problems.push(validationProblemOf(e, op.uid));
      }
    } else {
      problems.push({ severity: 'error', code: 'UNSUPPORTED_OPERATION', message: `operator '${op.uid}': keyed handle of type '${h.type}' is a native snapshot this tool cannot validate`, operator: op.uid });
    }
  }
  const headers: KeyedStateStreamHeader[] = [];
  const headerFiles: string[] = [];
  for (const src of sources) {
    try {
      headers.push(await checkCanonicalStream(src, ctx));
      headerFiles.push(src.nativeName ?? src.dir.fileName(handleFile(src.handle)));
    } catch (e) {
      const p = validationProblemOf(e, op.uid);
      problems.push(src.nativeName === undefined ? p : { ...p, file: src.nativeName, message: `${src.nativeName} (checked in canonical form): ${p.message}` });
    }
  }
  try {
    mergeHeaders(headers, headerFiles, op.uid);
  } catch (e) {
    problems.push(validationProblemOf(e, op.uid));
  }
  if (keyed.length > 0) checkCoverage(op.uid, op.maxParallelism, op.parallelism, op.subtasks, keyed, (h) => keyedHandleName(h, reader.dir, ctx.formats), problems);
}

/** Reads one canonical stream block by block and returns its header. */
async function checkCanonicalStream(src: CanonicalSource, ctx: KeyedCheckContext): Promise<KeyedStateStreamHeader> {
  const { handle: h, dir } = src;
  const registry = ctx.reader.registry;
  await dir.checkSize(h.stream);
  const header = await readKeyedStateHeader(dir.reader, h, registry);
  const decoder = new KeyedRecordDecoder(header, dir.fileName(handleFile(h)));
  // The file's CRC32C from its parts' own, each verified against its bytes on reading (the header
  // by readKeyedStateHeader, each block by readKeyGroupBlocks): no second pass over every byte.
  let crc = h.headerChecksum;
  // Bytes of converted streams were counted when their native files were verified.
  const count = src.nativeName === undefined ? ctx.progress : () => {};
  count(h.headerLength);
  for await (const b of readKeyGroupBlocks(dir.reader, h, header, { maxParallelism: ctx.op.maxParallelism })) {
    ctx.counts.blocks++;
    ctx.counts.records += b.fields.count;
    decoder.decodeBlock(b);
    crc = crc32cCombine(crc, h.keyGroupChecksums[b.keyGroup - h.keyGroupRange.start]!, b.length);
    count(b.length);
  }
  if (crc !== h.stream.checksum) {
    throw new CorruptCheckpointError(dir.fileName(handleFile(h)), `CRC32C is ${formatChecksum(crc)}, its handle says ${formatChecksum(h.stream.checksum)} (every block matched its own checksum)`);
  }
  return header;
}

/**
 * A native handle's content as a canonical stream in `workDir`: its backend opens the (verified)
 * native files and streams the key groups out, exactly as `convert --to canonical` does, so that
 * every entry can be checked like a canonical one.
 */
async function nativeAsCanonical(h: KeyedStateHandle, ctx: KeyedCheckContext, workDir: string): Promise<CanonicalSource | undefined> {
  const { reader, op } = ctx;
  const storage = reader.storage;
  const out = await SavepointOutput.create(join(workDir, 'canonical'), { checkpointId: reader.metadata.checkpointId, names: randomFileNames() }, storage);
  await mkdir(join(workDir, 'backend'), { recursive: true });
  const from = ctx.formats.find((f) => f.isHandle(h))!.name;
  const converted = await convertHandle(h, from, CANONICAL, op, reader.metadata, { dir: reader.dir, out, registry: reader.registry, formats: ctx.formats, work: join(workDir, 'backend') });
  if (converted === null || !isKeyGroupsStateHandle(converted)) return undefined;
  return { handle: converted, dir: new SavepointDirectory(out.path, undefined, storage), nativeName: keyedHandleName(h, reader.dir, ctx.formats) };
}

function keyedHandleName(h: KeyedStateHandle, dir: SavepointDirectory, formats: readonly NativeSnapshotFormat[]): string {
  if (isKeyGroupsStateHandle(h)) return dir.fileName(handleFile(h));
  const native = formats.find((f) => f.isHandle(h));
  if (native !== undefined) return native.describe(h, (p) => dir.fileName(p));
  return `${h.type} handle`;
}

/** Operator state of one operator: every stream decoded, every element with its serializers. */
async function checkOperatorState(ctx: KeyedCheckContext): Promise<void> {
  const { op, problems } = ctx;
  const dir = ctx.reader.dir;
  const modes = new Map<string, string>();
  for (const s of op.subtasks) {
    for (const h of s.operator) {
      const name = h.stream.type === 'file' ? h.stream.path : `inline:${h.stream.name}`;
      if (ctx.badFiles.has(name)) continue;
      try {
        try {
          for (const st of await readOperatorStateStream(dir.reader, h, ctx.reader.registry)) {
            decodeOperatorStateElements(st, dir.fileName(name));
            const m = modes.get(st.meta.name);
            if (m !== undefined && m !== st.meta.mode) {
              problems.push({ severity: 'error', code: 'CORRUPT_CHECKPOINT', message: `operator '${op.uid}': operator state '${st.meta.name}' is ${m} in one subtask and ${st.meta.mode} in another`, operator: op.uid });
            }
            modes.set(st.meta.name, st.meta.mode);
          }
        } catch (e) {
          wrapDecodeError(e, dir.fileName(name));
        }
      } catch (e) {
        problems.push(validationProblemOf(e, op.uid));
      }
    }
  }
}

function checkCoverage(
  uid: string,
  maxParallelism: number,
  p: number,
  subtasks: ReadonlyArray<{ subtaskIndex: number; keyed: readonly unknown[] }>,
  handles: readonly KeyedStateHandle[],
  name: (h: KeyedStateHandle) => string,
  problems: ValidationProblem[],
): void {
  const owner = new Int32Array(maxParallelism).fill(-1);
  handles.forEach((h, i) => {
    for (let g = h.keyGroupRange.start; g <= h.keyGroupRange.end; g++) {
      if (owner[g] !== -1) {
        problems.push({
          severity: 'error',
          code: 'KEY_GROUP_OVERLAP',
          message: `operator '${uid}': key group ${g} is covered by both '${name(handles[owner[g]!]!)}' and '${name(h)}'`,
          operator: uid,
        });
      } else {
        owner[g] = i;
      }
    }
  });
  const withKeyed = new Set(subtasks.filter((s) => s.keyed.length > 0).map((s) => s.subtaskIndex));
  for (let g = 0; g < maxParallelism; ) {
    if (owner[g] !== -1) {
      g++;
      continue;
    }
    let end = g;
    while (end + 1 < maxParallelism && owner[end + 1] === -1) end++;
    const sub = computeOperatorIndexForKeyGroup(maxParallelism, p, g);
    // A heap subtask that never registered keyed state writes no handle: legal, but worth a word.
    const empty = !withKeyed.has(sub);
    problems.push({
      severity: empty ? 'warning' : 'error',
      code: 'KEY_GROUP_GAP',
      message: `operator '${uid}': key groups ${g}..${end} are not covered by any keyed state handle` + (empty ? ` (subtask ${sub} wrote no keyed state)` : ''),
      operator: uid,
    });
    g = end + 1;
  }
}
