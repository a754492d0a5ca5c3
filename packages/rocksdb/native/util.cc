// Errors, argument conversion, options parsing and the list-append merge operator.
#include "common.h"
#include "crc32c.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <rocksdb/cache.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <unistd.h>
#include <deque>

namespace flowstate {

// Arbitrary but fixed 128-bit tags; one per native class.
const napi_type_tag kDbTag = {0x8b3f6a1e52c04d11ULL, 0x9a7d6c2f1e0b3a41ULL};
const napi_type_tag kCfTag = {0x8b3f6a1e52c04d11ULL, 0x9a7d6c2f1e0b3a42ULL};
const napi_type_tag kSnapshotTag = {0x8b3f6a1e52c04d11ULL, 0x9a7d6c2f1e0b3a43ULL};
const napi_type_tag kIteratorTag = {0x8b3f6a1e52c04d11ULL, 0x9a7d6c2f1e0b3a44ULL};
const napi_type_tag kBatchTag = {0x8b3f6a1e52c04d11ULL, 0x9a7d6c2f1e0b3a45ULL};
const napi_type_tag kSstWriterTag = {0x8b3f6a1e52c04d11ULL, 0x9a7d6c2f1e0b3a46ULL};

AddonData* GetAddonData(Napi::Env env) {
  AddonData* data = env.GetInstanceData<AddonData>();
  FS_CHECK(data != nullptr);
  return data;
}

const char* StatusCode(const rocksdb::Status& s) {
  switch (s.code()) {
    case rocksdb::Status::kOk: return "ROCKSDB_OK";
    case rocksdb::Status::kNotFound: return "ROCKSDB_NOT_FOUND";
    case rocksdb::Status::kCorruption: return "ROCKSDB_CORRUPTION";
    case rocksdb::Status::kNotSupported: return "ROCKSDB_NOT_SUPPORTED";
    case rocksdb::Status::kInvalidArgument: return "ROCKSDB_INVALID_ARGUMENT";
    case rocksdb::Status::kIOError: return "ROCKSDB_IO_ERROR";
    case rocksdb::Status::kMergeInProgress: return "ROCKSDB_MERGE_IN_PROGRESS";
    case rocksdb::Status::kIncomplete: return "ROCKSDB_INCOMPLETE";
    case rocksdb::Status::kShutdownInProgress: return "ROCKSDB_SHUTDOWN_IN_PROGRESS";
    case rocksdb::Status::kTimedOut: return "ROCKSDB_TIMED_OUT";
    case rocksdb::Status::kAborted: return "ROCKSDB_ABORTED";
    case rocksdb::Status::kBusy: return "ROCKSDB_BUSY";
    case rocksdb::Status::kExpired: return "ROCKSDB_EXPIRED";
    case rocksdb::Status::kTryAgain: return "ROCKSDB_TRY_AGAIN";
    case rocksdb::Status::kCompactionTooLarge: return "ROCKSDB_COMPACTION_TOO_LARGE";
    case rocksdb::Status::kColumnFamilyDropped: return kErrCfDropped;
    default: return "ROCKSDB_UNKNOWN";
  }
}

Napi::Error MakeError(Napi::Env env, const char* code, const std::string& message,
                      const std::string& path, const std::string& status) {
  AddonData* data = GetAddonData(env);
  if (!data->error_factory.IsEmpty()) {
    Napi::Value codeV = Napi::String::New(env, code);
    Napi::Value msgV = Napi::String::New(env, message);
    Napi::Value pathV = path.empty() ? env.Undefined() : Napi::String::New(env, path);
    Napi::Value statusV = status.empty() ? env.Undefined() : Napi::String::New(env, status);
    napi_value result = nullptr;
    napi_value argv[] = {codeV, msgV, pathV, statusV};
    napi_status st = napi_call_function(env, env.Undefined(), data->error_factory.Value(), 4,
                                        argv, &result);
    if (st == napi_ok && result != nullptr) {
      return Napi::Error(env, result);
    }
    // The factory itself threw: clear that exception and fall back below.
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
  }
  std::string full = message;
  if (!path.empty()) full += " (db: " + path + ")";
  Napi::Error err = Napi::Error::New(env, full);
  err.Set("code", Napi::String::New(env, code));
  if (!path.empty()) err.Set("path", Napi::String::New(env, path));
  return err;
}

Napi::Error MakeStatusError(Napi::Env env, const rocksdb::Status& s, const std::string& path) {
  std::string text = s.ToString();
  return MakeError(env, StatusCode(s), text, path, text);
}

bool IsNullish(const Napi::Value& v) {
  // One napi_typeof instead of two (IsUndefined + IsNull each call it).
  napi_valuetype t = v.Type();
  return t == napi_undefined || t == napi_null;
}

rocksdb::Slice ArgBytes(const Napi::Env& env, const Napi::Value& v, const char* what) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  // napi_get_typedarray_info fails (napi_invalid_arg) for anything but a typed array, so no
  // separate napi_is_typedarray call is needed on this hot path.
  if (napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array) {
    Throw(env, kErrInvalidArgument, std::string(what) + " must be a Uint8Array");
  }
  if (data == nullptr) {
    FS_CHECK(length == 0);
    return rocksdb::Slice("", 0);
  }
  return rocksdb::Slice(static_cast<const char*>(data), length);
}

