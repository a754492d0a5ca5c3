// scanAsync: DbWrap::Scan's read on the libuv thread pool. A canonical snapshot of RocksDB state
// (native -> canonical conversion, savepoints) read every key group synchronously on the JS
// thread, about half of that thread's time (issue 16); with this the JS side encodes one batch
// while the next is read.
#include "common.h"

#include <cstdlib>
#include <cstring>

namespace flowstate {
namespace {

// A batch in scanAsync's layout, built in place: [u32 count][k_0 v_0 ... k_n-1 v_n-1][0-3 zero bytes][klen_0 vlen_0 ...]
// (host-endian u32s; the lengths trail so that the bytes go straight from the iterator into the
// buffer JS gets, without the intermediate copy and zero-filled buffer of PackEntries). Owns a
// malloc'ed buffer until release(); realloc grows it (remapped, not copied, once it is large).
class TrailerBatch {
 public:
  ~TrailerBatch() { std::free(data_); }
  void Append(const char* p, size_t n) {
    Reserve(size_ + n);
    if (n > 0) std::memcpy(data_ + size_, p, n);
    size_ += n;
  }
  // Up to `max` entries from the iterator's position on, stopping once kPackedBatchBytes of keys
  // and values are in; returns how many.
  uint32_t Fill(rocksdb::Iterator* it, uint32_t max) {
    std::vector<uint32_t> lens;
    uint32_t n = 0;
    Reserve(sizeof(uint32_t) + (1u << 20));
    size_ = sizeof(uint32_t);
    while (n < max && it->Valid() && size_ - sizeof(uint32_t) < kPackedBatchBytes) {
      rocksdb::Slice k = it->key(), v = it->value();
      FS_CHECK(k.size() <= UINT32_MAX && v.size() <= UINT32_MAX);
      lens.push_back(static_cast<uint32_t>(k.size()));
      lens.push_back(static_cast<uint32_t>(v.size()));
      Append(k.data(), k.size());
      Append(v.data(), v.size());
      ++n;
      it->Next();
    }
    std::memcpy(data_, &n, sizeof(uint32_t));
    // The lengths start 4-byte aligned (a Uint32Array view of them needs it).
    static const char kZeros[sizeof(uint32_t)] = {};
    Append(kZeros, (sizeof(uint32_t) - size_ % sizeof(uint32_t)) % sizeof(uint32_t));
    Append(reinterpret_cast<const char*>(lens.data()), sizeof(uint32_t) * lens.size());
    return n;
  }
  size_t size() const { return size_; }
  char* Release() {
    char* d = data_;
    data_ = nullptr;
    size_ = capacity_ = 0;
    return d;
  }

 private:
  void Reserve(size_t want) {
    if (want <= capacity_) return;
    size_t cap = capacity_ == 0 ? want : capacity_;
    while (cap < want) cap *= 2;
    char* d = static_cast<char*>(std::realloc(data_, cap));
    FS_CHECK(d != nullptr);
    data_ = d;
    capacity_ = cap;
  }
  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

class ScanWorker : public Napi::AsyncWorker {
 public:
  ScanWorker(Napi::Env env, std::shared_ptr<DbState> state, rocksdb::ColumnFamilyHandle* cf, std::string lower, std::string upper,
             uint32_t limit, std::shared_ptr<SnapshotRef> snapshot, bool fill_cache)
      : Napi::AsyncWorker(env, "flowstate.rocksdb.scan"),
        state_(std::move(state)),
        cf_(cf),
        lower_(std::move(lower)),
        upper_(std::move(upper)),
        limit_(limit),
        snapshot_(std::move(snapshot)),
        fill_cache_(fill_cache),
        deferred_(Napi::Promise::Deferred::New(env)) {
    // Counted before it is queued: close() and dropColumnFamily() wait until the read ran.
    state_->BeginAsync();
    if (snapshot_) state_->PinForAsync(snapshot_);
  }
  ~ScanWorker() override {
    if (!executed_) state_->EndAsync();  // cancelled before it ran (environment teardown)
    if (snapshot_) state_->UnpinForAsync(snapshot_);
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    Read();
    executed_ = true;
    state_->EndAsync();
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (!status_.ok()) {
      deferred_.Reject(MakeStatusError(env, status_, state_->path()).Value());
      return;
    }
    if (count_ == 0) {
      deferred_.Resolve(env.Undefined());
      return;
    }
    // Handed over, not copied: V8 frees it with the ArrayBuffer (and counts it towards GC pressure).
    const size_t size = packed_.size();
    char* data = packed_.Release();
    Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(size));
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
        env, data, size, [](Napi::Env e, void* d, size_t* hint) {
          Napi::MemoryManagement::AdjustExternalMemory(e, -static_cast<int64_t>(*hint));
          delete hint;
          std::free(d);
        },
        new size_t(size));
    deferred_.Resolve(ab);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  void Read() {
    rocksdb::Slice lower(lower_), upper(upper_);
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower;
    ro.iterate_upper_bound = &upper;
    // Pinned since the call: neither released nor closed before this read ends (close waits).
    if (snapshot_) ro.snapshot = snapshot_->snap;
    ro.fill_cache = fill_cache_;
    std::unique_ptr<rocksdb::Iterator> it(state_->db()->NewIterator(ro, cf_));
    it->SeekToFirst();
    count_ = packed_.Fill(it.get(), limit_);
    if (!it->Valid()) status_ = it->status();
  }

  std::shared_ptr<DbState> state_;
  rocksdb::ColumnFamilyHandle* cf_;  // valid until EndAsync: close() and drops wait for it
  std::string lower_, upper_;
  uint32_t limit_;
  std::shared_ptr<SnapshotRef> snapshot_;
  bool fill_cache_;
  Napi::Promise::Deferred deferred_;
  rocksdb::Status status_;
  TrailerBatch packed_;
  uint32_t count_ = 0;
  bool executed_ = false;
};

}  // namespace

Napi::Promise QueueScan(Napi::Env env, std::shared_ptr<DbState> state, rocksdb::ColumnFamilyHandle* cf, std::string lower,
                        std::string upper, uint32_t limit, std::shared_ptr<SnapshotRef> snapshot, bool fill_cache) {
  return QueueWorker(new ScanWorker(env, std::move(state), cf, std::move(lower), std::move(upper), limit, std::move(snapshot), fill_cache));
}

}  // namespace flowstate
