// DbWrap: the JS-facing Database class.
#include "common.h"
#include "crc32c.h"

#include <rocksdb/metadata.h>
#include <rocksdb/table_properties.h>
#include <rocksdb/unique_id.h>
#include <rocksdb/utilities/checkpoint.h>

#include <cstring>
#include <functional>

namespace flowstate {

// A background operation on a DB: runs `op` on the libuv thread pool and
// settles a Promise. Holds the DbState alive and is counted in its
// pending-async counter from construction until the end of Execute().
class DbWrap::OpWorker : public Napi::AsyncWorker {
 public:
  OpWorker(Napi::Env env, std::shared_ptr<DbState> state, std::function<rocksdb::Status()> op)
      : Napi::AsyncWorker(env, "flowstate.rocksdb"),
        state_(std::move(state)),
        op_(std::move(op)),
        deferred_(Napi::Promise::Deferred::New(env)) {
    state_->BeginAsync();
  }
  ~OpWorker() override {
    // Work cancelled before it ran (environment teardown): still balance the
    // pending counter so close() cannot wait forever.
    if (!executed_) state_->EndAsync();
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    status_ = op_();
    executed_ = true;
    state_->EndAsync();
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (status_.ok()) {
      deferred_.Resolve(env.Undefined());
    } else {
      deferred_.Reject(MakeStatusError(env, status_, state_->path()).Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::shared_ptr<DbState> state_;
  std::function<rocksdb::Status()> op_;
  Napi::Promise::Deferred deferred_;
  rocksdb::Status status_;
  bool executed_ = false;  // written by Execute, read by the destructor after completion
};

// Opens a database on the libuv thread pool (RocksDB.openAsync): recovery, MANIFEST and OPTIONS
// writes and their fsyncs stay off the JS thread. The DbState is handed to the wrap only when the
// open succeeded; until then every method throws "database is not open".
class DbWrap::OpenWorker : public Napi::AsyncWorker {
 public:
  OpenWorker(Napi::Env env, DbWrap* wrap, Napi::Object self, std::string path, DbConfig config)
      : Napi::AsyncWorker(env, "flowstate.rocksdb.open"),
        wrap_(wrap),
        self_(Napi::Persistent(self)),
        state_(std::make_shared<DbState>()),
        path_(std::move(path)),
        config_(std::move(config)),
        deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override { status_ = state_->Open(path_, config_); }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    bool closed_meanwhile = wrap_->close_after_open_;
    wrap_->opening_ = false;
    wrap_->close_after_open_ = false;
    if (!status_.ok()) {
      deferred_.Reject(MakeStatusError(env, status_, path_).Value());
      return;
    }
    wrap_->state_ = std::move(state_);
    if (closed_meanwhile) {
      // close() was called while the open ran: honour it now (the wrap stays closed) and say so.
      rocksdb::Status s = wrap_->state_->Close();
      deferred_.Reject(s.ok() ? MakeError(env, kErrClosed, "database was closed while opening", path_).Value()
                              : MakeStatusError(env, s, path_).Value());
      return;
    }
    deferred_.Resolve(env.Undefined());
  }
  void OnError(const Napi::Error& e) override {
    wrap_->opening_ = false;
    wrap_->close_after_open_ = false;
    deferred_.Reject(e.Value());
  }

 private:
  DbWrap* wrap_;                  // kept alive by self_
  Napi::ObjectReference self_;
  std::shared_ptr<DbState> state_;  // closes the DB in its destructor if never handed over
  std::string path_;
  DbConfig config_;
  Napi::Promise::Deferred deferred_;
  rocksdb::Status status_;
};

Napi::Function DbWrap::Define(Napi::Env env) {
  return DefineClass(
      env, "Database",
      {
          InstanceMethod<&DbWrap::Open>("open"),
          InstanceMethod<&DbWrap::OpenAsync>("openAsync"),
          InstanceMethod<&DbWrap::Close>("close"),
          InstanceMethod<&DbWrap::IsClosed>("isClosed"),
          InstanceMethod<&DbWrap::Path>("path"),
          InstanceMethod<&DbWrap::GetColumnFamily>("getColumnFamily"),
          InstanceMethod<&DbWrap::ListColumnFamilies>("listColumnFamilies"),
          InstanceMethod<&DbWrap::CreateColumnFamily>("createColumnFamily"),
          InstanceMethod<&DbWrap::DropColumnFamily>("dropColumnFamily"),
          InstanceMethod<&DbWrap::Get>("get"),
          InstanceMethod<&DbWrap::GetInto>("getInto"),
          InstanceMethod<&DbWrap::BindColumnFamily>("bindColumnFamily"),
          InstanceMethod<&DbWrap::Scan>("scan"),
          InstanceMethod<&DbWrap::ScanInto>("scanInto"),
          InstanceMethod<&DbWrap::Put>("put"),
          InstanceMethod<&DbWrap::Delete>("delete"),
          InstanceMethod<&DbWrap::Merge>("merge"),
          InstanceMethod<&DbWrap::DeleteRange>("deleteRange"),
          InstanceMethod<&DbWrap::Write>("write"),
          InstanceMethod<&DbWrap::Flush>("flush"),
          InstanceMethod<&DbWrap::FlushAsync>("flushAsync"),
          InstanceMethod<&DbWrap::CompactRange>("compactRange"),
          InstanceMethod<&DbWrap::CompactRangeAsync>("compactRangeAsync"),
          InstanceMethod<&DbWrap::GetSnapshot>("getSnapshot"),
          InstanceMethod<&DbWrap::NewIterator>("iterator"),
          InstanceMethod<&DbWrap::CreateCheckpoint>("createCheckpoint"),
          InstanceMethod<&DbWrap::CreateCheckpointAsync>("createCheckpointAsync"),
          InstanceMethod<&DbWrap::GetLiveFilesMetaData>("getLiveFilesMetaData"),
          InstanceMethod<&DbWrap::PinLiveFiles>("pinLiveFiles"),
          InstanceMethod<&DbWrap::IngestExternalFile>("ingestExternalFile"),
          InstanceMethod<&DbWrap::IngestExternalFileAsync>("ingestExternalFileAsync"),
          InstanceMethod<&DbWrap::CreateSstFileWriter>("createSstFileWriter"),
          InstanceMethod<&DbWrap::GetProperty>("getProperty"),
          InstanceMethod<&DbWrap::LatestSequenceNumber>("latestSequenceNumber"),
          InstanceMethod<&DbWrap::SetTtlCompactionFilter>("setTtlCompactionFilter"),
          InstanceMethod<&DbWrap::SetTtlTime>("setTtlTime"),
      });
}

DbWrap::DbWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DbWrap>(info) {
  info.This().As<Napi::Object>().TypeTag(&kDbTag);
}

DbWrap::~DbWrap() {
  // Dropping our reference closes the DB only if no iterator/snapshot/async
  // worker still holds the state; otherwise the last of them does.
  state_.reset();
}

DbState* DbWrap::Live(const Napi::Env& env) {
  if (!state_) Throw(env, kErrClosed, "database is not open");
  if (state_->closed()) Throw(env, kErrClosed, "database is closed", state_->path());
  return state_.get();
}

// Returns the CfWrap's own shared_ptr by reference: the wrap (an argument of the current call)
// outlives the call, so hot paths (get/put) need no reference-count traffic. Callers that keep
// the family beyond the call copy it.
const std::shared_ptr<CfRef>& DbWrap::Cf(const Napi::Env& env, const Napi::Value& v) {
  DbState* st = Live(env);
  if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&kCfTag)) {
    Throw(env, kErrInvalidArgument, "expected a ColumnFamily", st->path());
  }
  const std::shared_ptr<CfRef>& ref = CfWrap::Unwrap(v.As<Napi::Object>())->ref();
  if (!ref) Throw(env, kErrInvalidArgument, "uninitialized ColumnFamily", st->path());
  if (ref->db_id != st->id()) {
    Throw(env, kErrInvalidArgument, "column family '" + ref->name + "' belongs to another database",
          st->path());
  }
  if (ref->handle == nullptr) {
    FS_CHECK(ref->dropped);  // same DB and DB open => only a drop can null the handle
    Throw(env, kErrCfDropped, "column family '" + ref->name + "' has been dropped", st->path());
  }
  return ref;
}

const SnapshotRef* DbWrap::Snap(const Napi::Env& env, const Napi::Value& v) {
  if (IsNullish(v)) return nullptr;
  DbState* st = Live(env);
  if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&kSnapshotTag)) {
    Throw(env, kErrInvalidArgument, "expected a Snapshot", st->path());
  }
  const std::shared_ptr<SnapshotRef>& ref = SnapshotWrap::Unwrap(v.As<Napi::Object>())->ref();
  if (!ref) Throw(env, kErrInvalidArgument, "uninitialized Snapshot", st->path());
  if (ref->db_id != st->id()) Throw(env, kErrInvalidArgument, "snapshot belongs to another database", st->path());
  if (ref->user_released || ref->snap == nullptr) Throw(env, kErrClosed, "snapshot has been released", st->path());
  return ref.get();
}