std::string ArgString(const Napi::Env& env, const Napi::Value& v, const char* what) {
  if (!v.IsString()) Throw(env, kErrInvalidArgument, std::string(what) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Uint8Array ToBytes(Napi::Env env, const rocksdb::Slice& s) {
  // A plain Uint8Array over a fresh ArrayBuffer (not a Node Buffer), so every
  // key/value the binding returns has the same type, whichever path made it.
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, s.size());
  if (s.size() > 0) std::memcpy(ab.Data(), s.data(), s.size());
  return Napi::Uint8Array::New(env, s.size(), ab, 0);
}

double IntegerArg(const Napi::Env& env, const Napi::Value& v, double min, double max, const std::string& what,
                  const std::string& path) {
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : std::nan("");
  // NaN fails the range test; std::floor tells a fraction from an integer.
  if (!(d >= min && d <= max) || std::floor(d) != d) {
    std::string got = v.IsNumber() ? v.ToString().Utf8Value() : (IsNullish(v) ? "nothing" : "a non-number");
    Throw(env, kErrInvalidArgument,
          what + " must be an integer in [" + std::to_string(static_cast<int64_t>(min)) + ", " +
              std::to_string(static_cast<int64_t>(max)) + "], got " + got,
          path);
  }
  return d;
}

uint32_t MaxEntries(const Napi::Env& env, const Napi::Value& v, const char* what, const std::string& path) {
  return static_cast<uint32_t>(IntegerArg(env, v, 1, kMaxEntries, what, path));
}

namespace {
// An ArrayBuffer of `size` bytes whose contents the caller overwrites whole. Through
// napi_create_buffer: V8's own ArrayBuffer::New zero-fills, which a canonical snapshot's 512 KiB
// to 8 MiB batches paid for (a memset of every batch plus the page faults it takes first; about as
// much as the scan's own copy, issue 16). Node's buffers of that call are uninitialized and own
// their ArrayBuffer at offset 0; should one ever not, the plain zero-filled ArrayBuffer is used.
Napi::ArrayBuffer UninitializedArrayBuffer(const Napi::Env& env, size_t size) {
  void* data = nullptr;
  napi_value buffer = nullptr;
  napi_value arraybuffer = nullptr;
  napi_typedarray_type type;
  size_t length = 0;
  size_t offset = 0;
  if (napi_create_buffer(env, size, &data, &buffer) == napi_ok &&
      napi_get_typedarray_info(env, buffer, &type, &length, &data, &arraybuffer, &offset) == napi_ok &&
      offset == 0 && length == size) {
    Napi::ArrayBuffer ab(env, arraybuffer);
    if (ab.ByteLength() == size) return ab;
  }
  // A failed napi call leaves a pending exception only on allocation failure; New throws then too.
  return Napi::ArrayBuffer::New(env, size);
}
}  // namespace

Napi::Value PackEntries(const Napi::Env& env, rocksdb::Iterator* it, uint32_t max, const std::string& path) {
  constexpr size_t kPackedBatchBytes = 8u << 20;
  // What the reused bytes may keep between calls: one full batch and 1 MiB of the entry that ended it.
  constexpr size_t kKeptBytes = kPackedBatchBytes + (1u << 20);
  // Reused between calls (JS thread only): the common small batch allocates nothing here, and a
  // scan of many large batches (a canonical snapshot) grows the bytes once, not once per batch.
  // A vector, not a string: libstdc++'s string::reserve doubles any request below twice its
  // capacity, so it could not be held to kKeptBytes; vector::reserve allocates what it is asked.
  thread_local std::vector<uint32_t> lens;
  thread_local std::vector<char> bytes;
  lens.clear();
  bytes.clear();
  uint32_t n = 0;
  while (n < max && it->Valid() && bytes.size() < kPackedBatchBytes) {
    rocksdb::Slice k = it->key(), v = it->value();
    FS_CHECK(k.size() <= UINT32_MAX && v.size() <= UINT32_MAX);
    lens.push_back(static_cast<uint32_t>(k.size()));
    lens.push_back(static_cast<uint32_t>(v.size()));
    // Doubling, but not past what is kept (a doubling from 8 MiB would allocate 16 and give it all back).
    size_t need = bytes.size() + k.size() + v.size();
    if (need > bytes.capacity()) bytes.reserve(std::max(need, std::min(2 * bytes.capacity(), kKeptBytes)));
    bytes.insert(bytes.end(), k.data(), k.data() + k.size());
    bytes.insert(bytes.end(), v.data(), v.data() + v.size());
    ++n;
    it->Next();
  }
  if (!it->Valid()) ThrowIfError(env, it->status(), path);
  Napi::Value out = env.Undefined();
  if (n > 0) {
    size_t header = sizeof(uint32_t) * (1 + lens.size());
    Napi::ArrayBuffer ab = UninitializedArrayBuffer(env, header + bytes.size());
    char* dst = static_cast<char*>(ab.Data());
    std::memcpy(dst, &n, sizeof(uint32_t));
    std::memcpy(dst + sizeof(uint32_t), lens.data(), sizeof(uint32_t) * lens.size());
    if (!bytes.empty()) std::memcpy(dst + header, bytes.data(), bytes.size());
    out = ab;
  }
  // Keep at most one full batch (and 1 MiB of the entry that ended it) for the next call: a single
  // larger entry's memory goes back at once.
  if (bytes.capacity() > kKeptBytes) std::vector<char>().swap(bytes);
  if (lens.capacity() > (1u << 16)) std::vector<uint32_t>().swap(lens);
  return out;
}

namespace {
void PutUint32LE(char* dst, uint32_t v) {
  dst[0] = static_cast<char>(v & 0xff);
  dst[1] = static_cast<char>((v >> 8) & 0xff);
  dst[2] = static_cast<char>((v >> 16) & 0xff);
  dst[3] = static_cast<char>((v >> 24) & 0xff);
}
}  // namespace

Napi::Value PackEntriesInto(const Napi::Env& env, rocksdb::Iterator* it, char* dst, size_t capacity, const std::string& path) {
  size_t used = 0;
  uint32_t n = 0;
  double next = 0;
  while (it->Valid()) {
    rocksdb::Slice k = it->key(), v = it->value();
    FS_CHECK(k.size() <= UINT32_MAX && v.size() <= UINT32_MAX);
    size_t need = 8 + k.size() + v.size();
    if (need > capacity - used) {
      next = static_cast<double>(need);
      break;
    }
    char* at = dst + used;
    PutUint32LE(at, static_cast<uint32_t>(k.size()));
    PutUint32LE(at + 4, static_cast<uint32_t>(v.size()));
    if (!k.empty()) std::memcpy(at + 8, k.data(), k.size());
    if (!v.empty()) std::memcpy(at + 8 + k.size(), v.data(), v.size());
    used += need;
    ++n;
    it->Next();
  }
  if (!it->Valid()) ThrowIfError(env, it->status(), path);
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, n));
  out.Set(1u, Napi::Number::New(env, next));
  return out;
}

