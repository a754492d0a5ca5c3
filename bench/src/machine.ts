import { execFileSync } from 'node:child_process';
import { arch, cpus, platform, release, totalmem } from 'node:os';
import { crc32cImplementation } from '@flowstate/core';

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
    gitCommit: git(['rev-parse', 'HEAD']) ?? 'unknown',
    gitDirty: (git(['status', '--porcelain']) ?? '').length > 0,
  };
}
