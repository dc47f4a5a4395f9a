// readdir / readdirplus with stable cookies: "." (cookie 1) and ".." (cookie
// 2) first, then the entries in the order they were added, each with the
// cookie it got then (increasing per directory, never reused, kept across a
// rename within the directory). A listing continues after any cookie, so when
// nothing changes no entry is skipped or repeated; an entry added meanwhile
// shows up at the end.

import { cairnError } from '@cairn/errors';
import { attrOf, fileType } from './stat.js';
import type { Vol } from './context.js';
import { COOKIE_DOT, COOKIE_DOTDOT, FIRST_ENTRY_COOKIE, ROOT_INO } from './format.js';
import { touchAtime } from './data.js';
import { checkCred, checkIno, isDir } from './namei.js';
import { checkAccess, MAY_READ } from './perms.js';
import { FsReader } from './reader.js';
import type { Cred, DirEntry, ReadDirOptions, ReadDirResult } from './types.js';

export async function readdir(v: Vol, cred: Cred, ino: number, o: ReadDirOptions = {}, plus = false): Promise<ReadDirResult> {
  checkCred(cred);
  checkIno(ino);
  const cookie = o.cookie ?? 0;
  const limit = o.limit ?? 1000;
  if (!Number.isSafeInteger(cookie) || cookie < 0) throw cairnError('CAIRN_ERR_FS_INVALID', `cookie ${cookie}`);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 100_000) throw cairnError('CAIRN_ERR_FS_INVALID', `limit ${limit}`);
  return FsReader.with(v, async (r) => {
    const rec = await r.mustInode(ino);
    if (!isDir(rec)) throw cairnError('CAIRN_ERR_FS_NOT_DIR', `inode ${ino}`);
    checkAccess(cred, rec, MAY_READ, `list inode ${ino}`);
    const entries: DirEntry[] = [];
    if (cookie < COOKIE_DOT) entries.push({ name: '.', ino, type: 'dir', cookie: COOKIE_DOT, ...(plus ? { attr: attrOf(v, ino, rec) } : {}) });
    if (cookie < COOKIE_DOTDOT && entries.length < limit) {
      const p = rec.parent ?? ROOT_INO;
      const prec = plus ? await r.mustInode(p) : undefined;
      entries.push({ name: '..', ino: p, type: 'dir', cookie: COOKIE_DOTDOT, ...(prec ? { attr: attrOf(v, p, prec) } : {}) });
    }
    let eof = true;
    if (entries.length < limit) {
      const want = limit - entries.length;
      const rows = await r.entriesAfter(ino, Math.max(cookie, FIRST_ENTRY_COOKIE - 1), want + 1);
      eof = rows.length <= want;
      const n = Math.min(rows.length, want);
      for (let i = 0; i < n; i++) {
        const row = rows[i]!;
        if (plus) {
          const child = await r.inode(row.ino);
          if (child === undefined) throw cairnError('CAIRN_ERR_FS_IO', `entry ${ino}/${row.name} names missing inode ${row.ino}`);
          entries.push({ name: row.name, ino: row.ino, type: fileType(row.type), cookie: row.cookie, attr: attrOf(v, row.ino, child) });
        } else {
          entries.push({ name: row.name, ino: row.ino, type: fileType(row.type), cookie: row.cookie });
        }
      }
    } else {
      eof = false;
    }
    touchAtime(v, ino, rec);
    return { entries, eof };
  });
}