// ---- merge operator --------------------------------------------------------
//
// `flowstate.list-append`
//
// Encoding contract (shared with the TypeScript state backend): a stored value
// and every merge operand are each a sequence of zero or more *elements*, where
// one element is
//
//     [u32 big-endian byte length L][L bytes of payload]
//
// Because a concatenation of two well-formed sequences is again a well-formed
// sequence, appending is plain byte concatenation:
//
//     full merge    : existing_value ++ operand_1 ++ ... ++ operand_n
//     partial merge : operand_1 ++ ... ++ operand_n   (associative)
//
// The operator never parses the framing (so it can't fail and never returns a
// Corruption status); producers are responsible for writing well-formed
// sequences. An empty operand is the empty sequence (appends nothing).
namespace {
class ListAppendOperator final : public rocksdb::MergeOperator {
 public:
  const char* Name() const override { return "flowstate.list-append"; }

  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    size_t total = in.existing_value != nullptr ? in.existing_value->size() : 0;
    for (const rocksdb::Slice& op : in.operand_list) total += op.size();
    std::string& nv = out->new_value;
    nv.clear();
    nv.reserve(total);
    if (in.existing_value != nullptr) nv.append(in.existing_value->data(), in.existing_value->size());
    for (const rocksdb::Slice& op : in.operand_list) nv.append(op.data(), op.size());
    FS_CHECK(nv.size() == total);
    return true;
  }

