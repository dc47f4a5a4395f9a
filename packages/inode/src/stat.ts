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
  if (t === S_IFREG) return 'file';
  if (t === S_IFDIR) return 'dir';
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
    if (v.dirty.has(ino) || v.extentGen.has(ino)) v.pruneIfClean(ino);
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
  if ((rec.mode & S_IFMT) !== S_IFREG) return recordAttr(ino, rec);
  const p = pendingView(v, ino, rec);
  return makeAttr(ino, rec, p.size, p.mtime, p.ctime, v.shownDataVersion(ino, rec.dataVersion, p.pending));
}

/** The Attr of an inode record as stored (a snapshot's, or one with no pending writes). */
export function recordAttr(ino: number, rec: InodeRec): Attr {
  return makeAttr(ino, rec, rec.size, rec.mtime, rec.ctime, rec.dataVersion);
}

function makeAttr(ino: number, rec: InodeRec, size: number, mtime: bigint, ctime: bigint, dataVersion: number): Attr {
  return {
    ino,
    type: fileType(rec.mode),
    mode: rec.mode,
    nlink: rec.nlink,
    uid: rec.uid,
    gid: rec.gid,
    size,
    blocks: Math.ceil(size / 512),
    blksize: BLOCK_SIZE,
    rdev: rec.rdev,
    atimeNs: rec.atime,
    mtimeNs: mtime,
    ctimeNs: ctime,
    btimeNs: rec.btime,
    change: rec.change,
    dataVersion,
    ...(rec.etag !== undefined ? { etag: rec.etag } : {}),
  };
}
