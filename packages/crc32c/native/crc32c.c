// CRC32C (Castagnoli) for flowstate's checkpoint and savepoint checksums, as a Node-API addon.
//
// Why it exists: verifying the checksums of a savepoint read is the largest single cost of that
// read (issue 16). One lane of the SSE4.2 `crc32` instruction is bound by its 3-cycle latency;
// three independent lanes over three adjacent blocks keep the unit busy every cycle, and the
// three partial CRCs are joined with a precomputed "append N zero bytes" operator.
//
// Only x86-64 with SSE4.2 gets the fast path: `accelerated` tells JavaScript whether to use this
// addon at all (elsewhere it keeps @node-rs/crc32, which has its own hardware paths).
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FLOWSTATE_CRC32C_X86 1
#endif

// Lane lengths of the interleaved loop: a long one for bulk data and a short one so that inputs
// of a few KiB are interleaved too. Each has its own zero-append operator (4 KiB of tables).
#define LONG_LANE 4096
#define SHORT_LANE 256
// The loops step 8 bytes at a time, and the operator for a lane is built in SHORT_LANE steps.
_Static_assert(SHORT_LANE % 8 == 0 && LONG_LANE % SHORT_LANE == 0, "lane lengths");

#ifdef FLOWSTATE_CRC32C_X86
// The raw CRC register advanced over a fixed number of zero bytes, as 4 byte-indexed tables:
// the map is linear over GF(2), so its value is the XOR of the tables at the register's bytes.
typedef struct {
  uint32_t t[4][256];
} ZeroAppend;

static uint32_t zero_append(const ZeroAppend* z, uint32_t crc) {
  return z->t[0][crc & 0xff] ^ z->t[1][(crc >> 8) & 0xff] ^ z->t[2][(crc >> 16) & 0xff] ^ z->t[3][crc >> 24];
}

static ZeroAppend long_lane_append;
static ZeroAppend short_lane_append;
static int accelerated = 0;

static inline uint64_t load64(const uint8_t* p) {
  uint64_t word;
  memcpy(&word, p, 8);
  return word;
}

__attribute__((target("sse4.2"))) static uint32_t one_lane(uint32_t crc, const uint8_t* p, size_t n) {
  uint64_t c = crc;
  for (; n >= 8; n -= 8, p += 8) c = __builtin_ia32_crc32di(c, load64(p));
  uint32_t c32 = (uint32_t)c;
  for (; n > 0; --n, ++p) c32 = __builtin_ia32_crc32qi(c32, *p);
  return c32;
}

// Three lanes of `lane` bytes each, from p: lane 0 continues `crc`, lanes 1 and 2 start at 0,
// and crc(A B C) = append(append(crc(A), |B|) ^ crc0(B), |C|) ^ crc0(C) joins them.
__attribute__((target("sse4.2"))) static uint32_t three_lanes(uint32_t crc, const uint8_t* p, size_t lane, const ZeroAppend* z) {
  uint64_t c0 = crc, c1 = 0, c2 = 0;
  const uint8_t* p1 = p + lane;
  const uint8_t* p2 = p1 + lane;
  for (size_t i = 0; i < lane; i += 8) {
    c0 = __builtin_ia32_crc32di(c0, load64(p + i));
    c1 = __builtin_ia32_crc32di(c1, load64(p1 + i));
    c2 = __builtin_ia32_crc32di(c2, load64(p2 + i));
  }
  return zero_append(z, zero_append(z, (uint32_t)c0) ^ (uint32_t)c1) ^ (uint32_t)c2;
}

// The raw register (no pre- or post-inversion), as the instruction computes it.
static uint32_t raw_crc(uint32_t crc, const uint8_t* p, size_t n) {
  for (; n >= 3 * LONG_LANE; n -= 3 * LONG_LANE, p += 3 * LONG_LANE) crc = three_lanes(crc, p, LONG_LANE, &long_lane_append);
  for (; n >= 3 * SHORT_LANE; n -= 3 * SHORT_LANE, p += 3 * SHORT_LANE) crc = three_lanes(crc, p, SHORT_LANE, &short_lane_append);
  return one_lane(crc, p, n);
}

// The operator for `length` zero bytes, built from the images of the register's 32 unit vectors
// (each fed `length` zeros through the instruction), then spread by linearity over byte values.
static void build_zero_append(ZeroAppend* z, size_t length) {
  static const uint8_t zeros[SHORT_LANE] = {0};
  uint32_t unit_image[32];
  for (int bit = 0; bit < 32; bit++) {
    uint32_t c = (uint32_t)1 << bit;
    for (size_t done = 0; done < length; done += SHORT_LANE) c = one_lane(c, zeros, SHORT_LANE);
    unit_image[bit] = c;
  }
  for (int byte = 0; byte < 4; byte++) {
    for (uint32_t v = 0; v < 256; v++) {
      uint32_t image = 0;
      for (int b = 0; b < 8; b++) if (v & (1u << b)) image ^= unit_image[8 * byte + b];
      z->t[byte][v] = image;
    }
  }
}

