/**
 * Per-job wall and CPU time of the bench's child processes, so the report can say where the
 * quick preset's wall time goes (issue 16: < 300 s) and, on a shared machine, how much of it
 * was our own CPU rather than waiting for neighbours.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface JobTime {
  /** The suite the job belongs to (the memory suite runs 'memory' and 'rss' jobs). */
  readonly suite: string;
  /** Job type plus what distinguishes it: backend, state kind, state size. */
  readonly job: string;
  readonly wallMs: number;
  /** CPU time (user + system) of the child and every process it waited for; null where /proc is missing. */
  readonly cpuMs: number | null;
}

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/**
 * CPU time of this process's waited-for children (cutime + cstime of /proc/self/stat, which
 * include their own waited-for children: cp, g++, s3rver), in ms; null off Linux.
 */
function waitedChildrenCpuMs(): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the command name (which may contain spaces) start at field 3; cutime and cstime are fields 16 and 17.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[13]) + Number(f[14])) * 1000) / clockTicks();
  } catch {
    return null;
  }
}

/** Times `run` (a synchronous child-process job) in wall time and the children's CPU time. */
export function timeJob<T>(suite: string, job: string, run: () => T, into: JobTime[]): T {
  const cpu0 = waitedChildrenCpuMs();
  const t0 = performance.now();
  const result = run();
  const cpu1 = waitedChildrenCpuMs();
  into.push({ suite, job, wallMs: performance.now() - t0, cpuMs: cpu0 === null || cpu1 === null ? null : cpu1 - cpu0 });
  return result;
}

export interface SuiteTime {
  readonly suite: string;
  readonly jobs: number;
  readonly wallMs: number;
  readonly cpuMs: number | null;
}

/** Sums the jobs per suite, in the order the suites ran. */
export function suiteTimes(jobs: readonly JobTime[]): SuiteTime[] {
  const bySuite = new Map<string, { jobs: number; wallMs: number; cpuMs: number | null }>();
  for (const j of jobs) {
    const s = bySuite.get(j.suite) ?? { jobs: 0, wallMs: 0, cpuMs: 0 };
    s.jobs += 1;
    s.wallMs += j.wallMs;
    s.cpuMs = s.cpuMs === null || j.cpuMs === null ? null : s.cpuMs + j.cpuMs;
    bySuite.set(j.suite, s);
  }
  return [...bySuite].map(([suite, s]) => ({ suite, ...s }));
}
