// State TTL cleanup during compaction: a CompactionFilter that reads the
// last-access timestamps core writes into TTL'd values (KvTtlLayout in
// packages/core/src/state/ttl.ts) and drops expired entries, or expired list
// elements. Modelled on FRocksDB's FlinkCompactionFilter; see
// docs/rocksdb-ttl-compaction-filter.md.
//
// Threading: the factory is shared by every column family of one DB and is
// called from RocksDB's compaction threads; it copies the column family's
// config out of the registry (under a mutex) into a new filter per
// (sub)compaction, so a filter is used by one thread only and needs no locks.
// The current time is an atomic the JS thread writes (setTtlTime).
#pragma once

#include <rocksdb/compaction_filter.h>
#include <rocksdb/slice.h>

#include <atomic>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace flowstate {

enum class TtlLayout : uint8_t { kValue, kList, kMap };

// How the values of one column family carry their timestamps.
struct TtlFilterConfig {
  TtlLayout layout = TtlLayout::kValue;
  int64_t ttl_ms = 0;       // > 0
  bool event_time = false;  // compare against the watermark set by setTtlTime only
  // Entries a filter processes before it reads the current time again (>= 1).
  uint32_t query_time_after_num_entries = 1000;
};

// Per database: which column families are filtered, and the current TTL time.
class TtlRegistry {
 public:
  void Configure(uint32_t cf_id, const TtlFilterConfig& config);
  void Remove(uint32_t cf_id);
  bool Lookup(uint32_t cf_id, TtlFilterConfig* out) const;
  bool Has(uint32_t cf_id) const {
    TtlFilterConfig unused;
    return Lookup(cf_id, &unused);
  }
  void SetTime(int64_t ms) { time_.store(ms == kUnset ? kUnset + 1 : ms, std::memory_order_release); }
  // The time to compare against. Processing time falls back to the wall clock
  // until setTtlTime is called; event time has no fallback (false: keep all),
  // since the wall clock may be far ahead of the watermark (e.g. a replay).
  bool CurrentTime(bool event_time, int64_t* out) const;

 private:
  static constexpr int64_t kUnset = std::numeric_limits<int64_t>::min();
  mutable std::mutex mu_;
  std::map<uint32_t, TtlFilterConfig> configs_;
  std::atomic<int64_t> time_{kUnset};
};

// What the filter does with one value or merge operand.
enum class TtlVerdict { kKeep, kRemove, kRewrite };

// The pure decision (no RocksDB state): `rewritten` receives the list value
// without its expired elements when the verdict is kRewrite. A value that does
// not parse in the configured layout is always kept, never dropped.
TtlVerdict DecideTtl(const TtlFilterConfig& config, int64_t now, const rocksdb::Slice& value,
                     bool merge_operand, std::string* rewritten);

// The compaction filter factory installed on every column family of a DB; it
// filters only the column families configured in `registry`.
std::shared_ptr<rocksdb::CompactionFilterFactory> NewTtlFilterFactory(std::shared_ptr<TtlRegistry> registry);

}  // namespace flowstate
