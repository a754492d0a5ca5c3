import { StorageConfigError, StorageOperationError, type RemoteErrorInfo, type StorageErrorDetails } from '@flowstate/core';

/**
 * WebHDFS errors are core's storage error classes (one set of codes for every storage); these are
 * their names in this package, kept for callers that import them from here.
 *
 * - `WebHdfsError`: any failed operation (`operation`, `httpStatus`, `remote`, `attempts`). Its
 *   `path` is the `webhdfs://host:port/...` URI of the file, never a request URL: request URLs carry
 *   `user.name` or `delegation`, so they are kept out of errors.
 * - `WebHdfsAccessDeniedError`: AccessControlException, SecurityException, InvalidToken, 401/403 without details.
 * - `WebHdfsAlreadyExistsError`: FileAlreadyExistsException.
 * - `WebHdfsProtocolError`: an answer that does not follow WebHDFS (missing Location, malformed
 *   JSON, a 404 without a RemoteException, an HTML page where file bytes were expected...).
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

/**
 * RENAME with `renameoptions` answered `{"boolean": false}`: the server ran HDFS's legacy rename
 * instead of rename2 (HttpFS ignores `renameoptions`), and that rename did not happen: the
 * destination exists (the legacy rename never replaces it), or the source or the destination's
 * parent is missing. `path` is the source. Not transient: asking again gets the same answer.
 */
export class WebHdfsRenameRefusedError extends StorageOperationError {
  override readonly code = 'WEBHDFS_RENAME_REFUSED';
}

/**
 * A finished temporary file does not hold exactly the bytes written to it, so it was not
 * published (e.g. a write resent after a lost APPEND, from a length the namenode reported while
 * the file was still open). `path` is the file being written.
 */
export class WebHdfsLengthMismatchError extends StorageOperationError {
  override readonly code = 'WEBHDFS_LENGTH_MISMATCH';
}

/** Invalid client configuration. */
export class WebHdfsConfigError extends StorageConfigError {
  override readonly code = 'WEBHDFS_CONFIG';
}
