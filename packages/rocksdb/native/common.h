// flowstate native RocksDB binding — shared declarations.
//
// Threading model: every JS-visible method runs on the JS thread of the
// environment that created the object. The only work that leaves that thread is
// the body (Execute) of the AsyncWorkers for createCheckpoint / compactRange /
// ingestExternalFile / SstFileWriter.finish; those hold a shared_ptr to the
// DbState and are counted in DbState::pending_async_, which close() and
// dropColumnFamily() wait on before touching handles the worker may use.
// verifySstFile's worker touches no database (it owns a copy of its path).
//
// Ownership model (no raw back-pointers from children to parents):
//   DbWrap (JS Database) ──shared_ptr──► DbState ◄──shared_ptr── IterWrap / SnapshotWrap / async workers
//   DbState owns the rocksdb::DB*, the ColumnFamilyHandle*s (via CfRef), the
//   live rocksdb::Iterator*s (via IterRef) and the live rocksdb::Snapshot*s
//   (via SnapshotRef). Children hold shared_ptrs to their *Ref record; the
//   record's raw rocksdb pointer is nulled exactly once, by DbState, when the
//   resource is released (explicitly, by close(), or by drop).
#pragma once

#include <napi.h>

#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/status.h>
#include <rocksdb/write_batch.h>

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "ttl_filter.h"

// Always-on invariant check (independent of NDEBUG): an invariant violation in
// the binding is a bug, and continuing could corrupt memory, so abort loudly.
#define FS_CHECK(cond)                                                              \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "flowstate_rocksdb: invariant failed: %s (%s:%d)\n", #cond, \
                   __FILE__, __LINE__);                                             \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

