// ColumnFamily, Snapshot, Iterator and WriteBatch JS classes.
#include "common.h"

#include <climits>
#include <cstring>

namespace flowstate {

// ---- ColumnFamily ------------------------------------------------------------
Napi::Function CfWrap::Define(Napi::Env env) {
  return DefineClass(env, "ColumnFamily",
                     {
                         InstanceMethod<&CfWrap::Name>("name"),
                         InstanceMethod<&CfWrap::Id>("id"),
                         InstanceMethod<&CfWrap::IsValid>("isValid"),
                         InstanceMethod<&CfWrap::IsDropped>("isDropped"),
                     });
}

Napi::Object CfWrap::New(Napi::Env env, const std::shared_ptr<CfRef>& ref) {
  Napi::Object obj = GetAddonData(env)->cf_ctor.New({});
  CfWrap* w = Unwrap(obj);
  FS_CHECK(!w->ref_);
  w->ref_ = ref;
  return obj;
}

CfWrap::CfWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CfWrap>(info) {
  info.This().As<Napi::Object>().TypeTag(&kCfTag);
}

Napi::Value CfWrap::Name(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), ref_ ? ref_->name : std::string());
}
Napi::Value CfWrap::Id(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ref_ ? ref_->id : 0);
}
Napi::Value CfWrap::IsValid(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), ref_ && ref_->handle != nullptr);
}
Napi::Value CfWrap::IsDropped(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), ref_ && ref_->dropped);
}

// ---- Snapshot ------------------------------------------------------------------
Napi::Function SnapshotWrap::Define(Napi::Env env) {
  return DefineClass(env, "Snapshot",
                     {
                         InstanceMethod<&SnapshotWrap::Release>("release"),
                         InstanceMethod<&SnapshotWrap::IsReleased>("isReleased"),
                         InstanceMethod<&SnapshotWrap::Sequence>("sequenceNumber"),
                     });
}

SnapshotWrap::~SnapshotWrap() {
  // Garbage-collected without release(): release it now (unless the DB is
  // already closed, in which case DbState released it already).
  if (state_ && ref_ && !state_->closed()) state_->ReleaseSnapshot(ref_);
}

Napi::Value SnapshotWrap::Release(const Napi::CallbackInfo& info) {
  // Idempotent; a no-op once the DB is closed (close released it).
  if (state_ && ref_ && !state_->closed()) state_->ReleaseSnapshot(ref_);
  return info.Env().Undefined();
}

Napi::Value SnapshotWrap::IsReleased(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !ref_ || ref_->user_released);
}

Napi::Value SnapshotWrap::Sequence(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ref_ ? static_cast<double>(ref_->sequence) : 0.0);
}

// ---- Iterator ------------------------------------------------------------------
Napi::Function IterWrap::Define(Napi::Env env) {
  return DefineClass(env, "Iterator",
                     {
                         InstanceMethod<&IterWrap::Seek>("seek"),
                         InstanceMethod<&IterWrap::SeekForPrev>("seekForPrev"),
                         InstanceMethod<&IterWrap::SeekToFirst>("seekToFirst"),
                         InstanceMethod<&IterWrap::SeekToLast>("seekToLast"),
                         InstanceMethod<&IterWrap::Valid>("valid"),
                         InstanceMethod<&IterWrap::Next>("next"),
                         InstanceMethod<&IterWrap::Prev>("prev"),
                         InstanceMethod<&IterWrap::Key>("key"),
                         InstanceMethod<&IterWrap::Value>("value"),
                         InstanceMethod<&IterWrap::NextBatch>("nextBatch"),
                         InstanceMethod<&IterWrap::NextBatchPacked>("nextBatchPacked"),
                         InstanceMethod<&IterWrap::Close>("close"),
                         InstanceMethod<&IterWrap::IsClosed>("isClosed"),
                     });
}

IterWrap::~IterWrap() {
  if (state_ && ref_ && ref_->it) state_->CloseIterator(ref_);
}

rocksdb::Iterator* IterWrap::Live(const Napi::Env& env) {
  if (!state_ || !ref_) Throw(env, kErrClosed, "iterator is not initialized");
  if (ref_->it == nullptr) {
    if (state_->closed()) Throw(env, kErrClosed, "iterator is invalid: database is closed", state_->path());
    if (ref_->cf && ref_->cf->dropped) {
      Throw(env, kErrClosed, "iterator is invalid: column family '" + ref_->cf->name + "' was dropped",
            state_->path());
    }
    Throw(env, kErrClosed, "iterator is closed", state_->path());
  }
  FS_CHECK(!state_->closed());
  return ref_->it.get();
}

void IterWrap::CheckStatus(const Napi::Env& env, rocksdb::Iterator* it) {
  if (!it->Valid()) ThrowIfError(env, it->status(), state_->path());
}

rocksdb::Iterator* IterWrap::LiveValid(const Napi::Env& env, const char* op) {
  rocksdb::Iterator* it = Live(env);
  if (!it->Valid()) {
    ThrowIfError(env, it->status(), state_->path());
    Throw(env, kErrInvalidArgument, std::string("iterator is not positioned on an entry (") + op + ")",
          state_->path());
  }
  return it;
}

