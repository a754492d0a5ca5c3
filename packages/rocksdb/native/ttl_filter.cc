// The TTL compaction filter (see ttl_filter.h). No N-API here: RocksDB calls
// this code on its own threads, and it must never throw into RocksDB.
#include "ttl_filter.h"

#include <chrono>

namespace flowstate {

namespace {

constexpr size_t kTsBytes = 8;
constexpr size_t kListLenBytes = 4;
// MAP: [u8 presence = 1][i64 ts][u8 user-value presence][user value]
constexpr size_t kMapTsOffset = 1;
constexpr size_t kMapMinSize = 1 + kTsBytes + 1;

int64_t ReadI64BE(const char* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < kTsBytes; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return static_cast<int64_t>(v);
}

uint32_t ReadU32BE(const char* p) {
  uint32_t v = 0;
  for (size_t i = 0; i < kListLenBytes; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// ts + ttl <= now, where a sum past i64 means "never expires" (as in Flink).
bool Expired(int64_t ts, int64_t ttl_ms, int64_t now) {
  int64_t deadline = 0;
  if (__builtin_add_overflow(ts, ttl_ms, &deadline)) return false;
  return deadline <= now;
}

TtlVerdict DecideSingle(const TtlFilterConfig& c, int64_t now, const rocksdb::Slice& v) {
  size_t offset = 0;
  if (c.layout == TtlLayout::kMap) {
    if (v.size() < kMapMinSize || static_cast<uint8_t>(v[0]) != 1) return TtlVerdict::kKeep;
    offset = kMapTsOffset;
  } else if (v.size() < kTsBytes) {
    return TtlVerdict::kKeep;
  }
  return Expired(ReadI64BE(v.data() + offset), c.ttl_ms, now) ? TtlVerdict::kRemove : TtlVerdict::kKeep;
}

// Visits the frames of a LIST value, [u32 len][i64 ts][element] with len = 8 +
// element bytes, as (offset, size including the length prefix, expired).
// False on the first malformed frame.
template <typename Visit>
bool ForEachListFrame(const TtlFilterConfig& c, int64_t now, const rocksdb::Slice& v, Visit visit) {
  size_t pos = 0;
  while (pos < v.size()) {
    if (v.size() - pos < kListLenBytes) return false;
    size_t len = ReadU32BE(v.data() + pos);
    if (len < kTsBytes || len > v.size() - pos - kListLenBytes) return false;
    visit(pos, kListLenBytes + len, Expired(ReadI64BE(v.data() + pos + kListLenBytes), c.ttl_ms, now));
    pos += kListLenBytes + len;
  }
  return true;
}

// Two walks and no allocation unless something expired: the first checks every
// frame (a malformed value is kept whole, never half-filtered) and counts, the
// second copies the unexpired frames.
TtlVerdict DecideList(const TtlFilterConfig& c, int64_t now, const rocksdb::Slice& v, std::string* rewritten) {
  size_t frames = 0, kept = 0, kept_bytes = 0;
  bool ok = ForEachListFrame(c, now, v, [&](size_t, size_t size, bool expired) {
    frames++;
    if (!expired) {
      kept++;
      kept_bytes += size;
    }
  });
  if (!ok || frames == 0 || kept == frames) return TtlVerdict::kKeep;
  if (kept == 0) return TtlVerdict::kRemove;
  rewritten->clear();
  rewritten->reserve(kept_bytes);
  ForEachListFrame(c, now, v, [&](size_t start, size_t size, bool expired) {
    if (!expired) rewritten->append(v.data() + start, size);
  });
  return TtlVerdict::kRewrite;
}

int64_t WallClockMs() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
}

class TtlCompactionFilter final : public rocksdb::CompactionFilter {
 public:
  TtlCompactionFilter(const TtlFilterConfig& config, std::shared_ptr<TtlRegistry> registry)
      : config_(config), registry_(std::move(registry)) {}

  const char* Name() const override { return "flowstate.ttl"; }

  Decision FilterV2(int /*level*/, const rocksdb::Slice& /*key*/, ValueType type,
                    const rocksdb::Slice& value, std::string* new_value,
                    std::string* /*skip_until*/) const override {
    RefreshTimeIfStale();
    if (!has_time_ || type == ValueType::kBlobIndex) return Decision::kKeep;
    switch (DecideTtl(config_, now_, value, type == ValueType::kMergeOperand, new_value)) {
      case TtlVerdict::kRemove:
        return Decision::kRemove;
      case TtlVerdict::kRewrite:
        return Decision::kChangeValue;
      case TtlVerdict::kKeep:
        break;
    }
    return Decision::kKeep;
  }

 private:
  // Reading the time per entry would be cheap here (an atomic, or the clock),
  // but a compaction that runs for minutes should still see time advance;
  // Flink's filter re-reads every queryTimeAfterNumEntries entries, so do we.
  void RefreshTimeIfStale() const {
    if (entries_since_refresh_ == 0) {
      has_time_ = registry_->CurrentTime(config_.event_time, &now_);
    }
    if (++entries_since_refresh_ >= config_.query_time_after_num_entries) entries_since_refresh_ = 0;
  }

  const TtlFilterConfig config_;
  const std::shared_ptr<TtlRegistry> registry_;
  // One filter per (sub)compaction, used by one thread: plain mutable state.
  mutable uint32_t entries_since_refresh_ = 0;
  mutable bool has_time_ = false;
  mutable int64_t now_ = 0;
};

class TtlFilterFactory final : public rocksdb::CompactionFilterFactory {
 public:
  explicit TtlFilterFactory(std::shared_ptr<TtlRegistry> registry) : registry_(std::move(registry)) {}

  const char* Name() const override { return "flowstate.ttl"; }

  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& context) override {
    TtlFilterConfig config;
    // No filter (nullptr) for column families without TTL: RocksDB then
    // compacts them exactly as without a factory.
    if (!registry_->Lookup(context.column_family_id, &config)) return nullptr;
    return std::make_unique<TtlCompactionFilter>(config, registry_);
  }

 private:
  std::shared_ptr<TtlRegistry> registry_;
};

}  // namespace

void TtlRegistry::Configure(uint32_t cf_id, const TtlFilterConfig& config) {
  std::lock_guard<std::mutex> lock(mu_);
  configs_[cf_id] = config;
}

void TtlRegistry::Remove(uint32_t cf_id) {
  std::lock_guard<std::mutex> lock(mu_);
  configs_.erase(cf_id);
}

bool TtlRegistry::Lookup(uint32_t cf_id, TtlFilterConfig* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = configs_.find(cf_id);
  if (it == configs_.end()) return false;
  *out = it->second;
  return true;
}

bool TtlRegistry::CurrentTime(bool event_time, int64_t* out) const {
  int64_t t = time_.load(std::memory_order_acquire);
  if (t != kUnset) {
    *out = t;
    return true;
  }
  if (event_time) return false;
  *out = WallClockMs();
  return true;
}

TtlVerdict DecideTtl(const TtlFilterConfig& config, int64_t now, const rocksdb::Slice& value,
                     bool merge_operand, std::string* rewritten) {
  if (config.layout == TtlLayout::kList) return DecideList(config, now, value, rewritten);
  // Only list state is written with merges; an operand elsewhere is not ours to judge.
  if (merge_operand) return TtlVerdict::kKeep;
  return DecideSingle(config, now, value);
}

std::shared_ptr<rocksdb::CompactionFilterFactory> NewTtlFilterFactory(std::shared_ptr<TtlRegistry> registry) {
  return std::make_shared<TtlFilterFactory>(std::move(registry));
}

}  // namespace flowstate