namespace flowstate {

// ---- error codes -----------------------------------------------------------
// Binding-level codes (RocksDB status codes are mapped in errors.cc).
constexpr const char* kErrClosed = "ROCKSDB_CLOSED";
constexpr const char* kErrInvalidArgument = "ROCKSDB_INVALID_ARGUMENT";
constexpr const char* kErrBusy = "ROCKSDB_BUSY";
constexpr const char* kErrCfDropped = "ROCKSDB_COLUMN_FAMILY_DROPPED";

// Per-environment data (constructors + JS error factory).
struct AddonData {
  Napi::FunctionReference db_ctor;
  Napi::FunctionReference cf_ctor;
  Napi::FunctionReference snapshot_ctor;
  Napi::FunctionReference iterator_ctor;
  Napi::FunctionReference batch_ctor;
  Napi::FunctionReference sst_writer_ctor;
  // (code, message, path, status) => Error. Installed from TypeScript so that
  // native errors are real `RocksDBError` instances.
  Napi::FunctionReference error_factory;
};

AddonData* GetAddonData(Napi::Env env);

// Builds a JS error (a RocksDBError when the factory is installed).
Napi::Error MakeError(Napi::Env env, const char* code, const std::string& message,
                      const std::string& path, const std::string& status = std::string());
Napi::Error MakeStatusError(Napi::Env env, const rocksdb::Status& s, const std::string& path);
const char* StatusCode(const rocksdb::Status& s);

[[noreturn]] inline void Throw(Napi::Env env, const char* code, const std::string& message,
                               const std::string& path = std::string()) {
  throw MakeError(env, code, message, path);
}
inline void ThrowIfError(Napi::Env env, const rocksdb::Status& s, const std::string& path) {
  if (!s.ok()) throw MakeStatusError(env, s, path);
}

// ---- type tags (guard ObjectWrap::Unwrap against type confusion) -----------
extern const napi_type_tag kDbTag;
extern const napi_type_tag kCfTag;
extern const napi_type_tag kSnapshotTag;
extern const napi_type_tag kIteratorTag;
extern const napi_type_tag kBatchTag;
extern const napi_type_tag kSstWriterTag;

// Queues an async worker (it deletes itself once it settled) and returns the promise it settles.
template <class Worker>
Napi::Promise QueueWorker(Worker* worker) {
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

// ---- file helpers (pin_files.cc, sst_verify.cc) -----------------------------
// An IOError naming what failed on `path`, with errno `err`'s text.
rocksdb::Status ErrnoStatus(const std::string& what, const std::string& path, int err);
// Reads `fd` from offset 0 into `buf` until `cap` bytes or the end of the file (EINTR retried);
// `*n` is how many bytes it read.
rocksdb::Status PreadUpTo(int fd, const std::string& path, char* buf, size_t cap, size_t* n);

// ---- argument helpers ------------------------------------------------------
// Returns a Slice that aliases the Uint8Array's memory; valid for the duration
// of the current native call only (never stored, never used off-thread).
rocksdb::Slice ArgBytes(const Napi::Env& env, const Napi::Value& v, const char* what);
std::string ArgString(const Napi::Env& env, const Napi::Value& v, const char* what);
bool IsNullish(const Napi::Value& v);
// Copies bytes into a new plain Uint8Array.
Napi::Uint8Array ToBytes(Napi::Env env, const rocksdb::Slice& s);
// `v` as an integer in [min, max] (both at most 2^53), else ROCKSDB_INVALID_ARGUMENT naming `what`
// and what it got: a number outside the range, a fraction, NaN, nothing or a non-number.
double IntegerArg(const Napi::Env& env, const Napi::Value& v, double min, double max, const std::string& what,
                  const std::string& path = std::string());
// Largest number of entries one batch or scan call returns (MAX_SCAN_LIMIT in database.ts).
constexpr double kMaxEntries = 1e7;
// A batch size or scan limit (`what`): an integer in [1, kMaxEntries], else ROCKSDB_INVALID_ARGUMENT.
// No default here: the TS wrappers own the defaults (RocksIterator.nextBatch), so a missing or
// fractional argument is an error instead of silently read as some other number.
uint32_t MaxEntries(const Napi::Env& env, const Napi::Value& v, const char* what, const std::string& path);
// Up to `max` entries from the iterator's position on (advancing past them), in one ArrayBuffer
// laid out as (host-endian u32) [count][klen_0][vlen_0]...[klen_n-1][vlen_n-1] then
// k_0 v_0 k_1 v_1 ...; undefined when no entry is left. A batch also ends once it holds 8 MiB of
// keys and values. Throws on an iterator error.
Napi::Value PackEntries(const Napi::Env& env, rocksdb::Iterator* it, uint32_t max, const std::string& path);
// Entries from the iterator's position on, into `dst` (`capacity` bytes) while they fit, each as
// [klen u32 LE][vlen u32 LE][key][value]. Returns [count, next]: `next` is the packed size of the
// entry that did not fit, 0 when none is left. Throws on an iterator error.
Napi::Value PackEntriesInto(const Napi::Env& env, rocksdb::Iterator* it, char* dst, size_t capacity, const std::string& path);

// ---- merge operator --------------------------------------------------------
std::shared_ptr<rocksdb::MergeOperator> ListAppendMergeOperator();
// Flink's list-state merge operator (FRocksDB StringAppendTESTOperator, ',' delimiter): for reading Flink's files.
std::shared_ptr<rocksdb::MergeOperator> FlinkStringAppendMergeOperator();

// ---- shared records --------------------------------------------------------
struct CfRef {
  rocksdb::ColumnFamilyHandle* handle = nullptr;  // owned by DbState; null once dropped/closed
  std::string name;
  uint32_t id = 0;
  uint64_t db_id = 0;
  bool dropped = false;
};

struct SnapshotRef {
  const rocksdb::Snapshot* snap = nullptr;  // null once actually released
  uint64_t db_id = 0;
  uint64_t sequence = 0;
  bool user_released = false;  // release() called (or DB closed)
  uint32_t pins = 0;           // open iterators reading at this snapshot
};

struct IterRef {
  // Field order matters: `it` is declared last so it is destroyed first, before
  // the bound strings its ReadOptions point into.
  std::string lower, upper;
  rocksdb::Slice lower_slice, upper_slice;
  std::shared_ptr<SnapshotRef> snapshot;
  std::shared_ptr<CfRef> cf;
  std::unique_ptr<rocksdb::Iterator> it;  // null once closed/invalidated
};

// Options resolved from the JS `open` options object.
// Which local files RocksDB fsyncs (option syncFiles): all of them (true, RocksDB's default),
// only SST files ('ssts': the files checkpoints upload, synced as RocksDB writes them), or none
// (false: scratch databases whose files are copied to durable storage before anything relies on them).
enum class SyncFiles { kAll, kSstsOnly, kNone };

struct DbConfig {
  bool create_if_missing = true;
  bool create_missing_column_families = false;
  uint64_t block_cache_size = 32ull << 20;
  uint64_t write_buffer_size = 64ull << 20;
  int max_write_buffer_number = 2;
  rocksdb::CompressionType compression = rocksdb::kSnappyCompression;
  bool disable_wal = false;
  bool atomic_flush = false;
  uint32_t fixed_prefix_length = 0;  // 0 = no prefix extractor
  bool flink_string_append = false;  // merge operator: Flink's ','-delimited string append instead of ours
  SyncFiles sync_files = SyncFiles::kAll;  // see SyncFiles and NoSyncEnv (util.cc)
  bool info_log = true;  // false: no info LOG file (scratch databases; see MakeDbOptions)
  bool allow_fallocate = true;  // false: no preallocated blocks (scratch databases; see MakeDbOptions)
  bool has_column_families = false;
  std::vector<std::string> column_families;
};

// Parse the JS options object used by both open() and SstFileWriter.
DbConfig ParseConfig(const Napi::Env& env, const Napi::Value& v);
rocksdb::DBOptions MakeDbOptions(const DbConfig& c);
rocksdb::ColumnFamilyOptions MakeCfOptions(const DbConfig& c);
// An Env whose files and directories are never synced (fsync, fdatasync, sync_file_range are
// no-ops), except SST files when `keep_sst_syncs`; everything else goes to the default Env.
rocksdb::Env* NoSyncEnv(bool keep_sst_syncs);
// From construction to Finish(), the SST files of the database in `db_dir` (syncFiles 'ssts')
// skip their syncs and are listed (Finish() ends the window and returns their base names): a
// native checkpoint's synchronous part flushes the memtables without waiting for the disk, and its
// asynchronous part syncs what it uploads of them. Destroyed without Finish() (an error), the list
// is lost: the caller must then treat every SST of the database as not synced.
class DeferSstSyncs {
 public:
  explicit DeferSstSyncs(std::string db_dir);
  ~DeferSstSyncs();
  DeferSstSyncs(const DeferSstSyncs&) = delete;
  DeferSstSyncs& operator=(const DeferSstSyncs&) = delete;
  std::vector<std::string> Finish();

 private:
  const std::string dir_;
};
// @internal For tests: { skipped, keptSst }, syncs the no-sync Envs skipped and SST syncs they kept.
Napi::Value SyncCountsForTest(const Napi::CallbackInfo& info);
// @internal For tests: { skipped, kept }, the compression probe's decisions (compression_probe.h).
Napi::Value CompressionProbeCountsJs(const Napi::CallbackInfo& info);

class DbState {
 public:
  DbState();
  ~DbState();
  DbState(const DbState&) = delete;
  DbState& operator=(const DbState&) = delete;

  // All of the following run on the JS thread.
  rocksdb::Status Open(const std::string& path, const DbConfig& config);
  rocksdb::Status Close();  // idempotent; invalidates every child
  bool closed() const { return db_ == nullptr; }
  rocksdb::DB* db() const { return db_; }

  void TrackIterator(const std::shared_ptr<IterRef>& ref);
  void CloseIterator(const std::shared_ptr<IterRef>& ref);
  std::shared_ptr<SnapshotRef> NewSnapshot();
  void ReleaseSnapshot(const std::shared_ptr<SnapshotRef>& ref);  // user release
  rocksdb::Status CreateColumnFamily(const std::string& name, std::shared_ptr<CfRef>* out);
  rocksdb::Status DropColumnFamily(const std::shared_ptr<CfRef>& cf);

  // Async bookkeeping (BeginAsync on JS thread, EndAsync on a worker thread).
  void BeginAsync();
  void EndAsync();
  void WaitForAsync();

  uint64_t id() const { return id_; }
  const std::string& path() const { return path_; }
  const DbConfig& config() const { return config_; }
  const rocksdb::ColumnFamilyOptions& cf_options() const { return cf_options_; }
  const rocksdb::WriteOptions& write_options() const { return write_options_; }
  const std::map<std::string, std::shared_ptr<CfRef>>& cfs() const { return cfs_; }
  // TTL compaction filter configs and time (ttl_filter.h); outlives the DB via its factory.
  const std::shared_ptr<TtlRegistry>& ttl() const { return ttl_; }

 private:
  void MaybeReleaseSnapshot(const std::shared_ptr<SnapshotRef>& ref);

  uint64_t id_;
  std::string path_;
  DbConfig config_;
  rocksdb::DB* db_ = nullptr;
  rocksdb::ColumnFamilyOptions cf_options_;
  rocksdb::WriteOptions write_options_;
  std::map<std::string, std::shared_ptr<CfRef>> cfs_;
  std::shared_ptr<TtlRegistry> ttl_ = std::make_shared<TtlRegistry>();
  std::unordered_set<std::shared_ptr<SnapshotRef>> snapshots_;
  std::unordered_set<std::shared_ptr<IterRef>> iterators_;

  std::mutex async_mu_;
  std::condition_variable async_cv_;
  int pending_async_ = 0;
};

// ---- JS classes --------------------------------------------------------------
class CfWrap : public Napi::ObjectWrap<CfWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object New(Napi::Env env, const std::shared_ptr<CfRef>& ref);
  explicit CfWrap(const Napi::CallbackInfo& info);
  const std::shared_ptr<CfRef>& ref() const { return ref_; }

 private:
  Napi::Value Name(const Napi::CallbackInfo& info);
  Napi::Value Id(const Napi::CallbackInfo& info);
  Napi::Value IsValid(const Napi::CallbackInfo& info);
  Napi::Value IsDropped(const Napi::CallbackInfo& info);
  std::shared_ptr<CfRef> ref_;
};

// Base of the JS objects over a resource a DbState owns (snapshot, iterator): they hold the
// state alive and the resource's record, both set once by New right after construction.
template <class Self, class Ref, Napi::FunctionReference AddonData::*Ctor, const napi_type_tag* Tag>
class DbChildWrap : public Napi::ObjectWrap<Self> {
 public:
  explicit DbChildWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Self>(info) {
    info.This().template As<Napi::Object>().TypeTag(Tag);
  }
  const std::shared_ptr<Ref>& ref() const { return ref_; }
  static Napi::Object New(Napi::Env env, const std::shared_ptr<DbState>& state, const std::shared_ptr<Ref>& ref) {
    Napi::Object obj = (GetAddonData(env)->*Ctor).New({});
    Self* w = Napi::ObjectWrap<Self>::Unwrap(obj);
    FS_CHECK(!w->state_ && !w->ref_);
    w->state_ = state;
    w->ref_ = ref;
    return obj;
  }
  std::shared_ptr<DbState> state_;
  std::shared_ptr<Ref> ref_;
};

class SnapshotWrap : public DbChildWrap<SnapshotWrap, SnapshotRef, &AddonData::snapshot_ctor, &kSnapshotTag> {
 public:
  using DbChildWrap::DbChildWrap;
  static Napi::Function Define(Napi::Env env);
  ~SnapshotWrap() override;

