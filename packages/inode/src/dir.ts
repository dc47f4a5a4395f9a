// Namespace operations on one directory entry: create, mkdir, mknod, symlink,
// link, unlink, rmdir (rename lives in rename.ts). Each is one transaction
// that checks like Linux's VFS does (in its order, so the errno matches),
// changes the entry, the inodes and the parent's times, and journals the
// change. New inodes follow inode_init_owner: the caller's uid, the caller's
// gid or the directory's when it is setgid (new subdirectories inherit setgid).

import { cairnError } from '@cairn/errors';
import { attrOf, recordAttr } from './stat.js';
import type { Vol } from './context.js';
import {
  LINK_MAX, PERM_MASK, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, S_ISGID, SYMLINK_MAX, FIRST_ENTRY_COOKIE,
} from './format.js';
import { checkCred, checkIno, checkName, isDir, isDotName, lookupDir } from './namei.js';
import { checkAccess, checkSticky, inGroup, isRoot, MAY_EXEC, MAY_READ, MAY_WRITE, mayAccess } from './perms.js';
import { FsReader } from './reader.js';
import { reclaimedInTx, reclaimInTx } from './reclaim.js';
import type { InodeRec } from './records.js';
import type { FsTx } from './tx.js';
import type { Attr, CreateOptions, Cred } from './types.js';

function checkMode(mode: unknown): number {
  if (typeof mode !== 'number' || !Number.isSafeInteger(mode) || mode < 0 || mode > 0o177777) throw cairnError('CAIRN_ERR_FS_INVALID', `mode ${String(mode)}`);
  return mode;
}

function umaskOf(o: CreateOptions | undefined): number {
  const u = o?.umask ?? 0;
  if (!Number.isSafeInteger(u) || u < 0 || u > 0o777) throw cairnError('CAIRN_ERR_FS_INVALID', `umask ${u}`);
  return u;
}

/** A new inode for `cred` in directory `dirRec` (inode_init_owner). */
export function newInode(t: FsTx, cred: Cred, dirRec: InodeRec, mode: number, extra?: Partial<InodeRec>): InodeRec {
  const type = mode & S_IFMT;
  let perm = mode & PERM_MASK;
  let gid = cred.gid;
  if ((dirRec.mode & S_ISGID) !== 0) {
    gid = dirRec.gid;
    if (type === S_IFDIR) perm |= S_ISGID;
    else if ((perm & S_ISGID) !== 0 && (perm & 0o010) !== 0 && !isRoot(cred) && !inGroup(cred, gid)) perm &= ~S_ISGID;
  }
  const now = t.now;
  const base = {
    mode: type | perm, uid: cred.uid, gid, nlink: type === S_IFDIR ? 2 : 1, size: 0,
    atime: now, mtime: now, ctime: now, btime: now, change: 0, dataVersion: 0, rdev: 0,
  };
  const rec: InodeRec = type === S_IFDIR ? { ...base, nextCookie: FIRST_ENTRY_COOKIE } : base;
  // Built without spreads when there is nothing extra (creates); the same fields, in the same order, either way.
  if (extra !== undefined) for (const k in extra) if (Object.hasOwn(extra, k)) return { ...rec, ...extra };
  return rec;
}

/**
 * The checks before creating `name` in `dir`: the directory (ESTALE, ENOTDIR,
 * search EACCES), the name (ENAMETOOLONG...), an existing entry (EEXIST), then
 * write permission (EACCES) and a removed directory (ENOENT).
 */
function prepareCreate(t: FsTx, cred: Cred, dir: number, name: string): InodeRec {
  const dirRec = lookupDir(t, cred, dir);
  checkName(name);
  if (isDotName(name) || t.dirent(dir, name) !== undefined) throw cairnError('CAIRN_ERR_FS_EXISTS', name);
  return mayCreateIn(cred, dir, dirRec);
}

