/** docs/configuration.md describes every key and every deprecated spelling flowstate reads. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ALL_OPTIONS } from '../src/index.js';

test('docs/configuration.md names every key, its deprecated spellings and its default', () => {
  const doc = readFileSync(new URL('../../../../docs/configuration.md', import.meta.url), 'utf8');
  for (const o of ALL_OPTIONS) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${o.key}\``));
    assert.ok(row, `no table row for ${o.key}`);
    for (const k of o.deprecatedKeys) assert.ok(row.includes(`\`${k}\``), `${o.key}: deprecated key ${k} missing from its row`);
    const cells = row.split(' | ');
    assert.equal(cells[1], o.type.replace('<', '&lt;').replace('>', '&gt;'), `${o.key}: type`);
    // Options without a default say '(none...)'; the others print it as Flink does ('10 min', '8 mb').
    if (o.defaultValue === undefined) assert.match(cells[2]!, /^\(none/, `${o.key}: default`);
    else assert.ok(cells[2]!.startsWith(o.defaultText), `${o.key}: default '${cells[2]}' is not '${o.defaultText}'`);
  }
});
