// POSIX errno names and their Linux numbers. The RPC API sends the name and the
// number; FUSE wants the negative number. Only the errnos Cairn returns are listed.

export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  EMLINK: 31,
  ERANGE: 34,
  EDEADLK: 35,
  ENAMETOOLONG: 36,
  ENOLCK: 37,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENODATA: 61,
  ETIME: 62,
  EPROTO: 71,
  EBADMSG: 74,
  EOVERFLOW: 75,
  EOPNOTSUPP: 95,
  ECONNRESET: 104,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  ESTALE: 116,
  EDQUOT: 122,
  ECANCELED: 125,
} as const;

export type ErrnoName = keyof typeof ERRNO;

/** The Linux number of an errno name. */
export function errnoNumber(name: ErrnoName): number {
  return ERRNO[name];
}

/** The errno name for a Linux number, or undefined. */
export function errnoName(n: number): ErrnoName | undefined {
  for (const [k, v] of Object.entries(ERRNO)) if (v === n) return k as ErrnoName;
  return undefined;
}