// Runs once per process when the library is loaded (worker threads that load the module again
// share it): the dynamic loader serializes it, so no lock is needed.
__attribute__((constructor)) static void init_accelerated(void) {
  // Constructors may run before libgcc's own CPU detection: initialize it first.
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("sse4.2")) return;
  build_zero_append(&long_lane_append, LONG_LANE);
  build_zero_append(&short_lane_append, SHORT_LANE);
  accelerated = 1;
}

// crc32c(bytes: Uint8Array, previous: number): number. The JavaScript wrapper (src/index.ts)
// passes bytes and an unsigned previous value; any other call is a programmer error: a TypeError.
static napi_value js_crc32c(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2) {
    napi_throw_type_error(env, NULL, "crc32c(bytes, previous): two arguments expected");
    return NULL;
  }
  napi_typedarray_type type;
  size_t length = 0;
  void* data = NULL;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "crc32c: bytes must be a Uint8Array");
    return NULL;
  }
  uint32_t previous = 0;
  if (napi_get_value_uint32(env, argv[1], &previous) != napi_ok) {
    napi_throw_type_error(env, NULL, "crc32c: previous must be a number");
    return NULL;
  }
  uint32_t crc = length == 0 ? previous : ~raw_crc(~previous, (const uint8_t*)data, length);
  napi_value result = NULL;
  // NULL (a pending exception) if even a number cannot be made.
  if (napi_create_uint32(env, crc, &result) != napi_ok) return NULL;
  return result;
}

// One crc32cRanges call: the CRC32C of each range [bounds[k], bounds[k + 1]) of `data`, computed
// on a libuv pool thread into the result's own memory. Everything it holds lives in ArrayBuffers
// the engine owns (this struct and the bounds in one, the CRCs in the result), so that the addon
// still imports nothing but Node-API: no malloc, no libc. The references keep them, and the
// bytes, alive until completion; the caller must not modify or transfer the bytes meanwhile
// (src/index.ts says so).
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref bytes;
  napi_ref scratch;
  napi_ref result;
  const uint8_t* data;
  size_t count;
  uint32_t* crcs;
  size_t* bounds;  // count + 1 entries, right after this struct in `scratch`
} RangesWork;

static void ranges_execute(napi_env env, void* arg) {
  (void)env;
  RangesWork* w = (RangesWork*)arg;
  for (size_t k = 0; k < w->count; k++) {
    size_t n = w->bounds[k + 1] - w->bounds[k];
    w->crcs[k] = n == 0 ? 0 : ~raw_crc(~0u, w->data + w->bounds[k], n);
  }
}

static void ranges_release(napi_env env, RangesWork* w) {
  // The scratch reference goes last: it keeps `w` itself alive.
  if (w->work != NULL) napi_delete_async_work(env, w->work);
  if (w->bytes != NULL) napi_delete_reference(env, w->bytes);
  if (w->result != NULL) napi_delete_reference(env, w->result);
  napi_delete_reference(env, w->scratch);
}

// Resolves with the result Uint32Array; rejects only if the work was cancelled or it is gone.
static void ranges_complete(napi_env env, napi_status status, void* arg) {
  RangesWork* w = (RangesWork*)arg;
  napi_value result = NULL;
  if (status == napi_ok && napi_get_reference_value(env, w->result, &result) == napi_ok && result != NULL) {
    napi_resolve_deferred(env, w->deferred, result);
  } else {
    napi_value message = NULL;
    napi_value error = NULL;
    napi_create_string_utf8(env, "crc32cRanges: the work did not complete", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &error);
    napi_reject_deferred(env, w->deferred, error);
  }
  ranges_release(env, w);
}

// Copies bounds into `out`, reading each exactly once (a SharedArrayBuffer may change under us),
// and tells whether they ascend, whole numbers within [0, length].
static bool copy_bounds(const double* d, size_t n, size_t length, size_t* out) {
  double previous = 0;
  for (size_t k = 0; k < n; k++) {
    double v = d[k];
    // In range first (NaN fails it), so that the conversion below is defined.
    if (!(v >= previous && v <= (double)length) || v != (double)(size_t)v) return false;
    out[k] = (size_t)v;
    previous = v;
  }
  return true;
}

// An ArrayBuffer of `size` bytes (at least 1) and its memory; NULL on failure (an exception may be pending).
static void* new_buffer(napi_env env, size_t size, napi_value* buffer) {
  void* data = NULL;
  if (napi_create_arraybuffer(env, size > 0 ? size : 1, &data, buffer) != napi_ok) return NULL;
  return data;
}

