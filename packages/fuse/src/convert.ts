// Conversions between the RPC API's records and what FUSE wants: Attr → struct
// stat (times in ns), StatFs → struct statvfs (every field a u32, so the block
// size grows until the counts fit), open(2) flags → the RPC's open flags.

import type { FsResult } from '@cairn/rpc';
import type { FuseStat, FuseStatfs, FuseTimeArg } from './native.js';

/** The attributes the RPC API returns (stat). */
export type Attr = FsResult<'getattr'>;
/** What the RPC statfs returns. */
export type StatFs = FsResult<'statfs'>;
/** file, dir, symlink, fifo, socket, char, block. */
export type FileType = Attr['type'];

const U32_MAX = 0xffff_ffff;

/** open(2) flag bits (Linux). */
export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;

/** setxattr(2) flags. */
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

const TYPE_BITS: Record<FileType, number> = {
  file: 0o100000,
  dir: 0o040000,
  symlink: 0o120000,
  fifo: 0o010000,
  socket: 0o140000,
  char: 0o020000,
  block: 0o060000,
};

/** A struct stat that only tells the type and inode number (a directory entry without attributes). */
export function entryStat(ino: number, type: FileType): FuseStat {
  return { mode: TYPE_BITS[type], uid: 0, gid: 0, size: 0, nlink: 1, ino, rdev: 0, blksize: 0, blocks: 0, atime: 0n, mtime: 0n, ctime: 0n };
}

/** A struct stat for FUSE. */
export function toStat(a: Attr): FuseStat {
  return {
    mode: a.mode,
    uid: a.uid,
    gid: a.gid,
    size: a.size,
    nlink: a.nlink,
    ino: a.ino,
    rdev: a.rdev,
    blksize: a.blksize,
    blocks: a.blocks,
    atime: a.atimeNs,
    mtime: a.mtimeNs,
    ctime: a.ctimeNs,
  };
}

/** A struct statvfs for FUSE; sizes scaled so that every count fits in 32 bits. */
export function toStatfs(s: StatFs): FuseStatfs {
  let unit = Math.max(512, s.blockSize);
  let blocks = (s.blocks * s.blockSize) / unit;
  while (blocks > U32_MAX) {
    unit *= 2;
    blocks = (s.blocks * s.blockSize) / unit;
  }
  const free = Math.floor((s.blocksFree * s.blockSize) / unit);
  const clamp = (n: number): number => Math.max(0, Math.min(U32_MAX, Math.floor(n)));
  return {
    bsize: unit,
    frsize: unit,
    blocks: clamp(blocks),
    bfree: clamp(free),
    bavail: clamp(free),
    files: clamp(s.files),
    ffree: clamp(s.filesFree),
    favail: clamp(s.filesFree),
    fsid: 0,
    flag: 0,
    namemax: clamp(s.nameMax),
  };
}

/** The RPC open flags of open(2) flags. */
export function openFlags(flags: number): { read: boolean; write: boolean; append: boolean; truncate: boolean } {
  const acc = flags & O_ACCMODE;
  const write = acc === O_WRONLY || acc === O_RDWR;
  return {
    read: acc === O_RDONLY || acc === O_RDWR,
    write,
    append: (flags & O_APPEND) !== 0,
    truncate: write && (flags & O_TRUNC) !== 0,
  };
}

/** A utimens time as setattr wants it: ns, 'now', or undefined (left alone). */
export function timeSpec(t: FuseTimeArg): bigint | 'now' | undefined {
  return t === 'omit' ? undefined : t;
}