  bool PartialMerge(const rocksdb::Slice& /*key*/, const rocksdb::Slice& left,
                    const rocksdb::Slice& right, std::string* new_value,
                    rocksdb::Logger* /*logger*/) const override {
    new_value->clear();
    new_value->reserve(left.size() + right.size());
    new_value->append(left.data(), left.size());
    new_value->append(right.data(), right.size());
    return true;
  }

  bool PartialMergeMulti(const rocksdb::Slice& /*key*/,
                         const std::deque<rocksdb::Slice>& operands, std::string* new_value,
                         rocksdb::Logger* /*logger*/) const override {
    size_t total = 0;
    for (const rocksdb::Slice& op : operands) total += op.size();
    new_value->clear();
    new_value->reserve(total);
    for (const rocksdb::Slice& op : operands) new_value->append(op.data(), op.size());
    return true;
  }
};
}  // namespace

// ---- Flink's merge operator ------------------------------------------------
//
// Flink's RocksDB list state (RocksDBListState) stores elements joined by one ','
// byte and appends with db.merge; its column families use FRocksDB's
// `stringappendtest` operator with delimiter ','. A scratch copy of Flink's SST
// files may hold such operands unmerged: merging them with our own (framed,
// delimiter-less) operator would glue elements together, so Flink's files are
// read with this one, which produces exactly what Flink's operator produces:
// existing value and operands joined by ','.
namespace {
class FlinkStringAppendOperator final : public rocksdb::MergeOperator {
 public:
  const char* Name() const override { return "stringappendtest"; }

  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    std::string& nv = out->new_value;
    nv.clear();
    bool first = true;
    auto add = [&](const rocksdb::Slice& s) {
      if (!first) nv.push_back(',');
      nv.append(s.data(), s.size());
      first = false;
    };
    if (in.existing_value != nullptr) add(*in.existing_value);
    for (const rocksdb::Slice& op : in.operand_list) add(op);
    return true;
  }

  bool PartialMerge(const rocksdb::Slice& /*key*/, const rocksdb::Slice& left,
                    const rocksdb::Slice& right, std::string* new_value,
                    rocksdb::Logger* /*logger*/) const override {
    new_value->assign(left.data(), left.size());
    new_value->push_back(',');
    new_value->append(right.data(), right.size());
    return true;
  }
};
}  // namespace

std::shared_ptr<rocksdb::MergeOperator> FlinkStringAppendMergeOperator() {
  static const std::shared_ptr<rocksdb::MergeOperator> op = std::make_shared<FlinkStringAppendOperator>();
  return op;
}

