// verifySstFile(path): checks an SST file before it is uploaded to a checkpoint.
//
// Runs on the libuv thread pool. It takes the CRC32C of the whole file, then
// has RocksDB check the checksum of every block (SstFileReader::VerifyChecksum).
// The caller uploads the file and compares the upload's CRC32C with the one
// returned here: if they match, the uploaded bytes are the bytes whose blocks
// were verified.
// - A file up to kInMemoryMaxBytes (a checkpoint's flush, a small compaction)
//   is read once into memory, and both checks read that copy: they check the
//   same bytes by construction.
// - A larger file is read twice, streamed: the CRC pass first, then the block
//   check. The order matters: a file that changes after the CRC pass either
//   fails the block check or no longer matches the upload's CRC.
#include "common.h"
#include "crc32c.h"

#include <fcntl.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/sst_file_reader.h>
#include <rocksdb/table.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

namespace flowstate {

namespace {
constexpr size_t kReadChunk = 1 << 20;
constexpr size_t kVerifyReadahead = 2 << 20;
// Why in memory up to 4 MiB: a 1%-churn checkpoint's new SST is ~100 KB, and reading it twice
// into fresh buffers (a 1 MiB CRC chunk, a 2 MiB readahead buffer) cost page faults, copies and
// a second pass on the checkpoint's critical path (issue 16). Bounded so that a verification
// never holds more than this per thread-pool thread.
constexpr uint64_t kInMemoryMaxBytes = 4 << 20;
// Verifications that read the file into memory once, and that streamed it, for sstVerifyCountsForTest.
std::atomic<uint64_t> g_in_memory{0};
std::atomic<uint64_t> g_streamed{0};

// CRC32C of the whole file, streamed; `size` is the number of bytes read.
rocksdb::Status FileCrc32c(const std::string& path, uint32_t* crc, uint64_t* size) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return ErrnoStatus("cannot open", path, errno);
  std::vector<uint8_t> buf(kReadChunk);
  uint32_t c = 0;
  uint64_t total = 0;
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
    c = Crc32cExtend(c, buf.data(), n);
    total += n;
  }
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return rocksdb::Status::IOError("cannot read " + path);
  *crc = c;
  *size = total;
  return rocksdb::Status::OK();
}

// A whole SST read into memory. `fits` is false for a file over kInMemoryMaxBytes (not read)
// or one that grew while it was read (what was read is dropped): the caller streams it instead.
struct InMemorySst {
  std::unique_ptr<char[]> bytes;
  size_t size = 0;
  bool fits = false;
};

rocksdb::Status ReadWholeFile(const std::string& path, InMemorySst* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open", path, errno);
  struct stat st;
  rocksdb::Status s;
  if (fstat(fd, &st) != 0) {
    s = ErrnoStatus("cannot stat", path, errno);
  } else if (st.st_size >= 0 && static_cast<uint64_t>(st.st_size) <= kInMemoryMaxBytes) {
    // One byte more than the size stat gave: reading it means the file grew meanwhile.
    const size_t cap = static_cast<size_t>(st.st_size) + 1;
    out->bytes.reset(new char[cap]);
    s = PreadUpTo(fd, path, out->bytes.get(), cap, &out->size);
    out->fits = s.ok() && out->size < cap;
  }
  close(fd);
  return s;
}

// The SST in memory, to RocksDB's table reader: each read is a view of those bytes, as with
// mmap reads (allow_mmap_reads, which also keeps RocksDB from allocating a prefetch buffer).
class InMemorySstFile : public rocksdb::FSRandomAccessFile {
 public:
  explicit InMemorySstFile(rocksdb::Slice data) : data_(data) {}
  rocksdb::IOStatus Read(uint64_t offset, size_t n, const rocksdb::IOOptions&, rocksdb::Slice* result, char*,
                         rocksdb::IODebugContext*) const override {
    if (offset > data_.size()) {
      *result = rocksdb::Slice();
      return rocksdb::IOStatus::IOError("read past the end of the SST");
    }
    *result = rocksdb::Slice(data_.data() + offset, std::min<uint64_t>(n, data_.size() - offset));
    return rocksdb::IOStatus::OK();
  }

 private:
  const rocksdb::Slice data_;
};

