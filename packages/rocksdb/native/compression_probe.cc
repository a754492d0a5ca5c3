// See compression_probe.h.
#include "compression_probe.h"

#include <lz4.h>

#include <algorithm>
#include <atomic>
#include <string>

namespace flowstate {

namespace {
constexpr size_t kProbeSamples = 8;
// One row larger than this is sampled from its start only: LZ4's window is 64 KiB, so a longer
// sample tells nothing more.
constexpr size_t kMaxSampleBytes = 64 << 10;

std::atomic<uint64_t> g_skipped{0};
std::atomic<uint64_t> g_kept{0};

// RocksDB's rule (GoodCompressionRatio): a compressed block is kept only if it saves at least an
// eighth of the raw block.
bool WorthCompressing(size_t compressed, size_t raw) { return compressed < raw - raw / 8; }

// Consecutive rows from `first` (keys and values, as a block holds them) up to one block.
std::string SampleBlock(const std::vector<std::pair<rocksdb::Slice, rocksdb::Slice>>& rows, size_t first, size_t block_size) {
  std::string out;
  const size_t limit = std::min(std::max<size_t>(block_size, 1), kMaxSampleBytes);
  for (size_t i = first; i < rows.size() && out.size() < limit; i++) {
    out.append(rows[i].first.data(), rows[i].first.size());
    out.append(rows[i].second.data(), rows[i].second.size());
  }
  if (out.size() > kMaxSampleBytes) out.resize(kMaxSampleBytes);
  return out;
}

bool Lz4WorthCompressing(const std::string& block, std::string& scratch) {
  if (block.size() < 16) return true;  // too small to judge: keep the configured compression
  const int bound = LZ4_compressBound(static_cast<int>(block.size()));
  scratch.resize(static_cast<size_t>(bound));
  const int n = LZ4_compress_default(block.data(), scratch.data(), static_cast<int>(block.size()), bound);
  return n <= 0 || WorthCompressing(static_cast<size_t>(n), block.size());
}
}  // namespace

bool CompressionWorthless(rocksdb::CompressionType compression, size_t block_size,
                          const std::vector<std::pair<rocksdb::Slice, rocksdb::Slice>>& rows) {
  if (compression != rocksdb::kLZ4Compression || rows.empty()) return false;
  const size_t samples = std::min(kProbeSamples, rows.size());
  std::string scratch;
  for (size_t s = 0; s < samples; s++) {
    if (Lz4WorthCompressing(SampleBlock(rows, s * rows.size() / samples, block_size), scratch)) {
      g_kept.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  }
  g_skipped.fetch_add(1, std::memory_order_relaxed);
  return true;
}

CompressionProbeCounts CompressionProbeCountsForTest() {
  return {g_skipped.load(std::memory_order_relaxed), g_kept.load(std::memory_order_relaxed)};
}

}  // namespace flowstate
