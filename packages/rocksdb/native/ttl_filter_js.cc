// JS surface of the TTL compaction filter: Database.setTtlCompactionFilter,
// Database.setTtlTime and the module function ttlFilterForTest.
#include <cmath>
#include <limits>

#include "common.h"

namespace flowstate {

namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1

double IntegerField(const Napi::Env& env, const Napi::Object& o, const char* key, double min, double max) {
  return IntegerArg(env, o.Get(key), min, max, std::string("TTL filter option ") + key);
}

TtlLayout LayoutField(const Napi::Env& env, const Napi::Object& o) {
  std::string layout = ArgString(env, o.Get("layout"), "TTL layout");
  if (layout == "VALUE") return TtlLayout::kValue;
  if (layout == "LIST") return TtlLayout::kList;
  if (layout == "MAP") return TtlLayout::kMap;
  Throw(env, kErrInvalidArgument, "TTL layout must be 'VALUE', 'LIST' or 'MAP', got '" + layout + "'");
}

// { layout, ttlMs, timeCharacteristic, queryTimeAfterNumEntries }
TtlFilterConfig ParseTtlConfig(const Napi::Env& env, const Napi::Value& v) {
  if (!v.IsObject()) Throw(env, kErrInvalidArgument, "TTL filter config must be an object");
  Napi::Object o = v.As<Napi::Object>();
  TtlFilterConfig c;
  c.layout = LayoutField(env, o);
  c.ttl_ms = static_cast<int64_t>(IntegerField(env, o, "ttlMs", 1, kMaxSafeInteger));
  std::string time = ArgString(env, o.Get("timeCharacteristic"), "TTL time characteristic");
  if (time != "ProcessingTime" && time != "EventTime") {
    Throw(env, kErrInvalidArgument, "TTL time characteristic must be 'ProcessingTime' or 'EventTime', got '" + time + "'");
  }
  c.event_time = time == "EventTime";
  c.query_time_after_num_entries =
      static_cast<uint32_t>(IntegerField(env, o, "queryTimeAfterNumEntries", 1, std::numeric_limits<uint32_t>::max()));
  return c;
}

// Any number but NaN; fractions round down and values beyond i64 saturate (a
// watermark may start at -Infinity).
int64_t TimeArg(const Napi::Env& env, const Napi::Value& v) {
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : std::nan("");
  if (std::isnan(d)) Throw(env, kErrInvalidArgument, "TTL time must be a number");
  if (d <= -9.2e18) return std::numeric_limits<int64_t>::min() + 1;
  if (d >= 9.2e18) return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(std::floor(d));
}

const char* VerdictName(TtlVerdict v) {
  switch (v) {
    case TtlVerdict::kKeep:
      return "keep";
    case TtlVerdict::kRemove:
      return "remove";
    case TtlVerdict::kRewrite:
      return "rewrite";
  }
  return "keep";
}

}  // namespace

// setTtlCompactionFilter(cf, config | undefined): compactions of `cf` started
// from now on drop expired entries (undefined: no longer filter `cf`).
Napi::Value DbWrap::SetTtlCompactionFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  std::shared_ptr<CfRef> cf = Cf(env, info[0]);
  if (IsNullish(info[1])) {
    st->ttl()->Remove(cf->id);
  } else {
    st->ttl()->Configure(cf->id, ParseTtlConfig(env, info[1]));
  }
  return env.Undefined();
}

// setTtlTime(ms): the time every TTL filter of this DB compares against.
Napi::Value DbWrap::SetTtlTime(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbState* st = Live(env);
  st->ttl()->SetTime(TimeArg(env, info[0]));
  return env.Undefined();
}

Napi::Value TtlFilterForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TtlFilterConfig config = ParseTtlConfig(env, info[0]);
  int64_t now = TimeArg(env, info[1]);
  rocksdb::Slice value = ArgBytes(env, info[2], "value");
  bool merge_operand = info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
  std::string rewritten;
  TtlVerdict verdict = DecideTtl(config, now, value, merge_operand, &rewritten);
  Napi::Object out = Napi::Object::New(env);
  out.Set("verdict", Napi::String::New(env, VerdictName(verdict)));
  if (verdict == TtlVerdict::kRewrite) out.Set("value", ToBytes(env, rocksdb::Slice(rewritten)));
  return out;
}

// ttlFilterSequenceForTest(config, [{ value, time }]) -> verdicts: one real
// filter, made by the factory as a compaction would, over a sequence of values;
// the registry's time is set to `time` before each value, so tests can see when
// the filter reads it (every queryTimeAfterNumEntries entries).
Napi::Value TtlFilterSequenceForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TtlFilterConfig config = ParseTtlConfig(env, info[0]);
  if (!info[1].IsArray()) Throw(env, kErrInvalidArgument, "entries must be an array");
  Napi::Array entries = info[1].As<Napi::Array>();
  auto registry = std::make_shared<TtlRegistry>();
  constexpr uint32_t kCf = 7;
  registry->Configure(kCf, config);
  rocksdb::CompactionFilter::Context context{};
  context.column_family_id = kCf;
  context.reason = rocksdb::TableFileCreationReason::kCompaction;
  std::unique_ptr<rocksdb::CompactionFilter> filter = NewTtlFilterFactory(registry)->CreateCompactionFilter(context);
  FS_CHECK(filter != nullptr);
  Napi::Array out = Napi::Array::New(env, entries.Length());
  for (uint32_t i = 0; i < entries.Length(); ++i) {
    Napi::Value e = entries.Get(i);
    if (!e.IsObject()) Throw(env, kErrInvalidArgument, "entry must be an object");
    registry->SetTime(TimeArg(env, e.As<Napi::Object>().Get("time")));
    rocksdb::Slice value = ArgBytes(env, e.As<Napi::Object>().Get("value"), "value");
    std::string new_value, skip_until;
    auto d = filter->FilterV2(0, rocksdb::Slice("k"), rocksdb::CompactionFilter::ValueType::kValue, value, &new_value, &skip_until);
    const char* name = d == rocksdb::CompactionFilter::Decision::kRemove        ? "remove"
                       : d == rocksdb::CompactionFilter::Decision::kChangeValue ? "rewrite"
                                                                                 : "keep";
    out.Set(i, Napi::String::New(env, name));
  }
  return out;
}

}  // namespace flowstate
