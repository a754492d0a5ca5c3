import {
  computeOperatorIndexForKeyGroup,
  CorruptCheckpointError,
  crc32c,
  formatChecksum,
  FlowstateError,
  isKeyGroupsStateHandle,
  joinPath,
  METADATA_FILE_NAME,
  readOperatorStateStream,
  type KeyedStateStreamHeader,
  type KeyGroupsStateHandle,
  type SerializerSnapshotRegistry,
  type StreamStateHandle,
} from '@flowstate/core';
import { decodeOperatorStateElements, KeyedRecordDecoder } from './entries.js';
import { keyGroupBlocks, handleFile, mergeHeaders, readHeader, wrapDecodeError } from './keyed.js';
import { SavepointReader } from './reader.js';

export interface ValidationProblem {
  readonly severity: 'error' | 'warning';
  /** The FlowstateError code, or a validation code (KEY_GROUP_GAP, KEY_GROUP_OVERLAP, UNREFERENCED_FILE). */
  readonly code: string;
  readonly message: string;
  readonly file?: string;
  readonly offset?: number;
  readonly operator?: string;
}

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

export interface ValidateOptions {
  readonly registry?: SerializerSnapshotRegistry;
  /** Progress: bytes done of a total known up front. */
  readonly onProgress?: (done: number, total: number) => void;
}

