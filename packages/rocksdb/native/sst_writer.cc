// SstFileWriter JS class.
#include "common.h"

namespace flowstate {

namespace {
Napi::Object InfoToJs(Napi::Env env, const rocksdb::ExternalSstFileInfo& fi) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", Napi::String::New(env, fi.file_path));
  o.Set("fileSize", Napi::Number::New(env, static_cast<double>(fi.file_size)));
  o.Set("numEntries", Napi::Number::New(env, static_cast<double>(fi.num_entries)));
  o.Set("numRangeDelEntries", Napi::Number::New(env, static_cast<double>(fi.num_range_del_entries)));
  o.Set("smallestKey", ToBuffer(env, fi.smallest_key));
  o.Set("largestKey", ToBuffer(env, fi.largest_key));
  return o;
}
}  // namespace

// Runs SstFileWriter::Finish on the thread pool. Holds a strong reference to
// the JS writer object (so the SstWriterWrap cannot be finalized meanwhile);
// the wrap's `busy_` flag rejects every other call until OnOK/OnError.
class SstWriterWrap::FinishWorker : public Napi::AsyncWorker {
 public:
  FinishWorker(Napi::Env env, SstWriterWrap* wrap, Napi::Object self)
      : Napi::AsyncWorker(env, "flowstate.rocksdb.sst"),
        wrap_(wrap),
        self_(Napi::Persistent(self)),
        deferred_(Napi::Promise::Deferred::New(env)),
        writer_(wrap->writer_.get()),
        path_(wrap->path_) {
    FS_CHECK(!wrap_->busy_);
    wrap_->busy_ = true;
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override { status_ = writer_->Finish(&info_); }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Settle();
    if (status_.ok()) {
      deferred_.Resolve(InfoToJs(env, info_));
    } else {
      deferred_.Reject(MakeStatusError(env, status_, path_).Value());
    }
  }
  void OnError(const Napi::Error& e) override {
    Settle();
    deferred_.Reject(e.Value());
  }

 private:
  void Settle() {
    FS_CHECK(wrap_->busy_);
    wrap_->busy_ = false;
    wrap_->opened_ = false;  // Finish closes the file whether or not it succeeded
  }
  SstWriterWrap* wrap_;  // kept alive by self_
  Napi::ObjectReference self_;
  Napi::Promise::Deferred deferred_;
  rocksdb::SstFileWriter* writer_;
  std::string path_;
  rocksdb::Status status_;
  rocksdb::ExternalSstFileInfo info_;
};

Napi::Function SstWriterWrap::Define(Napi::Env env) {
  return DefineClass(env, "SstFileWriter",
                     {
                         InstanceMethod<&SstWriterWrap::ConfigureJs>("configure"),
                         InstanceMethod<&SstWriterWrap::Open>("open"),
                         InstanceMethod<&SstWriterWrap::Put>("put"),
                         InstanceMethod<&SstWriterWrap::Merge>("merge"),
                         InstanceMethod<&SstWriterWrap::Delete>("delete"),
                         InstanceMethod<&SstWriterWrap::DeleteRange>("deleteRange"),
                         InstanceMethod<&SstWriterWrap::Finish>("finish"),
                         InstanceMethod<&SstWriterWrap::FinishAsync>("finishAsync"),
                         InstanceMethod<&SstWriterWrap::FileSize>("fileSize"),
                         InstanceMethod<&SstWriterWrap::Abandon>("abandon"),
                         InstanceMethod<&SstWriterWrap::State>("state"),
                     });
}

SstWriterWrap::SstWriterWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SstWriterWrap>(info) {
  info.This().As<Napi::Object>().TypeTag(&kSstWriterTag);
}

SstWriterWrap::~SstWriterWrap() {
  FS_CHECK(!busy_);  // the async worker holds a strong reference while busy
  // rocksdb::SstFileWriter's destructor abandons an unfinished file.
  writer_.reset();
}

void SstWriterWrap::Configure(const rocksdb::Options& options) {
  FS_CHECK(!busy_ && !opened_);
  writer_.reset();
  options_ = std::make_unique<rocksdb::Options>(options);
  // Same comparator (bytewise, the Options default), merge operator, prefix
  // extractor, compression and table format as the DB's column families.
  writer_ = std::make_unique<rocksdb::SstFileWriter>(rocksdb::EnvOptions(), *options_);
}