/** The last checks of prepareCreate: write permission (EACCES), then a removed directory (ENOENT). */
function mayCreateIn(cred: Cred, dir: number, dirRec: InodeRec): InodeRec {
  checkAccess(cred, dirRec, MAY_WRITE | MAY_EXEC, `create in inode ${dir}`);
  if (dirRec.nlink === 0) throw cairnError('CAIRN_ERR_FS_NOT_FOUND', `inode ${dir} was removed`);
  return dirRec;
}

/** Creates the inode and its entry; returns the new inode number and record. */
function insert(t: FsTx, dir: number, dirRec: InodeRec, name: string, rec: InodeRec, kind: 'create' | 'mkdir' | 'mknod' | 'symlink'): { ino: number; rec: InodeRec } {
  const ino = t.allocIno();
  const sub = isDir(rec);
  if (sub && dirRec.nlink >= LINK_MAX) throw cairnError('CAIRN_ERR_FS_TOO_MANY_LINKS', `inode ${dir}`);
  const out = t.putInode(ino, sub ? { ...rec, parent: dir } : rec);
  t.addEntryAndTouch(dir, dirRec, name, ino, rec.mode, sub ? 1 : 0);
  t.journalInode(kind, ino, out, { parent: dir, name });
  return { ino, rec: out };
}

/**
 * Creates a regular file (O_CREAT). With exclusive (default) an existing name
 * is EEXIST; without, an existing file is returned as is (a directory is
 * EISDIR) after the access checks `want` (MAY_* bits) asks for.
 */
export async function createFile(
  v: Vol, cred: Cred, dir: number, name: string, mode: number, o: CreateOptions & { exclusive?: boolean }, want: number,
): Promise<{ ino: number; attr: Attr; created: boolean }> {
  checkCred(cred);
  checkIno(dir);
  checkMode(mode);
  const umask = umaskOf(o);
  const exclusive = o.exclusive !== false;
  const r = await v.tx((t) => {
    const dirRec = lookupDir(t, cred, dir);
    checkName(name);
    if (isDotName(name)) throw cairnError(exclusive ? 'CAIRN_ERR_FS_EXISTS' : 'CAIRN_ERR_FS_IS_DIR', name);
    const e = t.dirent(dir, name);
    if (e !== undefined) {
      if (exclusive) throw cairnError('CAIRN_ERR_FS_EXISTS', name);
      const rec = t.entryInode(dir, name, e);
      if (isDir(rec)) throw cairnError('CAIRN_ERR_FS_IS_DIR', name);
      if ((rec.mode & S_IFMT) === S_IFLNK) throw cairnError('CAIRN_ERR_FS_LOOP', `${name} is a symlink`);
      if (want !== 0) checkAccess(cred, rec, want, name);
      return { ino: e.ino, rec, created: false };
    }
    // What prepareCreate would check again: the directory, the name and the entry passed above.
    const d = mayCreateIn(cred, dir, dirRec);
    const made = insert(t, dir, d, name, newInode(t, cred, d, S_IFREG | (mode & PERM_MASK & ~umask)), 'create');
    return { ...made, created: true };
  });
  // A new inode number was never used before: unless someone opened it meanwhile, no write can be pending for it and its record is its Attr.
  const fresh = r.created && !v.isOpen(r.ino) && !v.dirty.has(r.ino) && !v.writing.has(r.ino);
  return { ino: r.ino, attr: fresh ? recordAttr(r.ino, r.rec) : attrOf(v, r.ino, r.rec), created: r.created };
}

export async function mkdir(v: Vol, cred: Cred, dir: number, name: string, mode: number, o?: CreateOptions): Promise<Attr> {
  checkCred(cred);
  checkIno(dir);
  checkMode(mode);
  const umask = umaskOf(o);
  const r = await v.tx((t) => {
    const d = prepareCreate(t, cred, dir, name);
    return insert(t, dir, d, name, newInode(t, cred, d, S_IFDIR | (mode & PERM_MASK & ~umask)), 'mkdir');
  });
  return attrOf(v, r.ino, r.rec);
}

