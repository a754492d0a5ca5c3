# Native RocksDB binding for flowstate. Built by scripts/build-native.mjs
# (node-gyp). Library discovery/link mode lives in scripts/rocksdb-config.mjs.
{
  'targets': [
    {
      'target_name': 'flowstate_rocksdb',
      'sources': [
        'native/addon.cc',
        'native/compression_probe.cc',
        'native/crc32c.cc',
        'native/db_state.cc',
        'native/db_wrap.cc',
        'native/objects.cc',
        'native/pin_files.cc',
        'native/sst_verify.cc',
        'native/sst_writer.cc',
        'native/ttl_filter.cc',
        'native/ttl_filter_js.cc',
        'native/util.cc',
      ],
      'include_dirs': [
        '<!@(node scripts/rocksdb-config.mjs --include-dirs)',
      ],
      'defines': [
        'NAPI_VERSION=8',
        'NAPI_CPP_EXCEPTIONS',
        'NODE_ADDON_API_DISABLE_DEPRECATED',
        # Async work completing while a worker thread's environment is being
        # torn down can't throw into JS; swallow instead of std::terminate.
        'NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS',
      ],
      # RocksDB's classes are polymorphic and it uses RTTI (dynamic_cast in its
      # Customizable framework), and node-addon-api is used with C++ exceptions.
      'cflags!': ['-fno-exceptions'],
      # RTTI: on (rocksdb-config.mjs --rtti prints -frtti, --rtti-excluded -fno-rtti, node-gyp's
      # default), except with FLOWSTATE_ROCKSDB_NO_RTTI=1 for a RocksDB built without RTTI (CMake
      # Release builds, as for the prebuilt binary), where the two flags swap.
      'cflags_cc!': ['-fno-exceptions', '-std=gnu++17', '<!@(node scripts/rocksdb-config.mjs --rtti-excluded)'],
      'cflags_cc': ['-std=c++17', '-fexceptions', '<!@(node scripts/rocksdb-config.mjs --rtti)', '-fvisibility=hidden', '-Wall', '-Wextra', '-Wno-unused-parameter'],
      'libraries': [
        '<!@(node scripts/rocksdb-config.mjs --libs)',
      ],
      'conditions': [
        ['OS=="linux"', {
          # Keep the statically linked RocksDB/compression symbols private to
          # the addon (no clashes with other addons bundling another RocksDB).
          'ldflags': ['-Wl,--exclude-libs,ALL', '-Wl,--as-needed'],
        }],
        ['OS=="mac"', {
          'xcode_settings': {
            'GCC_ENABLE_CPP_EXCEPTIONS': 'YES',
            'GCC_ENABLE_CPP_RTTI': 'YES',
            'CLANG_CXX_LANGUAGE_STANDARD': 'c++17',
            'CLANG_CXX_LIBRARY': 'libc++',
            'MACOSX_DEPLOYMENT_TARGET': '11.0',
            'OTHER_CPLUSPLUSFLAGS': ['-fvisibility=hidden'],
          },
        }],
      ],
    },
  ],
}
