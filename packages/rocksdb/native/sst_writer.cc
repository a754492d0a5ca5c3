// SstFileWriter JS class.
#include "common.h"
#include "compression_probe.h"
#include "crc32c.h"

#include <rocksdb/table.h>

#include <cmath>
#include <cstring>

namespace flowstate {

namespace {
// SstFileWriter errors name the SST file in the message; `path` (the DB path
// field of RocksDBError) stays unset since no database is involved.
void ThrowSst(Napi::Env env, const rocksdb::Status& s, const std::string& file) {
  if (s.ok()) return;
  throw MakeError(env, StatusCode(s), s.ToString() + " (sst file: " + file + ")", std::string(), s.ToString());
}
[[noreturn]] void ThrowSst(Napi::Env env, const char* code, const std::string& message, const std::string& file) {
  throw MakeError(env, code, file.empty() ? message : message + " (sst file: " + file + ")", std::string());
}

Napi::Object InfoToJs(Napi::Env env, const rocksdb::ExternalSstFileInfo& fi) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", Napi::String::New(env, fi.file_path));
  o.Set("fileSize", Napi::Number::New(env, static_cast<double>(fi.file_size)));
  o.Set("numEntries", Napi::Number::New(env, static_cast<double>(fi.num_entries)));
  o.Set("numRangeDelEntries", Napi::Number::New(env, static_cast<double>(fi.num_range_del_entries)));
  o.Set("smallestKey", ToBytes(env, fi.smallest_key));
  o.Set("largestKey", ToBytes(env, fi.largest_key));
  uint32_t crc = 0;
  if (DecodeCrc32cFileChecksum(fi.file_checksum_func_name, fi.file_checksum, &crc)) o.Set("fileChecksum", Napi::Number::New(env, crc));
  return o;
}

// A writer for files nothing syncs before their upload (a database that skips its syncs, as a
// conversion's scratch database: NoSyncEnv(false)) keeps their pages in the page cache. RocksDB's
// default (invalidate_page_cache) fadvises DONTNEED over the whole file every 1 MiB written, which
// starts the writeback of what is dirty and drops what is clean: a conversion to native, whose
// files are uploaded (synced then) right after, took ~2.4% longer with it (issue 16, session 29:
// in-process A/B, three runs of 20-24 rounds, 1.023-1.026). Where RocksDB syncs the file at its
// finish (a job's restore) the default stays: its early writeback shortens that sync (unmeasured
// without it).
std::unique_ptr<rocksdb::SstFileWriter> NewSstFileWriter(const rocksdb::Options& options) {
  const bool synced_at_finish = options.env != NoSyncEnv(false);
  return std::make_unique<rocksdb::SstFileWriter>(rocksdb::EnvOptions(), options, /*column_family=*/nullptr, /*invalidate_page_cache=*/synced_at_finish);
}

// The compression SstFileWriter builds with: the bottommost level's (an ingested file goes as
// deep as it can), as rocksdb::SstFileWriter::Open chooses it.
rocksdb::CompressionType SstCompression(const rocksdb::Options& o) {
  if (o.bottommost_compression != rocksdb::kDisableCompressionOption) return o.bottommost_compression;
  if (!o.compression_per_level.empty()) return o.compression_per_level.back();
  return o.compression;
}

// Leaves no half-built table behind: a fresh writer with the same options replaces the old one
// (whose destructor abandons its table builder and closes the file), then the partial file is
// deleted. For a failed finish (sync or async) and abandon().
void DiscardOpenFile(SstWriterState& st) {
  FS_CHECK(st.options != nullptr);
  st.writer = NewSstFileWriter(*st.options);
  st.options->env->DeleteFile(st.path).PermitUncheckedError();
}
}  // namespace

