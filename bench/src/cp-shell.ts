/**
 * Runs the `cp` baselines in one long-lived `sh`, started once, instead of spawning a child per
 * sample. Every spawn forks the bench process, and after a fork the kernel write-protects the
 * parent's pages: the next operation pays one page fault for each page it writes (copy on write,
 * even once the child has exec'd). A per-sample spawn so charged the operation timed right after
 * `cp` (the copied savepoint read: 64 MiB of copies, ~16,000 faults, about twice its time) and
 * not the others (issue 16, session 10).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';

/** A shell word for a path: single-quoted (the bench's own temporary paths). */
function quote(path: string): string {
  if (path.includes("'")) throw new Error(`cp-shell: path with a quote: ${path}`);
  return `'${path}'`;
}

export class CpShell {
  private readonly sh: ChildProcessByStdio<Writable, Readable, null>;
  private pending: { resolve: (line: string) => void; reject: (e: Error) => void } | undefined;
  private out = '';
  private failed: Error | undefined;

  constructor() {
    this.sh = spawn('sh', [], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.sh.stdout.setEncoding('utf8');
    this.sh.stdout.on('data', (d: string) => {
      this.out += d;
      const nl = this.out.indexOf('\n');
      if (nl < 0) return;
      const line = this.out.slice(0, nl);
      this.out = this.out.slice(nl + 1);
      const p = this.pending;
      this.pending = undefined;
      p?.resolve(line);
    });
    // A shell that died, or could not start, would otherwise leave its caller waiting forever.
    this.sh.on('exit', (code, signal) => this.fail(new Error(`cp-shell: sh exited (${code ?? signal})`)));
    this.sh.on('error', (e) => this.fail(e));
    this.sh.stdin.on('error', (e) => this.fail(e));
  }

  /** The shell is unusable: the waiting copy and every later one reject with `e`. */
  private fail(e: Error): void {
    this.failed ??= e;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(e);
  }

  /** `cp from to` (and `sync to` with `sync`) in the shell; resolves when it is done, rejects on a non-zero status. */
  async cp(from: string, to: string, sync = false): Promise<void> {
    const cmd = `cp ${quote(from)} ${quote(to)}${sync ? ` && sync ${quote(to)}` : ''}; echo "status $?"\n`;
    const line = await new Promise<string>((resolve, reject) => {
      if (this.failed !== undefined) return reject(this.failed);
      // One copy at a time: the shell's replies are matched to calls by order.
      if (this.pending !== undefined) return reject(new Error('cp-shell: a copy is already running'));
      this.pending = { resolve, reject };
      this.sh.stdin.write(cmd);
    });
    if (line !== 'status 0') throw new Error(`cp-shell: '${cmd.trim()}' ended with ${line}`);
  }

  close(): void {
    this.sh.stdin.end();
  }
}

const MIB = 1024 * 1024;

/**
 * A source file for the `cp` baselines: `bytes` bytes at `path`, one random MiB repeated,
 * fsynced (its dirty pages would otherwise be written back while the next samples run).
 */
export function syncedRandomFile(path: string, bytes: number): void {
  const chunk = randomBytes(MIB);
  const fd = openSync(path, 'w');
  try {
    for (let left = bytes; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(left, chunk.length));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
