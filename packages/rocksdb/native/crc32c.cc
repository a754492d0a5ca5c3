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
__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(uint32_t crc, const uint8_t* p, size_t n) {
  uint64_t c = crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = __builtin_ia32_crc32di(c, word);
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  for (; n > 0; --n, ++p) c32 = __builtin_ia32_crc32qi(c32, *p);
  return c32;
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
