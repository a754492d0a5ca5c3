// Module entry point for flowstate_rocksdb.node.
#include "common.h"

#include <rocksdb/version.h>

namespace flowstate {

namespace {
Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) Throw(env, kErrInvalidArgument, "error factory must be a function");
  GetAddonData(env)->error_factory = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);  // deleted by node when the env is torn down

  Napi::Function db = DbWrap::Define(env);
  Napi::Function cf = CfWrap::Define(env);
  Napi::Function snap = SnapshotWrap::Define(env);
  Napi::Function iter = IterWrap::Define(env);
  Napi::Function batch = BatchWrap::Define(env);
  Napi::Function sst = SstWriterWrap::Define(env);
  data->db_ctor = Napi::Persistent(db);
  data->cf_ctor = Napi::Persistent(cf);
  data->snapshot_ctor = Napi::Persistent(snap);
  data->iterator_ctor = Napi::Persistent(iter);
  data->batch_ctor = Napi::Persistent(batch);
  data->sst_writer_ctor = Napi::Persistent(sst);

  exports.Set("Database", db);
  exports.Set("ColumnFamily", cf);
  exports.Set("Snapshot", snap);
  exports.Set("Iterator", iter);
  exports.Set("WriteBatch", batch);
  exports.Set("SstFileWriter", sst);
  exports.Set("setErrorFactory", Napi::Function::New<SetErrorFactory>(env, "setErrorFactory"));
  exports.Set("listColumnFamilies", Napi::Function::New<ListColumnFamiliesOfPath>(env, "listColumnFamilies"));
  exports.Set("verifySstFile", Napi::Function::New<VerifySstFile>(env, "verifySstFile"));
  exports.Set("crc32cForTest", Napi::Function::New<Crc32cForTest>(env, "crc32cForTest"));
  exports.Set("sstVerifyCountsForTest", Napi::Function::New<SstVerifyCountsForTest>(env, "sstVerifyCountsForTest"));
  exports.Set("syncCountsForTest", Napi::Function::New<SyncCountsForTest>(env, "syncCountsForTest"));
  exports.Set("compressionProbeCountsForTest", Napi::Function::New<CompressionProbeCountsJs>(env, "compressionProbeCountsForTest"));
  exports.Set("ttlFilterForTest", Napi::Function::New<TtlFilterForTest>(env, "ttlFilterForTest"));
  exports.Set("ttlFilterSequenceForTest", Napi::Function::New<TtlFilterSequenceForTest>(env, "ttlFilterSequenceForTest"));
  exports.Set("rocksdbVersion", Napi::String::New(env, std::to_string(ROCKSDB_MAJOR) + "." +
                                                           std::to_string(ROCKSDB_MINOR) + "." +
                                                           std::to_string(ROCKSDB_PATCH)));
  exports.Set("mergeOperatorName", Napi::String::New(env, ListAppendMergeOperator()->Name()));
  return exports;
}

}  // namespace flowstate

static Napi::Object InitFlowstateRocksdb(Napi::Env env, Napi::Object exports) {
  return flowstate::Init(env, exports);
}

NODE_API_MODULE(flowstate_rocksdb, InitFlowstateRocksdb)