// Snap, for callers that keep the snapshot beyond the call (iterators pin it).
std::shared_ptr<SnapshotRef> DbWrap::SnapShared(const Napi::Env& env, const Napi::Value& v) {
  if (Snap(env, v) == nullptr) return nullptr;
  return SnapshotWrap::Unwrap(v.As<Napi::Object>())->ref();
}

Napi::Value DbWrap::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ || opening_) Throw(env, kErrInvalidArgument, "Database.open called twice");
  std::string path = ArgString(env, info[0], "path");
  DbConfig config = ParseConfig(env, info[1]);
  auto state = std::make_shared<DbState>();
  rocksdb::Status s = state->Open(path, config);
  ThrowIfError(env, s, path);
  state_ = std::move(state);
  return env.Undefined();
}

Napi::Value DbWrap::OpenAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ || opening_) Throw(env, kErrInvalidArgument, "Database.open called twice");
  std::string path = ArgString(env, info[0], "path");
  DbConfig config = ParseConfig(env, info[1]);
  auto* w = new OpenWorker(env, this, info.This().As<Napi::Object>(), path, std::move(config));
  opening_ = true;
  return QueueWorker(w);
}

Napi::Value DbWrap::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (opening_) {
    // The open runs on the thread pool and cannot be interrupted: it closes when it completes.
    close_after_open_ = true;
    return env.Undefined();
  }
  if (!state_ || state_->closed()) return env.Undefined();  // idempotent
  rocksdb::Status s = state_->Close();
  FS_CHECK(state_->closed());
  ThrowIfError(env, s, state_->path());
  return env.Undefined();
}

