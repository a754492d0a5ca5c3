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

#include <rocksdb/env.h>
#include <rocksdb/file_checksum.h>
#include <rocksdb/sst_file_reader.h>
#include <rocksdb/table.h>

#include <cerrno>
#include <cstring>

namespace flowstate {

namespace {
constexpr size_t kReadChunk = 1 << 20;
constexpr size_t kVerifyReadahead = 2 << 20;

// CRC32C of the whole file, with RocksDB's own (standard, unmasked) CRC32C
// file checksum generator; `size` is the number of bytes read.
rocksdb::Status FileCrc32c(const std::string& path, uint32_t* crc, uint64_t* size) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return rocksdb::Status::IOError("cannot open " + path, std::strerror(errno));
  rocksdb::FileChecksumGenContext ctx;
  ctx.file_name = path;
  std::unique_ptr<rocksdb::FileChecksumGenerator> gen =
      rocksdb::GetFileChecksumGenCrc32cFactory()->CreateFileChecksumGenerator(ctx);
  std::vector<char> buf(kReadChunk);
  uint64_t total = 0;
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
    gen->Update(buf.data(), n);
    total += n;
  }
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return rocksdb::Status::IOError("cannot read " + path);
  gen->Finalize();
  const std::string digest = gen->GetChecksum();  // 4 bytes, big-endian
  FS_CHECK(digest.size() == 4);
  *crc = (static_cast<uint32_t>(static_cast<uint8_t>(digest[0])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(digest[1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(digest[2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(digest[3]));
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

Napi::Value VerifySstFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(env, info[0], "path");
  auto* worker = new VerifyWorker(env, std::move(path));
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

}  // namespace flowstate
