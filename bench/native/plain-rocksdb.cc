// Plain C++ RocksDB baseline for the binding's get/put (bench/src/rocks-cpp.ts builds and drives it).
// Same options as the binding opens with ROCKSDB_BENCH_OPTIONS (util.cc MakeDbOptions /
// MakeCfOptions: LRU block cache, write buffer size and count, compression, the list-append merge
// operator, XXH3 block checksums, the whole-file CRC32C checksum of every SST, WAL off), one column
// family "raw" holding the same rows, written in the same order.
//
// A long-lived server, so that the JS side can interleave its rounds with ours (bench/src/
// interleave.ts): it opens its database, writes the setup rows, answers "ready", then runs one
// command per line from the command FIFO and answers each on the reply FIFO:
//   get <pos> <batches>   put <pos> <batches>   quit
// A command runs `batches` batches of `batch` operations over the op keys, starting at op key
// `pos` and moving batch by batch exactly like the JS KeyCursor (wrapping to 0 when the next batch
// would not fit); a put writes value i for op i of a batch. The answer is
//   <cpu ms> <pos after>
// where cpu ms is this process's CPU time (CLOCK_PROCESS_CPUTIME_ID, all threads: RocksDB's
// background work included, as it is in the JS process's CPU time) for exactly that loop.
//
// Input file (little-endian u32 lengths): rows, ops and values, each a counted list of byte strings:
//   [n][len bytes]... (setup rows: key, value alternating, n = 2 * rows)
//   [n][len bytes]... (op keys)
//   [n][len bytes]... (put values, value i for op i of a batch)
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/file_checksum.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/table.h>

#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

// The binding's own file checksum generator factory (flowstate::Crc32cFileChecksumFactory, util.cc
// MakeDbOptions), compiled in from its source (bench/src/rocks-cpp.ts caches the program by the
// hash of this file, crc32c.cc and crc32c.h). RocksDB's standard GetFileChecksumGenCrc32cFactory() writes the same checksum (name
// "FileChecksumCrc32c", the same 4 bytes), but the system RocksDB 7.8, a portable build, computes
// CRC32C in software: 1.1 GB/s where the binding's takes 17.6 GB/s with the CPU's crc32
// instruction (measured on the bench machine), over every SST byte a flush or compaction writes,
// in this process's CPU time. With RocksDB's factory this side would do more work than the
// binding's and inflate the binding's ratio.
#include "../../packages/rocksdb/native/crc32c.cc"

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

double CpuMs() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 9) {
    std::fprintf(stderr, "usage: %s dbdir input blockCache writeBuffer maxWriteBuffers batch commandFifo replyFifo\n", argv[0]);
    return 2;
  }
  // The FIFOs first: the JS side waits for them, and reads our failures from the reply FIFO's end.
  FILE* cmd = std::fopen(argv[7], "r");
  FILE* reply = std::fopen(argv[8], "w");
  if (cmd == nullptr || reply == nullptr) {
    std::fprintf(stderr, "cannot open the command/reply FIFOs\n");
    return 2;
  }
  std::ifstream in(argv[2], std::ios::binary);
  std::vector<std::string> rows = ReadList(in), keys = ReadList(in), values = ReadList(in);
  size_t batch = std::strtoul(argv[6], nullptr, 10);
  if (batch == 0 || keys.size() < 2 * batch || values.size() < batch) {
    std::fprintf(stderr, "need >= 2 batches of keys and one batch of values\n");
    return 2;
  }

  rocksdb::DBOptions dbo;
  dbo.create_if_missing = true;
  dbo.create_missing_column_families = true;
  dbo.keep_log_file_num = 4;
  dbo.max_log_file_size = 8 << 20;
  // As MakeDbOptions: the whole-file CRC32C of every SST as it is written (see the include above).
  dbo.file_checksum_gen_factory = flowstate::Crc32cFileChecksumFactory();
  rocksdb::ColumnFamilyOptions cfo;
  cfo.write_buffer_size = std::strtoull(argv[4], nullptr, 10);
  cfo.max_write_buffer_number = std::atoi(argv[5]);
  cfo.compression = rocksdb::kLZ4Compression;
  cfo.merge_operator = std::make_shared<Append>();
  rocksdb::BlockBasedTableOptions t;
  // As MakeCfOptions: XXH3 block checksums (RocksDB 7.8's default is CRC32C, in software here: this
  // side paid more per block written or read from a file than the binding).
  t.checksum = rocksdb::kXXH3;
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

  std::fprintf(reply, "ready\n");
  std::fflush(reply);
  char op[8];
  size_t start = 0, batches = 0;
  while (std::fscanf(cmd, "%7s", op) == 1 && std::strcmp(op, "quit") != 0) {
    if (std::fscanf(cmd, "%zu %zu", &start, &batches) != 2 || start + batch > keys.size() ||
        (std::strcmp(op, "get") != 0 && std::strcmp(op, "put") != 0)) {
      std::fprintf(stderr, "bad command '%s'\n", op);
      return 2;
    }
    pos = start;
    bool get = op[0] == 'g';
    double t0 = CpuMs();
    for (size_t b = 0; b < batches; b++) get ? get_batch() : put_batch();
    double ms = CpuMs() - t0;
    std::fprintf(reply, "%.6f %zu\n", ms, pos);
    std::fflush(reply);
  }
  for (auto* h : handles) Check(db->DestroyColumnFamilyHandle(h), "destroy cf");
  Check(db->Close(), "close");
  delete db;
  return 0;
}
