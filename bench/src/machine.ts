import { execFileSync } from 'node:child_process';
import { arch, cpus, platform, release, totalmem } from 'node:os';
import { sep } from 'node:path';
import { crc32cImplementation } from '@flowstate/core';
import { isNativeAvailable, nativeAddonPath, rocksdbVersion } from '@flowstate/rocksdb/native';

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGb: number;
  readonly platform: string;
  readonly arch: string;
  readonly nodeVersion: string;
  readonly v8Version: string;
  /** What computes every checkpoint checksum here (@flowstate/crc32c: its addon, or the fallback and why). Optional: older results lack it. */
  readonly crc32c?: string;
  /**
   * The RocksDB addon the RocksDB rows ran on: a build from source (build/Release) links the RocksDB
   * its build found (the system's by default, the library the plain C++ baseline links); a
   * prebuilt binary links its own static RocksDB, so the binding vs plain C++ rows then compare two
   * builds. Optional: older results lack it.
   */
  readonly rocksdbAddon?: string;
  readonly gitCommit: string;
  readonly gitDirty: boolean;
}

function git(args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** Which addon loads (as every bench child loads it: the same candidates, in the same order) and its RocksDB version. */
function rocksdbAddon(): string {
  if (!isNativeAvailable()) return 'none loads';
  const file = nativeAddonPath();
  // The override is the only candidate when set, wherever it points.
  const kind = process.env['FLOWSTATE_ROCKSDB_ADDON'] ? `FLOWSTATE_ROCKSDB_ADDON ${file}` : file.includes(`${sep}prebuilds${sep}`) ? 'prebuilt (its own static RocksDB)' : 'built from source (build/Release)';
  return `${kind}, RocksDB ${rocksdbVersion()}`;
}

export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cpuModel: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    platform: `${platform()} ${release()}`,
    arch: arch(),
    nodeVersion: process.version,
    v8Version: process.versions.v8,
    crc32c: crc32cImplementation.name + (crc32cImplementation.fallbackReason === undefined ? '' : ` (${crc32cImplementation.fallbackReason})`),
    rocksdbAddon: rocksdbAddon(),
    gitCommit: git(['rev-parse', 'HEAD']) ?? 'unknown',
    gitDirty: (git(['status', '--porcelain']) ?? '').length > 0,
  };
}
