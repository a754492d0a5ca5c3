// Plain C++ RocksDB baseline for the binding's get/put (bench/src/rocks-cpp.ts builds and runs it).
// Same options as the binding opens with ROCKSDB_BENCH_OPTIONS (util.cc MakeDbOptions /
// MakeCfOptions: LRU block cache, write buffer size and count, compression, the list-append merge
// operator, WAL off), one column family holding the same rows, and the same measurement as the
// JS side: one sample = one batch of `batch` operations over a precomputed key sequence, warm-up
// first, then samples until both the time budget and the minimum sample count are reached.
//
// Input file (little-endian u32 lengths): rows, ops and values, each a counted list of byte strings:
//   [n][len bytes]... (setup rows: key, value alternating, n = 2 * rows)
//   [n][len bytes]... (op keys, cycled through batch by batch like the JS KeyCursor)
//   [n][len bytes]... (put values, value i for op i of a batch)
// Output (stdout, JSON): {"get": [ms per batch...], "put": [ms per batch...]}
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/table.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {
class Append final : public rocksdb::AssociativeMergeOperator {
 public:
  const char* Name() const override { return "flowstate.list-append"; }
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value, std::string* out,
             rocksdb::Logger*) const override {
    out->clear();
    if (existing != nullptr) out->assign(existing->data(), existing->size());
    out->append(value.data(), value.size());
    return true;
  }
};

void Check(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

std::vector<std::string> ReadList(std::ifstream& in) {
  uint32_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 4);
  std::vector<std::string> out(n);
  for (auto& s : out) {
    uint32_t len = 0;
    in.read(reinterpret_cast<char*>(&len), 4);
    s.resize(len);
    in.read(s.data(), len);
  }
  if (!in) {
    std::fprintf(stderr, "truncated input\n");
    std::exit(1);
  }
  return out;
}

using Clock = std::chrono::steady_clock;
double MsSince(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }
}  // namespace

int main(int argc, char** argv) {
  if (argc != 9) {
    std::fprintf(stderr, "usage: %s dbdir input blockCache writeBuffer maxWriteBuffers batch timeMs:warmupMs minSamples:warmupSamples\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[2], std::ios::binary);
  std::vector<std::string> rows = ReadList(in), keys = ReadList(in), values = ReadList(in);
  size_t batch = std::strtoul(argv[6], nullptr, 10);
  double time_ms = 0, warmup_ms = 0;
  unsigned min_samples = 0, warmup_samples = 0;
  std::sscanf(argv[7], "%lf:%lf", &time_ms, &warmup_ms);
  std::sscanf(argv[8], "%u:%u", &min_samples, &warmup_samples);
  if (batch == 0 || keys.size() < 2 * batch || values.size() < batch) {
    std::fprintf(stderr, "need >= 2 batches of keys and one batch of values\n");
    return 2;
  }

  rocksdb::DBOptions dbo;
  dbo.create_if_missing = true;
  dbo.create_missing_column_families = true;
  dbo.keep_log_file_num = 4;
  dbo.max_log_file_size = 8 << 20;
  rocksdb::ColumnFamilyOptions cfo;
  cfo.write_buffer_size = std::strtoull(argv[4], nullptr, 10);
  cfo.max_write_buffer_number = std::atoi(argv[5]);
  cfo.compression = rocksdb::kLZ4Compression;
  cfo.merge_operator = std::make_shared<Append>();
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = rocksdb::NewLRUCache(std::strtoull(argv[3], nullptr, 10));
  cfo.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  std::vector<rocksdb::ColumnFamilyDescriptor> cfds = {{rocksdb::kDefaultColumnFamilyName, cfo}, {"raw", cfo}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  Check(rocksdb::DB::Open(dbo, argv[1], cfds, &handles, &db), "open");
  rocksdb::ColumnFamilyHandle* cf = handles[1];
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  for (size_t i = 0; i + 1 < rows.size(); i += 2) Check(db->Put(wo, cf, rows[i], rows[i + 1]), "setup put");

  size_t pos = 0;
  auto next = [&]() {
    size_t p = pos;
    pos += batch;
    if (pos + batch > keys.size()) pos = 0;
    return p;
  };
  volatile size_t sink = 0;
  rocksdb::ReadOptions ro;
  rocksdb::PinnableSlice value;
  auto get_batch = [&]() {
    size_t o = next(), s = 0;
    for (size_t i = 0; i < batch; i++) {
      value.Reset();
      rocksdb::Status st = db->Get(ro, cf, keys[o + i], &value);
      if (st.ok()) s += value.size();
      else if (!st.IsNotFound()) Check(st, "get");
    }
    sink = sink + s;
  };
  auto put_batch = [&]() {
    size_t o = next();
    for (size_t i = 0; i < batch; i++) Check(db->Put(wo, cf, keys[o + i], values[i]), "put");
  };
  auto measure = [&](auto&& op) {
    auto w0 = Clock::now();
    for (unsigned n = 0; n < warmup_samples || MsSince(w0) < warmup_ms; n++) op();
    std::vector<double> samples;
    auto t0 = Clock::now();
    while (samples.size() < min_samples || MsSince(t0) < time_ms) {
      auto s0 = Clock::now();
      op();
      samples.push_back(MsSince(s0));
    }
    return samples;
  };
  auto json = [](const std::vector<double>& xs) {
    std::string s = "[";
    for (size_t i = 0; i < xs.size(); i++) s += (i ? "," : "") + std::to_string(xs[i]);
    return s + "]";
  };
  // The same order as the JS run: update (put) before get.
  std::vector<double> put = measure(put_batch);
  std::vector<double> get = measure(get_batch);
  std::cout << "{\"get\":" << json(get) << ",\"put\":" << json(put) << "}" << std::endl;
  for (auto* h : handles) Check(db->DestroyColumnFamilyHandle(h), "destroy cf");
  Check(db->Close(), "close");
  delete db;
  return 0;
}
