// Whether a bulk-load SST is worth compressing, decided from a sample of its rows before it is
// built (issue 16).
#pragma once

#include <rocksdb/options.h>
#include <rocksdb/slice.h>

#include <utility>
#include <vector>

namespace flowstate {

// True when `compression` is one this probe can judge (LZ4, flowstate's default), the rows are
// large enough to judge by their bytes (kMinMeanRowBytes), and no sampled block of `rows` would
// be stored compressed: RocksDB keeps a block uncompressed unless compressing saves at least an
// eighth of it, so for such rows every block it compresses is a CPU cost with no saving (64 MB of
// random 4 KB values: about 45 ms of CPU per conversion to native, a quarter of its CPU). Up to
// kProbeSamples blocks of consecutive rows, spread over the file, are compressed with the same
// library; one sample worth compressing keeps the compression for the whole file. A compressible
// stretch that no sample hits is stored uncompressed: the price of judging a file by samples.
bool CompressionWorthless(rocksdb::CompressionType compression, size_t block_size,
                          const std::vector<std::pair<rocksdb::Slice, rocksdb::Slice>>& rows);

// @internal For tests: { skipped, kept }, how many SST builds the probe decided each way.
struct CompressionProbeCounts {
  uint64_t skipped;
  uint64_t kept;
};
CompressionProbeCounts CompressionProbeCountsForTest();

}  // namespace flowstate
