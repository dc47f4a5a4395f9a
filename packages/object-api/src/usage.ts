// Object counts and bytes of a container (Swift's X-Container-Object-Count /
// -Bytes-Used, also per container in account listings) without walking the
// tree on every request. The first request walks the container once and
// notes the journal cursor; later ones apply the filesystem's change journal
// since then (creates, writes, truncates, unlinks, renames of files, mkdir,
// rmdir) and walk again only when a change is not clear enough to apply (a
// directory moved, an unlink of a file with other links, expired journal).
//
// Consistency: exact as of the newest committed change when the request
// looked (the journal is read right before answering). Files are counted once
// per inode (a hard-linked file counts once), sizes are committed sizes (a
// filesystem write not yet flushed counts once it commits). Without the
// journal (a filesystem that does not offer it) every request walks.

import { isCairnError } from '@cairn/errors';
import { treeUsage } from './containers.js';
import type { FsChange, VolumeFs } from './fs-port.js';

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
/** Changes read per journal page. */
const PAGE = 1000;

/** The totals of one container tree and what keeping them current needs. */
class Totals {
  readonly dirs = new Set<number>();
  readonly files = new Map<number, number>();
  bytes = 0;

  constructor(readonly root: number, public cursor: number) {
    this.dirs.add(root);
  }

  setFile(ino: number, size: number): void {
    this.bytes += size - (this.files.get(ino) ?? 0);
    this.files.set(ino, size);
  }

  dropFile(ino: number): void {
    this.bytes -= this.files.get(ino) ?? 0;
    this.files.delete(ino);
  }

  /** Applies one change; false when it cannot be applied (walk again). Every step sets a state, so applying a change twice is harmless. */
  apply(c: FsChange): boolean {
    const inParent = c.parent !== undefined && this.dirs.has(c.parent);
    const inNew = c.newParent !== undefined && this.dirs.has(c.newParent);
    const type = c.mode === undefined ? undefined : c.mode & S_IFMT;
    switch (c.kind) {
      case 'create':
      case 'link':
      case 'mknod':
        if (inParent && type === S_IFREG) this.setFile(c.ino, c.size ?? 0);
        return true;
      case 'mkdir':
        if (inParent) this.dirs.add(c.ino);
        return true;
      case 'rmdir':
        if (inParent) this.dirs.delete(c.ino);
        return true;
      case 'unlink':
        if (!inParent) return true;
        if ((c.nlink ?? 0) > 0) return false; // other names may be inside or outside
        this.dropFile(c.ino);
        return true;
      case 'write':
      case 'truncate':
      case 'setattr':
        if (this.files.has(c.ino) && c.size !== undefined) this.setFile(c.ino, c.size);
        return true;
      case 'rename':
        if (!inParent && !inNew) return true;
        if (type === S_IFDIR || type === undefined || (c.nlink ?? 1) > 1) return false;
        if (type !== S_IFREG) return true;
        if (inNew) this.setFile(c.ino, c.size ?? 0);
        else this.dropFile(c.ino);
        return true;
      case 'exchange':
        return !inParent && !inNew;
      default:
        return true;
    }
  }
}

const caches = new WeakMap<VolumeFs, Map<number, Promise<Totals>>>();

async function build(fs: VolumeFs, root: number): Promise<Totals> {
  // The cursor first: changes made during the walk are applied again on top of it (harmlessly).
  const t = new Totals(root, await fs.journalCursor!());
  const stack = [root];
  while (stack.length > 0) {
    const d = stack.pop()!;
    for await (const e of fs.readdir(d)) {
      if (e.type === 'dir') {
        t.dirs.add(e.ino);
        stack.push(e.ino);
      } else if (e.type === 'file') {
        try {
          t.setFile(e.ino, (await fs.getattr(e.ino)).size);
        } catch {
          // removed meanwhile
        }
      }
    }
  }
  return t;
}

/** Brings totals up to the newest change; undefined when they must be built again. */
async function refresh(fs: VolumeFs, t: Totals): Promise<Totals | undefined> {
  for (;;) {
    let page;
    try {
      page = await fs.listChanges!(t.cursor, PAGE);
    } catch (err) {
      if (isCairnError(err, 'CAIRN_ERR_FS_CURSOR_EXPIRED')) return undefined;
      throw err;
    }
    for (const c of page.changes) if (!t.apply(c)) return undefined;
    t.cursor = page.cursor;
    if (!page.more) return t;
  }
}

/** Files and bytes below a container directory (see the header for the consistency). */
export async function containerUsage(fs: VolumeFs, ino: number): Promise<{ count: number; bytes: number }> {
  if (!fs.journalCursor || !fs.listChanges) return treeUsage(fs, ino);
  let m = caches.get(fs);
  if (m === undefined) caches.set(fs, (m = new Map()));
  // One refresh at a time per container: each request waits for the one before it.
  const prev = m.get(ino);
  const next = (async (): Promise<Totals> => {
    const t = prev ? await prev.catch(() => undefined) : undefined;
    return (t && (await refresh(fs, t))) ?? build(fs, ino);
  })();
  m.set(ino, next);
  try {
    const t = await next;
    return { count: t.files.size, bytes: t.bytes };
  } catch (err) {
    if (m.get(ino) === next) m.delete(ino);
    throw err;
  }
}

/** Forgets the totals of a container (deleted, or made again under the same inode number: never, but cheap to be safe). */
export function forgetUsage(fs: VolumeFs, ino: number): void {
  caches.get(fs)?.delete(ino);
}
