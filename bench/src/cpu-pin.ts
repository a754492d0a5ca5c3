/**
 * Pins every thread of this process (and a child started through `pinnedCommand`, all of its
 * threads) to one CPU, for a comparison whose two sides run in two processes (the binding vs plain
 * C++ RocksDB): each side's RocksDB background threads and, here, V8's helper threads count in its
 * process CPU time, so both processes are pinned whole.
 *
 * Why: each side is timed on its own process's CPU time, and a process tends to stay on the CPU it
 * last ran on. The binding's ratio to plain C++ ranged 0.38–1.43 between runs of the same code
 * while each run's rounds agreed closely (p25–p75 within about ±15%): something held for a whole
 * process pair. A likely cause, not proven: in a VM whose host does not report stolen time (this
 * machine's /proc/stat shows none), time the host takes from a virtual CPU counts as CPU time of
 * whatever ran on it, so two processes on two virtual CPUs are timed on two different clocks. On
 * one CPU, alternating in rounds of a few milliseconds, whatever slows that CPU falls on both
 * sides, as it does for the heap rows, whose sides share a thread.
 *
 * Linux only, through util-linux's `taskset`; elsewhere (or without taskset) nothing is pinned and
 * the reason is returned for the log. `restore()` gives every thread of this process the CPUs the
 * main thread had before, threads started while pinned included.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Pinned {
  readonly cpu: number;
  /** `command args` run on `cpu` only (every thread of the child). */
  pinnedCommand(command: string, args: readonly string[]): [string, string[]];
  /** Gives every thread of this process (those started while pinned too) the CPUs the main thread had before. */
  restore(): void;
}

/** The CPU the calling thread runs on now (field 39 of /proc/thread-self/stat), or undefined. */
export function currentCpu(): number | undefined {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count from its closing one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpu = Number(fields[39 - 3]);
    return Number.isInteger(cpu) ? cpu : undefined;
  } catch {
    return undefined;
  }
}

/** The CPUs the main thread may run on, as taskset prints them (a list such as `0-1`). */
function allowedCpus(): string {
  const out = execFileSync('taskset', ['-c', '-p', String(process.pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const list = out.slice(out.lastIndexOf(':') + 1).trim();
  if (!/^[0-9,-]+$/.test(list)) throw new Error(`unexpected taskset output '${out.trim()}'`);
  return list;
}

/** Every thread of this process on `cpus` (a taskset list such as `0-1` or `1`). */
function setProcessCpus(cpus: string): void {
  execFileSync('taskset', ['-a', '-c', '-p', cpus, String(process.pid)], { stdio: 'ignore' });
}

/** Pins every thread of this process to the CPU the main thread is on now; the reason when it cannot. */
export function pinProcess(): Pinned | { skipped: string } {
  if (process.platform !== 'linux') return { skipped: `not pinned: ${process.platform} (taskset is Linux only)` };
  const cpu = currentCpu();
  if (cpu === undefined) return { skipped: 'not pinned: /proc/thread-self/stat unreadable' };
  let before: string;
  try {
    before = allowedCpus();
    setProcessCpus(String(cpu));
  } catch (e) {
    return { skipped: `not pinned: taskset failed (${e instanceof Error ? e.message.split('\n')[0] : String(e)})` };
  }
  return {
    cpu,
    pinnedCommand: (command, args) => ['taskset', ['-c', String(cpu), command, ...args]],
    restore: () => setProcessCpus(before),
  };
}
