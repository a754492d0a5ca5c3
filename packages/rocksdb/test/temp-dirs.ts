import { Serializers, ValueStateDescriptor } from '@flowstate/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** A maker of named temp directories that are all removed after the calling test file's tests. */
export function tempDirs(): (name: string) => string {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  return (name) => {
    const d = mkdtempSync(join(tmpdir(), `flowstate-${name}-`));
    dirs.push(d);
    return d;
  };
}

/** The int32 counter value state (default 0) the RocksDB tests write. */
export const COUNT = new ValueStateDescriptor<number>('count', Serializers.int32, 0);
