#!/usr/bin/env bash
# Builds a position-independent librocksdb.a from Debian's source package of the same RocksDB
# version as the system's librocksdb-dev (7.8.3 on Debian 12), for the prebuilt addon
# (scripts/prebuild.mjs). Debian's own librocksdb.a cannot go into a shared object (PIE, not PIC).
# Run as root on Debian/Ubuntu (it adds a deb-src entry and installs the build dependencies).
#
#   packages/rocksdb/scripts/build-static-rocksdb.sh [dest-dir]   # default: ~/.cache/flowstate
#   node packages/rocksdb/scripts/prebuild.mjs <dest-dir>/rocksdb-<version>
#
# Cost, measured on the 2-core development machine (shared with other jobs): see NATIVE.md.
set -euo pipefail
dest=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/flowstate}
mkdir -p "$dest"
export DEBIAN_FRONTEND=noninteractive
if [ -z "$(apt-cache showsrc rocksdb 2>/dev/null)" ]; then
  . /etc/os-release
  cat > /etc/apt/sources.list.d/flowstate-deb-src.sources <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: ${VERSION_CODENAME}
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends dpkg-dev cmake g++ make libsnappy-dev liblz4-dev libzstd-dev libbz2-dev zlib1g-dev >/dev/null
version=$(apt-cache showsrc rocksdb | sed -n 's/^Version: //p' | head -1)
upstream=${version%-*}
src="$dest/rocksdb-$upstream"
if [ ! -d "$src" ]; then
  (cd "$dest" && apt-get source -qq "rocksdb=$version")
fi
mkdir -p "$src/build-pic"
cd "$src/build-pic"
cmake .. -DCMAKE_BUILD_TYPE=Release -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DROCKSDB_BUILD_SHARED=OFF \
  -DWITH_BZ2=ON -DWITH_LZ4=ON -DWITH_ZLIB=ON -DWITH_ZSTD=ON -DWITH_SNAPPY=ON -DWITH_GFLAGS=OFF \
  -DWITH_TESTS=OFF -DWITH_TOOLS=OFF -DWITH_CORE_TOOLS=OFF -DWITH_BENCHMARK_TOOLS=OFF -DWITH_ALL_TESTS=OFF \
  -DPORTABLE=ON -DFAIL_ON_WARNINGS=OFF -DWITH_JNI=OFF >/dev/null
started=$(date +%s)
make -j"$(nproc)" rocksdb
echo "flowstate: $src/build-pic/librocksdb.a built in $(( $(date +%s) - started )) s"
