#include "crc32c.h"

#include <array>
#include <cstring>

namespace flowstate {

namespace {
uint32_t Crc32cTableByte(uint32_t crc, const uint8_t* p, size_t n) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  while (n-- > 0) crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
inline uint64_t Load64(const uint8_t* p) {
  uint64_t word;
  std::memcpy(&word, p, 8);
  return word;
}

__attribute__((target("sse4.2"))) uint32_t Crc32cOneLane(uint32_t crc, const uint8_t* p, size_t n) {
  uint64_t c = crc;
  for (; n >= 8; n -= 8, p += 8) c = __builtin_ia32_crc32di(c, Load64(p));
  uint32_t c32 = static_cast<uint32_t>(c);
  for (; n > 0; --n, ++p) c32 = __builtin_ia32_crc32qi(c32, *p);
  return c32;
}

// One lane of the `crc32` instruction waits for its 3-cycle latency at every step; three lanes
// over adjacent kLane-byte runs keep it busy each cycle (RocksDB hands the file checksum each
// ~4 KiB block as it is appended: a single lane was 13% of a savepoint conversion's thread-pool
// time, issue 16). The raw register is linear over GF(2), so crc(A B C) is
// Shift(Shift(crc(A)) ^ crc0(B)) ^ crc0(C), with crc0 started at 0 and Shift the register
// advanced over kLane zero bytes: a table per register byte, built once from the 32 unit vectors.
constexpr size_t kLane = 256;
static_assert(kLane % 8 == 0, "lanes are stepped 8 bytes at a time");

struct ZeroShift {
  std::array<std::array<uint32_t, 256>, 4> t{};
  uint32_t operator()(uint32_t crc) const { return t[0][crc & 0xff] ^ t[1][(crc >> 8) & 0xff] ^ t[2][(crc >> 16) & 0xff] ^ t[3][crc >> 24]; }
};

const ZeroShift& LaneShift() {
  static const ZeroShift shift = [] {
    static const uint8_t zeros[kLane] = {};
    std::array<uint32_t, 32> unit{};
    for (int bit = 0; bit < 32; ++bit) unit[bit] = Crc32cOneLane(uint32_t{1} << bit, zeros, kLane);
    ZeroShift z;
    for (int byte = 0; byte < 4; ++byte) {
      for (uint32_t v = 0; v < 256; ++v) {
        uint32_t image = 0;
        for (int b = 0; b < 8; ++b) if (v & (1u << b)) image ^= unit[8 * byte + b];
        z.t[byte][v] = image;
      }
    }
    return z;
  }();
  return shift;
}

__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(uint32_t crc, const uint8_t* p, size_t n) {
  if (n >= 3 * kLane) {
    const ZeroShift& shift = LaneShift();
    for (; n >= 3 * kLane; n -= 3 * kLane, p += 3 * kLane) {
      uint64_t c0 = crc, c1 = 0, c2 = 0;
      for (size_t i = 0; i < kLane; i += 8) {
        c0 = __builtin_ia32_crc32di(c0, Load64(p + i));
        c1 = __builtin_ia32_crc32di(c1, Load64(p + kLane + i));
        c2 = __builtin_ia32_crc32di(c2, Load64(p + 2 * kLane + i));
      }
      crc = shift(shift(static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1)) ^ static_cast<uint32_t>(c2);
    }
  }
  return Crc32cOneLane(crc, p, n);
}
bool HasCrc32cInstruction() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#else
uint32_t Crc32cHardware(uint32_t crc, const uint8_t* p, size_t n) { return Crc32cTableByte(crc, p, n); }
bool HasCrc32cInstruction() { return false; }
#endif

class Crc32cGenerator : public rocksdb::FileChecksumGenerator {
 public:
  void Update(const char* data, size_t n) override { crc_ = Crc32cExtend(crc_, reinterpret_cast<const uint8_t*>(data), n); }
  // Big-endian, as RocksDB's own FileChecksumGenCrc32c stores it.
  void Finalize() override { value_ = EncodeCrc32cFileChecksum(crc_); }
  std::string GetChecksum() const override { return value_; }
  const char* Name() const override { return rocksdb::kStandardDbFileChecksumFuncName; }

 private:
  uint32_t crc_ = 0;
  std::string value_;
};

class Crc32cFactory : public rocksdb::FileChecksumGenFactory {
 public:
  // A generator only for the one function it computes (or when none is named).
  std::unique_ptr<rocksdb::FileChecksumGenerator> CreateFileChecksumGenerator(const rocksdb::FileChecksumGenContext& context) override {
    const std::string& requested = context.requested_checksum_func_name;
    if (!requested.empty() && requested != rocksdb::kStandardDbFileChecksumFuncName) return nullptr;
    return std::make_unique<Crc32cGenerator>();
  }
  const char* Name() const override { return "FlowstateCrc32cFileChecksumFactory"; }
};
}  // namespace

uint32_t Crc32cExtend(uint32_t crc, const uint8_t* p, size_t n) {
  crc = ~crc;
  crc = HasCrc32cInstruction() ? Crc32cHardware(crc, p, n) : Crc32cTableByte(crc, p, n);
  return ~crc;
}

uint32_t Crc32cPortable(const uint8_t* p, size_t n) { return ~Crc32cTableByte(~0u, p, n); }

std::shared_ptr<rocksdb::FileChecksumGenFactory> Crc32cFileChecksumFactory() {
  // Stateless: one instance serves every database and SST writer.
  static const std::shared_ptr<rocksdb::FileChecksumGenFactory> factory = std::make_shared<Crc32cFactory>();
  return factory;
}

std::string EncodeCrc32cFileChecksum(uint32_t crc) {
  std::string value(4, '\0');
  for (int i = 0; i < 4; ++i) value[i] = static_cast<char>((crc >> (24 - 8 * i)) & 0xff);
  return value;
}

bool DecodeCrc32cFileChecksum(const std::string& func_name, const std::string& value, uint32_t* crc) {
  if (func_name != rocksdb::kStandardDbFileChecksumFuncName || value.size() != 4) return false;
  uint32_t c = 0;
  for (char b : value) c = (c << 8) | static_cast<uint8_t>(b);
  *crc = c;
  return true;
}

}  // namespace flowstate