Napi::Value DbWrap::IsClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !state_ || state_->closed());
}

Napi::Value DbWrap::Path(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), state_ ? state_->path() : std::string());
}

Napi::Value DbWrap::GetColumnFamily(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  std::string name = ArgString(env, info[0], "column family name");
  auto it = st->cfs().find(name);
  if (it == st->cfs().end()) return env.Undefined();
  return CfWrap::New(env, it->second);
}

Napi::Value DbWrap::ListColumnFamilies(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  Napi::Array out = Napi::Array::New(env, st->cfs().size());
  uint32_t i = 0;
  for (const auto& [name, ref] : st->cfs()) out.Set(i++, Napi::String::New(env, name));
  return out;
}

Napi::Value DbWrap::CreateColumnFamily(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  std::string name = ArgString(env, info[0], "column family name");
  std::shared_ptr<CfRef> ref;
  ThrowIfError(env, st->CreateColumnFamily(name, &ref), st->path());
  return CfWrap::New(env, ref);
}

Napi::Value DbWrap::DropColumnFamily(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  std::shared_ptr<CfRef> ref = Cf(env, info[0]);
  if (ref->name == rocksdb::kDefaultColumnFamilyName) {
    Throw(env, kErrInvalidArgument, "the default column family cannot be dropped", st->path());
  }
  ThrowIfError(env, st->DropColumnFamily(ref), st->path());
  return env.Undefined();
}

// The checked (column family, key) arguments every keyed call starts with.
DbWrap::KeyedCall DbWrap::Keyed(const Napi::CallbackInfo& info, const char* key_name) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  rocksdb::ColumnFamilyHandle* cf = Cf(env, info[0])->handle;
  return KeyedCall{env, st, cf, ArgBytes(env, info[1], key_name)};
}

Napi::Value DbWrap::Done(const KeyedCall& c, const rocksdb::Status& s) {
  ThrowIfError(c.env, s, c.st->path());
  return c.env.Undefined();
}

// Reads the key of `c` at the snapshot info[snapshot_arg] (when passed); false when not found.
bool DbWrap::ReadValue(const KeyedCall& c, const Napi::CallbackInfo& info, size_t snapshot_arg,
                       rocksdb::PinnableSlice* value) {
  rocksdb::ReadOptions ro;
  if (info.Length() > snapshot_arg) {
    const SnapshotRef* snap = Snap(c.env, info[snapshot_arg]);
    if (snap) ro.snapshot = snap->snap;
  }
  rocksdb::Status s = c.st->db()->Get(ro, c.cf, c.key, value);
  if (s.IsNotFound()) return false;
  ThrowIfError(c.env, s, c.st->path());
  return true;
}

Napi::Value DbWrap::Get(const Napi::CallbackInfo& info) {
  KeyedCall c = Keyed(info, "key");
  rocksdb::PinnableSlice value;
  return ReadValue(c, info, 2, &value) ? ToBytes(c.env, value) : c.env.Undefined();
}

