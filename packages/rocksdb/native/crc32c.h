// CRC32C (Castagnoli) of the whole-file checksums our formats store, shared by
// the SST verifier and RocksDB's per-file checksum generator (file_checksum.h).
#pragma once

#include <rocksdb/file_checksum.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace flowstate {

// Continues a CRC32C: Crc32cExtend(0, p, n) is the usual CRC32C of p[0..n), as
// @node-rs/crc32 computes it; uses the CPU's CRC32C instruction where there is one.
uint32_t Crc32cExtend(uint32_t crc, const uint8_t* p, size_t n);
// The table-driven form (tests compare both).
uint32_t Crc32cPortable(const uint8_t* p, size_t n);

// RocksDB's "FileChecksumCrc32c" (the name and 4-byte big-endian value of its
// standard factory), computed with Crc32cExtend: the system RocksDB's portable
// build computes CRC32C in software. Every file the database writes (SstFileWriter,
// flush, compaction) gets the checksum of its whole contents as it is written,
// recorded in the MANIFEST, so uploads need not read a new SST back to checksum it.
std::shared_ptr<rocksdb::FileChecksumGenFactory> Crc32cFileChecksumFactory();

// The FileChecksumCrc32c value of a CRC32C (4 bytes, big-endian).
std::string EncodeCrc32cFileChecksum(uint32_t crc);
// The CRC32C of a checksum value that factory (or RocksDB's standard one) produced;
// false when `func_name` names another function or the value is not 4 bytes.
bool DecodeCrc32cFileChecksum(const std::string& func_name, const std::string& value, uint32_t* crc);

}  // namespace flowstate