// Runs `move` on the live iterator (positioned on an entry when `op` names the move), then throws
// if it hit an I/O error.
template <typename Move>
Napi::Value IterWrap::Position(const Napi::CallbackInfo& info, const char* op, Move move) {
  Napi::Env env = info.Env();
  rocksdb::Iterator* it = op == nullptr ? Live(env) : LiveValid(env, op);
  move(it, env);
  CheckStatus(env, it);
  return env.Undefined();
}

Napi::Value IterWrap::Seek(const Napi::CallbackInfo& info) {
  return Position(info, nullptr, [&](rocksdb::Iterator* it, Napi::Env env) { it->Seek(ArgBytes(env, info[0], "key")); });
}

Napi::Value IterWrap::SeekForPrev(const Napi::CallbackInfo& info) {
  return Position(info, nullptr, [&](rocksdb::Iterator* it, Napi::Env env) { it->SeekForPrev(ArgBytes(env, info[0], "key")); });
}

Napi::Value IterWrap::SeekToFirst(const Napi::CallbackInfo& info) {
  return Position(info, nullptr, [](rocksdb::Iterator* it, Napi::Env) { it->SeekToFirst(); });
}

Napi::Value IterWrap::SeekToLast(const Napi::CallbackInfo& info) {
  return Position(info, nullptr, [](rocksdb::Iterator* it, Napi::Env) { it->SeekToLast(); });
}

Napi::Value IterWrap::Valid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rocksdb::Iterator* it = Live(env);
  CheckStatus(env, it);  // an invalid iterator with a bad status is an error, not "end"
  return Napi::Boolean::New(env, it->Valid());
}

Napi::Value IterWrap::Next(const Napi::CallbackInfo& info) {
  return Position(info, "next", [](rocksdb::Iterator* it, Napi::Env) { it->Next(); });
}

Napi::Value IterWrap::Prev(const Napi::CallbackInfo& info) {
  return Position(info, "prev", [](rocksdb::Iterator* it, Napi::Env) { it->Prev(); });
}

Napi::Value IterWrap::Key(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return ToBytes(env, LiveValid(env, "key")->key());
}

Napi::Value IterWrap::Value(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return ToBytes(env, LiveValid(env, "value")->value());
}

Napi::Value IterWrap::NextBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rocksdb::Iterator* it = Live(env);
  uint32_t max = MaxEntries(env, info[0], "nextBatch maxEntries", state_->path());
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  while (n < max && it->Valid()) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, ToBytes(env, it->key()));
    pair.Set(1u, ToBytes(env, it->value()));
    out.Set(n++, pair);
    it->Next();
  }
  CheckStatus(env, it);
  return out;
}

Napi::Value IterWrap::NextBatchPacked(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rocksdb::Iterator* it = Live(env);
  return PackEntries(env, it, MaxEntries(env, info[0], "nextBatch maxEntries", state_->path()), state_->path());
}

Napi::Value IterWrap::Close(const Napi::CallbackInfo& info) {
  // Idempotent; after the DB closed (which already freed the iterator) a no-op.
  if (state_ && ref_ && ref_->it) state_->CloseIterator(ref_);
  return info.Env().Undefined();
}

Napi::Value IterWrap::IsClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !ref_ || ref_->it == nullptr);
}

// ---- WriteBatch ------------------------------------------------------------------
Napi::Function BatchWrap::Define(Napi::Env env) {
  return DefineWriterClass(env, "WriteBatch", {
      InstanceMethod<&BatchWrap::Clear>("clear"),
      InstanceMethod<&BatchWrap::Count>("count"),
      InstanceMethod<&BatchWrap::DataSize>("dataSize"),
  });
}

rocksdb::ColumnFamilyHandle* BatchWrap::Cf(const Napi::Env& env, const Napi::Value& v) {
  if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&kCfTag)) {
    Throw(env, kErrInvalidArgument, "expected a ColumnFamily");
  }
  const std::shared_ptr<CfRef>& ref = CfWrap::Unwrap(v.As<Napi::Object>())->ref();
  if (!ref) Throw(env, kErrInvalidArgument, "uninitialized ColumnFamily");
  if (ref->handle == nullptr) {
    if (ref->dropped) Throw(env, kErrCfDropped, "column family '" + ref->name + "' has been dropped");
    Throw(env, kErrClosed, "column family '" + ref->name + "' is invalid: database is closed");
  }
  if (db_id_ != 0 && db_id_ != ref->db_id) {
    Throw(env, kErrInvalidArgument, "a WriteBatch cannot mix column families of different databases");
  }
  db_id_ = ref->db_id;
  return ref->handle;
}

// Adds one operation (`op`, on the family info[0], key from info[1]) to the batch.
template <typename Op>
Napi::Value BatchWrap::Write(const Napi::CallbackInfo& info, Op op) {
  Napi::Env env = info.Env();
  CfBatch target{batch_, Cf(env, info[0])};
  ThrowIfError(env, op(target, env, 1), std::string());
  return env.Undefined();
}

Napi::Value BatchWrap::Clear(const Napi::CallbackInfo& info) {
  batch_.Clear();
  db_id_ = 0;
  return info.Env().Undefined();
}

Napi::Value BatchWrap::Count(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), batch_.Count());
}

Napi::Value BatchWrap::DataSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(batch_.GetDataSize()));
}

}  // namespace flowstate
