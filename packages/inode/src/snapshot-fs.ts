// Read-only access to a snapshot's contents (Filesystem.openSnapshot): the
// names, attributes, symlinks, xattrs and bytes the volume held when the
// snapshot was taken, with the same permission checks as the live volume.
// Each call reads the snapshot's trees through a headhunter view of its own,
// released when the call ends: a handle left open pins nothing (a view held
// for hours would keep every node object dropped meanwhile). File data comes
// from the segments the snapshot's extent maps name, stored while the
// snapshot exists and while a call reads them (snapshot.ts heldBySnapshots
// sees the views of running calls). Once the snapshot is deleted — or
// deleted and made again under the same name — the handle's calls fail with
// CAIRN_ERR_META_SNAPSHOT_NOT_FOUND. Attributes are the stored records: a
// snapshot has no pending writes, and reading it moves no atime. Bytes an
// fsync or a small upload had made durable through the intent log, and whose
// segment was not committed when the snapshot was taken, are read from the
// snapshot's intent records (intents.ts) on top of its extents. Read plans
// cannot name them (they are in no segment): readPlan reports them as
// CAIRN_ERR_FS_NOT_SUPPORTED for such a range.

import { cairnError, isCairnError } from '@cairn/errors';
import { encodeKey } from '@cairn/headhunter';
import { lookup as lookupExtents, readFile, readPlan, type ReadStep } from '@cairn/segments';
import type { Vol } from './context.js';
import {
  COOKIE_DOT, COOKIE_DOTDOT, FIRST_ENTRY_COOKIE, MAX_RW_COUNT, ROOT_INO, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, TREES, XATTR_LIST_MAX, XATTR_NAME_MAX,
} from './format.js';
import { checkCred, checkIno, isDir, lookupAsync, walkPath, wellFormed } from './namei.js';
import { checkAccess, isRoot, MAY_READ } from './perms.js';
import { FsReader } from './reader.js';
import { segmentRecorded } from './intents.js';
import { intentCodec, type InodeRec } from './records.js';
import { fileType, recordAttr } from './stat.js';
import type { Attr, Cred, DirEntry, LookupPathOptions, ReadDirOptions, ReadDirResult, SnapshotInfo } from './types.js';

/** A read-only handle on one snapshot (Filesystem.openSnapshot). close() it when done. */
export interface SnapshotFs {
  readonly name: string;
  readonly info: SnapshotInfo;
  readonly rootIno: number;
  lookup(cred: Cred, parent: number, name: string): Promise<Attr>;
  lookupPath(cred: Cred, path: string, options?: LookupPathOptions): Promise<Attr>;
  getattr(cred: Cred, ino: number): Promise<Attr>;
  readdir(cred: Cred, ino: number, options?: ReadDirOptions): Promise<ReadDirResult>;
  readdirplus(cred: Cred, ino: number, options?: ReadDirOptions): Promise<ReadDirResult>;
  readlink(cred: Cred, ino: number): Promise<string>;
  read(cred: Cred, ino: number, offset: number, length: number): Promise<Buffer>;
  /** The segment ranges holding a byte range of a file of the snapshot. */
  readPlan(cred: Cred, ino: number, offset: number, length: number): Promise<{ size: number; plan: ReadStep[] }>;
  getxattr(cred: Cred, ino: number, name: string): Promise<Buffer>;
  listxattr(cred: Cred, ino: number): Promise<string[]>;
  /** Ends the handle (idempotent); later calls fail with CAIRN_ERR_CLOSED. */
  close(): Promise<void>;
}

/** Runs one call as an operation of the mounted filesystem (unmount waits for it). */
export type RunOp = <T>(fn: () => Promise<T>) => Promise<T>;

/** A handle on the snapshot `info` describes (FilesystemImpl.openSnapshot found it). */
export function openSnapshotFs(v: Vol, info: SnapshotInfo, run: RunOp): SnapshotFs {
  v.openSnapshots++;
  return new SnapshotFsImpl(v, info, run);
}

function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw cairnError('CAIRN_ERR_FS_INVALID', `offset ${offset}`);
  if (!Number.isSafeInteger(length) || length < 0) throw cairnError('CAIRN_ERR_FS_INVALID', `length ${length}`);
}

/**
 * The file's intents in the snapshot whose segment had not been committed then
 * (a committed one's bytes are in the extents already), in write order.
 */
async function unresolvedIntents(r: FsReader, ino: number): Promise<Array<{ fileOffset: number; data: Buffer }>> {
  if (!r.view.treeNames().includes(TREES.intents)) return [];
  const rows = await r.view.tree(TREES.intents).scan({ gte: encodeKey([ino]), lt: encodeKey([ino + 1]) });
  const out: Array<{ fileOffset: number; data: Buffer }> = [];
  for (const row of rows) {
    const rec = intentCodec.decode(row.value);
    if (await segmentRecorded(r.view.tree(TREES.segments), r.view.tree(TREES.deadsegs), rec.nonce)) continue;
    out.push({ fileOffset: rec.fileOffset, data: rec.data });
  }
  return out;
}