Napi::Value SstWriterWrap::ConfigureJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (busy_) Throw(env, kErrBusy, "SstFileWriter.finishAsync is in progress", path_);
  if (opened_) Throw(env, kErrInvalidArgument, "SstFileWriter is open", path_);
  DbConfig c = ParseConfig(env, info[0]);
  c.block_cache_size = 0;  // irrelevant for writing
  Configure(rocksdb::Options(MakeDbOptions(c), MakeCfOptions(c)));
  return env.Undefined();
}

rocksdb::SstFileWriter* SstWriterWrap::Opened(const Napi::Env& env) {
  if (busy_) Throw(env, kErrBusy, "SstFileWriter.finishAsync is in progress", path_);
  if (!writer_ || !opened_) Throw(env, kErrInvalidArgument, "SstFileWriter is not open", path_);
  return writer_.get();
}

Napi::Value SstWriterWrap::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (busy_) Throw(env, kErrBusy, "SstFileWriter.finishAsync is in progress", path_);
  if (opened_) Throw(env, kErrInvalidArgument, "SstFileWriter is already open", path_);
  if (!writer_) Configure(rocksdb::Options(MakeDbOptions(DbConfig()), MakeCfOptions(DbConfig())));
  std::string path = ArgString(env, info[0], "path");
  rocksdb::Status s = writer_->Open(path);
  ThrowIfError(env, s, path);
  path_ = path;
  opened_ = true;
  return env.Undefined();
}

Napi::Value SstWriterWrap::Put(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rocksdb::SstFileWriter* w = Opened(env);
  ThrowIfError(env, w->Put(ArgBytes(env, info[0], "key"), ArgBytes(env, info[1], "value")), path_);
  return env.Undefined();
}

Napi::Value SstWriterWrap::Merge(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rocksdb::SstFileWriter* w = Opened(env);
  ThrowIfError(env, w->Merge(ArgBytes(env, info[0], "key"), ArgBytes(env, info[1], "value")), path_);
  return env.Undefined();
}

Napi::Value SstWriterWrap::Delete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rocksdb::SstFileWriter* w = Opened(env);
  ThrowIfError(env, w->Delete(ArgBytes(env, info[0], "key")), path_);
  return env.Undefined();
}

Napi::Value SstWriterWrap::DeleteRange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rocksdb::SstFileWriter* w = Opened(env);
  ThrowIfError(env, w->DeleteRange(ArgBytes(env, info[0], "begin"), ArgBytes(env, info[1], "end")), path_);
  return env.Undefined();
}

Napi::Value SstWriterWrap::Finish(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rocksdb::SstFileWriter* w = Opened(env);
  rocksdb::ExternalSstFileInfo fi;
  rocksdb::Status s = w->Finish(&fi);
  opened_ = false;
  ThrowIfError(env, s, path_);
  return InfoToJs(env, fi);
}

Napi::Value SstWriterWrap::FinishAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Opened(env);
  auto* worker = new FinishWorker(env, this, info.This().As<Napi::Object>());
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

Napi::Value SstWriterWrap::FileSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rocksdb::SstFileWriter* w = Opened(env);
  return Napi::Number::New(env, static_cast<double>(w->FileSize()));
}

Napi::Value SstWriterWrap::Abandon(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (busy_) Throw(env, kErrBusy, "SstFileWriter.finishAsync is in progress", path_);
  if (opened_) {
    // Destroying an unfinished rocksdb::SstFileWriter abandons the table
    // builder; recreate a fresh writer with the same options for reuse.
    FS_CHECK(options_ != nullptr);
    writer_ = std::make_unique<rocksdb::SstFileWriter>(rocksdb::EnvOptions(), *options_);
    opened_ = false;
  }
  return env.Undefined();
}

Napi::Value SstWriterWrap::State(const Napi::CallbackInfo& info) {
  const char* s = busy_ ? "finishing" : opened_ ? "open" : "idle";
  return Napi::String::New(info.Env(), s);
}

}  // namespace flowstate
