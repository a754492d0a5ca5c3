// DbState: owner of the rocksdb::DB and of every handle derived from it.
#include "common.h"

#include <rocksdb/env.h>

#include <algorithm>
#include <atomic>

namespace flowstate {

namespace {
std::atomic<uint64_t> g_next_db_id{1};

// SST files per thread DB::Open opens a column family's files with.
constexpr int kSstFilesPerOpeningThread = 16;

// DBOptions::max_file_opening_threads for a database of `column_families` in `path`: one thread
// per kSstFilesPerOpeningThread SSTs of a column family (the directory's SSTs shared evenly among
// them), at most RocksDB's default (16). At recovery RocksDB 7.8 opens each column family's files
// on the calling thread and that many minus one threads it starts and joins, however few files
// there are (VersionBuilder::LoadTableHandlers): those 15 thread creations were ~3 ms of an empty
// database's ~8 ms open here, and a conversion opens a database per subtask (issue 16). Each
// thread then opens up to 31 files (reading each one's footer, index and filter); many files
// still get all 16.
int FileOpeningThreads(rocksdb::Env* env, const std::string& path, size_t column_families) {
  const int most = rocksdb::DBOptions().max_file_opening_threads;
  std::vector<std::string> children;
  if (!env->GetChildren(path, &children).ok()) return 1;  // no directory yet: nothing to open
  size_t ssts = 0;
  for (const std::string& name : children) {
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".sst") == 0) ssts++;
  }
  const size_t per_family = ssts / std::max<size_t>(1, column_families);
  return static_cast<int>(std::clamp<size_t>(per_family / kSstFilesPerOpeningThread, 1, static_cast<size_t>(most)));
}
}  // namespace

DbState::DbState() : id_(g_next_db_id.fetch_add(1)) {}

DbState::~DbState() {
  // Last reference gone (JS object and all children collected, or env teardown)
  // without an explicit close(): close now. Errors cannot be reported here.
  if (db_ != nullptr) {
    rocksdb::Status s = Close();
    (void)s;
  }
  FS_CHECK(db_ == nullptr);
  FS_CHECK(pending_async_ == 0);
}

rocksdb::Status DbState::Open(const std::string& path, const DbConfig& config) {
  FS_CHECK(db_ == nullptr);
  path_ = path;
  config_ = config;
  rocksdb::DBOptions db_options = MakeDbOptions(config);
  cf_options_ = MakeCfOptions(config);
  cf_options_.compaction_filter_factory = NewTtlFilterFactory(ttl_);  // a no-op for CFs without TTL
  write_options_ = rocksdb::WriteOptions();
  write_options_.disableWAL = config.disable_wal;

  std::vector<std::string> names;
  if (config.has_column_families) {
    names = config.column_families;
  } else {
    rocksdb::Status ls = rocksdb::DB::ListColumnFamilies(db_options, path, &names);
    if (!ls.ok()) {
      // Typically "no such DB yet"; DB::Open below reports the real problem
      // (or creates the DB when createIfMissing is set).
      names.clear();
    }
  }
  bool has_default = false;
  for (const std::string& n : names) has_default = has_default || n == rocksdb::kDefaultColumnFamilyName;
  if (!has_default) names.insert(names.begin(), rocksdb::kDefaultColumnFamilyName);

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& n : names) {
    for (const auto& d : descriptors) {
      if (d.name == n) return rocksdb::Status::InvalidArgument("duplicate column family name", n);
    }
    descriptors.emplace_back(n, cf_options_);
  }
  db_options.max_file_opening_threads = FileOpeningThreads(db_options.env, path, descriptors.size());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, path, descriptors, &handles, &db);
  if (!s.ok()) {
    // RocksDB already frees the handles and the DB on failure; be defensive.
    if (db != nullptr) {
      for (rocksdb::ColumnFamilyHandle* h : handles) db->DestroyColumnFamilyHandle(h);
      delete db;
    }
    return s;
  }
  FS_CHECK(db != nullptr);
  FS_CHECK(handles.size() == descriptors.size());
  db_ = db;
  for (rocksdb::ColumnFamilyHandle* h : handles) {
    auto ref = std::make_shared<CfRef>();
    ref->handle = h;
    ref->name = h->GetName();
    ref->id = h->GetID();
    ref->db_id = id_;
    cfs_[ref->name] = ref;
  }
  return s;
}

rocksdb::Status DbState::Close() {
  if (db_ == nullptr) return rocksdb::Status::OK();
  // 1. No background operation may still be using the DB or a CF handle.
  WaitForAsync();
  // 2. Iterators first: they may pin snapshots and reference CF data.
  for (const std::shared_ptr<IterRef>& it : iterators_) {
    FS_CHECK(it->it != nullptr);
    it->it.reset();
    if (it->snapshot) {
      FS_CHECK(it->snapshot->pins > 0);
      it->snapshot->pins--;
    }
    it->snapshot.reset();
  }
  iterators_.clear();
  // 3. Snapshots (DB::Close refuses to close with unreleased snapshots).
  for (const std::shared_ptr<SnapshotRef>& s : snapshots_) {
    FS_CHECK(s->snap != nullptr);
    FS_CHECK(s->pins == 0);
    db_->ReleaseSnapshot(s->snap);
    s->snap = nullptr;
    s->user_released = true;
  }
  snapshots_.clear();
  // 4. Column family handles.
  rocksdb::Status first_error;
  for (auto& [name, cf] : cfs_) {
    FS_CHECK(cf->handle != nullptr);
    rocksdb::Status s = db_->DestroyColumnFamilyHandle(cf->handle);
    if (!s.ok() && first_error.ok()) first_error = s;
    cf->handle = nullptr;
  }
  cfs_.clear();
  // 5. The DB itself (flushes memtables when the WAL was disabled).
  rocksdb::Status s = db_->Close();
  delete db_;
  db_ = nullptr;
  if (!s.ok()) return s;
  return first_error;
}