 private:
  Napi::Value Release(const Napi::CallbackInfo& info);
  Napi::Value IsReleased(const Napi::CallbackInfo& info);
  Napi::Value Sequence(const Napi::CallbackInfo& info);
};

class IterWrap : public DbChildWrap<IterWrap, IterRef, &AddonData::iterator_ctor, &kIteratorTag> {
 public:
  using DbChildWrap::DbChildWrap;
  static Napi::Function Define(Napi::Env env);
  ~IterWrap() override;

 private:
  rocksdb::Iterator* Live(const Napi::Env& env);
  void CheckStatus(const Napi::Env& env, rocksdb::Iterator* it);
  rocksdb::Iterator* LiveValid(const Napi::Env& env, const char* op);
  template <typename Move>
  Napi::Value Position(const Napi::CallbackInfo& info, const char* op, Move move);
  Napi::Value Seek(const Napi::CallbackInfo& info);
  Napi::Value SeekForPrev(const Napi::CallbackInfo& info);
  Napi::Value SeekToFirst(const Napi::CallbackInfo& info);
  Napi::Value SeekToLast(const Napi::CallbackInfo& info);
  Napi::Value Valid(const Napi::CallbackInfo& info);
  Napi::Value Next(const Napi::CallbackInfo& info);
  Napi::Value Prev(const Napi::CallbackInfo& info);
  Napi::Value Key(const Napi::CallbackInfo& info);
  Napi::Value Value(const Napi::CallbackInfo& info);
  Napi::Value NextBatch(const Napi::CallbackInfo& info);
  Napi::Value NextBatchPacked(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value IsClosed(const Napi::CallbackInfo& info);
};

// Base of the JS objects that take the four writes (put, merge, delete, deleteRange) into a
// rocksdb::WriteBatch or SstFileWriter: the methods read the same arguments and differ only in
// where they write. Self provides `template <typename Op> Napi::Value Write(info, Op op)`: it
// resolves the target (a batch's column family in the first argument, a writer's open file), calls
// `op(target, env, k)` with `k` the index of the key argument, and throws a failed Status.
template <class Self>
class KvWriterWrap : public Napi::ObjectWrap<Self> {
 public:
  using Descriptor = Napi::ClassPropertyDescriptor<Self>;
  KvWriterWrap(const Napi::CallbackInfo& info, const napi_type_tag* tag) : Napi::ObjectWrap<Self>(info) {
    info.This().template As<Napi::Object>().TypeTag(tag);
  }

