// The checkpoint history page end to end: the demo writes a real checkpoint directory, the real
// `flowstate ui` binary serves it, a headless Chromium (Debian's package, driven by
// playwright-core; browsers cannot be downloaded here) loads the page, and what the page shows is
// checked against the files on disk, read with node:fs, not with flowstate's own code.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHROMIUM = process.env['FLOWSTATE_CHROMIUM'] ?? '/usr/bin/chromium';
const DEMO = join(ROOT, 'examples', 'dist', 'runtime-demo.js');
const CLI = join(ROOT, 'packages', 'cli', 'dist', 'src', 'main.js');
/** Where the screenshot goes; `FLOWSTATE_UI_SCREENSHOT=docs/ui-checkpoints.png` refreshes the committed one. */
const SCREENSHOT = process.env['FLOWSTATE_UI_SCREENSHOT'];

const skip = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM} (Debian: apt-get install chromium; scripts/setup.sh installs it)`;

describe('checkpoint history page (flowstate ui, headless Chromium)', { skip }, () => {
  let dir: string;
  let server: ChildProcess | undefined;
  let url: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'flowstate-ui-'));
    const demo = spawnSync(process.execPath, [DEMO, dir], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(demo.status, 0, `demo failed: ${demo.stderr}`);
    server = spawn(process.execPath, [CLI, 'ui', '--checkpoints', join(dir, 'checkpoints'), '--savepoints', join(dir, 'savepoints')], { stdio: ['ignore', 'pipe', 'inherit'] });
    url = await firstLine(server);
  });

  after(() => {
    server?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows every checkpoint of the directory, the latest one\'s files with their sizes on disk, charts, and a savepoint', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
      await page.goto(url);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });

      const onDisk = checkpointIdsOnDisk(join(dir, 'checkpoints'));
      const shown = await page.$$eval('#history tbody tr', (rows) => rows.map((r) => Number(r.getAttribute('data-checkpoint-id'))));
      assert.deepEqual(shown, onDisk, 'one history row per checkpoint directory with _metadata');
      assert.ok(onDisk.length >= 1);

      // The latest checkpoint is selected: every file it lists exists with exactly that size.
      // Small files of native RocksDB checkpoints are kept inline in _metadata: listed, but no file.
      const files = await page.$$eval('#files tbody tr', (rows) => rows.map((r) => ({ path: r.getAttribute('data-path')!, inline: r.getAttribute('data-inline') === 'true', bytes: Number(r.querySelector('[data-bytes]')!.getAttribute('data-bytes')) })));
      assert.ok(files.some((f) => !f.inline), 'the latest checkpoint lists its files');
      for (const f of files) {
        if (f.inline) assert.ok(f.path.startsWith('inline:'), f.path);
        else assert.equal(statSync(join(dir, 'checkpoints', f.path)).size, f.bytes, f.path);
      }
      assert.ok(files.some((f) => f.path.startsWith('shared/')), 'an incremental RocksDB checkpoint references shared files');
      const full = await page.$eval(`#history tr[data-checkpoint-id="${onDisk.at(-1)}"] td:nth-child(10)`, (td) => Number(td.getAttribute('data-bytes')));
      assert.equal(full, files.reduce((a, f) => a + f.bytes, 0), 'full size = the sum of the referenced files and inline bytes');

      // Durations come from the history the runtime persisted next to the checkpoints (_history/,
      // docs/formats.md: a header line, then the entry as one line of JSON).
      const latest = onDisk.at(-1)!;
      const historyFile = readdirSync(join(dir, 'checkpoints', '_history')).filter((n) => n.startsWith(`${String(latest).padStart(12, '0')}-`)).sort().at(-1)!;
      const entry = JSON.parse(readFileSync(join(dir, 'checkpoints', '_history', historyFile), 'utf8').split('\n')[1]!) as { durationMs: number; status: string };
      assert.equal(entry.status, 'COMPLETED');
      const shownMs = await page.$eval(`#history tr[data-checkpoint-id="${latest}"] td:nth-child(5)`, (td) => Number(td.getAttribute('data-ms')));
      assert.equal(shownMs, entry.durationMs, 'duration of the latest checkpoint = its persisted history entry');
      assert.equal(await page.locator('#chart-duration canvas').count(), 1, 'duration chart drawn');

      const subtasks = await page.$$eval('#operators tbody tr', (rows) => rows.length);
      assert.ok(subtasks > 0, 'per-operator and per-subtask breakdown');
      assert.equal(await page.locator('#chart-size canvas').count(), 1, 'size chart drawn');

      await page.click('button[data-savepoint="sp-1"]');
      await page.waitForSelector('[data-testid="savepoint-states"] tbody tr');
      assert.ok((await page.$$('[data-testid="savepoint-states"] tbody tr')).length > 0, 'savepoint inspector lists states');

      await page.screenshot({ path: SCREENSHOT ?? join(dir, 'ui-checkpoints.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});

function checkpointIdsOnDisk(root: string): number[] {
  return readdirSync(root)
    .filter((n) => /^chk-\d+$/.test(n) && existsSync(join(root, n, '_metadata')))
    .map((n) => Number(n.slice(4)))
    .sort((a, b) => a - b);
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolveLine, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolveLine(buf.slice(0, nl).trim());
    });
    child.once('exit', (code) => reject(new Error(`flowstate ui exited with ${code} before printing its URL`)));
  });
}
