// Every error Cairn raises, in one table. Each code maps once to a POSIX errno
// (RPC API, FUSE), an HTTP status and an S3 error code (object API, management
// API). docs/errors.md documents each code; a test keeps the two in sync.
//
// Rules: a code is never renamed or reused once released. A code that is no
// longer raised moves to RETIRED_CODES below, never back into the table.

import type { ErrnoName } from './errno.js';

export interface ErrorDefinition {
  /** POSIX errno the RPC API reports. */
  readonly errno: ErrnoName;
  /** HTTP status the HTTP APIs answer with. */
  readonly status: number;
  /** S3 error code for S3 XML error bodies. */
  readonly s3: string;
  /** Message template; each %s takes the next argument. */
  readonly message: string;
  /** True when retrying the same request later may succeed. */
  readonly retryable?: boolean;
}

function def(errno: ErrnoName, status: number, s3: string, message: string, retryable = false): ErrorDefinition {
  return { errno, status, s3, message, retryable };
}

export const ERROR_CODES = {
  // ---- generic -------------------------------------------------------------
  CAIRN_ERR_INVALID_ARGUMENT: def('EINVAL', 400, 'InvalidArgument', 'invalid argument: %s'),
  CAIRN_ERR_INTERNAL: def('EIO', 500, 'InternalError', 'internal error: %s'),
  CAIRN_ERR_NOT_SUPPORTED: def('EOPNOTSUPP', 501, 'NotImplemented', 'not supported: %s'),
  CAIRN_ERR_CANCELED: def('ECANCELED', 503, 'RequestTimeout', 'canceled: %s'),
  CAIRN_ERR_CONFIG_INVALID: def('EINVAL', 500, 'InternalError', 'invalid configuration: %s'),
  CAIRN_ERR_CLOSED: def('EBADF', 503, 'ServiceUnavailable', '%s is closed'),

  // ---- object store (@cairn/objstore) ---------------------------------------
  CAIRN_ERR_OBJ_NOT_FOUND: def('ENOENT', 404, 'NoSuchKey', 'object not found: %s'),
  CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND: def('ENOENT', 404, 'NoSuchBucket', 'container not found: %s'),
  CAIRN_ERR_OBJ_PRECONDITION_FAILED: def('EEXIST', 412, 'PreconditionFailed', 'precondition failed: %s'),
  CAIRN_ERR_OBJ_UNAUTHORIZED: def('EACCES', 401, 'AccessDenied', 'object store refused the credentials: %s'),
  CAIRN_ERR_OBJ_FORBIDDEN: def('EACCES', 403, 'AccessDenied', 'object store forbids the request: %s'),
  CAIRN_ERR_OBJ_UNAVAILABLE: def('EAGAIN', 503, 'ServiceUnavailable', 'object store unavailable: %s', true),
  CAIRN_ERR_OBJ_TIMEOUT: def('ETIMEDOUT', 504, 'RequestTimeout', 'object store request timed out: %s', true),
  CAIRN_ERR_OBJ_CONNECTION_RESET: def('ECONNRESET', 503, 'ServiceUnavailable', 'object store connection reset: %s', true),
  CAIRN_ERR_OBJ_CORRUPT: def('EIO', 500, 'InternalError', 'object is corrupt: %s'),
  CAIRN_ERR_OBJ_RANGE_NOT_SATISFIABLE: def('EINVAL', 416, 'InvalidRange', 'range not satisfiable: %s'),
  CAIRN_ERR_OBJ_INVALID_NAME: def('EINVAL', 400, 'InvalidArgument', 'invalid object or container name: %s'),
  CAIRN_ERR_OBJ_TOO_LARGE: def('EFBIG', 413, 'EntityTooLarge', 'object too large: %s'),
  CAIRN_ERR_OBJ_SEGMENT_CLOSED: def('EBADF', 500, 'InternalError', 'segment is already closed or aborted: %s'),
  CAIRN_ERR_OBJ_BACKEND: def('EIO', 502, 'InternalError', 'object store answered unexpectedly: %s'),
  CAIRN_ERR_OBJ_BAD_VERSION: def('EPROTO', 500, 'InternalError', 'object store format version not supported: %s'),
  CAIRN_ERR_OBJ_NO_SPACE: def('ENOSPC', 507, 'InternalError', 'object store is out of space: %s'),

  // ---- replay log (@cairn/replaylog) -----------------------------------------
  CAIRN_ERR_LOG_IO: def('EIO', 500, 'InternalError', 'replay log I/O failed: %s'),
  CAIRN_ERR_LOG_BAD_MAGIC: def('EIO', 500, 'InternalError', 'replay log has a bad magic number: %s'),
  CAIRN_ERR_LOG_BAD_VERSION: def('EPROTO', 500, 'InternalError', 'replay log version not supported: %s'),
  CAIRN_ERR_LOG_TOO_LARGE: def('EFBIG', 413, 'EntityTooLarge', 'replay log record too large: %s'),
  CAIRN_ERR_LOG_BAD_CHECKSUM: def('EIO', 500, 'InternalError', 'replay log checksum mismatch: %s'),
  CAIRN_ERR_LOG_CORRUPT: def('EIO', 500, 'InternalError', 'replay log is inconsistent: %s'),

  // ---- metadata database (@cairn/headhunter) ---------------------------------
  CAIRN_ERR_META_BAD_MAGIC: def('EIO', 500, 'InternalError', 'metadata object has a bad magic number: %s'),
  CAIRN_ERR_META_BAD_VERSION: def('EPROTO', 500, 'InternalError', 'metadata format version not supported: %s'),
  CAIRN_ERR_META_BAD_CHECKSUM: def('EIO', 500, 'InternalError', 'metadata checksum mismatch: %s'),
  CAIRN_ERR_META_CORRUPT: def('EIO', 500, 'InternalError', 'metadata is inconsistent: %s'),
  CAIRN_ERR_META_FENCED: def('EROFS', 503, 'ServiceUnavailable', 'volume is served by another process: %s'),
  CAIRN_ERR_META_NOT_FORMATTED: def('ENOENT', 404, 'NoSuchBucket', 'volume has no checkpoint (not formatted): %s'),
  CAIRN_ERR_META_ALREADY_FORMATTED: def('EEXIST', 409, 'BucketAlreadyExists', 'volume is already formatted: %s'),
  CAIRN_ERR_META_NO_SUCH_TREE: def('EINVAL', 400, 'InvalidArgument', 'no such tree: %s'),
  CAIRN_ERR_META_SNAPSHOT_NOT_FOUND: def('ENOENT', 404, 'NoSuchKey', 'snapshot not found: %s'),
  CAIRN_ERR_META_SNAPSHOT_EXISTS: def('EEXIST', 409, 'InvalidArgument', 'snapshot already exists: %s'),
  CAIRN_ERR_META_READ_ONLY: def('EROFS', 403, 'AccessDenied', 'read-only: %s'),
  CAIRN_ERR_META_CHECKPOINT_FAILED: def('EIO', 503, 'ServiceUnavailable', 'checkpoint failed: %s', true),

  // ---- data path (@cairn/segments) ---------------------------------------------
  CAIRN_ERR_SEG_PUT_FAILED: def('EIO', 503, 'ServiceUnavailable', 'log segment %s could not be stored: %s'),
  CAIRN_ERR_SEG_COMMIT_FAILED: def('EIO', 500, 'InternalError', 'log segment %s is stored but its extents were not committed: %s'),
  CAIRN_ERR_SEG_NONCE_REUSED: def('EIO', 500, 'InternalError', 'segment nonce handed out twice: %s'),
  CAIRN_ERR_SEG_EXTENTS_CORRUPT: def('EIO', 500, 'InternalError', 'extent map is inconsistent: %s'),
  CAIRN_ERR_SEG_SHORT_READ: def('EIO', 500, 'InternalError', 'log segment is shorter than its extents say: %s'),
  CAIRN_ERR_SEG_BAD_MAGIC: def('EIO', 500, 'InternalError', 'log segment summary has a bad magic number: %s'),
  CAIRN_ERR_SEG_BAD_VERSION: def('EPROTO', 500, 'InternalError', 'log segment summary version not supported: %s'),
  CAIRN_ERR_SEG_BAD_CHECKSUM: def('EIO', 500, 'InternalError', 'log segment summary checksum mismatch: %s'),

  // ---- filesystem semantics (@cairn/inode and above) ------------------------
  CAIRN_ERR_FS_NOT_FOUND: def('ENOENT', 404, 'NoSuchKey', 'no such file or directory: %s'),
  CAIRN_ERR_FS_EXISTS: def('EEXIST', 409, 'InvalidArgument', 'file exists: %s'),
  CAIRN_ERR_FS_NOT_DIR: def('ENOTDIR', 409, 'InvalidArgument', 'not a directory: %s'),
  CAIRN_ERR_FS_IS_DIR: def('EISDIR', 409, 'InvalidArgument', 'is a directory: %s'),
  CAIRN_ERR_FS_NOT_EMPTY: def('ENOTEMPTY', 409, 'BucketNotEmpty', 'directory not empty: %s'),
  CAIRN_ERR_FS_ACCESS: def('EACCES', 403, 'AccessDenied', 'permission denied: %s'),
  CAIRN_ERR_FS_PERM: def('EPERM', 403, 'AccessDenied', 'operation not permitted: %s'),
  CAIRN_ERR_FS_NAME_TOO_LONG: def('ENAMETOOLONG', 400, 'KeyTooLongError', 'file name too long: %s'),
  CAIRN_ERR_FS_LOOP: def('ELOOP', 400, 'InvalidArgument', 'too many levels of symbolic links: %s'),
  CAIRN_ERR_FS_INVALID: def('EINVAL', 400, 'InvalidArgument', 'invalid argument: %s'),
  CAIRN_ERR_FS_NO_XATTR: def('ENODATA', 404, 'NoSuchKey', 'no such attribute: %s'),
  CAIRN_ERR_FS_XATTR_RANGE: def('ERANGE', 400, 'InvalidArgument', 'attribute too large: %s'),
  CAIRN_ERR_FS_TOO_MANY_LINKS: def('EMLINK', 409, 'InvalidArgument', 'too many links: %s'),
  CAIRN_ERR_FS_FILE_TOO_BIG: def('EFBIG', 413, 'EntityTooLarge', 'file too large: %s'),
  CAIRN_ERR_FS_NO_SPACE: def('ENOSPC', 507, 'InternalError', 'no space left: %s'),
  CAIRN_ERR_FS_READ_ONLY: def('EROFS', 403, 'AccessDenied', 'read-only file system: %s'),
  CAIRN_ERR_FS_BUSY: def('EBUSY', 409, 'OperationAborted', 'resource busy: %s'),
  CAIRN_ERR_FS_STALE: def('ESTALE', 404, 'NoSuchKey', 'stale file handle: %s'),
  CAIRN_ERR_FS_BAD_HANDLE: def('EBADF', 400, 'InvalidArgument', 'bad file handle: %s'),
  CAIRN_ERR_FS_CROSS_DEVICE: def('EXDEV', 400, 'InvalidArgument', 'cross-device link: %s'),
  CAIRN_ERR_FS_IO: def('EIO', 500, 'InternalError', 'input/output error: %s'),
  CAIRN_ERR_FS_NOT_SUPPORTED: def('EOPNOTSUPP', 501, 'NotImplemented', 'operation not supported: %s'),
  CAIRN_ERR_FS_XATTR_TOO_BIG: def('E2BIG', 400, 'InvalidArgument', 'attribute value or list too large: %s'),
  CAIRN_ERR_FS_CURSOR_EXPIRED: def('ESTALE', 410, 'InvalidArgument', 'change-journal cursor expired, rescan: %s'),

  // ---- RPC API (@cairn/rpc) ----------------------------------------------------
  CAIRN_ERR_RPC_BAD_FRAME: def('EPROTO', 400, 'InvalidRequest', 'malformed RPC frame: %s'),
  CAIRN_ERR_RPC_FRAME_TOO_LARGE: def('E2BIG', 413, 'EntityTooLarge', 'RPC frame too large: %s'),
  CAIRN_ERR_RPC_BAD_VERSION: def('EPROTO', 400, 'InvalidRequest', 'RPC protocol version not supported: %s'),
  CAIRN_ERR_RPC_UNKNOWN_METHOD: def('EPROTO', 400, 'InvalidRequest', 'unknown RPC method: %s'),
  CAIRN_ERR_RPC_BAD_PARAMS: def('EINVAL', 400, 'InvalidArgument', 'invalid RPC parameters: %s'),
  CAIRN_ERR_RPC_ACCESS_DENIED: def('EACCES', 403, 'AccessDenied', 'access denied: %s'),
  CAIRN_ERR_RPC_NOT_MOUNTED: def('ESTALE', 401, 'AccessDenied', 'unknown or released mount: %s'),
  CAIRN_ERR_RPC_BUSY: def('EAGAIN', 503, 'SlowDown', 'too many RPC requests in flight: %s', true),
  CAIRN_ERR_RPC_REQUEST_EXPIRED: def('ETIMEDOUT', 408, 'RequestTimeout', 'RPC request is older than the reply cache, its outcome is unknown: %s'),
  CAIRN_ERR_RPC_TIMEOUT: def('ETIMEDOUT', 504, 'RequestTimeout', 'RPC deadline exceeded: %s'),
  CAIRN_ERR_RPC_UNREACHABLE: def('ENOTCONN', 503, 'ServiceUnavailable', 'RPC server unreachable: %s', true),
  CAIRN_ERR_RPC_REMOTE: def('EIO', 502, 'InternalError', 'RPC server answered with an unknown error: %s'),

  // ---- object API edge (@cairn/object-api) --------------------------------------
  CAIRN_ERR_HTTP_BAD_REQUEST: def('EINVAL', 400, 'InvalidRequest', 'bad request: %s'),
  CAIRN_ERR_HTTP_INVALID_NAME: def('EINVAL', 400, 'InvalidArgument', 'invalid name: %s'),
  CAIRN_ERR_HTTP_NAME_TOO_LONG: def('ENAMETOOLONG', 400, 'KeyTooLongError', 'name too long: %s'),
  CAIRN_ERR_HTTP_UNAUTHORIZED: def('EACCES', 401, 'AccessDenied', 'authentication required: %s'),
  CAIRN_ERR_HTTP_FORBIDDEN: def('EACCES', 403, 'AccessDenied', 'access denied: %s'),
  CAIRN_ERR_HTTP_NO_SUCH_ACCOUNT: def('ENOENT', 404, 'NoSuchBucket', 'no such account: %s'),
  CAIRN_ERR_HTTP_NO_SUCH_CONTAINER: def('ENOENT', 404, 'NoSuchBucket', 'no such container: %s'),
  CAIRN_ERR_HTTP_NO_SUCH_OBJECT: def('ENOENT', 404, 'NoSuchKey', 'no such object: %s'),
  CAIRN_ERR_HTTP_METHOD_NOT_ALLOWED: def('EINVAL', 405, 'MethodNotAllowed', 'method not allowed: %s'),
  CAIRN_ERR_HTTP_CONTAINER_NOT_EMPTY: def('ENOTEMPTY', 409, 'BucketNotEmpty', 'container not empty: %s'),
  CAIRN_ERR_HTTP_CONTAINER_EXISTS: def('EEXIST', 409, 'BucketAlreadyOwnedByYou', 'container already exists: %s'),
  CAIRN_ERR_HTTP_CONFLICT: def('EEXIST', 409, 'OperationAborted', 'conflict: %s'),
  CAIRN_ERR_HTTP_LENGTH_REQUIRED: def('EINVAL', 411, 'MissingContentLength', 'length required: %s'),
  CAIRN_ERR_HTTP_PRECONDITION_FAILED: def('EEXIST', 412, 'PreconditionFailed', 'precondition failed: %s'),
  CAIRN_ERR_HTTP_TOO_LARGE: def('EFBIG', 413, 'EntityTooLarge', 'request too large: %s'),
  CAIRN_ERR_HTTP_ETAG_MISMATCH: def('EIO', 422, 'BadDigest', 'body does not match the ETag sent: %s'),
  CAIRN_ERR_HTTP_BAD_MANIFEST: def('EINVAL', 400, 'InvalidArgument', 'invalid large-object manifest: %s'),
  CAIRN_ERR_HTTP_INCOMPLETE_BODY: def('EIO', 400, 'IncompleteBody', 'request body ended early: %s'),
  CAIRN_ERR_HTTP_UPSTREAM: def('EIO', 502, 'InternalError', 'backing object store failed: %s', true),
  CAIRN_ERR_S3_SIGNATURE_MISMATCH: def('EACCES', 403, 'SignatureDoesNotMatch', 'signature does not match: %s'),
  CAIRN_ERR_S3_INVALID_ACCESS_KEY: def('EACCES', 403, 'InvalidAccessKeyId', 'unknown access key: %s'),
  CAIRN_ERR_S3_REQUEST_EXPIRED: def('EACCES', 403, 'AccessDenied', 'request has expired: %s'),
  CAIRN_ERR_S3_TIME_SKEWED: def('EACCES', 403, 'RequestTimeTooSkewed', 'request time too far from server time: %s'),
  CAIRN_ERR_S3_AUTH_MALFORMED: def('EINVAL', 400, 'AuthorizationHeaderMalformed', 'malformed authorization: %s'),
  CAIRN_ERR_S3_QUERY_AUTH_MALFORMED: def('EINVAL', 400, 'AuthorizationQueryParametersError', 'malformed presigned query: %s'),
  CAIRN_ERR_S3_SHA256_MISMATCH: def('EINVAL', 400, 'XAmzContentSHA256Mismatch', 'payload does not match x-amz-content-sha256: %s'),
  CAIRN_ERR_S3_BAD_DIGEST: def('EINVAL', 400, 'BadDigest', 'payload does not match its digest: %s'),
  CAIRN_ERR_S3_INVALID_DIGEST: def('EINVAL', 400, 'InvalidDigest', 'malformed digest: %s'),
  CAIRN_ERR_S3_INVALID_BUCKET_NAME: def('EINVAL', 400, 'InvalidBucketName', 'invalid bucket name: %s'),
  CAIRN_ERR_S3_MALFORMED_XML: def('EINVAL', 400, 'MalformedXML', 'malformed XML: %s'),
  CAIRN_ERR_S3_NO_SUCH_UPLOAD: def('ENOENT', 404, 'NoSuchUpload', 'no such multipart upload: %s'),
  CAIRN_ERR_S3_INVALID_PART: def('EINVAL', 400, 'InvalidPart', 'invalid part: %s'),
  CAIRN_ERR_S3_INVALID_PART_ORDER: def('EINVAL', 400, 'InvalidPartOrder', 'parts not in ascending order: %s'),
  CAIRN_ERR_S3_ENTITY_TOO_SMALL: def('EINVAL', 400, 'EntityTooSmall', 'part too small: %s'),
  CAIRN_ERR_S3_INVALID_ARGUMENT: def('EINVAL', 400, 'InvalidArgument', 'invalid argument: %s'),

  // ---- cluster coordination (@cairn/cluster) -------------------------------------
  CAIRN_ERR_CLUSTER_UNAVAILABLE: def('EAGAIN', 503, 'ServiceUnavailable', 'cluster coordination (etcd) unavailable: %s', true),

  // ---- FUSE mount (@cairn/fuse) ---------------------------------------------------
  CAIRN_ERR_FUSE_NO_DEVICE: def('ENODEV', 503, 'ServiceUnavailable', 'FUSE is not available: %s'),
  CAIRN_ERR_FUSE_NO_LIBRARY: def('ENOSYS', 503, 'ServiceUnavailable', 'the FUSE library cannot be loaded: %s'),
  CAIRN_ERR_FUSE_NOT_PERMITTED: def('EPERM', 403, 'AccessDenied', 'not permitted to mount with FUSE: %s'),
  CAIRN_ERR_FUSE_BAD_MOUNTPOINT: def('ENOTDIR', 400, 'InvalidArgument', 'unusable mountpoint: %s'),
  CAIRN_ERR_FUSE_MOUNTPOINT_BUSY: def('EBUSY', 409, 'OperationAborted', 'mountpoint is already a mount: %s'),
  CAIRN_ERR_FUSE_MOUNT_FAILED: def('EIO', 500, 'InternalError', 'FUSE mount failed: %s'),
  CAIRN_ERR_FUSE_UNMOUNT_FAILED: def('EBUSY', 409, 'OperationAborted', 'FUSE unmount failed: %s'),

  // ---- configuration and management API (@cairn/daemon, @cairn/mgmt) -----------
  CAIRN_ERR_CONFIG_NOT_FOUND: def('ENOENT', 500, 'InternalError', 'configuration file not found: %s'),
  CAIRN_ERR_CONFIG_PARSE: def('EINVAL', 500, 'InternalError', 'configuration file is not valid YAML: %s'),
  CAIRN_ERR_CONFIG_SCHEMA: def('EINVAL', 500, 'InternalError', 'configuration does not match the schema: %s'),
  CAIRN_ERR_CONFIG_ENV: def('EINVAL', 500, 'InternalError', 'environment override is invalid: %s'),
  CAIRN_ERR_MGMT_UNAUTHORIZED: def('EACCES', 401, 'AccessDenied', 'management API needs a valid bearer token: %s'),
  CAIRN_ERR_MGMT_FORBIDDEN: def('EPERM', 403, 'AccessDenied', 'this token may only read: %s'),
  CAIRN_ERR_MGMT_BAD_REQUEST: def('EINVAL', 400, 'InvalidRequest', 'bad management request: %s'),
  CAIRN_ERR_MGMT_NO_SUCH_VOLUME: def('ENOENT', 404, 'NoSuchBucket', 'no such volume: %s'),
  CAIRN_ERR_MGMT_VOLUME_EXISTS: def('EEXIST', 409, 'BucketAlreadyExists', 'volume already exists: %s'),
  CAIRN_ERR_MGMT_NOT_SERVED: def('ENXIO', 409, 'InvalidRequest', 'volume is not served by this daemon: %s'),
  CAIRN_ERR_MGMT_ALREADY_SERVED: def('EBUSY', 409, 'OperationAborted', 'volume is already served by this daemon: %s'),
  CAIRN_ERR_MGMT_OWNED_ELSEWHERE: def('EBUSY', 409, 'OperationAborted', 'volume is owned by another daemon: %s'),
  CAIRN_ERR_MGMT_VOLUME_BUSY: def('EBUSY', 409, 'OperationAborted', 'volume is busy: %s', true),
  CAIRN_ERR_MGMT_NO_SUCH_JOB: def('ENOENT', 404, 'NoSuchKey', 'no such job: %s'),
  CAIRN_ERR_MGMT_JOB_RUNNING: def('EBUSY', 409, 'OperationAborted', 'a job of this kind is already running on the volume: %s'),
  CAIRN_ERR_MGMT_SHUTTING_DOWN: def('ECANCELED', 503, 'ServiceUnavailable', 'the daemon is shutting down: %s', true),
} as const satisfies Record<string, ErrorDefinition>;

export type CairnErrorCode = keyof typeof ERROR_CODES;

/** Codes that were released and are no longer raised. Never reuse these names. */
export const RETIRED_CODES: readonly string[] = [];
