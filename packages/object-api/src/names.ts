// Object, container and bucket names -> filesystem paths. The only place that
// decides which names are valid; everything else receives already-checked
// path segments.
//
// A container/bucket is a top-level directory of the volume; an object name is
// a '/'-separated path below it. Names that cannot be a path are refused with
// 400 and a body saying why (empty segment, '.', '..', NUL, a component over
// NAME_MAX bytes, a name over MAX_OBJECT_NAME_BYTES bytes).

import { cairnError } from '@cairn/errors';

/** Longest path component, UTF-8 bytes (NAME_MAX). */
export const NAME_MAX_BYTES = 255;
/** Longest object name (the whole path below the container), UTF-8 bytes. */
export const MAX_OBJECT_NAME_BYTES = 1024;
/**
 * Top-level names starting with this are the object API's own working space
 * (temporary uploads, multipart parts): they are never listed as containers and
 * cannot be addressed as containers.
 */
export const RESERVED_PREFIX = '.cairn';
/** Hidden top-level directory for objects being uploaded (renamed into place on success). */
export const TMP_DIR = '.cairn-tmp';
/** Hidden top-level directory for S3 multipart uploads in progress. */
export const UPLOADS_DIR = '.cairn-uploads';

const S3_BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** An object name split into path segments. */
export interface ObjectPath {
  /** The name as the client sent it. */
  readonly name: string;
  /** Path components below the container (at least one). */
  readonly segments: readonly string[];
  /** True when the name ended in '/': the client means a directory ("a/b/"). */
  readonly trailingSlash: boolean;
}

function isWellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    }
  }
  return true;
}

function checkComponent(seg: string, what: string, whole: string): void {
  if (seg.length === 0) throw cairnError('CAIRN_ERR_HTTP_INVALID_NAME', `${what} ${JSON.stringify(whole)} has an empty path segment`);
  if (seg === '.' || seg === '..') {
    throw cairnError('CAIRN_ERR_HTTP_INVALID_NAME', `${what} ${JSON.stringify(whole)} has a '${seg}' path segment`);
  }
  if (Buffer.byteLength(seg, 'utf8') > NAME_MAX_BYTES) {
    throw cairnError('CAIRN_ERR_HTTP_NAME_TOO_LONG', `${what} ${JSON.stringify(whole.slice(0, 64))}...: a path segment is longer than ${NAME_MAX_BYTES} bytes`);
  }
}

function checkChars(name: string, what: string): void {
  if (name.includes('\0')) throw cairnError('CAIRN_ERR_HTTP_INVALID_NAME', `${what} contains NUL`);
  if (!isWellFormed(name)) throw cairnError('CAIRN_ERR_HTTP_INVALID_NAME', `${what} is not valid UTF-8`);
}

/**
 * Checks a Swift container or S3 bucket name used to address an existing or new
 * top-level directory: one path component, not reserved.
 */
export function checkContainerName(name: string): string {
  checkChars(name, 'container name');
  if (name.includes('/')) throw cairnError('CAIRN_ERR_HTTP_INVALID_NAME', `container ${JSON.stringify(name)} contains '/'`);
  checkComponent(name, 'container', name);
  if (name.startsWith(RESERVED_PREFIX)) {
    throw cairnError('CAIRN_ERR_HTTP_INVALID_NAME', `container ${JSON.stringify(name)}: names starting with ${RESERVED_PREFIX} are reserved`);
  }
  return name;
}

/** True when `name` is a valid name for S3 CreateBucket (3-63 of a-z 0-9 . -, no '..', not an IP address). */
export function isS3BucketName(name: string): boolean {
  return S3_BUCKET_RE.test(name) && !name.includes('..') && !/^\d+\.\d+\.\d+\.\d+$/.test(name);
}

/** Checks a bucket name for CreateBucket (the strict S3 rules). */
export function checkNewBucketName(name: string): string {
  if (!isS3BucketName(name) || name.startsWith(RESERVED_PREFIX)) {
    throw cairnError('CAIRN_ERR_S3_INVALID_BUCKET_NAME', `${JSON.stringify(name)} (3-63 of a-z 0-9 . -)`);
  }
  return name;
}

/** True when a top-level directory name is one the object API shows as a container. */
export function isVisibleContainer(name: string): boolean {
  return !name.startsWith(RESERVED_PREFIX);
}

/**
 * Splits and checks an object name. A trailing '/' is allowed (it names a
 * directory); an empty segment anywhere else, '.', '..', NUL, a component over
 * 255 bytes or a name over 1024 bytes are refused.
 */
export function parseObjectName(name: string): ObjectPath {
  checkChars(name, 'object name');
  if (name.length === 0) throw cairnError('CAIRN_ERR_HTTP_INVALID_NAME', 'empty object name');
  if (Buffer.byteLength(name, 'utf8') > MAX_OBJECT_NAME_BYTES) {
    throw cairnError('CAIRN_ERR_HTTP_NAME_TOO_LONG', `object name is longer than ${MAX_OBJECT_NAME_BYTES} bytes`);
  }
  const trailingSlash = name.endsWith('/');
  const body = trailingSlash ? name.slice(0, -1) : name;
  const segments = body.split('/');
  for (const s of segments) checkComponent(s, 'object name', name);
  return { name, segments, trailingSlash };
}

/** Joins path segments back into an object name (directories get no trailing slash). */
export function joinName(segments: readonly string[]): string {
  return segments.join('/');
}
