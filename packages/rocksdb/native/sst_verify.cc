// verifySstFile(path): checks an SST file before it is uploaded to a checkpoint.
//
// Runs on the libuv thread pool (it reads the whole file twice). It first
// computes the CRC32C of the whole file, then has RocksDB check the checksum of
// every block (SstFileReader::VerifyChecksum). The caller uploads the file and
// compares the upload's CRC32C with the one returned here: if they match, the
// uploaded bytes are the bytes whose blocks were verified. Computing the CRC
// *before* the block check matters: a file that changes after the CRC pass
// either fails the block check or no longer matches the upload's CRC.
#include "common.h"
#include "crc32c.h"

#include <rocksdb/env.h>
#include <rocksdb/sst_file_reader.h>
#include <rocksdb/table.h>

#include <cerrno>
#include <cstring>

namespace flowstate {

namespace {
constexpr size_t kReadChunk = 1 << 20;
constexpr size_t kVerifyReadahead = 2 << 20;

// CRC32C of the whole file; `size` is the number of bytes read.
rocksdb::Status FileCrc32c(const std::string& path, uint32_t* crc, uint64_t* size) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return rocksdb::Status::IOError("cannot open " + path, std::strerror(errno));
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

rocksdb::Status VerifyBlocks(const std::string& path) {
  rocksdb::Options options;
  rocksdb::BlockBasedTableOptions t;
  t.no_block_cache = true;  // a one-off scan: don't keep its blocks
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  rocksdb::SstFileReader reader(options);
  rocksdb::Status s = reader.Open(path);
  if (!s.ok()) return s;
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;
  ro.readahead_size = kVerifyReadahead;
  return reader.VerifyChecksum(ro);
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
    status_ = FileCrc32c(path_, &crc_, &size_);
    if (status_.ok()) status_ = VerifyBlocks(path_);
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