// Runs SstFileWriter::Finish on the thread pool. Shares the writer state
// (never a raw pointer to the wrap), and holds a strong reference to the JS
// writer object while running; `busy` rejects every other call until the
// promise settles.
//
// With rows (putPackedRowsAndFinishAsync), the worker first adds them in order, so building the
// whole file (block building, compression, checksums, writes) happens off the JS thread too. The
// rows are not copied: the worker reads them in the buffers the call named, which its two
// arguments keep alive (held by references until the promise settles). The caller must not change
// the rows' bytes meanwhile (SstFileWriter.putSortedAndFinishAsync's contract; the bulk load
// releases its chunks and read buffers only after every file settled).
class SstWriterWrap::FinishWorker : public Napi::AsyncWorker {
 public:
  FinishWorker(Napi::Env env, std::shared_ptr<SstWriterState> st, Napi::Object self,
               std::vector<std::pair<rocksdb::Slice, rocksdb::Slice>> rows = {},
               Napi::Object buffers = Napi::Object(), Napi::Object layout = Napi::Object())
      : Napi::AsyncWorker(env, "flowstate.rocksdb.sst"),
        st_(std::move(st)),
        self_(Napi::Persistent(self)),
        deferred_(Napi::Promise::Deferred::New(env)),
        rows_(std::move(rows)) {
    FS_CHECK(!st_->busy && st_->opened && st_->writer != nullptr);
    if (!buffers.IsEmpty()) {
      buffers_ref_ = Napi::Persistent(buffers);
      layout_ref_ = Napi::Persistent(layout);
    }
    st_->busy = true;
  }
  ~FinishWorker() override {
    // Cancelled before running (environment teardown): leave a usable state.
    if (st_->busy) Settle();
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    status_ = SkipWorthlessCompression();
    if (status_.ok()) status_ = PutRows();
    if (status_.ok()) status_ = st_->writer->Finish(&info_);
    if (!status_.ok()) DiscardOpenFile(*st_);
    RestoreConfiguredWriter();
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Settle();
    if (status_.ok()) {
      deferred_.Resolve(InfoToJs(env, info_));
    } else {
      deferred_.Reject(MakeError(env, StatusCode(status_), status_.ToString() + " (sst file: " + st_->path + ")",
                                 std::string(), status_.ToString())
                           .Value());
    }
  }
  void OnError(const Napi::Error& e) override {
    Settle();
    deferred_.Reject(e.Value());
  }

 private:
  void Settle() {
    FS_CHECK(st_->busy);
    st_->busy = false;
    st_->opened = false;  // Finish closes the file whether or not it succeeded
  }
  // When a sample of the rows shows that RocksDB would store their blocks uncompressed anyway
  // (compression_probe.h), the file is reopened by a writer that does not try. Only while the
  // file is empty: rows put before this call would be lost.
  rocksdb::Status SkipWorthlessCompression() {
    if (st_->written) return rocksdb::Status::OK();
    const rocksdb::Options& o = *st_->options;
    const auto* table = o.table_factory == nullptr ? nullptr : o.table_factory->GetOptions<rocksdb::BlockBasedTableOptions>();
    if (table == nullptr || !CompressionWorthless(SstCompression(o), table->block_size, rows_)) return rocksdb::Status::OK();
    st_->uncompressed = std::make_unique<rocksdb::Options>(o);
    st_->uncompressed->compression = rocksdb::kNoCompression;
    st_->uncompressed->bottommost_compression = rocksdb::kNoCompression;
    st_->uncompressed->compression_per_level.clear();
    // The old writer's destructor closes the empty file it opened; Open creates it anew.
    st_->writer = NewSstFileWriter(*st_->uncompressed);
    return st_->writer->Open(st_->path);
  }
  // The file is finished (or discarded): the writer's next file starts from the configured
  // compression again.
  void RestoreConfiguredWriter() {
    if (st_->uncompressed == nullptr) return;
    st_->writer = NewSstFileWriter(*st_->options);
    st_->uncompressed.reset();
  }
  rocksdb::Status PutRows() {
    for (const auto& [key, value] : rows_) {
      rocksdb::Status s = st_->writer->Put(key, value);
      if (!s.ok()) return s;
    }
    return rocksdb::Status::OK();
  }

  std::shared_ptr<SstWriterState> st_;
  Napi::ObjectReference self_;
  Napi::Promise::Deferred deferred_;
  std::vector<std::pair<rocksdb::Slice, rocksdb::Slice>> rows_;
  Napi::ObjectReference buffers_ref_;
  Napi::ObjectReference layout_ref_;
  rocksdb::Status status_;
  rocksdb::ExternalSstFileInfo info_;
};