namespace {
// GetInto's answer for a found value: its length once copied into pool[offset..], or the value
// itself when it does not fit.
Napi::Value IntoPool(Napi::Env env, const rocksdb::Slice& pool, uint32_t offset, const rocksdb::PinnableSlice& value) {
  if (offset <= pool.size() && value.size() <= pool.size() - offset) {
    if (value.size() > 0) std::memcpy(const_cast<char*>(pool.data()) + offset, value.data(), value.size());
    return Napi::Number::New(env, static_cast<double>(value.size()));
  }
  return ToBytes(env, value);
}

// The hot path's functions (RocksDB.get without a snapshot, RocksDB.put), bound to one column
// family of one database by bindColumnFamily: a call needs neither the unwrap of `this` nor the
// type-tag check and unwrap of a column family argument (three private-property lookups per call
// on the general path). The family's handle tells whether it may be used: DbState nulls it on
// close and on drop, before the database goes away, so while it is set `st` is alive.
struct BoundCf {
  std::shared_ptr<CfRef> ref;
  DbState* st;       // valid while ref->handle is set (see above); never dereferenced otherwise
  std::string path;  // for errors, which may outlive the DbState
};

// The bound family's handle, or the error the general path gives (closed database, dropped family).
rocksdb::ColumnFamilyHandle* BoundHandle(const Napi::CallbackInfo& info, const BoundCf& b) {
  if (b.ref->handle != nullptr) return b.ref->handle;
  if (b.ref->dropped) Throw(info.Env(), kErrCfDropped, "column family '" + b.ref->name + "' has been dropped", b.path);
  Throw(info.Env(), kErrClosed, "database is closed", b.path);
}

// (key, pool, offset) => like getInto without a snapshot.
Napi::Value BoundGetInto(const Napi::CallbackInfo& info) {
  const BoundCf& b = *static_cast<const BoundCf*>(info.Data());
  rocksdb::ColumnFamilyHandle* cf = BoundHandle(info, b);
  Napi::Env env = info.Env();
  rocksdb::Slice key = ArgBytes(env, info[0], "key");
  rocksdb::Slice pool = ArgBytes(env, info[1], "pool");
  uint32_t offset = info[2].As<Napi::Number>().Uint32Value();
  rocksdb::PinnableSlice value;
  rocksdb::Status s = b.st->db()->Get(rocksdb::ReadOptions(), cf, key, &value);
  if (s.IsNotFound()) return env.Undefined();
  ThrowIfError(env, s, b.path);
  return IntoPool(env, pool, offset, value);
}

// (key, value) => like put.
Napi::Value BoundPut(const Napi::CallbackInfo& info) {
  const BoundCf& b = *static_cast<const BoundCf*>(info.Data());
  rocksdb::ColumnFamilyHandle* cf = BoundHandle(info, b);
  Napi::Env env = info.Env();
  rocksdb::Slice key = ArgBytes(env, info[0], "key");
  ThrowIfError(env, b.st->db()->Put(b.st->write_options(), cf, key, ArgBytes(env, info[1], "value")), b.path);
  return env.Undefined();
}

template <Napi::Function::Callback cb>
Napi::Function BoundFunction(Napi::Env env, const char* name, const BoundCf& b) {
  auto* data = new BoundCf(b);
  Napi::Function fn = Napi::Function::New<cb>(env, name, data);
  fn.AddFinalizer([](Napi::Env, BoundCf* d) { delete d; }, data);
  return fn;
}
}  // namespace

// Like Get, but a value that fits in `pool` (a Uint8Array the JS side hands out views of) from
// `offset` on is copied there and only its length is returned: undefined = not found, number =
// length copied to pool[offset..], Uint8Array = the value did not fit. The pool is an argument
// (not a stored reference) so that one napi_get_typedarray_info both finds it and sees a detached
// buffer (length 0).
Napi::Value DbWrap::GetInto(const Napi::CallbackInfo& info) {
  KeyedCall c = Keyed(info, "key");
  rocksdb::Slice pool = ArgBytes(c.env, info[2], "pool");
  uint32_t offset = info[3].As<Napi::Number>().Uint32Value();
  // The snapshot argument is omitted (not passed as undefined) by get() without a snapshot.
  rocksdb::PinnableSlice value;
  if (!ReadValue(c, info, 4, &value)) return c.env.Undefined();
  return IntoPool(c.env, pool, offset, value);
}

// (cf) => [getInto(key, pool, offset), put(key, value)] bound to `cf` of this database (see BoundCf).
Napi::Value DbWrap::BindColumnFamily(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  BoundCf b{Cf(env, info[0]), st, st->path()};
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, BoundFunction<BoundGetInto>(env, "getInto", b));
  out.Set(1u, BoundFunction<BoundPut>(env, "put", b));
  return out;
}

// Up to `limit` entries of [lower, upper) in one call (iterator created, read and freed here), in
// the packed layout of PackEntries; undefined when there is none. Arguments: (cf, lower, upper,
// limit, snapshot?, fillCache?, readaheadBytes?).
namespace {
// Largest explicit readahead a scan may ask for (MAX_SCAN_READAHEAD_BYTES in database.ts); 0 leaves
// RocksDB's implicit one.
constexpr double kMaxReadaheadBytes = 4u << 20;
}  // namespace

// An iterator over [*lower, *upper) for Scan and ScanInto, its options from the arguments at
// `first` on: (snapshot?, fillCache?, readaheadBytes?). The bounds must outlive the iterator.
std::unique_ptr<rocksdb::Iterator> DbWrap::ScanIterator(const KeyedCall& c, const Napi::CallbackInfo& info, size_t first, const rocksdb::Slice* upper) {
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &c.key;
  ro.iterate_upper_bound = upper;
  const SnapshotRef* snap = info.Length() > first ? Snap(c.env, info[first]) : nullptr;
  if (snap) ro.snapshot = snap->snap;
  if (info.Length() > first + 1) ro.fill_cache = info[first + 1].ToBoolean().Value();
  if (info.Length() > first + 2) ro.readahead_size = static_cast<size_t>(IntegerArg(c.env, info[first + 2], 0, kMaxReadaheadBytes, "scan readaheadBytes", c.st->path()));
  std::unique_ptr<rocksdb::Iterator> it(c.st->db()->NewIterator(ro, c.cf));
  it->SeekToFirst();
  return it;
}

Napi::Value DbWrap::Scan(const Napi::CallbackInfo& info) {
  KeyedCall c = Keyed(info, "lower");
  rocksdb::Slice upper = ArgBytes(c.env, info[2], "upper");
  uint32_t limit = MaxEntries(c.env, info[3], "scan limit", c.st->path());
  std::unique_ptr<rocksdb::Iterator> it = ScanIterator(c, info, 4, &upper);
  return PackEntries(c.env, it.get(), limit, c.st->path());
}

