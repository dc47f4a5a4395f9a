// Failures become FUSE replies: fuse-native wants 0 or a negative errno. The
// RPC client's CairnErrors carry the server's errno (err.errnoNumber); Node
// system errors carry a negative errno of their own; anything else is EIO.

import { ERRNO, isCairnError } from '@cairn/errors';

/** The positive errno number of a failure. */
export function errnoOf(err: unknown): number {
  if (isCairnError(err)) return err.errnoNumber;
  const n = (err as { errno?: unknown } | null)?.errno;
  if (typeof n === 'number' && Number.isInteger(n) && n !== 0) return Math.abs(n);
  return ERRNO.EIO;
}

/** True for failures that are ordinary answers (no log above debug). */
export function isExpectedErrno(errno: number): boolean {
  return errno !== ERRNO.EIO && errno !== ERRNO.ETIMEDOUT && errno !== ERRNO.ENOTCONN && errno !== ERRNO.EPROTO;
}

export const ENOENT = ERRNO.ENOENT;
export const ESTALE = ERRNO.ESTALE;
export const EBADF = ERRNO.EBADF;
export const EINVAL = ERRNO.EINVAL;
export const EIO = ERRNO.EIO;
export const ENOSYS = ERRNO.ENOSYS;
export const ERANGE = ERRNO.ERANGE;
export const ENODATA = ERRNO.ENODATA;
export const EOPNOTSUPP = ERRNO.EOPNOTSUPP;
