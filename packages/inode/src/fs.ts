// FilesystemImpl: the Filesystem interface over one mounted volume. Thin:
// each method checks that the filesystem is still mounted, counts itself as
// running (unmount waits for running operations) and delegates to the topic
// module. Not exported; mountFilesystem() returns it as a Filesystem.

import { cairnError } from '@cairn/errors';
import type { ReadStep } from '@cairn/segments';
import { getattr, setattr } from './attrs.js';
import { attrOf } from './stat.js';
import { cloneFile, concatFiles, setEtag } from './clone.js';
import { provisionSegment, wrote, type DirectWrite } from './direct.js';
import { fallocate, flush, flushFile, fsync, read, readPlanOf, write } from './data.js';
import { link, mkdir, mknod, readlink, rmdir, symlink, unlink } from './dir.js';
import { BLOCK_SIZE, NAME_MAX, TREES } from './format.js';
import type { Filesystem } from './index.js';
import { compactJournal, journalCursor, listChanges, waitForChanges } from './journal.js';
import { OpTracker } from './op-tracker.js';
import { checkCred, checkIno, lookupLive, lookupPath, resolveHandle } from './namei.js';
import { create, open, release } from './open.js';
import { checkAccess } from './perms.js';
import { FsReader } from './reader.js';
import { readdir } from './readdir.js';
import { reclaimSegments } from './reclaim.js';
import { rename } from './rename.js';
import { cleanSegments, startCleaner, type CleanOptions, type CleanReport, type CleanerJob } from './cleaner.js';
import { sweepOrphans, type SweepOptions, type SweepReport } from './orphan-sweep.js';
import { fsckVolume, type FsckOptions, type FsckReport } from './fsck.js';
import { scrubVolume, type ScrubOptions, type ScrubReport } from './scrub.js';
import { checkSnapshotName, createSnapshot, deleteSnapshot, listSnapshots } from './snapshot.js';
import { openSnapshotFs, type SnapshotFs } from './snapshot-fs.js';
import { filesystemStats } from './stats.js';
import { beginUpload, closeUploads, commitUpload, type CommitUploadOptions, type Upload } from './upload.js';
import { abandon, unmount, type Mounted } from './volume.js';
import { getxattr, listxattr, removexattr, setxattr } from './xattr.js';
import type {
  Attr, ChangePage, CreateFileOptions, CreateOptions, CreateResult, Cred, ListChangesOptions, LookupPathOptions, OpenFlags,
  OpenResult, ReadDirOptions, ReadDirResult, ReclaimReport, RenameFlags, SetAttr, SetXattrFlags, StatFs, WaitChangesOptions,
  CheckpointInfo, FilesystemStats, SnapshotInfo,
} from './types.js';

export class FilesystemImpl implements Filesystem {
  private readonly ops = new OpTracker();
  private closing: Promise<void> | undefined;
  private readonly jobs = new Set<AbortController>();

  constructor(readonly m: Mounted) {}

  get volumeId(): string {
    return this.m.vol.volumeId;
  }

  get rootIno(): number {
    return 1;
  }

