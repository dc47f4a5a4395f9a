// Filesystem operations for the FUSE differential test: a small model of what
// programs do (write at an offset, truncate, read, mkdir, rmdir, unlink,
// rename, link, symlink, chmod, readdir, stat), applied with node:fs to a
// root directory, each answering its value or the errno code; and a snapshot
// of a whole tree (types, sizes, modes, link counts, contents, symlink
// targets) to compare two trees. Run in the fs-worker child process: the
// test process serves the mount, so it must not block on it.

import { createHash } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import { join } from 'node:path';

export type FsOp =
  | { op: 'write'; path: string; offset: number; data: string }
  | { op: 'truncate'; path: string; size: number }
  | { op: 'read'; path: string }
  | { op: 'mkdir'; path: string }
  | { op: 'rmdir'; path: string }
  | { op: 'unlink'; path: string }
  | { op: 'rename'; from: string; to: string }
  | { op: 'link'; from: string; to: string }
  | { op: 'symlink'; target: string; path: string }
  | { op: 'chmod'; path: string; mode: number }
  | { op: 'readdir'; path: string }
  | { op: 'stat'; path: string };

export type OpResult = { ok: true; value?: unknown } | { ok: false; code: string };

async function apply(root: string, o: FsOp): Promise<unknown> {
  const p = (rel: string): string => join(root, rel);
  switch (o.op) {
    case 'write': {
      const fh = await fsp.open(p(o.path), constants.O_CREAT | constants.O_RDWR, 0o644);
      try {
        await fh.write(Buffer.from(o.data), 0, Buffer.byteLength(o.data), o.offset);
      } finally {
        await fh.close();
      }
      return undefined;
    }
    case 'truncate':
      return fsp.truncate(p(o.path), o.size);
    case 'read':
      return (await fsp.readFile(p(o.path))).toString('utf8');
    case 'mkdir':
      return fsp.mkdir(p(o.path), 0o755);
    case 'rmdir':
      return fsp.rmdir(p(o.path));
    case 'unlink':
      return fsp.unlink(p(o.path));
    case 'rename':
      return fsp.rename(p(o.from), p(o.to));
    case 'link':
      return fsp.link(p(o.from), p(o.to));
    case 'symlink':
      return fsp.symlink(o.target, p(o.path));
    case 'chmod':
      return fsp.chmod(p(o.path), o.mode);
    case 'readdir':
      return (await fsp.readdir(p(o.path))).sort();
    case 'stat': {
      const s = await fsp.lstat(p(o.path));
      return { type: s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'symlink' : 'file', size: s.isDirectory() ? 0 : s.size, mode: s.mode & 0o7777, nlink: s.isDirectory() ? 0 : s.nlink };
    }
  }
}

/** Applies `ops` in order under `root`; a failed op answers its errno code and the run goes on. */
export async function applyOps(root: string, ops: readonly FsOp[]): Promise<OpResult[]> {
  const out: OpResult[] = [];
  for (const o of ops) {
    try {
      const value = await apply(root, o);
      out.push(value === undefined ? { ok: true } : { ok: true, value });
    } catch (err) {
      out.push({ ok: false, code: (err as NodeJS.ErrnoException).code ?? String(err) });
    }
  }
  return out;
}

export interface TreeEntry {
  readonly path: string;
  readonly type: 'file' | 'dir' | 'symlink' | 'other';
  readonly mode: number;
  readonly size?: number;
  readonly nlink?: number;
  readonly sha256?: string;
  readonly target?: string;
}

/** Every entry under `root`, sorted by path. */
export async function snapshot(root: string, rel = ''): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  for (const name of (await fsp.readdir(join(root, rel))).sort()) {
    const path = rel === '' ? name : `${rel}/${name}`;
    const full = join(root, path);
    const s = await fsp.lstat(full);
    if (s.isDirectory()) {
      out.push({ path, type: 'dir', mode: s.mode & 0o7777 });
      out.push(...(await snapshot(root, path)));
    } else if (s.isSymbolicLink()) {
      out.push({ path, type: 'symlink', mode: 0, target: await fsp.readlink(full) });
    } else if (s.isFile()) {
      const sha256 = createHash('sha256').update(await fsp.readFile(full)).digest('hex');
      out.push({ path, type: 'file', mode: s.mode & 0o7777, size: s.size, nlink: s.nlink, sha256 });
    } else {
      out.push({ path, type: 'other', mode: s.mode & 0o7777 });
    }
  }
  return out;
}
