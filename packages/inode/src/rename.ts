// rename(2) and renameat2's RENAME_NOREPLACE / RENAME_EXCHANGE, with the
// checks of do_renameat2 and vfs_rename in their order. The whole rename,
// ancestry check included, is one synchronous headhunter transaction, and
// transactions are applied one at a time against the newest state: that is
// what Linux's s_vfs_rename_mutex gives, so two concurrent directory renames
// can never both pass the ancestry check and form a cycle.

import { cairnError } from '@cairn/errors';
import type { Vol } from './context.js';
import { LINK_MAX, ROOT_INO } from './format.js';
import { checkCred, checkIno, checkName, isDir, isDotName, lookupDir } from './namei.js';
import { checkAccess, checkSticky, MAY_EXEC, MAY_WRITE } from './perms.js';
import type { DirentRec, InodeRec } from './records.js';
import { reclaimedInTx, reclaimInTx } from './reclaim.js';
import type { FsTx } from './tx.js';
import type { Cred, RenameFlags } from './types.js';

/** True when `anc` is `ino` or one of its ancestors (walks the parent pointers). */
export function isAncestorOrSelf(t: FsTx, anc: number, ino: number): boolean {
  let cur = ino;
  for (let depth = 0; depth < 1_000_000; depth++) {
    if (cur === anc) return true;
    if (cur === ROOT_INO) return false;
    const rec = t.mustInode(cur);
    const p = rec.parent;
    if (p === undefined) throw cairnError('CAIRN_ERR_FS_IO', `directory ${cur} has no parent`);
    cur = p;
  }
  throw cairnError('CAIRN_ERR_FS_IO', `parent chain of ${ino} does not reach the root`);
}

interface Side {
  readonly dir: number;
  dirRec: InodeRec;
  readonly name: string;
  readonly e: DirentRec;
  readonly rec: InodeRec;
}

export async function rename(v: Vol, cred: Cred, oldDir: number, oldName: string, newDir: number, newName: string, flags: RenameFlags = {}): Promise<void> {
  checkCred(cred);
  checkIno(oldDir);
  checkIno(newDir);
  const noReplace = flags.noReplace === true;
  const exchange = flags.exchange === true;
  if (noReplace && exchange) throw cairnError('CAIRN_ERR_FS_INVALID', 'RENAME_NOREPLACE with RENAME_EXCHANGE');
  const gone = await v.tx((t): number | undefined => {
    const od = lookupDir(t, cred, oldDir);
    const nd = oldDir === newDir ? od : lookupDir(t, cred, newDir);
    checkName(oldName);
    checkName(newName);
    if (isDotName(oldName)) throw cairnError('CAIRN_ERR_FS_BUSY', `rename of "${oldName}"`);
    if (isDotName(newName)) throw cairnError(noReplace ? 'CAIRN_ERR_FS_EXISTS' : 'CAIRN_ERR_FS_BUSY', `rename to "${newName}"`);
    const oe = t.dirent(oldDir, oldName);
    if (oe === undefined) throw cairnError('CAIRN_ERR_FS_NOT_FOUND', oldName);
    const ne = t.dirent(newDir, newName);
    if (noReplace && ne !== undefined) throw cairnError('CAIRN_ERR_FS_EXISTS', newName);
    if (exchange && ne === undefined) throw cairnError('CAIRN_ERR_FS_NOT_FOUND', newName);
    const orec = t.entryInode(oldDir, oldName, oe);
    const nrec = ne === undefined ? undefined : t.entryInode(newDir, newName, ne);
    const oIsDir = isDir(orec);
    const nIsDir = nrec !== undefined && isDir(nrec);
    // The source must not be an ancestor of the target's directory; the target not one of the source's.
    if (oIsDir && isAncestorOrSelf(t, oe.ino, newDir)) throw cairnError('CAIRN_ERR_FS_INVALID', `${oldName} into its own subtree`);
    if (ne !== undefined && nIsDir && isAncestorOrSelf(t, ne.ino, oldDir)) {
      throw cairnError(exchange ? 'CAIRN_ERR_FS_INVALID' : 'CAIRN_ERR_FS_NOT_EMPTY', `${newName} is an ancestor of ${oldName}`);
    }
    if (ne !== undefined && ne.ino === oe.ino) return undefined; // the same inode: nothing to do
    // may_delete of the source, then may_create or may_delete of the target.
    checkAccess(cred, od, MAY_WRITE | MAY_EXEC, `rename from inode ${oldDir}`);
    checkSticky(cred, od, orec, oldName);
    checkAccess(cred, nd, MAY_WRITE | MAY_EXEC, `rename into inode ${newDir}`);
    if (nrec !== undefined) {
      checkSticky(cred, nd, nrec, newName);
      if (!exchange) {
        if (oIsDir && !nIsDir) throw cairnError('CAIRN_ERR_FS_NOT_DIR', newName);
        if (!oIsDir && nIsDir) throw cairnError('CAIRN_ERR_FS_IS_DIR', newName);
      }
    }
    // A directory that changes parent gets a new "..": the caller must be able to write it.
    if (oldDir !== newDir) {
      if (oIsDir) checkAccess(cred, orec, MAY_WRITE, oldName);
      if (exchange && nIsDir) checkAccess(cred, nrec!, MAY_WRITE, newName);
      if (oIsDir && !nIsDir && nd.nlink >= LINK_MAX) throw cairnError('CAIRN_ERR_FS_TOO_MANY_LINKS', `inode ${newDir}`);
      if (exchange && nIsDir && !oIsDir && od.nlink >= LINK_MAX) throw cairnError('CAIRN_ERR_FS_TOO_MANY_LINKS', `inode ${oldDir}`);
    }
    if (!exchange && nIsDir && t.hasEntries(ne!.ino)) throw cairnError('CAIRN_ERR_FS_NOT_EMPTY', newName);
    const src: Side = { dir: oldDir, dirRec: od, name: oldName, e: oe, rec: orec };
    if (exchange) {
      doExchange(t, src, { dir: newDir, dirRec: nd, name: newName, e: ne!, rec: nrec! });
      return undefined;
    }
    const replaced = doRename(t, src, newDir, nd, newName, ne, nrec);
    // A file renamed over loses its last link: reclaimed in this same commit when nobody has it open.
    return replaced === undefined ? undefined : reclaimInTx(v, t, replaced.ino, replaced.after);
  });
  reclaimedInTx(v, gone);
}

