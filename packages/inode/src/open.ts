// Open handles: open() checks access once (like Linux, later reads and writes
// through the handle are not checked again) and counts the inode as open; an
// inode whose last link goes while it is open keeps its data until the last
// release(). create() with `open` opens the new file even when its mode
// denies the access (O_CREAT semantics).

import { cairnError } from '@cairn/errors';
import { checkTruncate, getattr } from './attrs.js';
import { attrOf } from './stat.js';
import type { Vol } from './context.js';
import { truncateFile } from './data.js';
import { createFile } from './dir.js';
import { S_IFDIR, S_IFLNK, S_IFMT } from './format.js';
import { checkCred, checkIno, resolveHandle } from './namei.js';
import { checkAccess, MAY_READ, MAY_WRITE } from './perms.js';
import { reclaimInode } from './reclaim.js';
import type { CreateFileOptions, CreateResult, Cred, OpenFlags, OpenResult } from './types.js';

function wantOf(f: OpenFlags): number {
  return (f.read === true ? MAY_READ : 0) | (f.write === true || f.truncate === true ? MAY_WRITE : 0);
}

export async function open(v: Vol, cred: Cred, ino: number, flags: OpenFlags = { read: true }): Promise<OpenResult> {
  checkCred(cred);
  checkIno(ino);
  const rec = await resolveHandle(v, ino);
  const type = rec.mode & S_IFMT;
  if (type === S_IFLNK) throw cairnError('CAIRN_ERR_FS_LOOP', `inode ${ino} is a symlink`);
  if (type === S_IFDIR && (flags.write === true || flags.truncate === true)) throw cairnError('CAIRN_ERR_FS_IS_DIR', `inode ${ino}`);
  const want = wantOf(flags);
  if (want !== 0) checkAccess(cred, rec, want, `open inode ${ino}`);
  if (flags.truncate === true) checkTruncate(cred, rec, 0, false);
  const fh = v.addHandle({ ino, cred, read: flags.read === true, write: flags.write === true, append: flags.append === true });
  if (flags.truncate === true) {
    try {
      await truncateFile(v, cred, ino, 0);
    } catch (err) {
      await release(v, fh);
      throw err;
    }
  }
  return { fh, attr: flags.truncate === true ? await getattr(v, ino) : attrOf(v, ino, rec) };
}

/** Closes a handle; the last release of an unlinked inode reclaims it. */
export async function release(v: Vol, fh: number): Promise<void> {
  const { ino, last } = v.dropHandle(fh);
  // Only an inode unlinked while open is left to reclaim (Vol.openOrphans); an
  // unlink that commits after this sees it closed and reclaims it itself.
  if (last && !v.closed && v.openOrphans.delete(ino)) await reclaimInode(v, ino);
}

export async function create(v: Vol, cred: Cred, dir: number, name: string, mode: number, o: CreateFileOptions = {}): Promise<CreateResult> {
  checkCred(cred);
  const flags = o.open;
  const r = await createFile(v, cred, dir, name, mode, o, flags !== undefined ? wantOf(flags) : 0);
  if (flags === undefined) return { attr: r.attr, created: r.created };
  const fh = v.addHandle({ ino: r.ino, cred, read: flags.read === true, write: flags.write === true, append: flags.append === true });
  if (!r.created && flags.truncate === true) {
    try {
      await truncateFile(v, cred, r.ino, 0);
    } catch (err) {
      await release(v, fh);
      throw err;
    }
    return { attr: await getattr(v, r.ino), created: false, fh };
  }
  return { attr: r.attr, created: r.created, fh };
}
