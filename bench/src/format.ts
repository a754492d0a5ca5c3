/** Number formatting shared by the report and its goal rows. */
export const MIB = 1024 * 1024;
export const n = (v: number, d = 0) => (Number.isFinite(v) ? v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a');
export const ops = (v: number | null) => (v === null || !Number.isFinite(v) ? 'n/a' : v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)} k` : v.toFixed(0));
export const sizeMb = (b: number) => (b >= 1024 * 1024 ? `${n(b / (1024 * 1024), b < 10 * 1024 * 1024 ? 1 : 0)} MB` : `${n(b / 1024, 0)} KB`);

export const PHASE = { compacted: 'between compactions', 'after-bulk-load': 'after the bulk load, compactions awaited' } as const;
export const BASELINE_NAME = { 'minimal-heap': 'minimal heap backend', 'js-map': 'JS Map', 'rocksdb-raw': 'raw RocksDB', 'rocksdb-cpp': 'plain C++ RocksDB' } as const;
/** A ratio with 2 decimals; 'n/a' where it was not measured (NaN, or null once written to JSON). */
export const x2 = (v: number | null) => (v !== null && Number.isFinite(v) ? v.toFixed(2) : 'n/a');
export const metCell = (ok: boolean) => (ok ? 'met' : '**not met**');
export const pct = (x: number) => `${(x * 100).toFixed(x < 0.1 ? 2 : 1)}%`;