// Like Scan, but into `into` (a Uint8Array the caller reuses) instead of a new buffer: as many
// entries as fit, laid out as PackEntriesInto says. Arguments: (cf, lower, upper, into, snapshot?,
// fillCache?, readaheadBytes?). A canonical snapshot read 64 MiB through fresh 8 MiB buffers:
// their page faults and the second copy were half of its scans' time (issue 16).
Napi::Value DbWrap::ScanInto(const Napi::CallbackInfo& info) {
  KeyedCall c = Keyed(info, "lower");
  rocksdb::Slice upper = ArgBytes(c.env, info[2], "upper");
  rocksdb::Slice into = ArgBytes(c.env, info[3], "into");
  std::unique_ptr<rocksdb::Iterator> it = ScanIterator(c, info, 4, &upper);
  // The JS thread owns the Uint8Array's bytes for the length of this call: writing them is safe.
  return PackEntriesInto(c.env, it.get(), const_cast<char*>(into.data()), into.size(), c.st->path());
}

Napi::Value DbWrap::Put(const Napi::CallbackInfo& info) {
  KeyedCall c = Keyed(info, "key");
  return Done(c, c.st->db()->Put(c.st->write_options(), c.cf, c.key, ArgBytes(c.env, info[2], "value")));
}

Napi::Value DbWrap::Delete(const Napi::CallbackInfo& info) {
  KeyedCall c = Keyed(info, "key");
  return Done(c, c.st->db()->Delete(c.st->write_options(), c.cf, c.key));
}

Napi::Value DbWrap::Merge(const Napi::CallbackInfo& info) {
  KeyedCall c = Keyed(info, "key");
  return Done(c, c.st->db()->Merge(c.st->write_options(), c.cf, c.key, ArgBytes(c.env, info[2], "value")));
}

Napi::Value DbWrap::DeleteRange(const Napi::CallbackInfo& info) {
  KeyedCall c = Keyed(info, "begin");
  return Done(c, c.st->db()->DeleteRange(c.st->write_options(), c.cf, c.key, ArgBytes(c.env, info[2], "end")));
}

Napi::Value DbWrap::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  Napi::Value v = info[0];
  if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&kBatchTag)) {
    Throw(env, kErrInvalidArgument, "expected a WriteBatch", st->path());
  }
  BatchWrap* batch = BatchWrap::Unwrap(v.As<Napi::Object>());
  if (batch->db_id() != 0 && batch->db_id() != st->id()) {
    Throw(env, kErrInvalidArgument, "write batch references column families of another database", st->path());
  }
  ThrowIfError(env, st->db()->Write(st->write_options(), batch->batch()), st->path());
  return env.Undefined();
}

Napi::Value DbWrap::Flush(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  rocksdb::FlushOptions fo;
  fo.wait = true;
  ThrowIfError(env, st->db()->Flush(fo, FlushTargets(env, info[0])), st->path());
  return env.Undefined();
}

// The column families to flush: `v`'s, or every one when it is nullish.
std::vector<rocksdb::ColumnFamilyHandle*> DbWrap::FlushTargets(const Napi::Env& env, const Napi::Value& v) {
  DbState* st = Live(env);
  std::vector<rocksdb::ColumnFamilyHandle*> out;
  if (IsNullish(v)) {
    for (const auto& [name, ref] : st->cfs()) out.push_back(ref->handle);
  } else {
    out.push_back(Cf(env, v)->handle);
  }
  return out;
}

Napi::Value DbWrap::FlushAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  rocksdb::DB* db = st->db();
  // The handles stay valid: drop/close wait for the worker.
  auto* w = new OpWorker(env, state_, [db, targets = FlushTargets(env, info[0])]() {
    rocksdb::FlushOptions fo;
    fo.wait = true;
    return db->Flush(fo, targets);
  });
  return QueueWorker(w);
}

