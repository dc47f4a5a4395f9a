// Names and lookups: checking a name component, looking a name up in a
// directory (with search permission), resolving a whole path with symlinks
// (lookupPath, for the object API and the CLI), and resolving a handle
// (an inode number) for NFS-style access.

import { cairnError } from '@cairn/errors';
import type { Vol } from './context.js';
import { MAX_SYMLINKS, NAME_MAX, PATH_MAX, ROOT_INO, S_IFDIR, S_IFLNK, S_IFMT } from './format.js';
import { checkAccess, MAY_EXEC } from './perms.js';
import { FsReader, mustReadInode, readDirent, readInode } from './reader.js';
import type { DirentRec, InodeRec } from './records.js';
import type { FsTx } from './tx.js';
import type { Cred, LookupPathOptions } from './types.js';

export function isDir(rec: Pick<InodeRec, 'mode'>): boolean {
  return (rec.mode & S_IFMT) === S_IFDIR;
}

export function isSymlink(rec: Pick<InodeRec, 'mode'>): boolean {
  return (rec.mode & S_IFMT) === S_IFLNK;
}

/** "." or "..". */
export function isDotName(name: string): boolean {
  return name === '.' || name === '..';
}

/**
 * Checks one name component: a string (ENOENT when empty), without "/" or NUL
 * (EINVAL), well-formed Unicode (EINVAL), at most NAME_MAX UTF-8 bytes
 * (ENAMETOOLONG).
 */
export function checkName(name: unknown): string {
  if (typeof name !== 'string') throw cairnError('CAIRN_ERR_FS_INVALID', 'name must be a string');
  if (name.length === 0) throw cairnError('CAIRN_ERR_FS_NOT_FOUND', '(empty name)');
  if (name.includes('/') || name.includes('\0')) throw cairnError('CAIRN_ERR_FS_INVALID', `name ${JSON.stringify(name)} contains "/" or NUL`);
  if (name.length > NAME_MAX || Buffer.byteLength(name, 'utf8') > NAME_MAX) throw cairnError('CAIRN_ERR_FS_NAME_TOO_LONG', name.slice(0, 32));
  if (!wellFormed(name)) throw cairnError('CAIRN_ERR_FS_INVALID', 'name is not well-formed Unicode');
  return name;
}

/** True when the string has no lone surrogate (it has a UTF-8 form). */
export function wellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c > 0xdbff) return false;
    const d = s.charCodeAt(i + 1);
    if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
    i++;
  }
  return true;
}

/** Checks an inode number argument. */
export function checkIno(ino: unknown): number {
  if (typeof ino !== 'number' || !Number.isSafeInteger(ino) || ino < ROOT_INO) throw cairnError('CAIRN_ERR_FS_BAD_HANDLE', String(ino));
  return ino;
}

/** A uid or gid: an integer in 0..2^32-1. */
function isId(x: unknown): boolean {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 && x <= 0xffffffff;
}

/** Checks a credential argument (every call does: keep it free of allocations). */
export function checkCred(cred: unknown): Cred {
  const c = cred as Cred;
  if (c === null || typeof c !== 'object' || !isId(c.uid) || !isId(c.gid) || (c.groups !== undefined && (!Array.isArray(c.groups) || !c.groups.every(isId)))) {
    throw cairnError('CAIRN_ERR_FS_INVALID', 'credential must be {uid, gid, groups?} with ids in 0..2^32-1');
  }
  return c;
}

/**
 * Inside a transaction: the directory `dir` for a lookup of `name` by `cred`:
 * it must exist (ESTALE), be a directory (ENOTDIR) and be searchable (EACCES).
 */
export function lookupDir(t: FsTx, cred: Cred, dir: number): InodeRec {
  const rec = t.mustInode(dir);
  if (!isDir(rec)) throw cairnError('CAIRN_ERR_FS_NOT_DIR', `inode ${dir}`);
  checkAccess(cred, rec, MAY_EXEC, `search inode ${dir}`);
  return rec;
}

/** Inside a transaction: what `name` names in `dir` (dot names resolved), or undefined. */
export function lookupIn(t: FsTx, dir: number, dirRec: InodeRec, name: string): { ino: number; rec: InodeRec; e: DirentRec | undefined } | undefined {
  if (name === '.') return { ino: dir, rec: dirRec, e: undefined };
  if (name === '..') {
    const p = dirRec.parent ?? ROOT_INO;
    return { ino: p, rec: t.mustInode(p), e: undefined };
  }
  const e = t.dirent(dir, name);
  if (e === undefined) return undefined;
  return { ino: e.ino, rec: t.entryInode(dir, name, e), e };
}

/** lookup(parent, name) from a read view: search permission on parent, then the entry. */
export async function lookupAsync(r: FsReader, cred: Cred, dir: number, name: string): Promise<{ ino: number; rec: InodeRec }> {
  const d = await r.mustInode(dir);
  if (!isDir(d)) throw cairnError('CAIRN_ERR_FS_NOT_DIR', `inode ${dir}`);
  checkAccess(cred, d, MAY_EXEC, `search inode ${dir}`);
  checkName(name);
  if (name === '.') return { ino: dir, rec: d };
  if (name === '..') {
    const p = d.parent ?? ROOT_INO;
    return { ino: p, rec: await r.mustInode(p) };
  }
  const e = await r.dirent(dir, name);
  if (e === undefined) throw cairnError('CAIRN_ERR_FS_NOT_FOUND', name, { expected: true });
  const rec = await r.inode(e.ino);
  if (rec === undefined) throw cairnError('CAIRN_ERR_FS_IO', `entry ${dir}/${name} names missing inode ${e.ino}`);
  return { ino: e.ino, rec };
}