 protected:
  // Defines Self's JS class `name`: the four writes, then Self's own methods.
  static Napi::Function DefineWriterClass(Napi::Env env, const char* name, std::initializer_list<Descriptor> own) {
    using W = Napi::ObjectWrap<Self>;
    std::vector<Descriptor> all{W::InstanceMethod("put", &KvWriterWrap::Put), W::InstanceMethod("merge", &KvWriterWrap::Merge),
                                W::InstanceMethod("delete", &KvWriterWrap::Delete), W::InstanceMethod("deleteRange", &KvWriterWrap::DeleteRange)};
    all.insert(all.end(), own);
    return W::DefineClass(env, name, all);
  }

 private:
  Self& self() { return static_cast<Self&>(*this); }
  Napi::Value Put(const Napi::CallbackInfo& info) {
    return self().Write(info, [&](auto& w, Napi::Env env, size_t k) { return w.Put(ArgBytes(env, info[k], "key"), ArgBytes(env, info[k + 1], "value")); });
  }
  Napi::Value Merge(const Napi::CallbackInfo& info) {
    return self().Write(info, [&](auto& w, Napi::Env env, size_t k) { return w.Merge(ArgBytes(env, info[k], "key"), ArgBytes(env, info[k + 1], "value")); });
  }
  Napi::Value Delete(const Napi::CallbackInfo& info) {
    return self().Write(info, [&](auto& w, Napi::Env env, size_t k) { return w.Delete(ArgBytes(env, info[k], "key")); });
  }
  Napi::Value DeleteRange(const Napi::CallbackInfo& info) {
    return self().Write(info, [&](auto& w, Napi::Env env, size_t k) { return w.DeleteRange(ArgBytes(env, info[k], "begin"), ArgBytes(env, info[k + 1], "end")); });
  }
};

class BatchWrap : public KvWriterWrap<BatchWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit BatchWrap(const Napi::CallbackInfo& info) : KvWriterWrap(info, &kBatchTag) {}
  rocksdb::WriteBatch* batch() { return &batch_; }
  uint64_t db_id() const { return db_id_; }
  template <typename Op>
  Napi::Value Write(const Napi::CallbackInfo& info, Op op);