// Serves the one SST from memory (SstFileReader::Open asks for its size, then opens it).
class InMemorySstFileSystem : public rocksdb::FileSystemWrapper {
 public:
  InMemorySstFileSystem(std::string path, rocksdb::Slice data)
      : rocksdb::FileSystemWrapper(rocksdb::FileSystem::Default()), path_(std::move(path)), data_(data) {}
  const char* Name() const override { return "flowstate.InMemorySstFileSystem"; }
  rocksdb::IOStatus GetFileSize(const std::string& f, const rocksdb::IOOptions& o, uint64_t* size, rocksdb::IODebugContext* d) override {
    if (f != path_) return target()->GetFileSize(f, o, size, d);
    *size = data_.size();
    return rocksdb::IOStatus::OK();
  }
  rocksdb::IOStatus NewRandomAccessFile(const std::string& f, const rocksdb::FileOptions& o, std::unique_ptr<rocksdb::FSRandomAccessFile>* r,
                                        rocksdb::IODebugContext* d) override {
    if (f != path_) return target()->NewRandomAccessFile(f, o, r, d);
    r->reset(new InMemorySstFile(data_));
    return rocksdb::IOStatus::OK();
  }

 private:
  const std::string path_;
  const rocksdb::Slice data_;
};

// RocksDB's check of every block checksum; `env` null reads the file from disk.
rocksdb::Status VerifyBlocks(const std::string& path, rocksdb::Env* env) {
  rocksdb::Options options;
  rocksdb::BlockBasedTableOptions t;
  t.no_block_cache = true;  // a one-off scan: don't keep its blocks
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  if (env != nullptr) {
    options.env = env;
    options.allow_mmap_reads = true;
  }
  rocksdb::SstFileReader reader(options);
  rocksdb::Status s = reader.Open(path);
  if (!s.ok()) return s;
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;
  ro.readahead_size = kVerifyReadahead;
  return reader.VerifyChecksum(ro);
}

// Both checks on one in-memory copy; false in `done` when the file must be streamed instead.
rocksdb::Status VerifyInMemory(const std::string& path, uint32_t* crc, uint64_t* size, bool* done) {
  InMemorySst sst;
  rocksdb::Status s = ReadWholeFile(path, &sst);
  *done = s.ok() && sst.fits;
  if (!*done) return s;
  const rocksdb::Slice data(sst.bytes.get(), sst.size);
  *crc = Crc32cExtend(0, reinterpret_cast<const uint8_t*>(data.data()), data.size());
  *size = data.size();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(std::make_shared<InMemorySstFileSystem>(path, data));
  return VerifyBlocks(path, env.get());
}

class VerifyWorker : public Napi::AsyncWorker {
 public:
  VerifyWorker(Napi::Env env, std::string path)
      : Napi::AsyncWorker(env, "flowstate.rocksdb.verify"),
        path_(std::move(path)),
        deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    bool done = false;
    status_ = VerifyInMemory(path_, &crc_, &size_, &done);
    if (done) g_in_memory.fetch_add(1, std::memory_order_relaxed);
    if (!status_.ok() || done) return;
    g_streamed.fetch_add(1, std::memory_order_relaxed);
    status_ = FileCrc32c(path_, &crc_, &size_);
    if (status_.ok()) status_ = VerifyBlocks(path_, nullptr);
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (!status_.ok()) {
      const std::string text = status_.ToString();
      deferred_.Reject(MakeError(env, StatusCode(status_), text + " (sst file: " + path_ + ")", std::string(), text).Value());
      return;
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("size", Napi::Number::New(env, static_cast<double>(size_)));
    o.Set("crc32c", Napi::Number::New(env, static_cast<double>(crc_)));
    deferred_.Resolve(o);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::string path_;
  Napi::Promise::Deferred deferred_;
  rocksdb::Status status_;
  uint32_t crc_ = 0;
  uint64_t size_ = 0;
};
}  // namespace

Napi::Value SstVerifyCountsForTest(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("inMemory", Napi::Number::New(info.Env(), static_cast<double>(g_in_memory.load())));
  o.Set("streamed", Napi::Number::New(info.Env(), static_cast<double>(g_streamed.load())));
  return o;
}

Napi::Value Crc32cForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rocksdb::Slice bytes = ArgBytes(env, info[0], "bytes");
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const bool portable = info[1].ToBoolean().Value();
  uint32_t crc = portable ? Crc32cPortable(p, bytes.size()) : Crc32cExtend(0, p, bytes.size());
  return Napi::Number::New(env, static_cast<double>(crc));
}

Napi::Value VerifySstFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(env, info[0], "path");
  auto* worker = new VerifyWorker(env, std::move(path));
  return QueueWorker(worker);
}

}  // namespace flowstate