  private op<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closing !== undefined || this.m.vol.closed) return Promise.reject(cairnError('CAIRN_ERR_CLOSED', `filesystem ${this.volumeId}`));
    return this.ops.add(fn());
  }

  // ---- names ---------------------------------------------------------------

  lookup(cred: Cred, parent: number, name: string): Promise<Attr> {
    return this.op(async () => {
      checkCred(cred);
      checkIno(parent);
      const got = await lookupLive(this.m.vol, cred, parent, name);
      return attrOf(this.m.vol, got.ino, got.rec);
    });
  }

  lookupPath(cred: Cred, path: string, options?: LookupPathOptions): Promise<Attr> {
    return this.op(async () => {
      checkCred(cred);
      const got = await lookupPath(this.m.vol, cred, path, options);
      return attrOf(this.m.vol, got.ino, got.rec);
    });
  }

  resolveHandle(ino: number): Promise<Attr> {
    return this.op(async () => attrOf(this.m.vol, ino, await resolveHandle(this.m.vol, ino)));
  }

  getattr(cred: Cred, ino: number): Promise<Attr> {
    return this.op(() => getattr(this.m.vol, ino, cred));
  }

  setattr(cred: Cred, ino: number, changes: SetAttr, fh?: number): Promise<Attr> {
    return this.op(() => setattr(this.m.vol, cred, ino, changes, fh));
  }

  access(cred: Cred, ino: number, mask: number): Promise<void> {
    return this.op(async () => {
      checkCred(cred);
      checkIno(ino);
      if (!Number.isInteger(mask) || mask < 0 || mask > 7) throw cairnError('CAIRN_ERR_FS_INVALID', `access mask ${mask}`);
      const rec = await resolveHandle(this.m.vol, ino);
      if (mask !== 0) checkAccess(cred, rec, mask, `access inode ${ino}`);
    });
  }

  create(cred: Cred, parent: number, name: string, mode: number, options?: CreateFileOptions): Promise<CreateResult> {
    return this.op(() => create(this.m.vol, cred, parent, name, mode, options));
  }

  mkdir(cred: Cred, parent: number, name: string, mode: number, options?: CreateOptions): Promise<Attr> {
    return this.op(() => mkdir(this.m.vol, cred, parent, name, mode, options));
  }

  mknod(cred: Cred, parent: number, name: string, mode: number, rdev = 0, options?: CreateOptions): Promise<Attr> {
    return this.op(() => mknod(this.m.vol, cred, parent, name, mode, rdev, options));
  }

  symlink(cred: Cred, parent: number, name: string, target: string): Promise<Attr> {
    return this.op(() => symlink(this.m.vol, cred, parent, name, target));
  }

  readlink(cred: Cred, ino: number): Promise<string> {
    return this.op(async () => {
      checkCred(cred);
      return readlink(this.m.vol, ino);
    });
  }

  link(cred: Cred, ino: number, newParent: number, newName: string): Promise<Attr> {
    return this.op(() => link(this.m.vol, cred, ino, newParent, newName));
  }

  unlink(cred: Cred, parent: number, name: string): Promise<void> {
    return this.op(() => unlink(this.m.vol, cred, parent, name));
  }

  rmdir(cred: Cred, parent: number, name: string): Promise<void> {
    return this.op(() => rmdir(this.m.vol, cred, parent, name));
  }

  rename(cred: Cred, parent: number, name: string, newParent: number, newName: string, flags?: RenameFlags): Promise<void> {
    return this.op(() => rename(this.m.vol, cred, parent, name, newParent, newName, flags));
  }

  readdir(cred: Cred, ino: number, options?: ReadDirOptions): Promise<ReadDirResult> {
    return this.op(() => readdir(this.m.vol, cred, ino, options, false));
  }

  readdirplus(cred: Cred, ino: number, options?: ReadDirOptions): Promise<ReadDirResult> {
    return this.op(() => readdir(this.m.vol, cred, ino, options, true));
  }

  // ---- file data -------------------------------------------------------------

  open(cred: Cred, ino: number, flags?: OpenFlags): Promise<OpenResult> {
    return this.op(() => open(this.m.vol, cred, ino, flags));
  }

  release(fh: number): Promise<void> {
    return this.op(() => release(this.m.vol, fh));
  }

  read(cred: Cred, ino: number, offset: number, length: number, fh?: number): Promise<Buffer> {
    return this.op(() => read(this.m.vol, cred, ino, offset, length, fh));
  }

  write(cred: Cred, ino: number, offset: number, data: Uint8Array, fh?: number): Promise<number> {
    return this.op(() => write(this.m.vol, cred, ino, offset, data, fh));
  }

  flush(ino: number): Promise<void> {
    return this.op(async () => flush(this.m.vol, ino));
  }

  fsync(ino: number): Promise<void> {
    return this.op(() => fsync(this.m.vol, ino));
  }

  flushFile(ino: number): Promise<void> {
    return this.op(() => flushFile(this.m.vol, ino));
  }

  fallocate(cred: Cred, ino: number, offset: number, length: number, options: { keepSize?: boolean; fh?: number } = {}): Promise<Attr> {
    return this.op(() => fallocate(this.m.vol, cred, ino, offset, length, options.keepSize === true, options.fh));
  }

  concatFiles(cred: Cred, dst: number, srcs: readonly number[]): Promise<Attr> {
    return this.op(() => concatFiles(this.m.vol, cred, dst, srcs));
  }

  cloneFile(cred: Cred, src: number, dst: number): Promise<Attr> {
    return this.op(() => cloneFile(this.m.vol, cred, src, dst));
  }

  setEtag(cred: Cred, ino: number, etag: { value: string; dataVersion: number }): Promise<boolean> {
    return this.op(() => setEtag(this.m.vol, cred, ino, etag));
  }

  provisionSegment(): Promise<{ nonce: bigint; container: string; name: string }> {
    return this.op(() => provisionSegment(this.m.vol));
  }

  wrote(cred: Cred, ino: number, nonce: bigint, writes: readonly DirectWrite[]): Promise<Attr> {
    return this.op(() => wrote(this.m.vol, cred, ino, nonce, writes));
  }

  beginUpload(cred: Cred): Promise<Upload> {
    return this.op(() => beginUpload(this.m.vol, cred));
  }

  commitUpload(cred: Cred, parent: number, name: string, upload: Upload, options?: CommitUploadOptions): Promise<Attr> {
    return this.op(() => commitUpload(this.m.vol, cred, parent, name, upload, options));
  }

  readPlan(cred: Cred, ino: number, offset: number, length: number): Promise<{ size: number; plan: ReadStep[] }> {
    return this.op(() => readPlanOf(this.m.vol, cred, ino, offset, length));
  }

  // ---- xattrs ------------------------------------------------------------------

  getxattr(cred: Cred, ino: number, name: string): Promise<Buffer> {
    return this.op(() => getxattr(this.m.vol, cred, ino, name));
  }

  setxattr(cred: Cred, ino: number, name: string, value: Uint8Array, flags?: SetXattrFlags): Promise<void> {
    return this.op(() => setxattr(this.m.vol, cred, ino, name, value, flags));
  }

  listxattr(cred: Cred, ino: number): Promise<string[]> {
    return this.op(() => listxattr(this.m.vol, cred, ino));
  }

  removexattr(cred: Cred, ino: number, name: string): Promise<void> {
    return this.op(() => removexattr(this.m.vol, cred, ino, name));
  }

  // ---- volume ------------------------------------------------------------------

  statfs(): Promise<StatFs> {
    return this.op(async () => {
      const v = this.m.vol;
      return FsReader.with(v, async (r) => {
        const meta = await r.meta();
        const inodes = await r.view.tree(TREES.inodes).count();
        const segments = await r.view.tree(TREES.segments).count();
        const deadSegments = await r.view.tree(TREES.deadsegs).count();
        const blocks = Math.floor(v.o.capacityBytes / BLOCK_SIZE);
        const used = Math.ceil(meta.storedBytes / BLOCK_SIZE);
        return {
          blockSize: BLOCK_SIZE, blocks, blocksFree: Math.max(0, blocks - used),
          files: v.o.maxInodes, filesFree: Math.max(0, v.o.maxInodes - inodes), nameMax: NAME_MAX,
          inodes, liveBytes: meta.liveBytes, storedBytes: meta.storedBytes, segments, deadSegments,
          dirtyFiles: v.dirty.size, openHandles: v.handles.size,
        };
      });
    });
  }

  checkpoint(): Promise<CheckpointInfo> {
    return this.op(async () => {
      const c = await this.m.vol.hh.checkpoint({ force: true });
      return { ...c, publishedAt: Date.now(), bytes: c.nodeBytes + c.recordBytes };
    });
  }

  stats(): FilesystemStats {
    const o = this.ops;
    return filesystemStats(this.m.vol, { started: o.started, failed: o.failed, running: o.running, jobs: this.jobs.size });
  }

  // ---- snapshots -----------------------------------------------------------------

  createSnapshot(name: string): Promise<SnapshotInfo> {
    return this.op(() => createSnapshot(this.m.vol, name));
  }

  listSnapshots(): Promise<SnapshotInfo[]> {
    return this.op(() => listSnapshots(this.m.vol));
  }

  deleteSnapshot(name: string): Promise<void> {
    return this.op(() => deleteSnapshot(this.m.vol, name));
  }

  openSnapshot(name: string): Promise<SnapshotFs> {
    return this.op(async () => {
      checkSnapshotName(name);
      const info = (await listSnapshots(this.m.vol)).find((s) => s.name === name);
      if (info === undefined) throw cairnError('CAIRN_ERR_META_SNAPSHOT_NOT_FOUND', name);
      return openSnapshotFs(this.m.vol, info, (fn) => this.op(fn));
    });
  }

  reclaimSegments(limit?: number): Promise<ReclaimReport> {
    return this.op(() => reclaimSegments(this.m.vol, limit));
  }

  journalCursor(): Promise<number> {
    return this.op(() => journalCursor(this.m.vol));
  }

  listChanges(cursor: number, options?: ListChangesOptions): Promise<ChangePage> {
    return this.op(() => listChanges(this.m.vol, cursor, options));
  }

  waitForChanges(cursor: number, options?: WaitChangesOptions): Promise<boolean> {
    // Not counted as running: unmount wakes waiters instead of waiting for them.
    if (this.closing !== undefined || this.m.vol.closed) return Promise.reject(cairnError('CAIRN_ERR_CLOSED', `filesystem ${this.volumeId}`));
    return waitForChanges(this.m.vol, cursor, options);
  }

  compactJournal(options?: { horizonMs?: number; minEntries?: number }): Promise<number> {
    return this.op(() => compactJournal(this.m.vol, options));
  }

  startCleaner(options: CleanOptions = {}): CleanerJob {
    if (this.closing !== undefined || this.m.vol.closed) throw cairnError('CAIRN_ERR_CLOSED', `filesystem ${this.volumeId}`);
    return startCleaner(this.m.vol, options);
  }

  clean(options: CleanOptions = {}): Promise<CleanReport> {
    return this.job(options.signal, (signal) => cleanSegments(this.m.vol, { ...options, signal }));
  }

  sweepOrphans(options: SweepOptions = {}): Promise<SweepReport> {
    return this.job(options.signal, (signal) => sweepOrphans(this.m.vol, { ...options, signal }));
  }

  fsck(options: FsckOptions = {}): Promise<FsckReport> {
    return this.job(options.signal, (signal) => fsckVolume(this.m.vol, { ...options, signal }));
  }

  scrub(options: ScrubOptions = {}): Promise<ScrubReport> {
    return this.job(options.signal, (signal) => scrubVolume(this.m.vol, { ...options, signal }));
  }

  /** Runs a background job as an operation that unmount cancels. */
  private job<T>(outer: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ac = new AbortController();
    const stop = (): void => ac.abort(outer?.reason);
    if (outer?.aborted) stop();
    else outer?.addEventListener('abort', stop, { once: true });
    this.jobs.add(ac);
    return this.op(() => fn(ac.signal)).finally(() => {
      this.jobs.delete(ac);
      outer?.removeEventListener('abort', stop);
    });
  }

  unmount(): Promise<void> {
    for (const ac of this.jobs) ac.abort(cairnError('CAIRN_ERR_CLOSED', `filesystem ${this.volumeId}`));
    this.closing ??= this.ops.idle().then(() => closeUploads(this.m.vol)).then(() => unmount(this.m, this.ops));
    return this.closing;
  }

  /** Test support: what a crash leaves (no flush, no checkpoint). */
  abandon(): Promise<void> {
    this.closing ??= closeUploads(this.m.vol).catch(() => {}).then(() => abandon(this.m));
    return this.closing;
  }
}