Napi::Value CompressionProbeCountsJs(const Napi::CallbackInfo& info) {
  const CompressionProbeCounts c = CompressionProbeCountsForTest();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("skipped", Napi::Number::New(info.Env(), static_cast<double>(c.skipped)));
  o.Set("kept", Napi::Number::New(info.Env(), static_cast<double>(c.kept)));
  return o;
}

Napi::Function SstWriterWrap::Define(Napi::Env env) {
  return DefineWriterClass(env, "SstFileWriter", {
      InstanceMethod<&SstWriterWrap::ConfigureJs>("configure"),
      InstanceMethod<&SstWriterWrap::Open>("open"),
      InstanceMethod<&SstWriterWrap::Finish>("finish"),
      InstanceMethod<&SstWriterWrap::FinishAsync>("finishAsync"),
      InstanceMethod<&SstWriterWrap::PutPackedRowsAndFinishAsync>("putPackedRowsAndFinishAsync"),
      InstanceMethod<&SstWriterWrap::FileSize>("fileSize"),
      InstanceMethod<&SstWriterWrap::Abandon>("abandon"),
      InstanceMethod<&SstWriterWrap::State>("state"),
  });
}

void SstWriterWrap::Configure(const rocksdb::Options& options) {
  FS_CHECK(!st_->busy && !st_->opened);
  st_->writer.reset();
  st_->options = std::make_unique<rocksdb::Options>(options);
  // Same comparator (bytewise, the Options default), merge operator, prefix
  // extractor, compression and table format as the DB's column families.
  // (rocksdb::SstFileWriter's destructor abandons an unfinished file.)
  st_->writer = NewSstFileWriter(*st_->options);
}

Napi::Value SstWriterWrap::ConfigureJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (st_->busy) ThrowSst(env, kErrBusy, "SstFileWriter.finishAsync is in progress", st_->path);
  if (st_->opened) ThrowSst(env, kErrInvalidArgument, "SstFileWriter is open", st_->path);
  DbConfig c = ParseConfig(env, info[0]);
  c.block_cache_size = 0;  // irrelevant for writing
  Configure(rocksdb::Options(MakeDbOptions(c), MakeCfOptions(c)));
  return env.Undefined();
}

rocksdb::SstFileWriter* SstWriterWrap::Opened(const Napi::Env& env) {
  if (st_->busy) ThrowSst(env, kErrBusy, "SstFileWriter.finishAsync is in progress", st_->path);
  if (!st_->writer || !st_->opened) ThrowSst(env, kErrInvalidArgument, "SstFileWriter is not open", st_->path);
  return st_->writer.get();
}

Napi::Value SstWriterWrap::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (st_->busy) ThrowSst(env, kErrBusy, "SstFileWriter.finishAsync is in progress", st_->path);
  if (st_->opened) ThrowSst(env, kErrInvalidArgument, "SstFileWriter is already open", st_->path);
  if (!st_->writer) Configure(rocksdb::Options(MakeDbOptions(DbConfig()), MakeCfOptions(DbConfig())));
  std::string path = ArgString(env, info[0], "path");
  rocksdb::Status s = st_->writer->Open(path);
  ThrowSst(env, s, path);
  st_->path = path;
  st_->opened = true;
  st_->written = false;
  return env.Undefined();
}

// Runs `op` (one write, key from info[0]) on the open writer; its error names the file.
template <typename Op>
Napi::Value SstWriterWrap::Write(const Napi::CallbackInfo& info, Op op) {
  Napi::Env env = info.Env();
  rocksdb::SstFileWriter* w = Opened(env);
  // Even a failed write may have added to the file: the compression probe must not reopen it.
  st_->written = true;
  ThrowSst(env, op(*w, env, 0), st_->path);
  return env.Undefined();
}