 private:
  // The batch's writes into one column family, with SstFileWriter's signatures.
  struct CfBatch {
    rocksdb::WriteBatch& b;
    rocksdb::ColumnFamilyHandle* cf;
    rocksdb::Status Put(const rocksdb::Slice& k, const rocksdb::Slice& v) { return b.Put(cf, k, v); }
    rocksdb::Status Merge(const rocksdb::Slice& k, const rocksdb::Slice& v) { return b.Merge(cf, k, v); }
    rocksdb::Status Delete(const rocksdb::Slice& k) { return b.Delete(cf, k); }
    rocksdb::Status DeleteRange(const rocksdb::Slice& begin, const rocksdb::Slice& end) { return b.DeleteRange(cf, begin, end); }
  };
  rocksdb::ColumnFamilyHandle* Cf(const Napi::Env& env, const Napi::Value& v);
  Napi::Value Clear(const Napi::CallbackInfo& info);
  Napi::Value Count(const Napi::CallbackInfo& info);
  Napi::Value DataSize(const Napi::CallbackInfo& info);
  rocksdb::WriteBatch batch_;
  uint64_t db_id_ = 0;  // DB whose column families this batch references (0 = none yet)
};

// State of one SstFileWriter, shared by the JS wrap and an in-flight async
// finish (so neither can outlive the rocksdb::SstFileWriter the other uses,
// whatever order finalizers run in at environment teardown).
struct SstWriterState {
  std::unique_ptr<rocksdb::Options> options;
  // `options` without compression, for a file whose rows do not compress (compression_probe.h).
  std::unique_ptr<rocksdb::Options> uncompressed;
  std::unique_ptr<rocksdb::SstFileWriter> writer;
  std::string path;
  bool opened = false;
  bool written = false;  // a put, merge or delete since open: the compression probe may not reopen the file
  bool busy = false;  // an async finish is running on a worker thread
};

class SstWriterWrap : public KvWriterWrap<SstWriterWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit SstWriterWrap(const Napi::CallbackInfo& info) : KvWriterWrap(info, &kSstWriterTag) {}
  void Configure(const rocksdb::Options& options);
  template <typename Op>
  Napi::Value Write(const Napi::CallbackInfo& info, Op op);

