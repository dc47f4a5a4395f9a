// getattr (the record as stat.ts shows it, pending writes included) and setattr (chmod, chown, truncate/extend, utimes) with Linux's checks:
// setattr_prepare's ownership rules, chown clearing setuid/setgid, utimes
// "now" needing write permission or ownership and explicit times ownership.

import { cairnError } from '@cairn/errors';
import type { Vol } from './context.js';
import { MAX_FILE_SIZE, PERM_MASK, S_IFDIR, S_IFMT, S_IFREG, S_ISGID } from './format.js';
import { checkAccess, clearPrivs, inGroup, isOwnerOrRoot, isRoot, MAY_WRITE, mayAccess } from './perms.js';
import { mustReadInode } from './reader.js';
import type { InodeRec } from './records.js';
import { attrOf } from './stat.js';
import type { Attr, Cred, SetAttr, TimeSpec } from './types.js';
import { truncateFile } from './data.js';
import { checkCred, checkIno } from './namei.js';

/**
 * One record, read from the live tree without a view (a single get is
 * atomic). With `cred`, checks it first (the API call; no permission is
 * needed to stat an inode by number).
 */
export async function getattr(v: Vol, ino: number, cred?: Cred): Promise<Attr> {
  if (cred !== undefined) checkCred(cred);
  checkIno(ino);
  return attrOf(v, ino, await mustReadInode(v, ino));
}

function checkTime(t: TimeSpec | undefined, what: string): void {
  if (t === undefined || t === 'now') return;
  if (typeof t !== 'bigint') throw cairnError('CAIRN_ERR_FS_INVALID', `${what} must be a bigint (ns) or 'now'`);
}

function checkId(x: number | undefined, what: string): void {
  if (x === undefined) return;
  if (!Number.isSafeInteger(x) || x < 0 || x > 0xfffffffe) throw cairnError('CAIRN_ERR_FS_INVALID', `${what} ${x}`);
}

/**
 * The ownership/permission checks of setattr except size (EPERM/EACCES), in
 * setattr_prepare's order. Returns the new record (times and change counter
 * are the caller's).
 */
function applyAttrs(cred: Cred, rec: InodeRec, a: SetAttr, now: bigint): InodeRec {
  let out = rec;
  const isDir = (rec.mode & S_IFMT) === S_IFDIR;
  if (a.uid !== undefined || a.gid !== undefined) {
    const uid = a.uid ?? rec.uid;
    const gid = a.gid ?? rec.gid;
    if (!isRoot(cred)) {
      // chown_ok / chgrp_ok: only root gives files away; the owner may pick a group it is in.
      if (a.uid !== undefined && !(cred.uid === rec.uid && uid === rec.uid)) throw cairnError('CAIRN_ERR_FS_PERM', 'chown');
      if (a.gid !== undefined && !(cred.uid === rec.uid && (gid === rec.gid || inGroup(cred, gid)))) throw cairnError('CAIRN_ERR_FS_PERM', 'chgrp');
    }
    let mode = out.mode;
    if (!isDir) mode = (mode & S_IFMT) | clearPrivs(mode & PERM_MASK);
    out = { ...out, uid, gid, mode };
  }
  if (a.mode !== undefined) {
    if (!isOwnerOrRoot(cred, rec)) throw cairnError('CAIRN_ERR_FS_PERM', 'chmod');
    let perm = a.mode & PERM_MASK;
    // A caller outside the file's group cannot set setgid (it is dropped silently).
    if (!isRoot(cred) && !inGroup(cred, out.gid)) perm &= ~S_ISGID;
    out = { ...out, mode: (rec.mode & S_IFMT) | perm };
  }
  if (a.atime !== undefined || a.mtime !== undefined) {
    // Both "now" is utimes(NULL): the owner, root, or anyone who may write. Anything else: owner or root.
    if (a.atime === 'now' && a.mtime === 'now') {
      if (!isOwnerOrRoot(cred, rec) && !mayAccess(cred, rec, MAY_WRITE)) throw cairnError('CAIRN_ERR_FS_ACCESS', 'utimes');
    } else if (!isOwnerOrRoot(cred, rec)) {
      throw cairnError('CAIRN_ERR_FS_PERM', 'utimes');
    }
    if (a.atime !== undefined) out = { ...out, atime: a.atime === 'now' ? now : a.atime };
    if (a.mtime !== undefined) out = { ...out, mtime: a.mtime === 'now' ? now : a.mtime };
  }
  return { ...out, ctime: now };
}

/**
 * setattr: changes what `a` names. A size change goes through the data path
 * (flushes pending writes first, see data.ts) before the other changes; the
 * checks of every part run before anything changes.
 */
export async function setattr(v: Vol, cred: Cred, ino: number, a: SetAttr, fh?: number): Promise<Attr> {
  checkIno(ino);
  if (a === null || typeof a !== 'object') throw cairnError('CAIRN_ERR_FS_INVALID', 'setattr changes');
  checkId(a.uid, 'uid');
  checkId(a.gid, 'gid');
  if (a.mode !== undefined && (!Number.isSafeInteger(a.mode) || a.mode < 0)) throw cairnError('CAIRN_ERR_FS_INVALID', `mode ${a.mode}`);
  checkTime(a.atime, 'atime');
  checkTime(a.mtime, 'mtime');
  const handle = v.handleFor(fh, ino);
  if (a.size !== undefined) {
    // Under the file's gate (in call order with writes); every part is checked before anything changes.
    const size = a.size;
    await truncateFile(v, cred, ino, size, (rec) => {
      checkTruncate(cred, rec, size, handle?.write === true);
      applyAttrs(cred, rec, a, v.now());
    });
  }
  const rest: SetAttr = { ...a, size: undefined };
  const hasRest = rest.mode !== undefined || rest.uid !== undefined || rest.gid !== undefined || rest.atime !== undefined || rest.mtime !== undefined;
  if (!hasRest) return getattr(v, ino);
  if (rest.mtime !== undefined) {
    // An explicit mtime wins over the write time of writes made before it (their commit must not overwrite it).
    const d = v.dirty.get(ino);
    if (d !== undefined) d.mtime = undefined;
  }
  const rec = await v.tx((t) => {
    const cur = t.mustInode(ino);
    const next = t.putInode(ino, applyAttrs(cred, cur, rest, t.now));
    t.journalInode('setattr', ino, next);
    return next;
  });
  return attrOf(v, ino, rec);
}

/** truncate's checks: a regular file (EISDIR, EINVAL), write access (EACCES) unless through a handle open for writing, the size limit (EFBIG). */
export function checkTruncate(cred: Cred, rec: InodeRec, size: number, viaWriteHandle: boolean): void {
  if (!Number.isSafeInteger(size) || size < 0) throw cairnError('CAIRN_ERR_FS_INVALID', `size ${size}`);
  const t = rec.mode & S_IFMT;
  if (t === S_IFDIR) throw cairnError('CAIRN_ERR_FS_IS_DIR', 'truncate');
  if (t !== S_IFREG) throw cairnError('CAIRN_ERR_FS_INVALID', 'truncate of a special file');
  if (!viaWriteHandle) checkAccess(cred, rec, MAY_WRITE, 'truncate');
  if (size > MAX_FILE_SIZE) throw cairnError('CAIRN_ERR_FS_FILE_TOO_BIG', `size ${size}`);
}