Napi::Value SstWriterWrap::Finish(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rocksdb::SstFileWriter* w = Opened(env);
  rocksdb::ExternalSstFileInfo fi;
  rocksdb::Status s = w->Finish(&fi);
  st_->opened = false;
  if (!s.ok()) DiscardOpenFile(*st_);
  ThrowSst(env, s, st_->path);
  return InfoToJs(env, fi);
}

Napi::Value SstWriterWrap::FinishAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Opened(env);
  auto* worker = new FinishWorker(env, st_, info.This().As<Napi::Object>());
  return QueueWorker(worker);
}

namespace {
// Row i of a packed layout: its key at 6i..6i+2 and its value at 6i+3..6i+5 of the layout, each as
// (buffer index, byte offset, byte length); a length of 0 is an empty slice whatever the others.
rocksdb::Slice PackedSlice(const Napi::Env& env, const std::vector<rocksdb::Slice>& buffers, const double* at, const std::string& path) {
  const double index = at[0], offset = at[1], length = at[2];
  // Every range check on the doubles first: a cast of a value past size_t's range is undefined.
  if (length == 0) return rocksdb::Slice();
  if (!(index >= 0 && index < static_cast<double>(buffers.size()) && index == std::floor(index))) ThrowSst(env, kErrInvalidArgument, "packed row buffer index out of range", path);
  const rocksdb::Slice& b = buffers[static_cast<size_t>(index)];
  const double size = static_cast<double>(b.size());
  if (!(length > 0 && length <= size && length == std::floor(length) && offset >= 0 && offset <= size - length && offset == std::floor(offset))) ThrowSst(env, kErrInvalidArgument, "packed row lies outside its buffer", path);
  return rocksdb::Slice(b.data() + static_cast<size_t>(offset), static_cast<size_t>(length));
}
}  // namespace

// putPackedRowsAndFinishAsync(buffers: Uint8Array[], layout: Float64Array): the rows in key order,
// each key and value a range of one of `buffers` (PackedSlice). Two arguments per file instead of
// a typed array per key and per value: their N-API calls took 4–10 ms of the event loop per 64 MiB
// savepoint conversion to native (issue 16).
Napi::Value SstWriterWrap::PutPackedRowsAndFinishAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Opened(env);
  // Every argument is checked here, so a bad one throws synchronously and no worker starts.
  if (!info[0].IsArray()) ThrowSst(env, kErrInvalidArgument, "buffers must be an array", st_->path);
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) ThrowSst(env, kErrInvalidArgument, "layout must be a Float64Array", st_->path);
  Napi::Array array = info[0].As<Napi::Array>();
  Napi::Float64Array layout = info[1].As<Napi::Float64Array>();
  std::vector<rocksdb::Slice> buffers;
  buffers.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) buffers.push_back(ArgBytes(env, array.Get(i), "buffer"));
  const size_t values = layout.ElementLength();
  if (values % 6 != 0) ThrowSst(env, kErrInvalidArgument, "layout must hold six numbers per row", st_->path);
  const double* at = layout.Data();
  std::vector<std::pair<rocksdb::Slice, rocksdb::Slice>> rows;
  rows.reserve(values / 6);
  for (size_t r = 0; r < values; r += 6) rows.emplace_back(PackedSlice(env, buffers, at + r, st_->path), PackedSlice(env, buffers, at + r + 3, st_->path));
  auto* worker = new FinishWorker(env, st_, info.This().As<Napi::Object>(), std::move(rows), array, layout);
  return QueueWorker(worker);
}

Napi::Value SstWriterWrap::FileSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rocksdb::SstFileWriter* w = Opened(env);
  return Napi::Number::New(env, static_cast<double>(w->FileSize()));
}

Napi::Value SstWriterWrap::Abandon(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (st_->busy) ThrowSst(env, kErrBusy, "SstFileWriter.finishAsync is in progress", st_->path);
  if (st_->opened) {
    DiscardOpenFile(*st_);
    st_->opened = false;
  }
  return env.Undefined();
}

Napi::Value SstWriterWrap::State(const Napi::CallbackInfo& info) {
  const char* s = st_->busy ? "finishing" : st_->opened ? "open" : "idle";
  return Napi::String::New(info.Env(), s);
}

}  // namespace flowstate