/** A regular file of the snapshot that `cred` may read (nothing is open in a snapshot: an unlinked inode is stale). */
function readableFile(cred: Cred, ino: number, rec: InodeRec): void {
  if (rec.nlink === 0) throw cairnError('CAIRN_ERR_FS_STALE', `inode ${ino} (unlinked)`);
  const t = rec.mode & S_IFMT;
  if (t === S_IFDIR) throw cairnError('CAIRN_ERR_FS_IS_DIR', 'read');
  if (t !== S_IFREG) throw cairnError('CAIRN_ERR_FS_INVALID', 'read of a special file');
  checkAccess(cred, rec, MAY_READ, `read inode ${ino}`);
}

/** getxattr's checks (the reading half of xattr.ts's rules): name, namespace, xattr_permission. */
function checkXattrRead(cred: Cred, rec: InodeRec, name: unknown): string {
  if (typeof name !== 'string') throw cairnError('CAIRN_ERR_FS_INVALID', 'xattr name must be a string');
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0 || bytes > XATTR_NAME_MAX) throw cairnError('CAIRN_ERR_FS_XATTR_RANGE', `xattr name of ${bytes} bytes`);
  if (name.includes('\0') || !wellFormed(name)) throw cairnError('CAIRN_ERR_FS_INVALID', 'xattr name');
  const ns = (['user', 'trusted', 'security'] as const).find((n) => name.startsWith(`${n}.`));
  if (ns === undefined) throw cairnError('CAIRN_ERR_FS_NOT_SUPPORTED', `xattr namespace of ${name.slice(0, 64)}`);
  if (name.length === ns.length + 1) throw cairnError('CAIRN_ERR_FS_INVALID', `xattr name ${name}`);
  if (ns === 'trusted' && !isRoot(cred)) throw cairnError('CAIRN_ERR_FS_NO_XATTR', name);
  if (ns === 'user') {
    const t = rec.mode & S_IFMT;
    if (t !== S_IFREG && t !== S_IFDIR) throw cairnError('CAIRN_ERR_FS_NO_XATTR', name);
    checkAccess(cred, rec, MAY_READ, name);
  }
  return name;
}

class SnapshotFsImpl implements SnapshotFs {
  private closed = false;

  constructor(
    private readonly v: Vol,
    readonly info: SnapshotInfo,
    private readonly run: RunOp,
  ) {}

  get name(): string {
    return this.info.name;
  }

  get rootIno(): number {
    return ROOT_INO;
  }

  /** Runs a call against a view of the snapshot (CAIRN_ERR_CLOSED once closed, NOT_FOUND once it is gone). */
  private call<T>(cred: Cred, fn: (r: FsReader) => Promise<T>): Promise<T> {
    return this.run(async () => {
      if (this.closed) throw cairnError('CAIRN_ERR_CLOSED', `snapshot ${this.name}`);
      checkCred(cred);
      const view = this.v.hh.snapshot(this.name);
      this.v.snapshotViews.add(view);
      try {
        if (view.commitSeq !== this.info.commitSeq) throw cairnError('CAIRN_ERR_META_SNAPSHOT_NOT_FOUND', `${this.name} (made again since it was opened)`);
        return await fn(new FsReader(view));
      } finally {
        this.v.snapshotViews.delete(view);
        view.release();
      }
    });
  }

  lookup(cred: Cred, parent: number, name: string): Promise<Attr> {
    return this.call(cred, async (r) => {
      checkIno(parent);
      const got = await lookupAsync(r, cred, parent, name);
      return recordAttr(got.ino, got.rec);
    });
  }

  lookupPath(cred: Cred, path: string, options?: LookupPathOptions): Promise<Attr> {
    return this.call(cred, async (r) => {
      const got = await walkPath(r, cred, path, options);
      return recordAttr(got.ino, got.rec);
    });
  }

  getattr(cred: Cred, ino: number): Promise<Attr> {
    return this.call(cred, async (r) => recordAttr(checkIno(ino), await r.mustInode(ino)));
  }

  readdir(cred: Cred, ino: number, options?: ReadDirOptions): Promise<ReadDirResult> {
    return this.call(cred, (r) => this.list(r, cred, ino, options ?? {}, false));
  }

  readdirplus(cred: Cred, ino: number, options?: ReadDirOptions): Promise<ReadDirResult> {
    return this.call(cred, (r) => this.list(r, cred, ino, options ?? {}, true));
  }

