#!/usr/bin/env node
// Regenerates the committed format fixtures from a fixed seed, fixed timestamp and seeded file
// names, so that running it twice yields identical bytes. Build first: npx tsc -b packages/savepoint
// Usage: node packages/savepoint/scripts/make-fixtures.mjs [output-dir]
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { writeFixture, FIXTURE_SEED } from '../dist/test/fixture-data.js';

const out = process.argv[2] ?? fileURLToPath(new URL('../test/fixtures/v1', import.meta.url));
rmSync(out, { recursive: true, force: true });
const r = await writeFixture(out);
console.log(`wrote format v${r.formatVersion} fixture (seed ${FIXTURE_SEED}) to ${r.directory}: ${r.metadata.operators.map((o) => o.uid).join(', ')}`);
