import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { crc32c as nodeRsCrc32c } from '@node-rs/crc32';
import { crc32c, crc32cImplementation, crc32cRanges } from '../src/index.js';

const PKG_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SSE42 = process.arch === 'x64' && process.platform === 'linux' && /\bsse4_2\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
const NM = spawnSync('nm', ['--version']).status === 0;
const NO_SSE42 = 'needs Linux on x86-64 with SSE4.2 (the addon falls back to @node-rs/crc32 elsewhere)';

/** xorshift32 (core has a seeded PRNG too, but core depends on this package): the same inputs every run. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function randomBytes(random: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (random() * 256) | 0;
  return out;
}

/** The implementation a child process with `env` chooses (index.js at `entry`), its CRC32C of '123456789', and its stderr. */
function inChild(env: NodeJS.ProcessEnv, entry = fileURLToPath(new URL('../src/index.js', import.meta.url))): ChildResult & { stderr: string } {
  // Also crc32cRanges over the same bytes in three ranges (one empty), and what bounds past the end throw.
  const script = `import { crc32c, crc32cImplementation, crc32cRanges } from ${JSON.stringify(new URL(`file://${entry}`).href)};
    const bytes = new TextEncoder().encode('123456789');
    let badBounds = 'nothing';
    try { crc32cRanges(bytes, Float64Array.of(0, 10)); } catch (e) { badBounds = e.name; }
    const ranges = [...(await crc32cRanges(bytes, Float64Array.of(0, 4, 4, 9)))];
    console.log(JSON.stringify({ impl: crc32cImplementation, crc: crc32c(bytes), ranges, badBounds }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(r.status, 0, r.stderr);
  return { ...(JSON.parse(r.stdout) as ChildResult), stderr: r.stderr };
}

interface ChildResult {
  impl: { name: string; fallbackReason?: string; file?: string };
  crc: number;
  ranges: number[];
  badBounds: string;
}

/** What inChild's crc32cRanges must give: '1234', '', '56789'. */
function expectedChildRanges(): number[] {
  const bytes = new TextEncoder().encode('123456789');
  return [reference(bytes.subarray(0, 4), 0), 0, reference(bytes.subarray(4), 0)];
}

const reference = (bytes: Uint8Array, previous: number): number => nodeRsCrc32c(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), previous) >>> 0;

describe('crc32c', () => {
  it('gives the published CRC32C test vectors (RFC 3720, B.4)', () => {
    assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
    assert.equal(crc32c(new Uint8Array(0), 1234), 1234);
  });

  it('equals @node-rs/crc32 on lengths around every lane boundary, at unaligned offsets, continuing a previous value', () => {
    const random = prng(16);
    const pool = randomBytes(random, 3 * 4096 * 3 + 64);
    // The addon interleaves three lanes of 4096 and of 256 bytes, then finishes 8 and 1 bytes at a time.
    const boundaries = [0, 1, 7, 8, 9, 3 * 256 - 1, 3 * 256, 3 * 256 + 1, 3 * 4096 - 1, 3 * 4096, 3 * 4096 + 1, 2 * 3 * 4096 + 3 * 256 + 7];
    for (const length of boundaries) {
      for (const offset of [0, 1, 3, 5]) {
        const bytes = pool.subarray(offset, offset + length);
        const previous = (random() * 2 ** 32) >>> 0;
        assert.equal(crc32c(bytes, previous), reference(bytes, previous), `length ${length}, offset ${offset}`);
        assert.equal(crc32c(bytes), reference(bytes, 0), `length ${length}, offset ${offset}, from 0`);
      }
    }
    for (let i = 0; i < 2000; i++) {
      const length = Math.floor(random() * 2 ** (random() * 15));
      const offset = Math.floor(random() * 64);
      const bytes = pool.subarray(offset, offset + length);
      assert.equal(crc32c(bytes, i), reference(bytes, i), `length ${length}, offset ${offset}`);
    }
  });

  it('continues across chunks exactly as over the whole (8 MiB in uneven chunks)', () => {
    const random = prng(7);
    const whole = randomBytes(random, 8 << 20);
    let running = 0;
    for (let at = 0; at < whole.length; ) {
      const n = Math.min(whole.length - at, 1 + Math.floor(random() * 300_000));
      running = crc32c(whole.subarray(at, at + n), running);
      at += n;
    }
    assert.equal(running, crc32c(whole));
    assert.equal(running, reference(whole, 0));
  });

  it('reads a pooled Buffer at its own offset, as a plain Uint8Array', () => {
    // Small Buffers share one pool: byteOffset is not 0, and the pool's other bytes must not count.
    Buffer.alloc(1);
    const pooled = Buffer.from(Uint8Array.from({ length: 3000 }, (_, i) => (i * 31) & 0xff));
    assert.notEqual(pooled.byteOffset, 0, 'the test needs a Buffer from the pool');
    const plain = new Uint8Array(pooled);
    assert.equal(crc32c(pooled), reference(plain, 0));
    assert.equal(crc32c(plain, 7), reference(plain, 7));
  });

  it('crc32cRanges gives the CRC32C of each range: empty ones, unaligned ones, around lane boundaries, of a pooled Buffer', async () => {
    const random = prng(21);
    const pool = randomBytes(random, 200_000);
    const bounds = [0, 0, 1, 8, 8, 3 * 256 + 9, 3 * 4096 + 3 * 256 + 9];
    while (bounds.at(-1)! < pool.length - 1) bounds.push(Math.min(pool.length - 1, bounds.at(-1)! + Math.floor(random() * 20_000)));
    const data = pool.subarray(1);
    const crcs = await crc32cRanges(data, Float64Array.from(bounds));
    assert.ok(crcs instanceof Uint32Array);
    assert.equal(crcs.length, bounds.length - 1);
    for (let k = 0; k + 1 < bounds.length; k++) assert.equal(crcs[k], reference(data.subarray(bounds[k], bounds[k + 1]), 0), `range ${k}`);
    assert.deepEqual([...(await crc32cRanges(data, Float64Array.of(5)))], [], 'one bound: no range');
    Buffer.alloc(1);
    const pooled = Buffer.from(pool.subarray(0, 3000));
    assert.notEqual(pooled.byteOffset, 0, 'the test needs a Buffer from the pool');
    assert.deepEqual([...(await crc32cRanges(pooled, Float64Array.of(0, 3000)))], [reference(pool.subarray(0, 3000), 0)]);
  });

  it('crc32cRanges keeps what a call needs alive: 24 calls of 4 MiB at once, their inputs otherwise unreferenced, the GC running after each', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const random = prng(33);
    const expected: number[][] = [];
    const pending: Array<Promise<Uint32Array>> = [];
    for (let i = 0; i < 24; i++) {
      const data = randomBytes(random, (4 << 20) - Math.floor(random() * 1000));
      const cut = Math.floor(random() * data.length);
      expected.push([reference(data.subarray(0, cut), 0), reference(data.subarray(cut), 0)]);
      pending.push(crc32cRanges(data, Float64Array.of(0, cut, data.length)));
      gc();
    }
    const got = await Promise.all(pending);
    for (let i = 0; i < got.length; i++) assert.deepEqual([...got[i]!], expected[i], `call ${i}`);
  });

  it('crc32cRanges with the addon returns before it computes: its promise settles only after an event-loop turn', { skip: crc32cImplementation.rangesOnPool ? false : 'crc32cRanges computes on the calling thread here (the fallback)' }, async () => {
    const data = randomBytes(prng(5), 1 << 20);
    let settled = false;
    const p = crc32cRanges(data, Float64Array.of(0, data.length));
    void p.then(() => (settled = true));
    // A promise the call resolved itself would settle within these microtasks; the pool's completion cannot.
    for (let i = 0; i < 20; i++) await null;
    assert.equal(settled, false);
    assert.deepEqual([...(await p)], [reference(data, 0)]);
  });

  it('crc32cRanges throws a TypeError for bounds that are not ascending whole numbers within the bytes (a programmer error)', () => {
    const bytes = new Uint8Array(10);
    for (const bad of [Float64Array.of(), Float64Array.of(0, 11), Float64Array.of(-1, 2), Float64Array.of(0, 2.5), Float64Array.of(4, 2), Float64Array.of(Number.NaN)]) {
      assert.throws(() => crc32cRanges(bytes, bad), TypeError, `bounds ${[...bad].join(', ')}`);
    }
    assert.throws(() => crc32cRanges(bytes, [0, 2] as unknown as Float64Array), TypeError, 'an array');
    assert.throws(() => crc32cRanges('0123456789' as unknown as Uint8Array, Float64Array.of(0, 2)), TypeError, 'a string');
    assert.throws(() => crc32cRanges(new Uint16Array(10) as unknown as Uint8Array, Float64Array.of(0, 2)), TypeError, 'a Uint16Array');
  });
});