  /** readdir.ts's listing (same cookies, ".", ".." first) over the snapshot. */
  private async list(r: FsReader, cred: Cred, ino: number, o: ReadDirOptions, plus: boolean): Promise<ReadDirResult> {
    checkIno(ino);
    const cookie = o.cookie ?? 0;
    const limit = o.limit ?? 1000;
    if (!Number.isSafeInteger(cookie) || cookie < 0) throw cairnError('CAIRN_ERR_FS_INVALID', `cookie ${cookie}`);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 100_000) throw cairnError('CAIRN_ERR_FS_INVALID', `limit ${limit}`);
    const rec = await r.mustInode(ino);
    if (!isDir(rec)) throw cairnError('CAIRN_ERR_FS_NOT_DIR', `inode ${ino}`);
    checkAccess(cred, rec, MAY_READ, `list inode ${ino}`);
    const entries: DirEntry[] = [];
    if (cookie < COOKIE_DOT) entries.push({ name: '.', ino, type: 'dir', cookie: COOKIE_DOT, ...(plus ? { attr: recordAttr(ino, rec) } : {}) });
    if (cookie < COOKIE_DOTDOT && entries.length < limit) {
      const p = rec.parent ?? ROOT_INO;
      entries.push({ name: '..', ino: p, type: 'dir', cookie: COOKIE_DOTDOT, ...(plus ? { attr: recordAttr(p, await r.mustInode(p)) } : {}) });
    }
    if (entries.length >= limit) return { entries, eof: false };
    const want = limit - entries.length;
    const rows = await r.entriesAfter(ino, Math.max(cookie, FIRST_ENTRY_COOKIE - 1), want + 1);
    for (const row of rows.slice(0, want)) {
      const e: DirEntry = { name: row.name, ino: row.ino, type: fileType(row.type), cookie: row.cookie };
      if (!plus) {
        entries.push(e);
        continue;
      }
      const child = await r.inode(row.ino);
      if (child === undefined) throw cairnError('CAIRN_ERR_FS_IO', `entry ${ino}/${row.name} names missing inode ${row.ino}`);
      entries.push({ ...e, attr: recordAttr(row.ino, child) });
    }
    return { entries, eof: rows.length <= want };
  }

  readlink(cred: Cred, ino: number): Promise<string> {
    return this.call(cred, async (r) => {
      const rec = await r.mustInode(checkIno(ino));
      if ((rec.mode & S_IFMT) !== S_IFLNK) throw cairnError('CAIRN_ERR_FS_INVALID', `inode ${ino} is not a symlink`);
      return rec.target ?? '';
    });
  }

  read(cred: Cred, ino: number, offset: number, length: number): Promise<Buffer> {
    return this.call(cred, async (r) => {
      const { size, plan } = await this.plan(r, cred, ino, offset, Math.min(length, MAX_RW_COUNT));
      if (size === 0 || plan.length === 0) return Buffer.alloc(0);
      let out: Buffer;
      try {
        out = await readFile(plan, this.v.cache);
      } catch (err) {
        throw isCairnError(err) && err.code.startsWith('CAIRN_ERR_FS_') ? err : cairnError('CAIRN_ERR_FS_IO', `read inode ${ino} of snapshot ${this.name}`, { cause: err });
      }
      for (const i of await unresolvedIntents(r, ino)) {
        const from = Math.max(offset, i.fileOffset);
        const to = Math.min(offset + out.length, i.fileOffset + i.data.length);
        if (from < to) i.data.copy(out, from - offset, from - i.fileOffset, to - i.fileOffset);
      }
      return out;
    });
  }

  readPlan(cred: Cred, ino: number, offset: number, length: number): Promise<{ size: number; plan: ReadStep[] }> {
    return this.call(cred, async (r) => {
      const p = await this.plan(r, cred, ino, offset, length);
      for (const i of await unresolvedIntents(r, ino)) {
        if (i.fileOffset < offset + length && i.fileOffset + i.data.length > offset) {
          throw cairnError('CAIRN_ERR_FS_NOT_SUPPORTED', `read plan of inode ${ino} in snapshot ${this.name}: some bytes are in the intent log, in no segment (read them)`);
        }
      }
      return p;
    });
  }

  private async plan(r: FsReader, cred: Cred, ino: number, offset: number, length: number): Promise<{ size: number; plan: ReadStep[] }> {
    checkIno(ino);
    checkRange(offset, length);
    const rec = await r.mustInode(ino);
    readableFile(cred, ino, rec);
    const len = Math.max(0, Math.min(length, rec.size - offset));
    const extents = len > 0 ? await lookupExtents(r.extentMap(ino), offset, len) : [];
    return { size: rec.size, plan: readPlan(extents, offset, len, rec.size, this.v.locate) };
  }

  getxattr(cred: Cred, ino: number, name: string): Promise<Buffer> {
    return this.call(cred, async (r) => {
      const rec = await r.mustInode(checkIno(ino));
      checkXattrRead(cred, rec, name);
      const val = await r.xattr(ino, name);
      if (val === undefined) throw cairnError('CAIRN_ERR_FS_NO_XATTR', name);
      return Buffer.from(val);
    });
  }

  listxattr(cred: Cred, ino: number): Promise<string[]> {
    return this.call(cred, async (r) => {
      await r.mustInode(checkIno(ino));
      const names = (await r.xattrNames(ino)).filter((n) => isRoot(cred) || !n.startsWith('trusted.'));
      let total = 0;
      for (const n of names) total += Buffer.byteLength(n, 'utf8') + 1;
      if (total > XATTR_LIST_MAX) throw cairnError('CAIRN_ERR_FS_XATTR_TOO_BIG', `attribute names of inode ${ino}`);
      return names;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.v.openSnapshots--;
  }
}
