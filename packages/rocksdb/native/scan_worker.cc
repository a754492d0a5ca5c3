// scanAsync: DbWrap::Scan's read on the libuv thread pool. A canonical snapshot of RocksDB state
// (native -> canonical conversion, savepoints) read every key group synchronously on the JS
// thread, about half of that thread's time (issue 16); with this the JS side encodes one batch
// while the next is read.
#include "common.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

namespace flowstate {
namespace {

// A batch in scanAsync's layout, built in place: [u32 count][k_0 v_0 ... k_n-1 v_n-1][0-3 zero bytes][klen_0 vlen_0 ...]
// (host-endian u32s; the lengths trail so that the bytes go straight from the iterator into the
// buffer, without PackEntries' intermediate copy). Owns a malloc'ed buffer that realloc grows.
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
  const char* data() const { return data_; }
  size_t capacity() const { return capacity_; }

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

// Batch buffers of finished scans, for the next ones. A fresh buffer for every batch cost a page
// fault per 4 KiB written (the worker thread's malloc arena hands trimmed memory back to the
// system): more CPU than the synchronous scan it replaces. A few are kept, none over 16 MiB.
class BatchBuffers {
 public:
  static BatchBuffers& Get() {
    static BatchBuffers* pool = new BatchBuffers();  // never destroyed: workers may outlive exit
    return *pool;
  }
  std::unique_ptr<TrailerBatch> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.empty()) return std::make_unique<TrailerBatch>();
    std::unique_ptr<TrailerBatch> b = std::move(free_.back());
    free_.pop_back();
    return b;
  }
  void Give(std::unique_ptr<TrailerBatch> b) {
    if (b == nullptr || b->capacity() > (16u << 20)) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.size() < 4) free_.push_back(std::move(b));
  }

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<TrailerBatch>> free_;
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
    BatchBuffers::Get().Give(std::move(packed_));
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
    // One copy on this thread (into a Node buffer: not zero-filled first), and the batch buffer
    // goes back to the pool at once (handing it to V8 would keep it until a GC).
    Napi::Buffer<char> copy = Napi::Buffer<char>::Copy(env, packed_->data(), packed_->size());
    BatchBuffers::Get().Give(std::move(packed_));
    deferred_.Resolve(copy.ArrayBuffer());
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
    packed_ = BatchBuffers::Get().Take();
    count_ = packed_->Fill(it.get(), limit_);
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
  std::unique_ptr<TrailerBatch> packed_;
  uint32_t count_ = 0;
  bool executed_ = false;
};

}  // namespace

Napi::Promise QueueScan(Napi::Env env, std::shared_ptr<DbState> state, rocksdb::ColumnFamilyHandle* cf, std::string lower,
                        std::string upper, uint32_t limit, std::shared_ptr<SnapshotRef> snapshot, bool fill_cache) {
  return QueueWorker(new ScanWorker(env, std::move(state), cf, std::move(lower), std::move(upper), limit, std::move(snapshot), fill_cache));
}

}  // namespace flowstate
