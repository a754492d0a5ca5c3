import { StorageConfigError, type RemoteErrorInfo, type StorageErrorDetails } from '@flowstate/core';

/**
 * WebHDFS errors are core's storage error classes (one set of codes for every storage); these are
 * their names in this package, kept for callers that import them from here.
 *
 * - `WebHdfsError`: any failed operation (`operation`, `httpStatus`, `remote`, `attempts`). Its
 *   `path` is the `webhdfs://host:port/...` URI of the file, never a request URL: request URLs carry
 *   `user.name` or `delegation`, so they are kept out of errors.
 * - `WebHdfsAccessDeniedError`: AccessControlException, SecurityException, InvalidToken, 401/403 without details.
 * - `WebHdfsAlreadyExistsError`: FileAlreadyExistsException.
 * - `WebHdfsProtocolError`: an answer that does not follow WebHDFS (missing Location, malformed JSON...).
 * - `WebHdfsOutcomeUnknownError`: CREATE without overwrite, APPEND or RENAME failed in a way that
 *   leaves open whether it took effect; WebHdfsFileSystem looks at the namespace before going on.
 * - `WebHdfsRetriesExhaustedError`: every attempt failed transiently (a call limited to one
 *   attempt gets that attempt's transient error instead).
 */
export {
  StorageOperationError as WebHdfsError,
  StorageAccessDeniedError as WebHdfsAccessDeniedError,
  StorageAlreadyExistsError as WebHdfsAlreadyExistsError,
  StorageProtocolError as WebHdfsProtocolError,
  StorageOutcomeUnknownError as WebHdfsOutcomeUnknownError,
  StorageRetriesExhaustedError as WebHdfsRetriesExhaustedError,
} from '@flowstate/core';

/**
 * What a WebHDFS server reported in its RemoteException. `message` has been redacted (no
 * delegation token) and shortened; it is the server's text, so it may name the HDFS user (e.g. an
 * AccessControlException's "user=alice"), which an operator needs in order to fix permissions.
 */
export type WebHdfsRemoteExceptionInfo = RemoteErrorInfo & { readonly javaClassName: string };
export type WebHdfsErrorDetails = StorageErrorDetails;

/** Invalid client configuration. */
export class WebHdfsConfigError extends StorageConfigError {
  override readonly code = 'WEBHDFS_CONFIG';
}