std::shared_ptr<rocksdb::MergeOperator> ListAppendMergeOperator() {
  static const std::shared_ptr<rocksdb::MergeOperator> op = std::make_shared<ListAppendOperator>();
  return op;
}

// ---- options -----------------------------------------------------------------
namespace {
bool GetBool(const Napi::Env& env, const Napi::Object& o, const char* key, bool def) {
  Napi::Value v = o.Get(key);
  if (IsNullish(v)) return def;
  if (!v.IsBoolean()) Throw(env, kErrInvalidArgument, std::string("option ") + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

SyncFiles GetSyncFiles(const Napi::Env& env, const Napi::Object& o, SyncFiles def) {
  Napi::Value v = o.Get("syncFiles");
  if (IsNullish(v)) return def;
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? SyncFiles::kAll : SyncFiles::kNone;
  if (v.IsString() && v.As<Napi::String>().Utf8Value() == "ssts") return SyncFiles::kSstsOnly;
  Throw(env, kErrInvalidArgument, "option syncFiles must be true, false or 'ssts'");
  return def;
}

uint64_t GetUint(const Napi::Env& env, const Napi::Object& o, const char* key, uint64_t def,
                 uint64_t min, uint64_t max) {
  Napi::Value v = o.Get(key);
  if (IsNullish(v)) return def;
  return static_cast<uint64_t>(IntegerArg(env, v, static_cast<double>(min), static_cast<double>(max), std::string("option ") + key));
}
}  // namespace

DbConfig ParseConfig(const Napi::Env& env, const Napi::Value& v) {
  DbConfig c;
  if (IsNullish(v)) return c;
  if (!v.IsObject()) Throw(env, kErrInvalidArgument, "options must be an object");
  Napi::Object o = v.As<Napi::Object>();
  c.create_if_missing = GetBool(env, o, "createIfMissing", c.create_if_missing);
  c.create_missing_column_families =
      GetBool(env, o, "createMissingColumnFamilies", c.create_missing_column_families);
  c.block_cache_size = GetUint(env, o, "blockCacheSize", c.block_cache_size, 0, 1ull << 50);
  c.write_buffer_size = GetUint(env, o, "writeBufferSize", c.write_buffer_size, 64 << 10, 1ull << 40);
  c.max_write_buffer_number = static_cast<int>(
      GetUint(env, o, "maxWriteBufferNumber", static_cast<uint64_t>(c.max_write_buffer_number), 2, 1024));
  c.disable_wal = GetBool(env, o, "disableWAL", c.disable_wal);
  c.atomic_flush = GetBool(env, o, "atomicFlush", c.atomic_flush);
  c.sync_files = GetSyncFiles(env, o, c.sync_files);
  c.info_log = GetBool(env, o, "infoLog", c.info_log);
  c.allow_fallocate = GetBool(env, o, "preallocateFiles", c.allow_fallocate);
  c.fixed_prefix_length = static_cast<uint32_t>(GetUint(env, o, "fixedPrefixLength", 0, 0, 1u << 20));
  Napi::Value merge = o.Get("mergeOperator");
  if (!IsNullish(merge)) {
    std::string s = ArgString(env, merge, "option mergeOperator");
    if (s == "flink-string-append") c.flink_string_append = true;
    else if (s != "list-append") Throw(env, kErrInvalidArgument, "option mergeOperator must be one of list-append|flink-string-append, got '" + s + "'");
  }
  Napi::Value comp = o.Get("compression");
  if (!IsNullish(comp)) {
    std::string s = ArgString(env, comp, "option compression");
    if (s == "none") c.compression = rocksdb::kNoCompression;
    else if (s == "snappy") c.compression = rocksdb::kSnappyCompression;
    else if (s == "lz4") c.compression = rocksdb::kLZ4Compression;
    else if (s == "zstd") c.compression = rocksdb::kZSTD;
    else Throw(env, kErrInvalidArgument, "option compression must be one of none|snappy|lz4|zstd, got '" + s + "'");
  }
  Napi::Value cfs = o.Get("columnFamilies");
  if (!IsNullish(cfs)) {
    if (!cfs.IsArray()) Throw(env, kErrInvalidArgument, "option columnFamilies must be an array of strings");
    Napi::Array arr = cfs.As<Napi::Array>();
    c.has_column_families = true;
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      c.column_families.push_back(ArgString(env, arr.Get(i), "column family name"));
    }
  }
  return c;
}

namespace {
// Every working database (a backend's, syncFiles 'ssts' by default; a savepoint conversion's
// scratch database, false) is local and never reopened after a crash: what survives is what was
// uploaded to checkpoint storage, which syncs its copies (or, linking, the SSTs RocksDB did not
// sync: the storage or, for a checkpoint's deferred ones, the backend before the link). Syncing
// the local files too only doubled the disk writes and blocked in fsync.
// Syncs skipped, SST syncs kept (syncFiles: 'ssts') and deferred SST syncs that asked for the
// file's writeback (RangeSync; a no-op where sync_file_range is not supported), for
// syncCountsForTest.
std::atomic<uint64_t> g_skipped_syncs{0};
std::atomic<uint64_t> g_kept_sst_syncs{0};
std::atomic<uint64_t> g_writeback_starts{0};

class NoSyncWritableFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  using rocksdb::FSWritableFileOwnerWrapper::FSWritableFileOwnerWrapper;
  rocksdb::IOStatus Sync(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override { return Skipped(); }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override { return Skipped(); }
  rocksdb::IOStatus RangeSync(uint64_t, uint64_t, const rocksdb::IOOptions&, rocksdb::IODebugContext*) override { return Skipped(); }
  bool IsSyncThreadSafe() const override { return true; }

 private:
  static rocksdb::IOStatus Skipped() {
    g_skipped_syncs.fetch_add(1, std::memory_order_relaxed);
    return rocksdb::IOStatus::OK();
  }
};

// Databases whose checkpoint is being created with deferred SST syncs (DeferSstSyncs below), by
// database directory: the SSTs whose sync was skipped meanwhile.
std::mutex g_deferring_mu;
std::map<std::string, std::vector<std::string>> g_deferring;

// True (and `base` listed) when `dir` is a database deferring its SST syncs: the caller skips the sync.
bool DeferSync(const std::string& dir, const std::string& base) {
  std::lock_guard<std::mutex> lock(g_deferring_mu);
  auto it = g_deferring.find(dir);
  if (it == g_deferring.end()) return false;
  if (std::find(it->second.begin(), it->second.end(), base) == it->second.end()) it->second.push_back(base);
  return true;
}

// An SST file whose syncs go through (syncFiles: 'ssts'), counted, unless its database defers them.
class CountedSyncWritableFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  CountedSyncWritableFile(std::unique_ptr<rocksdb::FSWritableFile>&& t, std::string dir, std::string base)
      : rocksdb::FSWritableFileOwnerWrapper(std::move(t)), dir_(std::move(dir)), base_(std::move(base)) {}
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    return DeferSync(dir_, base_) ? StartWriteback(o, d) : Kept(target()->Sync(o, d));
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    return DeferSync(dir_, base_) ? StartWriteback(o, d) : Kept(target()->Fsync(o, d));
  }

