// The daemon's namespace checks, used by the fsck and scrub jobs while the
// filesystem layer offers no deeper ones of its own: a breadth-first walk
// from the root through readdirplus that checks what the namespace must
// satisfy (entry types match inodes, directory link counts, file link counts,
// every inode reachable), and a scrub that reads every byte of every file.

import { isCairnError } from '@cairn/errors';
import { ROOT_CRED, type Filesystem } from '@cairn/inode';
import type { JobContext } from '@cairn/mgmt';

/** At most this many problems are listed in a report (the count is exact). */
const MAX_LISTED = 100;
const SCRUB_CHUNK = 1024 * 1024;

export interface WalkResult {
  dirs: number;
  readonly files: Array<{ ino: number; size: number; path: string }>;
  visited: number;
  readonly problems: string[];
  problemCount: number;
}

function note(r: WalkResult, problem: string): void {
  r.problemCount++;
  if (r.problems.length < MAX_LISTED) r.problems.push(problem);
}

const join = (dir: string, name: string): string => (dir === '/' ? `/${name}` : `${dir}/${name}`);

/** Walks the namespace; `onInode` is called per inode found (progress). */
export async function walkNamespace(fs: Filesystem, ctx: Pick<JobContext, 'signal'>, onInode: (visited: number) => void): Promise<WalkResult> {
  const r: WalkResult = { dirs: 0, files: [], visited: 0, problems: [], problemCount: 0 };
  const seen = new Map<number, { type: string; nlink: number; links: number; path: string }>();
  const root = await fs.getattr(ROOT_CRED, fs.rootIno);
  seen.set(root.ino, { type: root.type, nlink: root.nlink, links: 1, path: '/' });
  r.visited = 1;
  const queue: Array<{ ino: number; path: string; nlink: number }> = [{ ino: root.ino, path: '/', nlink: root.nlink }];
  while (queue.length > 0) {
    ctx.signal.throwIfAborted();
    const dir = queue.shift()!;
    r.dirs++;
    let subdirs = 0;
    let cookie = 0;
    for (;;) {
      const page = await fs.readdirplus(ROOT_CRED, dir.ino, { cookie, limit: 1000 });
      for (const e of page.entries) {
        cookie = e.cookie;
        if (e.name === '.' || e.name === '..') continue;
        const path = join(dir.path, e.name);
        let attr = e.attr;
        if (!attr) {
          try {
            attr = await fs.getattr(ROOT_CRED, e.ino);
          } catch (err) {
            note(r, `${path}: entry points to inode ${e.ino} that cannot be read (${isCairnError(err) ? err.code : String(err)})`);
            continue;
          }
        }
        if (attr.type !== e.type) note(r, `${path}: entry says ${e.type}, inode ${e.ino} is a ${attr.type}`);
        if (attr.type === 'dir') subdirs++;
        const known = seen.get(e.ino);
        if (known) {
          known.links++;
          if (attr.type === 'dir') note(r, `${path}: directory inode ${e.ino} is also linked at ${known.path}`);
          continue;
        }
        seen.set(e.ino, { type: attr.type, nlink: attr.nlink, links: 1, path });
        r.visited++;
        onInode(r.visited);
        if (attr.type === 'dir') queue.push({ ino: e.ino, path, nlink: attr.nlink });
        else if (attr.type === 'file') r.files.push({ ino: e.ino, size: attr.size, path });
      }
      if (page.eof || page.entries.length === 0) break;
    }
    if (dir.nlink !== 2 + subdirs) note(r, `${dir.path}: directory link count ${dir.nlink}, expected ${2 + subdirs} (2 + ${subdirs} subdirectories)`);
  }
  for (const [ino, s] of seen) {
    if (s.type !== 'dir' && s.nlink !== s.links) note(r, `${s.path}: inode ${ino} link count ${s.nlink}, ${s.links} names found`);
  }
  return r;
}

/** fsck: the namespace walk plus the inode count statfs reports. */
export async function fsckNamespace(fs: Filesystem, ctx: JobContext): Promise<Record<string, unknown>> {
  const before = await fs.statfs();
  ctx.progress({ done: 0, total: before.inodes, unit: 'inodes' });
  const r = await walkNamespace(fs, ctx, (n) => ctx.progress({ done: n, total: Math.max(n, before.inodes), unit: 'inodes' }));
  const after = await fs.statfs();
  // Open-but-unlinked files are counted by statfs and unreachable by design.
  const unreachable = Math.min(before.inodes, after.inodes) - r.visited - after.openHandles;
  if (unreachable > 0) note(r, `${unreachable} inode(s) are counted by statfs but reachable from no directory`);
  ctx.progress({ done: r.visited, total: r.visited, unit: 'inodes' });
  return {
    ok: r.problemCount === 0, checker: 'namespace-walk', inodes: r.visited, directories: r.dirs, files: r.files.length,
    problems: r.problemCount, details: r.problems,
  };
}

/** scrub: reads every byte of every file (segments readable, extents consistent). */
export async function scrubFiles(fs: Filesystem, ctx: JobContext): Promise<Record<string, unknown>> {
  const walked = await walkNamespace(fs, ctx, (n) => ctx.progress({ done: n, unit: 'inodes scanned' }));
  const total = walked.files.reduce((a, f) => a + f.size, 0);
  let bytes = 0;
  let filesRead = 0;
  ctx.progress({ done: 0, total, bytes: 0, unit: 'bytes' });
  for (const f of walked.files) {
    for (let off = 0; off < f.size; off += SCRUB_CHUNK) {
      ctx.signal.throwIfAborted();
      const len = Math.min(SCRUB_CHUNK, f.size - off);
      try {
        const got = await fs.read(ROOT_CRED, f.ino, off, len);
        if (got.length !== len) note(walked, `${f.path}: read ${got.length} bytes at ${off}, expected ${len}`);
      } catch (err) {
        if (isCairnError(err, 'CAIRN_ERR_FS_STALE') || isCairnError(err, 'CAIRN_ERR_FS_NOT_FOUND')) break; // removed meanwhile
        note(walked, `${f.path}: read at ${off} failed (${isCairnError(err) ? err.code : String(err)})`);
        break;
      }
      bytes += len;
      ctx.progress({ done: bytes, total, bytes, unit: 'bytes' });
    }
    filesRead++;
  }
  return { ok: walked.problemCount === 0, files: filesRead, bytes, problems: walked.problemCount, details: walked.problems };
}
