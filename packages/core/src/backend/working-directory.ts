// Working directories of keyed backends on local disk (RocksDB, LMDB): one per instance, under a
// local directory that several instances (and processes) share. dispose() deletes its own; a
// process that was killed never does, so every new instance first deletes the directories whose
// owner process is gone.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

/** Marks a directory as a working directory and names its owner; nothing without it is touched. */
export const OWNER_FILE = '.flowstate-owner';
/** The name RocksDB backends wrote before the mechanism moved to core; still read, so their directories are cleaned too. */
const LEGACY_OWNER_FILES = ['.flowstate-rocksdb-owner'];
/** An owner file is a few dozen bytes; anything larger is not ours. */
const MAX_OWNER_BYTES = 4096;

interface Owner {
  readonly pid: number;
  readonly host: string;
  /** Start time of the owner process (Linux: /proc/<pid>/stat field 22), so a reused pid is told apart. */
  readonly started?: string;
}

function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(dir: string): Owner | undefined {
  for (const name of [OWNER_FILE, ...LEGACY_OWNER_FILES]) {
    const owner = readOwnerFile(join(dir, name));
    if (owner !== undefined) return owner;
  }
  return undefined;
}

function readOwnerFile(file: string): Owner | undefined {
  try {
    const text = readFileSync(file, 'utf8');
    if (text.length > MAX_OWNER_BYTES) return undefined;
    const o = JSON.parse(text) as Partial<Owner>;
    if (!Number.isInteger(o.pid) || typeof o.host !== 'string') return undefined;
    return { pid: o.pid!, host: o.host, ...(typeof o.started === 'string' ? { started: o.started } : {}) };
  } catch {
    return undefined;
  }
}

/** True only when we can tell for sure: same host, and the owner process is gone (or its pid was reused). */
function ownerIsGone(owner: Owner): boolean {
  if (owner.host !== hostname()) return false;
  if (owner.pid === process.pid) return false;
  if (!isAlive(owner.pid)) return true;
  const started = owner.started === undefined ? undefined : processStartTime(owner.pid);
  return started !== undefined && started !== owner.started;
}

/** Deletes the working directories under `base` left behind by processes that no longer run. */
export function removeAbandonedWorkingDirectories(base: string): string[] {
  if (!existsSync(base)) return [];
  const removed: string[] = [];
  for (const entry of readdirSync(base, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(base, entry.name);
    const owner = readOwner(dir);
    if (owner !== undefined && ownerIsGone(owner)) {
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    }
  }
  return removed;
}

/**
 * Local directories this process has already cleaned. Once per process is enough: directories
 * abandoned later belong to processes that die later, and the next process cleans them. (Every
 * instance scanning every sibling would cost O(n²) for a job with n subtasks.)
 */
const cleaned = new Set<string>();

/** This process's owner file content; it never changes, so it is computed once. */
let ownerRecord: string | undefined;
function ownRecord(): string {
  const started = processStartTime(process.pid);
  const owner: Owner = { pid: process.pid, host: hostname(), ...(started === undefined ? {} : { started }) };
  return JSON.stringify(owner);
}

/** Creates `base/name` owned by this process, after removing abandoned siblings (first use of `base` only). */
export function createWorkingDirectory(base: string, name: string): string {
  const key = resolve(base);
  if (!cleaned.has(key)) {
    removeAbandonedWorkingDirectories(base);
    cleaned.add(key);
  }
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, OWNER_FILE), (ownerRecord ??= ownRecord()));
  return dir;
}