 private:
  // A deferred sync still asks for the file's pages to be written out (sync_file_range WRITE on
  // Linux, which starts the writeback without waiting for it, though it may block while the
  // device's request queue is full; nothing elsewhere): the fdatasync before the upload's link
  // then finds them on their way to the disk instead of starting the write itself. A hint only:
  // its result is ignored, and that fdatasync reports errors.
  rocksdb::IOStatus StartWriteback(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) {
    target()->RangeSync(0, 0, o, d).PermitUncheckedError();
    g_writeback_starts.fetch_add(1, std::memory_order_relaxed);
    return rocksdb::IOStatus::OK();
  }
  static rocksdb::IOStatus Kept(rocksdb::IOStatus s) {
    g_kept_sst_syncs.fetch_add(1, std::memory_order_relaxed);
    return s;
  }
  const std::string dir_, base_;
};

class NoSyncDirectory : public rocksdb::FSDirectoryWrapper {
 public:
  using rocksdb::FSDirectoryWrapper::FSDirectoryWrapper;
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override { return rocksdb::IOStatus::OK(); }
  rocksdb::IOStatus FsyncWithDirOptions(const rocksdb::IOOptions&, rocksdb::IODebugContext*, const rocksdb::DirFsyncOptions&) override {
    return rocksdb::IOStatus::OK();
  }
};