/**
 * mknod: a regular file (type bits 0 or S_IFREG), fifo, socket, or (root
 * only, EPERM) a character or block device kept as metadata. S_IFDIR is EPERM,
 * other types EINVAL (may_mknod).
 */
export async function mknod(v: Vol, cred: Cred, dir: number, name: string, mode: number, rdev: number, o?: CreateOptions): Promise<Attr> {
  checkCred(cred);
  checkIno(dir);
  checkMode(mode);
  const umask = umaskOf(o);
  let type = mode & S_IFMT;
  if (type === 0) type = S_IFREG;
  if (type === S_IFDIR) throw cairnError('CAIRN_ERR_FS_PERM', 'mknod of a directory');
  if (![S_IFREG, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK].includes(type)) throw cairnError('CAIRN_ERR_FS_INVALID', `mknod type 0o${type.toString(8)}`);
  const dev = type === S_IFCHR || type === S_IFBLK;
  if (dev && (!Number.isSafeInteger(rdev) || rdev < 0 || rdev > 0xffffffff)) throw cairnError('CAIRN_ERR_FS_INVALID', `rdev ${rdev}`);
  const r = await v.tx((t) => {
    const d = prepareCreate(t, cred, dir, name);
    if (dev && !isRoot(cred)) throw cairnError('CAIRN_ERR_FS_PERM', 'mknod of a device');
    const rec = newInode(t, cred, d, type | (mode & PERM_MASK & ~umask), dev ? { rdev } : {});
    return insert(t, dir, d, name, rec, type === S_IFREG ? 'create' : 'mknod');
  });
  return attrOf(v, r.ino, r.rec);
}

export async function symlink(v: Vol, cred: Cred, dir: number, name: string, target: string): Promise<Attr> {
  checkCred(cred);
  checkIno(dir);
  if (typeof target !== 'string') throw cairnError('CAIRN_ERR_FS_INVALID', 'symlink target must be a string');
  if (target.length === 0) throw cairnError('CAIRN_ERR_FS_NOT_FOUND', '(empty symlink target)');
  const size = Buffer.byteLength(target, 'utf8');
  if (size > SYMLINK_MAX) throw cairnError('CAIRN_ERR_FS_NAME_TOO_LONG', 'symlink target');
  if (target.includes('\0')) throw cairnError('CAIRN_ERR_FS_INVALID', 'symlink target contains NUL');
  const r = await v.tx((t) => {
    const d = prepareCreate(t, cred, dir, name);
    return insert(t, dir, d, name, newInode(t, cred, d, S_IFLNK | 0o777, { target, size }), 'symlink');
  });
  return attrOf(v, r.ino, r.rec);
}

export async function readlink(v: Vol, ino: number): Promise<string> {
  checkIno(ino);
  return FsReader.with(v, async (r) => {
    const rec = await r.mustInode(ino);
    if ((rec.mode & S_IFMT) !== S_IFLNK) throw cairnError('CAIRN_ERR_FS_INVALID', `inode ${ino} is not a symlink`);
    return rec.target ?? '';
  });
}

/**
 * link: a new name for an existing inode (not a directory: EPERM). With
 * protected_hardlinks (Linux's default) a caller other than the owner may only
 * link a regular, non-setuid file it can read and write (else EPERM).
 */
