// pinLiveFiles(dir, prefix, deferSstSyncs, inlineMaxBytes): the files of a checkpoint of the
// database, pinned without a checkpoint directory of their own.
//
// RocksDB's Checkpoint makes a new directory ("<dir>.tmp"), links the SSTs and OPTIONS into it,
// copies the MANIFEST up to its consistent size, writes CURRENT, renames the directory and syncs
// it; a RocksDB backend's incremental checkpoint then read MANIFEST, CURRENT and OPTIONS back
// into its handle and deleted the directory. Each new inode (the directory, the MANIFEST copy,
// CURRENT) costs the file system an allocation, on ext4 without a journal a scan past every
// recently deleted inode: the mkdir alone was ~0.5 ms of a ~5 ms 10 MB incremental checkpoint
// (issue 16).
//
// This takes the same consistent set (GetLiveFilesStorageInfo: memtables flushed first, file
// deletions disabled while the files are pinned), then:
// - hard-links each SST and blob file into `dir`, which exists, as `prefix` + its name (copied
//   and data-synced where the file system cannot link);
// - returns CURRENT's contents, and the bytes of every other file (MANIFEST up to its consistent
//   size, OPTIONS, a WAL) of at most inlineMaxBytes (at most 16 MiB); a larger one is put into
//   `dir` likewise, linked, or copied up to its consistent size where the file grows on
//   (MANIFEST, the last WAL).
// Returns { files: [{ name, path?, bytes? }], unsyncedSsts }. On failure nothing stays in `dir`.
#include "common.h"

#include <fcntl.h>
#include <rocksdb/metadata.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

namespace flowstate {

namespace {
// A bound on what one call reads into memory per file (the caller's inline limit is 20 KiB).
constexpr double kMaxInlineBytes = 16 << 20;
constexpr size_t kCopyChunk = 1 << 20;

// The first `size` bytes of `path`; a shorter file is corrupt (its consistent size is recorded).
rocksdb::Status ReadPrefix(const std::string& path, uint64_t size, std::string* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open", path, errno);
  out->resize(size);
  size_t got = 0;
  rocksdb::Status s = PreadUpTo(fd, path, out->data(), out->size(), &got);
  close(fd);
  if (s.ok() && got < size) s = rocksdb::Status::Corruption(path + " is shorter than its recorded size " + std::to_string(size));
  return s;
}

// Writes all of `data` to `fd`.
rocksdb::Status WriteAll(int fd, const std::string& path, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return ErrnoStatus("cannot write", path, errno);
    data += w;
    n -= static_cast<size_t>(w);
  }
  return rocksdb::Status::OK();
}

// Copies the first `size` bytes of `src` to the new file `dst`, data-synced when `sync` (a copy
// standing in for an SST RocksDB synced: its upload skips the data sync); else whoever uploads it
// syncs it. `*created` tells whether `dst` was created, so that a failure removes only its own file.
rocksdb::Status CopyPrefix(const std::string& src, const std::string& dst, uint64_t size, bool sync, bool* created) {
  *created = false;
  int in = open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return ErrnoStatus("cannot open", src, errno);
  int out = open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out < 0) {
    const int err = errno;
    close(in);
    return ErrnoStatus("cannot create", dst, err);
  }
  *created = true;
  rocksdb::Status s;
  std::string chunk(static_cast<size_t>(std::min<uint64_t>(kCopyChunk, size)), '\0');
  for (uint64_t at = 0; s.ok() && at < size;) {
    ssize_t r = pread(in, &chunk[0], static_cast<size_t>(std::min<uint64_t>(chunk.size(), size - at)), static_cast<off_t>(at));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) s = ErrnoStatus("cannot read", src, errno);
    else if (r == 0) s = rocksdb::Status::Corruption(src + " is shorter than its recorded size " + std::to_string(size));
    else s = WriteAll(out, dst, chunk.data(), static_cast<size_t>(r));
    if (r > 0) at += static_cast<uint64_t>(r);
  }
  if (s.ok() && sync && fdatasync(out) != 0) s = ErrnoStatus("cannot fdatasync", dst, errno);
  if (close(out) != 0 && s.ok()) s = ErrnoStatus("cannot close", dst, errno);
  close(in);
  return s;
}

bool LinkUnsupported(int err) { return err == EXDEV || err == EPERM || err == ENOTSUP || err == EOPNOTSUPP || err == EMLINK; }

// One pinned file: where its link or copy lies, or its bytes.
struct Pinned {
  std::string name;
  std::string path;  // empty when `bytes` holds the file
  std::string bytes;
};

// Re-enables file deletions (disabled while the files are being pinned) on every way out.
class DeletionsDisabled {
 public:
  explicit DeletionsDisabled(rocksdb::DB* db) : db_(db), status_(db->DisableFileDeletions()) {}
  ~DeletionsDisabled() {
    if (status_.ok()) db_->EnableFileDeletions(/*force=*/false).PermitUncheckedError();
  }
  const rocksdb::Status& status() const { return status_; }

 private:
  rocksdb::DB* db_;
  rocksdb::Status status_;
};

class Pinning {
 public:
  Pinning(std::string dir, std::string prefix, uint64_t inline_max) : dir_(std::move(dir)), prefix_(std::move(prefix)), inline_max_(inline_max) {}
  // Files created so far are removed unless the pinning completed.
  ~Pinning() {
    if (done_) return;
    for (const Pinned& p : files_) {
      if (!p.path.empty()) unlink(p.path.c_str());
    }
  }