namespace {
struct OptionalKey {
  bool present = false;
  std::string bytes;
  rocksdb::Slice slice() const { return rocksdb::Slice(bytes); }
};
OptionalKey OptKey(const Napi::Env& env, const Napi::Value& v, const char* what) {
  OptionalKey k;
  if (IsNullish(v)) return k;
  k.present = true;
  k.bytes = ArgBytes(env, v, what).ToString();
  return k;
}
rocksdb::Status DoCompact(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h, const OptionalKey& b,
                          const OptionalKey& e, rocksdb::BottommostLevelCompaction bottommost) {
  rocksdb::Slice bs = b.slice(), es = e.slice();
  rocksdb::CompactRangeOptions o;
  o.bottommost_level_compaction = bottommost;
  return db->CompactRange(o, h, b.present ? &bs : nullptr, e.present ? &es : nullptr);
}
// Every CF has the TTL filter factory, which would make RocksDB's default
// (kIfHaveCompactionFilter) rewrite the bottommost level of every CF. Unless
// asked, only a CF whose TTL filter is configured gets that (expired data in
// the bottommost level goes only that way); the others compact as if there
// were no factory (kSkip).
rocksdb::BottommostLevelCompaction BottommostArg(const Napi::Env& env, const Napi::Value& v, bool ttl_filtered) {
  if (IsNullish(v)) {
    return ttl_filtered ? rocksdb::BottommostLevelCompaction::kIfHaveCompactionFilter
                        : rocksdb::BottommostLevelCompaction::kSkip;
  }
  std::string s = ArgString(env, v, "bottommostLevelCompaction");
  if (s == "skip") return rocksdb::BottommostLevelCompaction::kSkip;
  if (s == "force") return rocksdb::BottommostLevelCompaction::kForce;
  Throw(env, kErrInvalidArgument, "bottommostLevelCompaction must be 'skip' or 'force', got '" + s + "'");
}
std::vector<std::string> ArgStringArray(const Napi::Env& env, const Napi::Value& v, const char* what) {
  if (!v.IsArray()) Throw(env, kErrInvalidArgument, std::string(what) + " must be an array of strings");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < a.Length(); ++i) out.push_back(ArgString(env, a.Get(i), what));
  return out;
}
rocksdb::IngestExternalFileOptions IngestOptions(const Napi::Env& env, const Napi::Value& v) {
  rocksdb::IngestExternalFileOptions o;
  if (IsNullish(v)) return o;
  if (!v.IsObject()) Throw(env, kErrInvalidArgument, "ingest options must be an object");
  Napi::Value mv = v.As<Napi::Object>().Get("moveFiles");
  if (!IsNullish(mv)) {
    if (!mv.IsBoolean()) Throw(env, kErrInvalidArgument, "moveFiles must be a boolean");
    o.move_files = mv.As<Napi::Boolean>().Value();
  }
  return o;
}
// fileChecksums: one CRC32C (uint32) per file, as FileChecksumCrc32c values; empty when absent.
std::vector<std::string> IngestChecksums(const Napi::Env& env, const Napi::Value& v, size_t files) {
  std::vector<std::string> out;
  if (IsNullish(v) || !v.IsObject()) return out;
  Napi::Value cv = v.As<Napi::Object>().Get("fileChecksums");
  if (IsNullish(cv)) return out;
  if (!cv.IsArray() || cv.As<Napi::Array>().Length() != files) Throw(env, kErrInvalidArgument, "fileChecksums must be an array with one CRC32C per file");
  Napi::Array a = cv.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value x = a.Get(i);
    double d = x.IsNumber() ? x.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= 4294967295.0 && d == static_cast<double>(static_cast<uint32_t>(d)))) Throw(env, kErrInvalidArgument, "fileChecksums must be CRC32C values (uint32)");
    out.push_back(EncodeCrc32cFileChecksum(static_cast<uint32_t>(d)));
  }
  return out;
}
rocksdb::Status DoCheckpoint(rocksdb::DB* db, const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db, &raw);
  if (!s.ok()) return s;
  std::unique_ptr<rocksdb::Checkpoint> cp(raw);
  // log_size_for_flush = 0: always flush the memtables first, so the
  // checkpoint is complete even with the WAL disabled.
  return cp->CreateCheckpoint(dir, /*log_size_for_flush=*/0);
}
}  // namespace

Napi::Value DbWrap::CompactRange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  std::shared_ptr<CfRef> cf = Cf(env, info[0]);
  OptionalKey b = OptKey(env, info[1], "begin"), e = OptKey(env, info[2], "end");
  auto bottommost = BottommostArg(env, info[3], st->ttl()->Has(cf->id));
  ThrowIfError(env, DoCompact(st->db(), cf->handle, b, e, bottommost), st->path());
  return env.Undefined();
}

Napi::Value DbWrap::CompactRangeAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  std::shared_ptr<CfRef> cf = Cf(env, info[0]);
  OptionalKey b = OptKey(env, info[1], "begin"), e = OptKey(env, info[2], "end");
  rocksdb::DB* db = st->db();
  rocksdb::ColumnFamilyHandle* h = cf->handle;  // stays valid: drop/close wait for us
  auto bottommost = BottommostArg(env, info[3], st->ttl()->Has(cf->id));
  auto* w = new OpWorker(env, state_, [db, h, b, e, bottommost]() { return DoCompact(db, h, b, e, bottommost); });
  return QueueWorker(w);
}

Napi::Value DbWrap::GetSnapshot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Live(env);
  return SnapshotWrap::New(env, state_, state_->NewSnapshot());
}