// The work's state in engine memory, its bounds copied and checked from `d` (n of them, n >= 1):
// NULL with `*bad` set for bad bounds, NULL alone on failure (an exception may be pending).
static RangesWork* new_ranges_work(napi_env env, const double* d, size_t n, size_t length, napi_value* scratch, napi_value* result, bool* bad) {
  napi_value result_buffer = NULL;
  RangesWork* w = (RangesWork*)new_buffer(env, sizeof(RangesWork) + n * sizeof(size_t), scratch);
  if (w == NULL) return NULL;
  memset(w, 0, sizeof(RangesWork));
  w->bounds = (size_t*)(w + 1);
  if (!copy_bounds(d, n, length, w->bounds)) {
    *bad = true;
    return NULL;
  }
  w->count = n - 1;
  w->crcs = (uint32_t*)new_buffer(env, w->count * sizeof(uint32_t), &result_buffer);
  if (w->crcs == NULL || napi_create_typedarray(env, napi_uint32_array, w->count, result_buffer, 0, result) != napi_ok) return NULL;
  return w;
}

// Queues the work; its promise, or NULL (an exception may be pending).
static napi_value queue_ranges(napi_env env, RangesWork* w, napi_value bytes, napi_value scratch, napi_value result) {
  if (napi_create_reference(env, scratch, 1, &w->scratch) != napi_ok) return NULL;
  napi_value promise = NULL;
  napi_value name = NULL;
  if (napi_create_reference(env, bytes, 1, &w->bytes) != napi_ok || napi_create_reference(env, result, 1, &w->result) != napi_ok ||
      napi_create_promise(env, &w->deferred, &promise) != napi_ok || napi_create_string_utf8(env, "crc32cRanges", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, ranges_execute, ranges_complete, w, &w->work) != napi_ok || napi_queue_async_work(env, w->work) != napi_ok) {
    // Only when the engine is out of memory or shutting down: nothing was queued (a created deferred stays pending).
    ranges_release(env, w);
    return NULL;
  }
  return promise;
}

// crc32cRanges(bytes: Uint8Array, bounds: Float64Array): Promise<Uint32Array>. Bad arguments are
// the wrapper's programmer errors: a TypeError.
static napi_value js_crc32c_ranges(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_typedarray_type type;
  size_t length = 0;
  void* data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 ||
      napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "crc32cRanges(bytes: Uint8Array, bounds: Float64Array) expected");
    return NULL;
  }
  napi_typedarray_type bounds_type;
  size_t nbounds = 0;
  void* bounds = NULL;
  bool bad = napi_get_typedarray_info(env, argv[1], &bounds_type, &nbounds, &bounds, NULL, NULL) != napi_ok || bounds_type != napi_float64_array || nbounds == 0;
  napi_value scratch = NULL;
  napi_value result = NULL;
  RangesWork* w = bad ? NULL : new_ranges_work(env, (const double*)bounds, nbounds, length, &scratch, &result, &bad);
  if (bad) {
    napi_throw_type_error(env, NULL, "crc32cRanges: bounds must be a non-empty Float64Array of ascending whole numbers within the bytes");
    return NULL;
  }
  napi_value promise = NULL;
  if (w != NULL) {
    w->data = (const uint8_t*)data;
    promise = queue_ranges(env, w, argv[0], scratch, result);
  }
  bool pending = false;
  if (promise == NULL && napi_is_exception_pending(env, &pending) == napi_ok && !pending) napi_throw_error(env, NULL, "crc32cRanges: could not queue the work");
  return promise;
}
#endif

// Exports `accelerated`, and `crc32c` and `crc32cRanges` only when it is: without the instruction there is nothing
// faster to offer than the fallback the wrapper already has.
NAPI_MODULE_INIT() {
  int is_accelerated = 0;
#ifdef FLOWSTATE_CRC32C_X86
  is_accelerated = accelerated;
  if (is_accelerated) {
    napi_value fn = NULL;
    if (napi_create_function(env, "crc32c", NAPI_AUTO_LENGTH, js_crc32c, NULL, &fn) != napi_ok) return NULL;
    if (napi_set_named_property(env, exports, "crc32c", fn) != napi_ok) return NULL;
    napi_value ranges = NULL;
    if (napi_create_function(env, "crc32cRanges", NAPI_AUTO_LENGTH, js_crc32c_ranges, NULL, &ranges) != napi_ok) return NULL;
    if (napi_set_named_property(env, exports, "crc32cRanges", ranges) != napi_ok) return NULL;
  }
#endif
  napi_value flag = NULL;
  if (napi_get_boolean(env, is_accelerated != 0, &flag) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "accelerated", flag) != napi_ok) return NULL;
  return exports;
}
