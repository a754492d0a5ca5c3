// See compression_probe.h.
#include "compression_probe.h"

#include <lz4.h>

#include <algorithm>
#include <atomic>
#include <string>

namespace flowstate {

namespace {
constexpr size_t kProbeSamples = 8;
// A sample ends at this size even inside a row larger than a block (RocksDB compresses such a row
// as one block): LZ4 finds matches only within 64 KiB, so more would tell little for its cost.
constexpr size_t kMaxSampleBytes = 64 << 10;
// Smaller rows keep the configured compression unjudged: a block of them is mostly keys, their
// internal-key trailers and lengths, which compress where the values do not (8-byte random
// values and keys: a file 20% larger uncompressed).
constexpr size_t kMinMeanRowBytes = 256;
// What a block adds to each entry, roughly: three bytes for its varint lengths (shared, unshared,
// value; their values matter little) and the internal key's 8-byte trailer, sequence number 0
// and type kTypeValue as SstFileWriter writes them (little-endian: 0x01, then zeros).
constexpr char kEntryOverhead[] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};

std::atomic<uint64_t> g_skipped{0};
std::atomic<uint64_t> g_kept{0};

// RocksDB's rule (GoodCompressionRatio): a compressed block is kept only if it saves at least an
// eighth of the raw block.
bool WorthCompressing(size_t compressed, size_t raw) { return compressed < raw - raw / 8; }

// Appends up to `limit` bytes in all to `out`.
void AppendUpTo(std::string& out, const char* data, size_t size, size_t limit) {
  out.append(data, std::min(size, limit - std::min(limit, out.size())));
}

// Consecutive rows from `first`, laid out roughly as a block holds them (each entry's lengths and
// key trailer, its key and its value; keys whole, where a block shares their prefixes, which
// makes the sample if anything more compressible), up to one block: `block_size` bytes, or the
// first entry whole where it is larger (a block holds at least one entry), up to kMaxSampleBytes.
std::string SampleBlock(const std::vector<std::pair<rocksdb::Slice, rocksdb::Slice>>& rows, size_t first, size_t block_size) {
  std::string out;
  const size_t entry = sizeof(kEntryOverhead) + rows[first].first.size() + rows[first].second.size();
  const size_t limit = std::min(std::max(block_size, entry), kMaxSampleBytes);
  for (size_t i = first; i < rows.size() && out.size() < limit; i++) {
    AppendUpTo(out, kEntryOverhead, sizeof(kEntryOverhead), limit);
    AppendUpTo(out, rows[i].first.data(), rows[i].first.size(), limit);
    AppendUpTo(out, rows[i].second.data(), rows[i].second.size(), limit);
  }
  return out;
}

bool LargeRows(const std::vector<std::pair<rocksdb::Slice, rocksdb::Slice>>& rows) {
  size_t bytes = 0;
  for (const auto& [key, value] : rows) bytes += key.size() + value.size();
  return bytes >= kMinMeanRowBytes * rows.size();
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
  if (compression != rocksdb::kLZ4Compression || rows.empty() || !LargeRows(rows)) return false;
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