Napi::Value DbWrap::NewIterator(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  std::shared_ptr<CfRef> cf = Cf(env, info[0]);
  auto ref = std::make_shared<IterRef>();
  ref->cf = cf;
  rocksdb::ReadOptions ro;
  Napi::Value ov = info[1];
  if (!IsNullish(ov)) {
    if (!ov.IsObject()) Throw(env, kErrInvalidArgument, "iterator options must be an object", st->path());
    Napi::Object o = ov.As<Napi::Object>();
    Napi::Value lb = o.Get("lowerBound");
    if (!IsNullish(lb)) {
      ref->lower = ArgBytes(env, lb, "lowerBound").ToString();
      ref->lower_slice = rocksdb::Slice(ref->lower);
      ro.iterate_lower_bound = &ref->lower_slice;
    }
    Napi::Value ub = o.Get("upperBound");
    if (!IsNullish(ub)) {
      ref->upper = ArgBytes(env, ub, "upperBound").ToString();
      ref->upper_slice = rocksdb::Slice(ref->upper);
      ro.iterate_upper_bound = &ref->upper_slice;
    }
    ref->snapshot = SnapShared(env, o.Get("snapshot"));
    if (ref->snapshot) ro.snapshot = ref->snapshot->snap;
    Napi::Value psas = o.Get("prefixSameAsStart");
    if (!IsNullish(psas)) {
      if (!psas.IsBoolean()) Throw(env, kErrInvalidArgument, "prefixSameAsStart must be a boolean", st->path());
      ro.prefix_same_as_start = psas.As<Napi::Boolean>().Value();
      if (ro.prefix_same_as_start && st->config().fixed_prefix_length == 0) {
        Throw(env, kErrInvalidArgument,
              "prefixSameAsStart requires the database to be opened with fixedPrefixLength", st->path());
      }
    }
    Napi::Value fc = o.Get("fillCache");
    if (!IsNullish(fc)) {
      if (!fc.IsBoolean()) Throw(env, kErrInvalidArgument, "fillCache must be a boolean", st->path());
      ro.fill_cache = fc.As<Napi::Boolean>().Value();
    }
  }
  ref->it.reset(st->db()->NewIterator(ro, cf->handle));
  FS_CHECK(ref->it != nullptr);
  st->TrackIterator(ref);
  return IterWrap::New(env, state_, ref);
}

// createCheckpoint(dir, deferSstSyncs): the SSTs whose sync was deferred (base names; none
// unless deferSstSyncs, see DeferSstSyncs in common.h).
Napi::Value DbWrap::CreateCheckpoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  std::string dir = ArgString(env, info[0], "checkpoint directory");
  if (!info[1].IsBoolean()) Throw(env, kErrInvalidArgument, "deferSstSyncs must be a boolean");
  std::vector<std::string> skipped;
  if (info[1].As<Napi::Boolean>().Value()) {
    DeferSstSyncs defer(st->db()->GetName());
    ThrowIfError(env, DoCheckpoint(st->db(), dir), st->path());
    skipped = defer.Finish();
  } else {
    ThrowIfError(env, DoCheckpoint(st->db(), dir), st->path());
  }
  Napi::Array out = Napi::Array::New(env, skipped.size());
  for (uint32_t i = 0; i < skipped.size(); ++i) out.Set(i, Napi::String::New(env, skipped[i]));
  return out;
}

Napi::Value DbWrap::CreateCheckpointAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  std::string dir = ArgString(env, info[0], "checkpoint directory");
  rocksdb::DB* db = st->db();
  auto* w = new OpWorker(env, state_, [db, dir]() { return DoCheckpoint(db, dir); });
  return QueueWorker(w);
}

namespace {
uint64_t FileNumberFromName(const std::string& name) {
  // "/000123.sst", "000123.sst" or a full path.
  size_t slash = name.find_last_of('/');
  size_t start = slash == std::string::npos ? 0 : slash + 1;
  uint64_t n = 0;
  bool any = false;
  for (size_t i = start; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) {
    n = n * 10 + static_cast<uint64_t>(name[i] - '0');
    any = true;
  }
  return any ? n : 0;
}
}  // namespace