/**
 * Moves src to newDir/newName, replacing the target entry if there is one.
 * Returns the replaced file (not a directory) and its record now.
 */
function doRename(
  t: FsTx, src: Side, newDir: number, nd: InodeRec, newName: string, ne: DirentRec | undefined, nrec: InodeRec | undefined,
): { ino: number; after: InodeRec } | undefined {
  const now = t.now;
  const same = src.dir === newDir;
  const oIsDir = isDir(src.rec);
  let od = src.dirRec;
  let ndRec = same ? od : nd;
  let replaced: { ino: number; after: InodeRec } | undefined;
  if (ne !== undefined && nrec !== undefined) {
    const victimDir = isDir(nrec);
    ndRec = t.removeEntry(newDir, ndRec, newName, ne);
    if (victimDir) ndRec = { ...ndRec, nlink: ndRec.nlink - 1 };
    const gone = t.dropLink(ne.ino, nrec, victimDir);
    t.journalInode(victimDir ? 'rmdir' : 'unlink', ne.ino, victimDir ? undefined : gone, { parent: newDir, name: newName });
    if (!victimDir) replaced = { ino: ne.ino, after: gone };
    if (same) od = ndRec;
  }
  if (same) {
    t.renameEntry(src.dir, src.name, src.e, newName);
    od = { ...od, mtime: now, ctime: now };
    t.putInode(src.dir, od);
  } else {
    od = t.removeEntry(src.dir, od, src.name, src.e);
    od = { ...od, mtime: now, ctime: now, nlink: od.nlink - (oIsDir ? 1 : 0) };
    t.putInode(src.dir, od);
    ndRec = t.addEntry(newDir, ndRec, newName, src.e.ino, src.rec.mode);
    ndRec = { ...ndRec, mtime: now, ctime: now, nlink: ndRec.nlink + (oIsDir ? 1 : 0) };
    t.putInode(newDir, ndRec);
  }
  const moved = t.putInode(src.e.ino, { ...src.rec, ctime: now, ...(oIsDir ? { parent: newDir } : {}) });
  t.journalInode('rename', src.e.ino, moved, { parent: src.dir, name: src.name, newParent: newDir, newName });
  return replaced;
}

/** RENAME_EXCHANGE: the two entries swap inodes (each keeps its cookie). */
function doExchange(t: FsTx, a: Side, b: Side): void {
  const now = t.now;
  const aDir = isDir(a.rec);
  const bDir = isDir(b.rec);
  t.replaceEntry(a.dir, a.name, a.e, b.e.ino, b.rec.mode);
  t.replaceEntry(b.dir, b.name, b.e, a.e.ino, a.rec.mode);
  if (a.dir === b.dir) {
    t.putInode(a.dir, { ...a.dirRec, mtime: now, ctime: now });
  } else {
    const delta = (bDir ? 1 : 0) - (aDir ? 1 : 0);
    t.putInode(a.dir, { ...a.dirRec, nlink: a.dirRec.nlink + delta, mtime: now, ctime: now });
    t.putInode(b.dir, { ...b.dirRec, nlink: b.dirRec.nlink - delta, mtime: now, ctime: now });
  }
  const ra = t.putInode(a.e.ino, { ...a.rec, ctime: now, ...(aDir ? { parent: b.dir } : {}) });
  t.putInode(b.e.ino, { ...b.rec, ctime: now, ...(bDir ? { parent: a.dir } : {}) });
  t.journalInode('exchange', a.e.ino, ra, { parent: a.dir, name: a.name, newParent: b.dir, newName: b.name });
}