void DbState::TrackIterator(const std::shared_ptr<IterRef>& ref) {
  FS_CHECK(db_ != nullptr);
  FS_CHECK(ref->it != nullptr);
  if (ref->snapshot) {
    FS_CHECK(ref->snapshot->snap != nullptr && !ref->snapshot->user_released);
    ref->snapshot->pins++;
  }
  bool inserted = iterators_.insert(ref).second;
  FS_CHECK(inserted);
}

void DbState::CloseIterator(const std::shared_ptr<IterRef>& ref) {
  if (ref->it == nullptr) return;  // already closed / invalidated
  FS_CHECK(db_ != nullptr);
  size_t erased = iterators_.erase(ref);
  FS_CHECK(erased == 1);
  ref->it.reset();
  if (ref->snapshot) {
    std::shared_ptr<SnapshotRef> snap = std::move(ref->snapshot);
    FS_CHECK(snap->pins > 0);
    snap->pins--;
    MaybeReleaseSnapshot(snap);
  }
}

std::shared_ptr<SnapshotRef> DbState::NewSnapshot() {
  FS_CHECK(db_ != nullptr);
  auto ref = std::make_shared<SnapshotRef>();
  ref->snap = db_->GetSnapshot();
  FS_CHECK(ref->snap != nullptr);
  ref->sequence = ref->snap->GetSequenceNumber();
  ref->db_id = id_;
  snapshots_.insert(ref);
  return ref;
}

void DbState::ReleaseSnapshot(const std::shared_ptr<SnapshotRef>& ref) {
  if (ref->user_released) return;
  FS_CHECK(db_ != nullptr);
  ref->user_released = true;
  MaybeReleaseSnapshot(ref);
}

void DbState::MaybeReleaseSnapshot(const std::shared_ptr<SnapshotRef>& ref) {
  // The rocksdb snapshot outlives release() while iterators still read at it.
  if (!ref->user_released || ref->pins > 0 || ref->snap == nullptr) return;
  FS_CHECK(db_ != nullptr);
  db_->ReleaseSnapshot(ref->snap);
  ref->snap = nullptr;
  size_t erased = snapshots_.erase(ref);
  FS_CHECK(erased == 1);
}

rocksdb::Status DbState::CreateColumnFamily(const std::string& name, std::shared_ptr<CfRef>* out) {
  FS_CHECK(db_ != nullptr);
  if (cfs_.count(name) != 0) {
    return rocksdb::Status::InvalidArgument("column family already exists", name);
  }
  rocksdb::ColumnFamilyHandle* h = nullptr;
  rocksdb::Status s = db_->CreateColumnFamily(cf_options_, name, &h);
  if (!s.ok()) return s;
  FS_CHECK(h != nullptr);
  auto ref = std::make_shared<CfRef>();
  ref->handle = h;
  ref->name = name;
  ref->id = h->GetID();
  ref->db_id = id_;
  cfs_[name] = ref;
  *out = ref;
  return s;
}

rocksdb::Status DbState::DropColumnFamily(const std::shared_ptr<CfRef>& cf) {
  FS_CHECK(db_ != nullptr);
  FS_CHECK(cf->handle != nullptr && cf->db_id == id_);
  WaitForAsync();  // an async compaction/ingest may be using this handle
  rocksdb::Status s = db_->DropColumnFamily(cf->handle);
  if (!s.ok()) return s;
  // Invalidate iterators over the dropped family before destroying its handle.
  std::vector<std::shared_ptr<IterRef>> victims;
  for (const std::shared_ptr<IterRef>& it : iterators_) {
    if (it->cf == cf) victims.push_back(it);
  }
  for (const std::shared_ptr<IterRef>& it : victims) CloseIterator(it);
  s = db_->DestroyColumnFamilyHandle(cf->handle);
  cf->handle = nullptr;
  cf->dropped = true;
  cfs_.erase(cf->name);
  return s;
}

void DbState::BeginAsync() {
  FS_CHECK(db_ != nullptr);
  std::lock_guard<std::mutex> lock(async_mu_);
  pending_async_++;
}

void DbState::EndAsync() {
  std::lock_guard<std::mutex> lock(async_mu_);
  FS_CHECK(pending_async_ > 0);
  pending_async_--;
  if (pending_async_ == 0) async_cv_.notify_all();
}

void DbState::WaitForAsync() {
  std::unique_lock<std::mutex> lock(async_mu_);
  async_cv_.wait(lock, [this] { return pending_async_ == 0; });
}

}  // namespace flowstate