Napi::Value DbWrap::GetLiveFilesMetaData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  bool with_ids = true;
  if (!IsNullish(info[0])) {
    if (!info[0].IsBoolean()) Throw(env, kErrInvalidArgument, "withUniqueIds must be a boolean", st->path());
    with_ids = info[0].As<Napi::Boolean>().Value();
  }
  std::vector<rocksdb::LiveFileMetaData> files;
  st->db()->GetLiveFilesMetaData(&files);

  // Unique ids come from table properties (RocksDB 7.8 has no unique_id field
  // in LiveFileMetaData). Keyed by (cf name, file number).
  std::map<std::pair<std::string, uint64_t>, std::string> unique_ids;
  if (with_ids) {
    for (const auto& [name, ref] : st->cfs()) {
      rocksdb::TablePropertiesCollection props;
      rocksdb::Status s = st->db()->GetPropertiesOfAllTables(ref->handle, &props);
      ThrowIfError(env, s, st->path());
      for (const auto& [file, tp] : props) {
        if (!tp) continue;
        std::string id;
        if (rocksdb::GetUniqueIdFromTableProperties(*tp, &id).ok()) {
          unique_ids[{name, FileNumberFromName(file)}] = rocksdb::UniqueIdToHumanString(id);
        }
      }
    }
  }

  Napi::Array out = Napi::Array::New(env, files.size());
  for (uint32_t i = 0; i < files.size(); ++i) {
    const rocksdb::LiveFileMetaData& f = files[i];
    Napi::Object o = Napi::Object::New(env);
    std::string rel = f.relative_filename.empty() ? f.name : f.relative_filename;
    if (!rel.empty() && rel[0] == '/') rel = rel.substr(1);
    uint64_t number = f.file_number != 0 ? f.file_number : FileNumberFromName(rel);
    o.Set("name", Napi::String::New(env, rel));
    o.Set("directory", Napi::String::New(env, f.directory.empty() ? f.db_path : f.directory));
    o.Set("columnFamily", Napi::String::New(env, f.column_family_name));
    o.Set("size", Napi::Number::New(env, static_cast<double>(f.size)));
    o.Set("smallestKey", ToBytes(env, f.smallestkey));
    o.Set("largestKey", ToBytes(env, f.largestkey));
    o.Set("smallestSeqno", Napi::Number::New(env, static_cast<double>(f.smallest_seqno)));
    o.Set("largestSeqno", Napi::Number::New(env, static_cast<double>(f.largest_seqno)));
    o.Set("level", Napi::Number::New(env, f.level));
    o.Set("fileNumber", Napi::Number::New(env, static_cast<double>(number)));
    o.Set("numEntries", Napi::Number::New(env, static_cast<double>(f.num_entries)));
    o.Set("numDeletions", Napi::Number::New(env, static_cast<double>(f.num_deletions)));
    auto uid = unique_ids.find({f.column_family_name, number});
    if (uid != unique_ids.end()) o.Set("uniqueId", Napi::String::New(env, uid->second));
    uint32_t crc = 0;
    if (DecodeCrc32cFileChecksum(f.file_checksum_func_name, f.file_checksum, &crc)) o.Set("fileChecksum", Napi::Number::New(env, crc));
    out.Set(i, o);
  }
  return out;
}

// The checked arguments of ingestExternalFile(cf, files, options) and its async form.
DbWrap::IngestCall DbWrap::Ingest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  rocksdb::ColumnFamilyHandle* cf = Cf(env, info[0])->handle;
  IngestCall c{st, cf, ArgStringArray(env, info[1], "files"), IngestOptions(env, info[2]), {}};
  c.checksums = IngestChecksums(env, info[2], c.files.size());
  if (!c.checksums.empty()) {
    // The files' own checksums become the MANIFEST's, unread: so RocksDB must never change a
    // file (its global sequence number then lives in the MANIFEST only, as RocksDB >= 5.16
    // reads it; our files are only ever read through a database's MANIFEST).
    c.options.verify_file_checksum = false;
    c.options.write_global_seqno = false;
  }
  return c;
}

rocksdb::Status DbWrap::IngestCall::Run() const {
  if (checksums.empty()) return st->db()->IngestExternalFile(cf, files, options);
  rocksdb::IngestExternalFileArg arg;
  arg.column_family = cf;
  arg.external_files = files;
  arg.options = options;
  arg.files_checksums = checksums;
  arg.files_checksum_func_names.assign(files.size(), rocksdb::kStandardDbFileChecksumFuncName);
  return st->db()->IngestExternalFiles({arg});
}

Napi::Value DbWrap::IngestExternalFile(const Napi::CallbackInfo& info) {
  IngestCall c = Ingest(info);
  ThrowIfError(info.Env(), c.Run(), c.st->path());
  return info.Env().Undefined();
}

Napi::Value DbWrap::IngestExternalFileAsync(const Napi::CallbackInfo& info) {
  // The handle stays valid: drop/close wait for the worker.
  auto* w = new OpWorker(info.Env(), state_, [c = Ingest(info)]() { return c.Run(); });
  return QueueWorker(w);
}

Napi::Value DbWrap::CreateSstFileWriter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  Napi::Object obj = GetAddonData(env)->sst_writer_ctor.New({});
  // The database's own DB options (MakeDbOptions, as configure() and open() use), so its Env too:
  // a scratch database's SST files are not synced either. The writer reads nothing else of them.
  SstWriterWrap::Unwrap(obj)->Configure(rocksdb::Options(MakeDbOptions(st->config()), st->cf_options()));
  return obj;
}

Napi::Value DbWrap::GetProperty(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  std::string name = ArgString(env, info[0], "property name");
  rocksdb::ColumnFamilyHandle* h = st->db()->DefaultColumnFamily();
  std::shared_ptr<CfRef> cf;
  if (!IsNullish(info[1])) {
    cf = Cf(env, info[1]);
    h = cf->handle;
  }
  std::string value;
  if (!st->db()->GetProperty(h, name, &value)) return env.Undefined();
  return Napi::String::New(env, value);
}

Napi::Value DbWrap::LatestSequenceNumber(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  return Napi::Number::New(env, static_cast<double>(st->db()->GetLatestSequenceNumber()));
}

Napi::Value ListColumnFamiliesOfPath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(env, info[0], "path");
  std::vector<std::string> names;
  ThrowIfError(env, rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names), path);
  Napi::Array out = Napi::Array::New(env, names.size());
  for (uint32_t i = 0; i < names.size(); ++i) out.Set(i, Napi::String::New(env, names[i]));
  return out;
}

}  // namespace flowstate