function problemOf(e: unknown, operator?: string): ValidationProblem {
  if (!(e instanceof FlowstateError)) throw e;
  const f = e as FlowstateError & { file?: unknown; offset?: unknown; path?: unknown };
  return {
    severity: 'error',
    code: e.code,
    message: e.message,
    ...(typeof f.file === 'string' ? { file: f.file } : typeof f.path === 'string' ? { file: f.path } : {}),
    ...(typeof f.offset === 'number' ? { offset: f.offset } : {}),
    ...(operator === undefined ? {} : { operator }),
  };
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
    reader = await SavepointReader.load(directory, options.registry === undefined ? {} : { registry: options.registry });
  } catch (e) {
    problems.push(problemOf(e));
    return { ok: false, directory, metadataReadable: false, formatVersion: undefined, operators: 0, filesChecked: 0, bytesChecked: 0, keyGroupBlocks: 0, records: 0, problems };
  }
  const dir = reader.dir;
  const registry = reader.registry;

  // Every referenced file once; a file may be referenced by several handles (repartitioned operator state).
  const files = new Map<string, StreamStateHandle>();
  for (const op of reader.metadata.operators) {
    for (const s of op.subtasks) {
      for (const h of s.keyed) if (isKeyGroupsStateHandle(h)) files.set(handleFile(h), h.stream);
      for (const h of s.operator) files.set(h.stream.type === 'file' ? h.stream.path : `inline:${h.stream.name}`, h.stream);
    }
  }
  // Keyed stream files are read once, block by block: the header and the blocks are contiguous
  // and cover the whole file, so the whole-file CRC32C is computed on the way (one read pass).
  const keyedFiles = new Set<string>();
  for (const op of reader.metadata.operators) for (const s of op.subtasks) for (const h of s.keyed) if (isKeyGroupsStateHandle(h)) keyedFiles.add(handleFile(h));
  for (const op of reader.metadata.operators) for (const s of op.subtasks) for (const h of s.operator) keyedFiles.delete(h.stream.type === 'file' ? h.stream.path : `inline:${h.stream.name}`);
  const total = [...files.values()].reduce((a, h) => a + h.size, 0);
  let done = 0;
  const progress = (n: number) => {
    done += n;
    options.onProgress?.(done, total);
  };

  const badFiles = new Set<string>();
  let bytesChecked = 0;
  for (const [name, h] of files) {
    try {
      await dir.checkSize(h);
    } catch (e) {
      // Missing or wrong size: nothing more to learn from this file.
      badFiles.add(name);
      problems.push(problemOf(e));
      continue;
    }
    if (keyedFiles.has(name)) continue;
    try {
      await dir.streamFile(h, undefined, (n) => {
        bytesChecked += n;
        progress(n);
      });
    } catch (e) {
      problems.push(problemOf(e));
    }
  }
  try {
    // Only the checkpoint's own directory: files in shared/ may belong to other checkpoints.
    const referenced = new Set([...files.keys(), joinPath(dir.exclusiveDir, METADATA_FILE_NAME)]);
    for (const f of await dir.fs.list(dir.exclusiveDir)) {
      if (!referenced.has(f.path)) {
        problems.push({ severity: 'warning', code: 'UNREFERENCED_FILE', message: `'${dir.fileName(f.path)}' is not referenced by the metadata`, file: dir.fileName(f.path) });
      }
    }
  } catch (e) {
    problems.push(problemOf(e));
  }

  let blocks = 0;
  let records = 0;
  for (const op of reader.metadata.operators) {
    const keyed = op.subtasks.flatMap((s) => s.keyed);
    for (const h of keyed) {
      if (!isKeyGroupsStateHandle(h)) {
        problems.push({ severity: 'error', code: 'UNSUPPORTED_OPERATION', message: `operator '${op.uid}': keyed handle of type '${h.type}' is a native snapshot this tool cannot validate`, operator: op.uid });
      }
    }
    const canonical = keyed.filter(isKeyGroupsStateHandle);
    const headers: KeyedStateStreamHeader[] = [];
    const headerFiles: string[] = [];
    for (const h of canonical) {
      if (badFiles.has(handleFile(h))) continue;
      try {
        await dir.checkSize(h.stream);
        const header = await readHeader(dir.reader, h, registry);
        const decoder = new KeyedRecordDecoder(header, dir.fileName(handleFile(h)));
        headers.push(header);
        headerFiles.push(dir.fileName(handleFile(h)));
        let crc = crc32c(await dir.reader.readRange(h.stream, 0, h.headerLength));
        bytesChecked += h.headerLength;
        progress(h.headerLength);
        for await (const b of keyGroupBlocks(dir.reader, h, header, { maxParallelism: op.maxParallelism })) {
          blocks++;
          records += b.records.length;
          decoder.decodeBlock(b);
          crc = crc32c(b.bytes, crc);
          bytesChecked += b.length;
          progress(b.length);
        }
        if (crc !== h.stream.checksum) {
          throw new CorruptCheckpointError(dir.fileName(handleFile(h)), `CRC32C is ${formatChecksum(crc)}, its handle says ${formatChecksum(h.stream.checksum)} (every block matched its own checksum)`);
        }
      } catch (e) {
        problems.push(problemOf(e, op.uid));
      }
    }
    try {
      mergeHeaders(headers, headerFiles, op.uid);
    } catch (e) {
      problems.push(problemOf(e, op.uid));
    }
    if (canonical.length > 0) checkCoverage(op.uid, op.maxParallelism, op.parallelism, op.subtasks, canonical, dir.fileName.bind(dir), problems);

    const modes = new Map<string, string>();
    for (const s of op.subtasks) {
      for (const h of s.operator) {
        const name = h.stream.type === 'file' ? h.stream.path : `inline:${h.stream.name}`;
        if (badFiles.has(name)) continue;
        try {
          try {
            for (const st of await readOperatorStateStream(dir.reader, h, registry)) {
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
          problems.push(problemOf(e, op.uid));
        }
      }
    }
  }
  return {
    ok: !problems.some((p) => p.severity === 'error'),
    directory: dir.path,
    metadataReadable: true,
    formatVersion: reader.formatVersion,
    operators: reader.metadata.operators.length,
    filesChecked: files.size,
    bytesChecked,
    keyGroupBlocks: blocks,
    records,
    problems,
  };
}

function checkCoverage(
  uid: string,
  maxP: number,
  p: number,
  subtasks: ReadonlyArray<{ subtaskIndex: number; keyed: readonly unknown[] }>,
  handles: readonly KeyGroupsStateHandle[],
  name: (f: string) => string,
  problems: ValidationProblem[],
): void {
  const owner = new Int32Array(maxP).fill(-1);
  handles.forEach((h, i) => {
    for (let g = h.keyGroupRange.start; g <= h.keyGroupRange.end; g++) {
      if (owner[g] !== -1) {
        problems.push({
          severity: 'error',
          code: 'KEY_GROUP_OVERLAP',
          message: `operator '${uid}': key group ${g} is covered by both '${name(handleFile(handles[owner[g]!]!))}' and '${name(handleFile(h))}'`,
          operator: uid,
        });
      } else {
        owner[g] = i;
      }
    }
  });
  const withKeyed = new Set(subtasks.filter((s) => s.keyed.length > 0).map((s) => s.subtaskIndex));
  for (let g = 0; g < maxP; ) {
    if (owner[g] !== -1) {
      g++;
      continue;
    }
    let end = g;
    while (end + 1 < maxP && owner[end + 1] === -1) end++;
    const sub = computeOperatorIndexForKeyGroup(maxP, p, g);
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