/**
 * lookup(parent, name) on the live trees, one get per record (no view): the
 * directory, the entry, the inode it names. Each get is atomic; an entry
 * whose inode went away between two gets (a racing unlink) is looked up
 * again in one view, which tells a race from a damaged volume.
 */
export async function lookupLive(v: Vol, cred: Cred, dir: number, name: string): Promise<{ ino: number; rec: InodeRec }> {
  const d = await mustReadInode(v, dir);
  if (!isDir(d)) throw cairnError('CAIRN_ERR_FS_NOT_DIR', `inode ${dir}`);
  checkAccess(cred, d, MAY_EXEC, `search inode ${dir}`);
  checkName(name);
  if (name === '.') return { ino: dir, rec: d };
  if (name === '..') {
    const p = d.parent ?? ROOT_INO;
    return { ino: p, rec: await mustReadInode(v, p) };
  }
  const e = await readDirent(v, dir, name);
  if (e === undefined) throw cairnError('CAIRN_ERR_FS_NOT_FOUND', name, { expected: true });
  const rec = await readInode(v, e.ino);
  if (rec !== undefined) return { ino: e.ino, rec };
  return FsReader.with(v, (r) => lookupAsync(r, cred, dir, name));
}

/**
 * Resolves a path like Linux path walk: "/"-separated components from the
 * root (absolute) or `cwd`, "." and ".." (".." of the root is the root),
 * search permission on every directory walked, symlinks followed in the middle
 * and (followLast) at the end, at most MAX_SYMLINKS of them (ELOOP); a
 * trailing "/" requires a directory (ENOTDIR) and follows a final symlink.
 */
export async function lookupPath(v: Vol, cred: Cred, path: string, o: LookupPathOptions = {}): Promise<{ ino: number; rec: InodeRec }> {
  return FsReader.with(v, (r) => walkPath(r, cred, path, o));
}

/** The path walk of lookupPath over one reader (a view of the live volume or a snapshot). */
export async function walkPath(r: FsReader, cred: Cred, path: string, o: LookupPathOptions = {}): Promise<{ ino: number; rec: InodeRec }> {
  if (typeof path !== 'string') throw cairnError('CAIRN_ERR_FS_INVALID', 'path must be a string');
  if (path.length === 0) throw cairnError('CAIRN_ERR_FS_NOT_FOUND', '(empty path)');
  if (Buffer.byteLength(path, 'utf8') >= PATH_MAX) throw cairnError('CAIRN_ERR_FS_NAME_TOO_LONG', path.slice(0, 32));
  const followLast = o.followLast !== false;
  let links = 0;
  let cur = path.startsWith('/') ? ROOT_INO : checkIno(o.cwd ?? ROOT_INO);
  let curRec = await r.mustInode(cur);
  // Work list of components still to walk (a symlink's target is spliced in front).
  let parts = splitPath(path);
  let mustBeDir = path.endsWith('/');
  while (parts.length > 0) {
    const name = parts.shift()!;
    const last = parts.length === 0;
    const next = await lookupAsync(r, cred, cur, name);
    if (isSymlink(next.rec) && (!last || followLast || mustBeDir)) {
      if (++links > MAX_SYMLINKS) throw cairnError('CAIRN_ERR_FS_LOOP', path.slice(0, 64));
      const target = next.rec.target ?? '';
      if (target.length === 0) throw cairnError('CAIRN_ERR_FS_NOT_FOUND', `${name} (empty symlink)`);
      if (target.startsWith('/')) {
        cur = ROOT_INO;
        curRec = await r.mustInode(ROOT_INO);
      }
      if (last && target.endsWith('/')) mustBeDir = true;
      parts = [...splitPath(target), ...parts];
      continue;
    }
    if (!last && !isDir(next.rec)) throw cairnError('CAIRN_ERR_FS_NOT_DIR', name);
    cur = next.ino;
    curRec = next.rec;
  }
  if (mustBeDir && !isDir(curRec)) throw cairnError('CAIRN_ERR_FS_NOT_DIR', path.slice(0, 64));
  return { ino: cur, rec: curRec };
}

function splitPath(p: string): string[] {
  return p.split('/').filter((s) => s.length > 0);
}

/**
 * An inode by number (an NFS-style handle): ESTALE when it is gone, or when
 * its last link went and nobody has it open.
 */
export async function resolveHandle(v: Vol, ino: number): Promise<InodeRec> {
  checkIno(ino);
  const rec = await mustReadInode(v, ino);
  if (rec.nlink === 0 && !v.isOpen(ino)) throw cairnError('CAIRN_ERR_FS_STALE', `inode ${ino} (unlinked)`);
  return rec;
}