 private:
  class FinishWorker;
  rocksdb::SstFileWriter* Opened(const Napi::Env& env);
  Napi::Value ConfigureJs(const Napi::CallbackInfo& info);
  Napi::Value Open(const Napi::CallbackInfo& info);
  Napi::Value Finish(const Napi::CallbackInfo& info);
  Napi::Value FinishAsync(const Napi::CallbackInfo& info);
  Napi::Value PutPackedRowsAndFinishAsync(const Napi::CallbackInfo& info);
  Napi::Value FileSize(const Napi::CallbackInfo& info);
  Napi::Value Abandon(const Napi::CallbackInfo& info);
  Napi::Value State(const Napi::CallbackInfo& info);

  std::shared_ptr<SstWriterState> st_ = std::make_shared<SstWriterState>();
};

class DbWrap : public Napi::ObjectWrap<DbWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit DbWrap(const Napi::CallbackInfo& info);
  ~DbWrap() override;

 private:
  class OpWorker;
  class OpenWorker;
  struct KeyedCall {
    Napi::Env env;
    DbState* st;
    rocksdb::ColumnFamilyHandle* cf;
    rocksdb::Slice key;  // aliases the JS argument: valid during the call only
  };
  KeyedCall Keyed(const Napi::CallbackInfo& info, const char* key_name);
  struct IngestCall {
    DbState* st;
    rocksdb::ColumnFamilyHandle* cf;
    std::vector<std::string> files;
    rocksdb::IngestExternalFileOptions options;
    // FileChecksumCrc32c values per file (ingestion options' fileChecksums), or none.
    std::vector<std::string> checksums;
    rocksdb::Status Run() const;
  };
  IngestCall Ingest(const Napi::CallbackInfo& info);
  static Napi::Value Done(const KeyedCall& c, const rocksdb::Status& s);
  bool ReadValue(const KeyedCall& c, const Napi::CallbackInfo& info, size_t snapshot_arg, rocksdb::PinnableSlice* value);
  Napi::Value BindColumnFamily(const Napi::CallbackInfo& info);
  DbState* Live(const Napi::Env& env);
  const std::shared_ptr<CfRef>& Cf(const Napi::Env& env, const Napi::Value& v);
  const SnapshotRef* Snap(const Napi::Env& env, const Napi::Value& v);
  std::shared_ptr<SnapshotRef> SnapShared(const Napi::Env& env, const Napi::Value& v);

  Napi::Value Open(const Napi::CallbackInfo& info);
  Napi::Value OpenAsync(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value IsClosed(const Napi::CallbackInfo& info);
  Napi::Value Path(const Napi::CallbackInfo& info);
  Napi::Value GetColumnFamily(const Napi::CallbackInfo& info);
  Napi::Value ListColumnFamilies(const Napi::CallbackInfo& info);
  Napi::Value CreateColumnFamily(const Napi::CallbackInfo& info);
  Napi::Value DropColumnFamily(const Napi::CallbackInfo& info);
  Napi::Value Get(const Napi::CallbackInfo& info);
  Napi::Value GetInto(const Napi::CallbackInfo& info);
  Napi::Value Scan(const Napi::CallbackInfo& info);
  Napi::Value ScanInto(const Napi::CallbackInfo& info);
  std::unique_ptr<rocksdb::Iterator> ScanIterator(const KeyedCall& c, const Napi::CallbackInfo& info, size_t first, const rocksdb::Slice* upper);
  Napi::Value Put(const Napi::CallbackInfo& info);
  Napi::Value Delete(const Napi::CallbackInfo& info);
  Napi::Value Merge(const Napi::CallbackInfo& info);
  Napi::Value DeleteRange(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Flush(const Napi::CallbackInfo& info);
  Napi::Value FlushAsync(const Napi::CallbackInfo& info);
  std::vector<rocksdb::ColumnFamilyHandle*> FlushTargets(const Napi::Env& env, const Napi::Value& v);
  Napi::Value CompactRange(const Napi::CallbackInfo& info);
  Napi::Value CompactRangeAsync(const Napi::CallbackInfo& info);
  Napi::Value GetSnapshot(const Napi::CallbackInfo& info);
  Napi::Value NewIterator(const Napi::CallbackInfo& info);
  Napi::Value CreateCheckpoint(const Napi::CallbackInfo& info);
  Napi::Value CreateCheckpointAsync(const Napi::CallbackInfo& info);
  Napi::Value GetLiveFilesMetaData(const Napi::CallbackInfo& info);
  Napi::Value PinLiveFiles(const Napi::CallbackInfo& info);  // pin_files.cc
  Napi::Value IngestExternalFile(const Napi::CallbackInfo& info);
  Napi::Value IngestExternalFileAsync(const Napi::CallbackInfo& info);
  Napi::Value CreateSstFileWriter(const Napi::CallbackInfo& info);
  Napi::Value GetProperty(const Napi::CallbackInfo& info);
  Napi::Value LatestSequenceNumber(const Napi::CallbackInfo& info);
  // TTL compaction filter (ttl_filter_js.cc).
  Napi::Value SetTtlCompactionFilter(const Napi::CallbackInfo& info);
  Napi::Value SetTtlTime(const Napi::CallbackInfo& info);

  std::shared_ptr<DbState> state_;
  bool opening_ = false;  // an OpenWorker is running
  bool close_after_open_ = false;  // close() was called while opening_
};

// Free functions exported on the module.
Napi::Value ListColumnFamiliesOfPath(const Napi::CallbackInfo& info);
// verifySstFile(path) -> Promise<{ size, crc32c }> (sst_verify.cc).
Napi::Value VerifySstFile(const Napi::CallbackInfo& info);
// crc32cForTest(bytes, portable) -> number: the CRC32C verifySstFile computes,
// with the CPU instruction (if any) or the portable table (tests compare both).
Napi::Value Crc32cForTest(const Napi::CallbackInfo& info);
// sstVerifyCountsForTest() -> { inMemory, streamed }: verifySstFile calls that read the file into
// memory once, and that streamed it (sst_verify.cc).
Napi::Value SstVerifyCountsForTest(const Napi::CallbackInfo& info);
// ttlFilterForTest(config, now, value, mergeOperand) -> { verdict, value? }: the
// TTL filter's decision on one value, without a compaction (ttl_filter_js.cc).
Napi::Value TtlFilterForTest(const Napi::CallbackInfo& info);
Napi::Value TtlFilterSequenceForTest(const Napi::CallbackInfo& info);

}  // namespace flowstate
