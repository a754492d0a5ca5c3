/**
 * Self time per function of V8 CPU profiles (`node --cpu-prof`), most first:
 * `node bench/dist/cpuprofile-top.js FILE.cpuprofile… [--top N] [--all]`. Samples of the idle
 * loop, of module loading and of savepoint-profile.js's own setup (its test data, the removal of
 * its last write) are left out unless `--all`: for that driver, what remains is the work being
 * profiled; for other profiles use `--all` (frames named like that setup would be dropped too).
 * Functions are named `name file:line`.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Not the profiled work: the event loop waiting, module loading and compilation, the driver's test data and its removal of the last write. */
const NOT_THE_WORK = /^\((idle|program)\) |^compile|^(internalModule|realpathSync|randomFillSync|readFileUtf8|unlink|rmdir) |esm\/|cjs\/|modules\/|bootstrap\/realm|savepoint-profile\.js/;

function label(n: ProfileNode): string {
  const f = n.callFrame;
  return `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
}

/** Microseconds of self time per function label, over every profile. */
function selfTimes(files: readonly string[], all: boolean): Map<string, number> {
  const self = new Map<string, number>();
  for (const file of files) {
    const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    p.samples.forEach((id, i) => {
      const k = label(byId.get(id)!);
      if (!all && NOT_THE_WORK.test(k)) return;
      self.set(k, (self.get(k) ?? 0) + (p.timeDeltas[i] ?? 0));
    });
  }
  return self;
}

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args[topAt + 1]) : 10;
const files = args.filter((a, i) => !a.startsWith('--') && (topAt < 0 || i !== topAt + 1));
if (files.length === 0 || !Number.isInteger(top) || top < 1) {
  console.error('usage: cpuprofile-top.js FILE.cpuprofile… [--top N ≥ 1] [--all]');
  process.exit(2);
}
const self = selfTimes(files, args.includes('--all'));
const total = [...self.values()].reduce((a, b) => a + b, 0);
for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
}
console.log(`total ${(total / 1000).toFixed(0)} ms of self time${args.includes('--all') ? '' : ' (idle, module loading and the driver\'s setup left out)'}`);