// keep_sst_syncs (syncFiles: 'ssts'): SST files keep their syncs, so an SST is durable once it is
// part of the database (flush, compaction and ingestion sync it first), the one thing a working
// database's checkpoints rely on; the MANIFEST, CURRENT, OPTIONS, the checkpoint directory's
// copies and every directory are not synced (the working database is never reopened).
class NoSyncFileSystem : public rocksdb::FileSystemWrapper {
 public:
  NoSyncFileSystem(const std::shared_ptr<rocksdb::FileSystem>& t, bool keep_sst_syncs)
      : rocksdb::FileSystemWrapper(t), keep_sst_syncs_(keep_sst_syncs) {}
  const char* Name() const override { return "flowstate.NoSyncFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o, std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    return Wrap(f, target()->NewWritableFile(f, o, r, dbg), r);
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o, std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override {
    return Wrap(f, target()->ReopenWritableFile(f, o, r, dbg), r);
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* dbg) override {
    return Wrap(f, target()->ReuseWritableFile(f, old, o, r, dbg), r);
  }
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& io, std::unique_ptr<rocksdb::FSDirectory>* r,
                                 rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewDirectory(name, io, r, dbg);
    if (s.ok()) *r = std::make_unique<NoSyncDirectory>(std::move(*r));
    return s;
  }

 private:
  rocksdb::IOStatus Wrap(const std::string& name, rocksdb::IOStatus s, std::unique_ptr<rocksdb::FSWritableFile>* r) const {
    const bool sst = name.size() >= 4 && name.compare(name.size() - 4, 4, ".sst") == 0;
    if (!s.ok()) return s;
    if (keep_sst_syncs_ && sst) {
      const size_t slash = name.find_last_of('/');
      const std::string dir = slash == std::string::npos ? "" : name.substr(0, slash);
      *r = std::make_unique<CountedSyncWritableFile>(std::move(*r), dir, name.substr(slash == std::string::npos ? 0 : slash + 1));
    } else {
      *r = std::make_unique<NoSyncWritableFile>(std::move(*r));
    }
    return s;
  }
  const bool keep_sst_syncs_;
};
}  // namespace

Napi::Value SyncCountsForTest(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("skipped", Napi::Number::New(info.Env(), static_cast<double>(g_skipped_syncs.load())));
  o.Set("keptSst", Napi::Number::New(info.Env(), static_cast<double>(g_kept_sst_syncs.load())));
  o.Set("writebackStarts", Napi::Number::New(info.Env(), static_cast<double>(g_writeback_starts.load())));
  return o;
}

DeferSstSyncs::DeferSstSyncs(std::string db_dir) : dir_(std::move(db_dir)) {
  std::lock_guard<std::mutex> lock(g_deferring_mu);
  FS_CHECK(g_deferring.emplace(dir_, std::vector<std::string>()).second);
}

DeferSstSyncs::~DeferSstSyncs() {
  std::lock_guard<std::mutex> lock(g_deferring_mu);
  g_deferring.erase(dir_);
}

std::vector<std::string> DeferSstSyncs::Finish() {
  // One lock for both: a sync between taking the list and ending the window would be skipped
  // and its name lost.
  std::lock_guard<std::mutex> lock(g_deferring_mu);
  auto it = g_deferring.find(dir_);
  FS_CHECK(it != g_deferring.end());
  std::vector<std::string> skipped = std::move(it->second);
  g_deferring.erase(it);
  return skipped;
}

rocksdb::Env* NoSyncEnv(bool keep_sst_syncs) {
  // Never destroyed: databases and SST writers on the thread pool may use them until exit.
  static rocksdb::Env* none = rocksdb::NewCompositeEnv(std::make_shared<NoSyncFileSystem>(rocksdb::FileSystem::Default(), false)).release();
  static rocksdb::Env* ssts = rocksdb::NewCompositeEnv(std::make_shared<NoSyncFileSystem>(rocksdb::FileSystem::Default(), true)).release();
  return keep_sst_syncs ? ssts : none;
}

