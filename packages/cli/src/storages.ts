// The storages and native formats the command line knows. Importing a storage package registers
// its URI schemes with core's FileSystemRegistry: plain paths and file:// (local disk),
// s3://bucket/prefix (S3: AWS SDK default credential chain, AWS_ENDPOINT_URL_S3,
// FLOWSTATE_S3_PATH_STYLE), webhdfs:// swebhdfs:// hdfs:// (WebHDFS: HADOOP_USER_NAME).
import '@flowstate/storage-local';
import '@flowstate/storage-s3';
import '@flowstate/storage-hdfs';
import type { NativeSnapshotFormat } from '@flowstate/core';
import { ROCKSDB_NATIVE_FORMAT } from '@flowstate/rocksdb';

/** Native keyed snapshot formats `convert` and `validate` handle. */
export const NATIVE_FORMATS: readonly NativeSnapshotFormat[] = [ROCKSDB_NATIVE_FORMAT];