describe('crc32c implementation', () => {
  it('uses the three-lane addon on x86-64 with SSE4.2', { skip: SSE42 ? false : NO_SSE42 }, () => {
    assert.equal(crc32cImplementation.name, 'sse4.2-three-lanes', `fallback: ${crc32cImplementation.fallbackReason}`);
    assert.equal(crc32cImplementation.fallbackReason, undefined);
  });

  it('falls back to @node-rs/crc32 when FLOWSTATE_CRC32C asks for it, with the same values', () => {
    const out = inChild({ FLOWSTATE_CRC32C: '@node-rs/crc32' });
    assert.equal(out.impl.name, '@node-rs/crc32');
    assert.match(out.impl.fallbackReason!, /FLOWSTATE_CRC32C/);
    assert.equal(out.crc, 0xe3069283);
    assert.deepEqual(out.ranges, expectedChildRanges());
    assert.equal(out.badBounds, 'TypeError');
  });

  it('warns about an unknown FLOWSTATE_CRC32C value and ignores it', () => {
    const out = inChild({ FLOWSTATE_CRC32C: 'node-rs' });
    assert.match(out.stderr, /FLOWSTATE_CRC32C_UNKNOWN/);
    if (SSE42) assert.equal(out.impl.name, 'sse4.2-three-lanes');
    assert.equal(out.crc, 0xe3069283);
  });

  it('tries the prebuilt addon when a build in build/Release does not load', { skip: SSE42 ? false : NO_SSE42 }, (t) => {
    // The package's layout in a scratch directory: a broken build/Release, the real prebuilt one.
    const root = mkdtempSync(join(tmpdir(), 'flowstate-crc32c-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    mkdirSync(join(root, 'dist', 'src'), { recursive: true });
    copyFileSync(fileURLToPath(new URL('../src/index.js', import.meta.url)), join(root, 'dist', 'src', 'index.js'));
    writeFileSync(join(root, 'package.json'), '{"type":"module"}');
    mkdirSync(join(root, 'build', 'Release'), { recursive: true });
    writeFileSync(join(root, 'build', 'Release', 'flowstate_crc32c.node'), 'not a shared object');
    mkdirSync(join(root, 'prebuilds', 'linux-x64'), { recursive: true });
    copyFileSync(`${PKG_ROOT}prebuilds/linux-x64/flowstate_crc32c.node`, join(root, 'prebuilds', 'linux-x64', 'flowstate_crc32c.node'));
    symlinkSync(fileURLToPath(new URL('../../../../node_modules', import.meta.url)), join(root, 'node_modules'));
    const out = inChild({}, join(root, 'dist', 'src', 'index.js'));
    assert.equal(out.impl.name, 'sse4.2-three-lanes');
    assert.equal(out.impl.file, join(root, 'prebuilds', 'linux-x64', 'flowstate_crc32c.node'));
    assert.equal(out.crc, 0xe3069283);
    assert.deepEqual(out.ranges, expectedChildRanges());
    assert.equal(out.badBounds, 'TypeError');
  });

  it('throws a TypeError when the addon is called with something other than bytes (a programmer error)', { skip: SSE42 ? false : NO_SSE42 }, () => {
    const addon = createRequire(import.meta.url)(crc32cImplementation.file!) as { crc32c: (b: unknown, p: unknown) => number };
    assert.throws(() => addon.crc32c('123456789', 0), TypeError);
    assert.throws(() => addon.crc32c(new Uint16Array(4), 0), TypeError);
    assert.throws(() => addon.crc32c(new Uint8Array(4), 'x'), TypeError);
  });
});

describe('crc32c prebuilt addon', () => {
  const dir = `${PKG_ROOT}prebuilds/linux-x64/`;

  it('was built from exactly the sources in native/ (else rebuild it: node scripts/build-native.mjs --prebuild)', async () => {
    const { nativeSourceHash } = (await import(new URL('../../scripts/native-source-hash.mjs', import.meta.url).href)) as { nativeSourceHash: (root: string) => string };
    const info = JSON.parse(readFileSync(`${dir}BUILD_INFO.json`, 'utf8')) as { sourceHash: string };
    assert.equal(info.sourceHash, nativeSourceHash(PKG_ROOT));
  });

  it('imports nothing but Node-API: no libc symbol, so one binary serves any Linux x86-64', { skip: NM ? false : 'needs nm (binutils) to list the binary\'s dynamic symbols' }, () => {
    const r = spawnSync('nm', ['-D', '--undefined-only', `${dir}flowstate_crc32c.node`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    // Weak ones (w) are the toolchain's optional hooks; strong undefined ones (U) must all be Node-API.
    const imports = r.stdout.split('\n').filter((l) => /^\s+U /.test(l)).map((l) => l.trim().slice(2));
    assert.ok(imports.length > 0, r.stdout);
    assert.deepEqual(imports.filter((name) => !name.startsWith('napi_')), []);
  });

  it('loads on its own and computes the same values (what an installed package without a build uses)', { skip: SSE42 ? false : NO_SSE42 }, async () => {
    const addon = createRequire(import.meta.url)(`${dir}flowstate_crc32c.node`) as { accelerated: boolean; crc32c: (b: Uint8Array, p: number) => number; crc32cRanges: (b: Uint8Array, bounds: Float64Array) => Promise<Uint32Array> };
    assert.equal(addon.accelerated, true);
    const bytes = randomBytes(prng(3), 100_000);
    assert.equal(addon.crc32c(bytes, 99), reference(bytes, 99));
    assert.deepEqual([...(await addon.crc32cRanges(bytes, Float64Array.of(0, 7, 100_000)))], [reference(bytes.subarray(0, 7), 0), reference(bytes.subarray(7), 0)]);
  });
});
