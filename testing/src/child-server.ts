/**
 * Runs a test server in a child Node process that prints one JSON line when it listens and exits
 * when its stdin closes (so it cannot outlive the caller). Benchmarks use this so that the server
 * does not share the measuring process's event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ChildServer {
  /** The JSON object the child printed once ready. */
  readonly info: Record<string, unknown>;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;

export async function startChildServer(name: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<ChildServer> {
  const child = spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => void (stderr += d));
  const stop = async () => stopChild(child);
  try {
    const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`${name} did not start within ${START_TIMEOUT_MS / 1000} s: ${stderr}`)), START_TIMEOUT_MS);
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const nl = out.indexOf('\n');
        if (nl < 0) return;
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, nl)) as Record<string, unknown>);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code} before listening: ${stderr}`));
      });
    });
    return { info, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}
