/** The report section of the RocksDB TTL compaction-filter suite (ttl-compaction.ts). */
import type { TtlCompactionRow } from './ttl-compaction.js';

export type { TtlCompactionRow };

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
const mb = (b: number) => `${(b / (1024 * 1024)).toFixed(1)} MB`;

export function ttlCompactionSection(rows: readonly TtlCompactionRow[]): string[] {
  if (rows.length === 0) return [];
  const out: string[] = [];
  out.push('## RocksDB TTL compaction filter');
  out.push('');
  out.push(`Cost of the native TTL compaction filter on compaction time: per value layout and share of expired data, two databases get the same bytes (${rows[0]!.entries.toLocaleString('en-US')} entries per layout, written in 3 overlapping L0 files; LIST: 4 elements put, 4 appended as merge operands in a second file); one key space has the filter, the other not. Both are compacted the same way (every level into the bottommost, then the bottommost rewritten: RocksDBKeySpace.compact() of a TTL'd space). 0% expired = the filter parses every value and drops nothing (its pure cost); 50% = it drops half the entries, or rewrites every list without half of its elements. One sample = one compaction of a freshly written database; the two sides' samples interleave in one process. Ratio = median with filter / median without, same run, in wall time and in process CPU time (all threads; the compaction runs on RocksDB's thread, and CPU time is less sensitive to other load on the machine). No goal in the issue: reported only.`);
  out.push('');
  out.push('| Layout | Expired | Written | With filter ms (p25–p75) | Without ms (p25–p75) | Wall ratio | CPU ms with / without | CPU ratio | SST entries after (filter / plain) | SST bytes after (filter / plain) |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    out.push(`| ${r.layout} | ${r.expiredFraction * 100}% | ${mb(r.bytesWritten)} | ${ms(r.filterMs.median)} (${ms(r.filterMs.p25)}–${ms(r.filterMs.p75)}) | ${ms(r.plainMs.median)} (${ms(r.plainMs.p25)}–${ms(r.plainMs.p75)}) | ${r.ratio.toFixed(2)}× | ${ms(r.filterCpuMs.median)} / ${ms(r.plainCpuMs.median)} | ${r.cpuRatio.toFixed(2)}× | ${r.after.filter.entries.toLocaleString('en-US')} / ${r.after.plain.entries.toLocaleString('en-US')} | ${mb(r.after.filter.bytes)} / ${mb(r.after.plain.bytes)} |`);
  }
  out.push('');
  return out;
}
