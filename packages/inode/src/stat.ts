// The inode as getattr shows it: type names, and the pending-writes view
// (size and times of writes the segment writer holds but that are not yet
// committed), so that reads and getattr see a write at once.

import { cairnError } from '@cairn/errors';
import type { Vol } from './context.js';
import { BLOCK_SIZE, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } from './format.js';
import type { InodeRec } from './records.js';
import type { Attr, FileType } from './types.js';

const TYPES: ReadonlyArray<[number, FileType]> = [
  [S_IFREG, 'file'], [S_IFDIR, 'dir'], [S_IFLNK, 'symlink'], [S_IFIFO, 'fifo'], [S_IFSOCK, 'socket'], [S_IFCHR, 'char'], [S_IFBLK, 'block'],
];

export function fileType(mode: number): FileType {
  const t = mode & S_IFMT;
  for (const [bits, name] of TYPES) if (bits === t) return name;
  throw cairnError('CAIRN_ERR_FS_IO', `unknown file type bits 0o${t.toString(8)}`);
}

export function typeBits(type: FileType): number {
  for (const [bits, name] of TYPES) if (name === type) return bits;
  throw cairnError('CAIRN_ERR_FS_INVALID', `file type ${String(type)}`);
}

/** Size and times of a file with writes not yet committed: the pending writes' view. */
export function pendingView(v: Vol, ino: number, rec: InodeRec): { size: number; mtime: bigint; ctime: bigint; pending: boolean } {
  let size = rec.size;
  let mtime = rec.mtime;
  let ctime = rec.ctime;
  if ((rec.mode & S_IFMT) !== S_IFREG) return { size, mtime, ctime, pending: false };
  const pending = v.writer.pendingExtents(BigInt(ino));
  if (pending.length === 0) {
    v.pruneIfClean(ino);
    return { size, mtime, ctime, pending: false };
  }
  for (const e of pending) size = Math.max(size, e.fileOffset + e.length);
  const d = v.dirty.get(ino);
  if (d !== undefined) {
    if (d.mtime !== undefined && d.mtime > mtime) mtime = d.mtime;
    if (d.ctime > ctime) ctime = d.ctime;
  }
  return { size, mtime, ctime, pending: true };
}

/** The Attr of an inode record, pending writes included. */
export function attrOf(v: Vol, ino: number, rec: InodeRec): Attr {
  const p = pendingView(v, ino, rec);
  return {
    ino,
    type: fileType(rec.mode),
    mode: rec.mode,
    nlink: rec.nlink,
    uid: rec.uid,
    gid: rec.gid,
    size: p.size,
    blocks: Math.ceil(p.size / 512),
    blksize: BLOCK_SIZE,
    rdev: rec.rdev,
    atimeNs: rec.atime,
    mtimeNs: p.mtime,
    ctimeNs: p.ctime,
    btimeNs: rec.btime,
    change: rec.change,
    dataVersion: rec.dataVersion + (p.pending ? 1 : 0),
    ...(rec.etag !== undefined ? { etag: rec.etag } : {}),
  };
}

