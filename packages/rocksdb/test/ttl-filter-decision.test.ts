// The TTL compaction filter's decision on single values, byte by byte (the native code compactions
// run, called directly): layouts, the expiry boundary, overflow, and malformed input.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { KvTtlLayout } from '@flowstate/core';
import { RocksDBError, ttlFilterDecisionForTest, ttlFilterSequenceForTest, type TtlFilterVerdict } from '@flowstate/rocksdb/native';
import { ttlList, ttlMapValue, ttlValue } from './ttl-values.js';

const TTL = 100;
const cfg = (layout: KvTtlLayout['layout']): KvTtlLayout => ({ layout, ttlMs: TTL, timeCharacteristic: 'ProcessingTime' });
const decide = (layout: KvTtlLayout['layout'], now: number, value: Uint8Array, mergeOperand = false): TtlFilterVerdict =>
  ttlFilterDecisionForTest(cfg(layout), now, value, mergeOperand);
const verdict = (layout: KvTtlLayout['layout'], now: number, value: Uint8Array, mergeOperand = false): string => decide(layout, now, value, mergeOperand).verdict;
const I64_MAX = 9223372036854775807n;

describe('TTL compaction filter decision', () => {
  it('VALUE: expired exactly when ts + ttl <= now', () => {
    assert.equal(verdict('VALUE', 1099, ttlValue(1000, 'v')), 'keep');
    assert.equal(verdict('VALUE', 1100, ttlValue(1000, 'v')), 'remove');
    assert.equal(verdict('VALUE', 5000, ttlValue(1000, '')), 'remove', 'an empty serialized value still has its timestamp');
    assert.equal(verdict('VALUE', -50, ttlValue(-200, 'v')), 'remove', 'negative timestamps (event time) compare as numbers');
  });

  it('MAP: the timestamp follows the presence byte; a null user value expires too', () => {
    assert.equal(verdict('MAP', 1099, ttlMapValue(1000, 'v')), 'keep');
    assert.equal(verdict('MAP', 1100, ttlMapValue(1000, 'v')), 'remove');
    assert.equal(verdict('MAP', 1100, ttlMapValue(1000, null)), 'remove');
    // Read at offset 0 (the VALUE layout) the same bytes give another timestamp: the layout matters.
    assert.equal(verdict('VALUE', 1100, ttlMapValue(1000, 'v')), 'keep');
  });

  it('LIST: expired elements are dropped wherever they are, the rest kept byte for byte', () => {
    const value = ttlList([1000, 'old-a'], [5000, 'new-a'], [1000, 'old-b'], [6000, 'new-b']);
    const d = decide('LIST', 2000, value);
    assert.equal(d.verdict, 'rewrite');
    assert.deepEqual(Buffer.from((d as { value: Uint8Array }).value), ttlList([5000, 'new-a'], [6000, 'new-b']));
    assert.equal(verdict('LIST', 2000, ttlList([1000, 'a'], [1099, 'b'])), 'remove', 'no element left: the entry goes');
    assert.equal(verdict('LIST', 2000, ttlList([5000, 'a'], [1901, ''])), 'keep', 'nothing expired: unchanged');
  });

  it('LIST merge operands are filtered like values; VALUE and MAP operands are never touched', () => {
    assert.equal(verdict('LIST', 2000, ttlList([1000, 'a']), true), 'remove');
    assert.equal(decide('LIST', 2000, ttlList([1000, 'a'], [3000, 'b']), true).verdict, 'rewrite');
    assert.equal(verdict('VALUE', 2000, ttlValue(1000, 'v'), true), 'keep');
    assert.equal(verdict('MAP', 2000, ttlMapValue(1000, 'v'), true), 'keep');
  });

  it('a timestamp near i64 max never expires (ts + ttl overflows), as in Flink', () => {
    const ts = Buffer.alloc(8);
    ts.writeBigInt64BE(I64_MAX - 10n);
    assert.equal(verdict('VALUE', Number.MAX_SAFE_INTEGER, Buffer.concat([ts, Buffer.from('v')])), 'keep');
    // setTtlTime saturates huge times instead of wrapping: a far-future time expires normal entries.
    assert.equal(verdict('VALUE', 1e300, ttlValue(1000, 'v')), 'remove');
    assert.equal(verdict('VALUE', -Infinity, ttlValue(-1e15, 'v')), 'keep');
  });

  it('malformed values are kept untouched, never dropped', () => {
    const longAgo = 10_000_000;
    assert.equal(verdict('VALUE', longAgo, Buffer.alloc(7)), 'keep', 'VALUE shorter than a timestamp');
    assert.equal(verdict('MAP', longAgo, Buffer.alloc(9, 1)), 'keep', 'MAP shorter than presence + ts + presence');
    assert.equal(verdict('MAP', longAgo, Buffer.concat([Buffer.from([0]), ttlValue(1, 'xx')])), 'keep', 'MAP with presence byte 0');
    const list = ttlList([1, 'a'], [2, 'b']);
    assert.equal(verdict('LIST', longAgo, list.subarray(0, list.length - 1)), 'keep', 'last frame truncated');
    assert.equal(verdict('LIST', longAgo, Buffer.concat([list, Buffer.from([0, 0])])), 'keep', 'trailing bytes shorter than a length');
    const short = Buffer.from(list);
    short.writeUInt32BE(7, 0);
    assert.equal(verdict('LIST', longAgo, short), 'keep', 'frame length below the timestamp size');
    const huge = Buffer.from(list);
    huge.writeUInt32BE(0xffffffff, 0);
    assert.equal(verdict('LIST', longAgo, huge), 'keep', 'frame length beyond the value');
    assert.equal(verdict('LIST', longAgo, Buffer.alloc(0)), 'keep', 'empty list value');
  });

  it('a filter reads the TTL time when it starts and again every queryTimeAfterNumEntries entries', () => {
    // Every value expires at 1100; the time jumps past that just before the second entry.
    const entries = Array.from({ length: 7 }, (_, i) => ({ value: ttlValue(1000, 'v'), time: i === 0 ? 1000 : 5000 }));
    assert.deepEqual(ttlFilterSequenceForTest({ ...cfg('VALUE'), queryTimeAfterNumEntries: 3 }, entries), ['keep', 'keep', 'keep', 'remove', 'remove', 'remove', 'remove'], 'the new time is seen from entry 3 on');
    assert.deepEqual(ttlFilterSequenceForTest({ ...cfg('VALUE'), queryTimeAfterNumEntries: 1 }, entries), ['keep', 'remove', 'remove', 'remove', 'remove', 'remove', 'remove']);
    assert.deepEqual(ttlFilterSequenceForTest(cfg('VALUE'), entries), Array(7).fill('keep'), 'default 1000: not within 7 entries');
  });

  it('rejects a bad configuration with ROCKSDB_INVALID_ARGUMENT', () => {
    const bad = [
      { layout: 'SET', ttlMs: 1, timeCharacteristic: 'ProcessingTime' },
      { layout: 'VALUE', ttlMs: 0, timeCharacteristic: 'ProcessingTime' },
      { layout: 'VALUE', ttlMs: 1.5, timeCharacteristic: 'ProcessingTime' },
      { layout: 'VALUE', ttlMs: 1, timeCharacteristic: 'IngestionTime' },
      { layout: 'VALUE', ttlMs: 1, timeCharacteristic: 'ProcessingTime', queryTimeAfterNumEntries: 0 },
    ] as unknown as KvTtlLayout[];
    for (const c of bad) {
      assert.throws(() => ttlFilterDecisionForTest(c, 0, ttlValue(0, 'v')), (e) => e instanceof RocksDBError && e.code === 'ROCKSDB_INVALID_ARGUMENT', JSON.stringify(c));
    }
    assert.throws(() => ttlFilterDecisionForTest(cfg('VALUE'), Number.NaN, ttlValue(0, 'v')), (e) => e instanceof RocksDBError && e.code === 'ROCKSDB_INVALID_ARGUMENT');
  });
});