export async function link(v: Vol, cred: Cred, ino: number, dir: number, name: string): Promise<Attr> {
  checkCred(cred);
  checkIno(ino);
  checkIno(dir);
  const r = await v.tx((t) => {
    const rec = t.mustInode(ino);
    if (!isRoot(cred) && cred.uid !== rec.uid) {
      const t2 = rec.mode & S_IFMT;
      const setid = (rec.mode & 0o4000) !== 0 || (rec.mode & 0o2010) === 0o2010;
      if (t2 !== S_IFREG || setid || !mayAccess(cred, rec, MAY_READ | MAY_WRITE)) throw cairnError('CAIRN_ERR_FS_PERM', 'link (protected_hardlinks)');
    }
    const d = prepareCreate(t, cred, dir, name);
    if (isDir(rec)) throw cairnError('CAIRN_ERR_FS_PERM', 'link to a directory');
    if (rec.nlink === 0) throw cairnError('CAIRN_ERR_FS_NOT_FOUND', `inode ${ino} has no links`);
    if (rec.nlink >= LINK_MAX) throw cairnError('CAIRN_ERR_FS_TOO_MANY_LINKS', `inode ${ino}`);
    const next = t.putInode(ino, { ...rec, nlink: rec.nlink + 1, ctime: t.now });
    const dd = t.addEntry(dir, d, name, ino, rec.mode);
    t.putInode(dir, { ...dd, mtime: t.now, ctime: t.now });
    t.journalInode('link', ino, next, { parent: dir, name });
    return next;
  });
  return attrOf(v, ino, r);
}

/**
 * may_delete: the entry exists (ENOENT), write+search on the directory
 * (EACCES), the sticky rule (EPERM), then the type (`wantDir`: ENOTDIR for a
 * non-directory; otherwise EISDIR for a directory).
 */
export function mayDelete(t: FsTx, cred: Cred, dir: number, dirRec: InodeRec, name: string, wantDir: boolean) {
  const e = t.dirent(dir, name);
  if (e === undefined) throw cairnError('CAIRN_ERR_FS_NOT_FOUND', name);
  const rec = t.entryInode(dir, name, e);
  checkAccess(cred, dirRec, MAY_WRITE | MAY_EXEC, `remove from inode ${dir}`);
  checkSticky(cred, dirRec, rec, name);
  if (wantDir && !isDir(rec)) throw cairnError('CAIRN_ERR_FS_NOT_DIR', name);
  if (!wantDir && isDir(rec)) throw cairnError('CAIRN_ERR_FS_IS_DIR', name);
  return { e, rec };
}

export async function unlink(v: Vol, cred: Cred, dir: number, name: string): Promise<void> {
  checkCred(cred);
  checkIno(dir);
  const gone = await v.tx((t) => {
    const dirRec = lookupDir(t, cred, dir);
    checkName(name);
    if (isDotName(name)) throw cairnError('CAIRN_ERR_FS_IS_DIR', name);
    const { e, rec } = mayDelete(t, cred, dir, dirRec, name, false);
    t.removeEntryAndTouch(dir, dirRec, name, e);
    const after = t.dropLink(e.ino, rec, false);
    t.journalInode('unlink', e.ino, after, { parent: dir, name });
    return reclaimInTx(v, t, e.ino, after);
  });
  reclaimedInTx(v, gone);
}

export async function rmdir(v: Vol, cred: Cred, dir: number, name: string): Promise<void> {
  checkCred(cred);
  checkIno(dir);
  await v.tx((t) => {
    const dirRec = lookupDir(t, cred, dir);
    checkName(name);
    if (name === '.') throw cairnError('CAIRN_ERR_FS_INVALID', 'rmdir "."');
    if (name === '..') throw cairnError('CAIRN_ERR_FS_NOT_EMPTY', 'rmdir ".."');
    const { e, rec } = mayDelete(t, cred, dir, dirRec, name, true);
    if (t.hasEntries(e.ino)) throw cairnError('CAIRN_ERR_FS_NOT_EMPTY', name);
    const d = t.removeEntry(dir, dirRec, name, e);
    t.putInode(dir, { ...d, nlink: d.nlink - 1, mtime: t.now, ctime: t.now });
    t.dropLink(e.ino, rec, true);
    t.journal({ kind: 'rmdir', ino: e.ino, parent: dir, name });
  });
}