namespace {
// Drops every message. A database without an info LOG still gets a logger (RocksDB would
// otherwise create its LOG file): opening one wrote the file and dumped every DB and column family
// option into it, again for each column family created, which a scratch database then deleted
// unread (issue 16: ~3% of a savepoint conversion to native).
class DiscardingLogger : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}
};
}  // namespace

rocksdb::Status ErrnoStatus(const std::string& what, const std::string& path, int err) {
  return rocksdb::Status::IOError(what + " " + path, std::strerror(err));
}

rocksdb::Status PreadUpTo(int fd, const std::string& path, char* buf, size_t cap, size_t* n) {
  size_t got = 0;
  while (got < cap) {
    ssize_t r = pread(fd, buf + got, cap - got, static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoStatus("cannot read", path, errno);
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  *n = got;
  return rocksdb::Status::OK();
}

rocksdb::DBOptions MakeDbOptions(const DbConfig& c) {
  rocksdb::DBOptions o;
  o.create_if_missing = c.create_if_missing;
  o.create_missing_column_families = c.create_missing_column_families;
  o.atomic_flush = c.atomic_flush;
  if (c.sync_files != SyncFiles::kAll) o.env = NoSyncEnv(c.sync_files == SyncFiles::kSstsOnly);
  // Keep the info LOG small; it is diagnostics only.
  o.keep_log_file_num = 4;
  o.max_log_file_size = 8 << 20;
  if (!c.info_log) {
    static const std::shared_ptr<rocksdb::Logger> discarding = std::make_shared<DiscardingLogger>();
    o.info_log = discarding;
  }
  // RocksDB preallocates (fallocate) 4 MiB for each MANIFEST and more for written WAL files and
  // compaction outputs (not for flushed SSTs or SstFileWriter's files, whose EnvOptions are
  // RocksDB's defaults: see NewSstFileWriter), and frees what is unused when it closes or deletes
  // them. On a file system that discards freed blocks synchronously (ext4 mounted with
  // `discard`), each free waits for the device, behind whatever it is writing: a scratch
  // database's open deleted its first MANIFEST in 15-18 ms while other subtasks' SSTs were being
  // synced, and the conversion waited (issue 16, session 30).
  o.allow_fallocate = c.allow_fallocate;
  // Whole-file CRC32C of every SST as it is written (crc32c.h): native uploads take it from the
  // MANIFEST instead of reading each new file back (issue 16).
  o.file_checksum_gen_factory = Crc32cFileChecksumFactory();
  return o;
}

rocksdb::ColumnFamilyOptions MakeCfOptions(const DbConfig& c) {
  rocksdb::ColumnFamilyOptions o;
  o.write_buffer_size = static_cast<size_t>(c.write_buffer_size);
  o.max_write_buffer_number = c.max_write_buffer_number;
  o.compression = c.compression;
  o.merge_operator = c.flink_string_append ? FlinkStringAppendMergeOperator() : ListAppendMergeOperator();
  if (c.fixed_prefix_length > 0) {
    o.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(c.fixed_prefix_length));
  }
  rocksdb::BlockBasedTableOptions t;
  // XXH3 block checksums: RocksDB's own default since 8.0 (facebook/rocksdb#10778, for CPU
  // efficiency), readable since 6.27. The system RocksDB 7.8 still defaults to CRC32C, which its
  // portable build computes in software (~0.3 GB/s): every block written or read paid for it
  // (issue 16: converting 64 MB of native savepoint checked 64 MB of CRC32C on the event loop).
  t.checksum = rocksdb::kXXH3;
  if (c.block_cache_size == 0) {
    t.no_block_cache = true;
  } else {
    // One LRU cache per DbConfig, shared by every column family created from it.
    t.block_cache = rocksdb::NewLRUCache(static_cast<size_t>(c.block_cache_size));
  }
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

}  // namespace flowstate