  rocksdb::Status Add(const rocksdb::LiveFileStorageInfo& info) {
    if (info.relative_filename.empty() || info.relative_filename.find('/') != std::string::npos) {
      return rocksdb::Status::NotSupported("a live file outside the database directory: " + info.relative_filename);
    }
    Pinned p{info.relative_filename, std::string(), std::string()};
    const std::string src = info.directory + "/" + info.relative_filename;
    rocksdb::Status s;
    if (!info.replacement_contents.empty()) {
      if (info.size != info.replacement_contents.size()) return rocksdb::Status::Corruption("inconsistent size metadata for " + p.name);
      p.bytes = info.replacement_contents;
    } else if (info.file_type == rocksdb::kTableFile || info.file_type == rocksdb::kBlobFile) {
      s = Link(src, info.size, &p);  // a copy where links fail is synced (see Link)
    } else if (info.size <= inline_max_) {
      s = ReadPrefix(src, info.size, &p.bytes);
    } else if (info.trim_to_size) {
      s = Copy(src, info.size, /*sync=*/false, &p);  // a MANIFEST or WAL grows on: only its first `size` bytes belong
    } else {
      s = Link(src, info.size, &p);  // OPTIONS (many column families), an older WAL: immutable
    }
    // Listed even when it failed: a link or copy it created is removed with the rest.
    if (s.ok() || !p.path.empty()) files_.push_back(std::move(p));
    return s;
  }

  void Done() { done_ = true; }
  const std::vector<Pinned>& files() const { return files_; }

 private:
  std::string Target(const std::string& name) const { return dir_ + "/" + prefix_ + name; }

  // Links `src` in as p's path; p's path stays empty unless a file was created there. Where the
  // file system cannot link, a copy, data-synced: the caller takes a pinned SST RocksDB synced as
  // synced, as a link would be.
  rocksdb::Status Link(const std::string& src, uint64_t size, Pinned* p) {
    const std::string target = Target(p->name);
    if (link(src.c_str(), target.c_str()) == 0) {
      p->path = target;
      return rocksdb::Status::OK();
    }
    const int err = errno;
    if (!LinkUnsupported(err)) return ErrnoStatus("cannot link " + src + " to", target, err);
    return Copy(src, size, /*sync=*/true, p);
  }

  rocksdb::Status Copy(const std::string& src, uint64_t size, bool sync, Pinned* p) {
    const std::string target = Target(p->name);
    bool created = false;
    rocksdb::Status s = CopyPrefix(src, target, size, sync, &created);
    if (created) p->path = target;
    return s;
  }

  const std::string dir_, prefix_;
  const uint64_t inline_max_;
  std::vector<Pinned> files_;
  bool done_ = false;
};

rocksdb::Status PinAll(rocksdb::DB* db, Pinning* pinning) {
  DeletionsDisabled disabled(db);
  if (!disabled.status().ok()) return disabled.status();
  rocksdb::LiveFilesStorageInfoOptions opts;
  opts.wal_size_for_flush = 0;  // always flush first: complete with the WAL disabled, as createCheckpoint
  std::vector<rocksdb::LiveFileStorageInfo> infos;
  rocksdb::Status s = db->GetLiveFilesStorageInfo(opts, &infos);
  if (!s.ok()) return s;
  std::set<std::string> dirs;
  for (const auto& info : infos) {
    if (info.file_type != rocksdb::kWalFile) dirs.insert(info.directory);
  }
  if (dirs.size() > 1) return rocksdb::Status::NotSupported("db_paths / cf_paths are not supported by checkpoints");
  for (const auto& info : infos) {
    s = pinning->Add(info);
    if (!s.ok()) return s;
  }
  return rocksdb::Status::OK();
}

Napi::Object PinnedToJs(Napi::Env env, const std::vector<Pinned>& files, const std::vector<std::string>& unsynced) {
  Napi::Array list = Napi::Array::New(env, files.size());
  for (uint32_t i = 0; i < files.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", Napi::String::New(env, files[i].name));
    if (!files[i].path.empty()) o.Set("path", Napi::String::New(env, files[i].path));
    else o.Set("bytes", ToBytes(env, files[i].bytes));
    list.Set(i, o);
  }
  Napi::Array skipped = Napi::Array::New(env, unsynced.size());
  for (uint32_t i = 0; i < unsynced.size(); ++i) skipped.Set(i, Napi::String::New(env, unsynced[i]));
  Napi::Object out = Napi::Object::New(env);
  out.Set("files", list);
  out.Set("unsyncedSsts", skipped);
  return out;
}
}  // namespace

Napi::Value DbWrap::PinLiveFiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  std::string dir = ArgString(env, info[0], "pin directory");
  std::string prefix = ArgString(env, info[1], "pin prefix");
  if (prefix.empty() || prefix.find('/') != std::string::npos) Throw(env, kErrInvalidArgument, "pin prefix must be a non-empty file name prefix without '/'", st->path());
  if (!info[2].IsBoolean()) Throw(env, kErrInvalidArgument, "deferSstSyncs must be a boolean", st->path());
  const uint64_t inline_max = static_cast<uint64_t>(IntegerArg(env, info[3], 0, kMaxInlineBytes, "inlineMaxBytes", st->path()));
  Pinning pinning(dir, prefix, inline_max);
  std::vector<std::string> unsynced;
  if (info[2].As<Napi::Boolean>().Value()) {
    DeferSstSyncs defer(st->db()->GetName());
    ThrowIfError(env, PinAll(st->db(), &pinning), st->path());
    unsynced = defer.Finish();
  } else {
    ThrowIfError(env, PinAll(st->db(), &pinning), st->path());
  }
  Napi::Object out = PinnedToJs(env, pinning.files(), unsynced);
  // Only now: a result that could not be built leaves no files nobody knows of.
  pinning.Done();
  return out;
}

}  // namespace flowstate
