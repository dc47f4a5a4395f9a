// Permission checks as Linux's generic_permission does them: the owner's bits
// for the owner, the group's for a member of the file's group, the others'
// bits otherwise; root (uid 0) may read and write anything and may execute
// whatever has at least one execute bit (directories: always searchable).
// Plus the rules around ownership: sticky directories, chmod/chown by owner
// or root, and which mode bits a change clears.

import { cairnError } from '@cairn/errors';
import { S_IFDIR, S_IFMT, S_IFREG, S_ISGID, S_ISUID, S_ISVTX } from './format.js';
import type { InodeRec } from './records.js';
import type { Cred } from './types.js';

export const MAY_READ = 4;
export const MAY_WRITE = 2;
export const MAY_EXEC = 1;

export const ROOT_CRED: Cred = Object.freeze({ uid: 0, gid: 0, groups: Object.freeze([]) as readonly number[] });

export function isRoot(cred: Cred): boolean {
  return cred.uid === 0;
}

/** True when the caller is in group `gid` (primary or supplementary). */
export function inGroup(cred: Cred, gid: number): boolean {
  return cred.gid === gid || (cred.groups?.includes(gid) ?? false);
}

/** True when `cred` may access the inode with every bit of `mask` (MAY_*). */
export function mayAccess(cred: Cred, rec: Pick<InodeRec, 'mode' | 'uid' | 'gid'>, mask: number): boolean {
  if (isRoot(cred)) {
    if ((mask & MAY_EXEC) === 0) return true;
    return (rec.mode & S_IFMT) === S_IFDIR || (rec.mode & 0o111) !== 0;
  }
  let bits: number;
  if (cred.uid === rec.uid) bits = (rec.mode >> 6) & 7;
  else if (inGroup(cred, rec.gid)) bits = (rec.mode >> 3) & 7;
  else bits = rec.mode & 7;
  return (bits & mask) === mask;
}

/** Throws EACCES unless `cred` may access the inode with `mask`. */
export function checkAccess(cred: Cred, rec: Pick<InodeRec, 'mode' | 'uid' | 'gid'>, mask: number, what: string): void {
  if (!mayAccess(cred, rec, mask)) throw cairnError('CAIRN_ERR_FS_ACCESS', what);
}

/** Owner or root (inode_owner_or_capable). */
export function isOwnerOrRoot(cred: Cred, rec: Pick<InodeRec, 'uid'>): boolean {
  return isRoot(cred) || cred.uid === rec.uid;
}

/**
 * Sticky directories: only the entry's owner, the directory's owner or root
 * may remove or rename an entry (check_sticky). Throws EPERM.
 */
export function checkSticky(cred: Cred, dir: Pick<InodeRec, 'mode' | 'uid'>, victim: Pick<InodeRec, 'uid'>, what: string): void {
  if ((dir.mode & S_ISVTX) === 0 || isRoot(cred)) return;
  if (cred.uid === victim.uid || cred.uid === dir.uid) return;
  throw cairnError('CAIRN_ERR_FS_PERM', `${what} (sticky directory)`);
}

/**
 * The mode after a write or truncate by `cred` (file_remove_privs): a caller
 * other than root clears setuid, and setgid when the group may execute.
 */
export function modeAfterWrite(cred: Cred, mode: number): number {
  if (isRoot(cred) || (mode & S_IFMT) !== S_IFREG) return mode;
  return clearPrivs(mode);
}

/** setuid always, setgid when group-executable (setgid without group-x is a lock marker and stays). */
export function clearPrivs(mode: number): number {
  let m = mode & ~S_ISUID;
  if ((m & 0o010) !== 0) m &= ~S_ISGID;
  return m;
}

/** True when a write or truncate by `cred` changes the mode (so it needs a metadata commit). */
export function writeClearsPrivs(cred: Cred, mode: number): boolean {
  return modeAfterWrite(cred, mode) !== mode;
}
