// Walking object names in a volume: containers are top-level directories,
// object names are paths below them. Parent directories an object PUT needs
// are created on the way and marked implicit (user.cairn.implicit) so that
// deleting the last object below them removes them again, as a client of an
// object store expects; directories made any other way stay.

import { randomBytes } from 'node:crypto';
import { cairnError, isCairnError } from '@cairn/errors';
import type { FsAttr, VolumeFs } from './fs-port.js';
import { TMP_DIR } from './names.js';
import { XATTR_IMPLICIT } from './object-meta.js';

/** The top-level directory of a container; 404 (CAIRN_ERR_HTTP_NO_SUCH_CONTAINER) when missing or not a directory. */
export async function containerAttr(fs: VolumeFs, container: string): Promise<FsAttr> {
  const a = await lookupOrUndefined(fs, fs.rootIno, container);
  if (!a || a.type !== 'dir') throw cairnError('CAIRN_ERR_HTTP_NO_SUCH_CONTAINER', container);
  return a;
}

/** lookup, with "not found" (and "not a directory") as undefined. */
export async function lookupOrUndefined(fs: VolumeFs, dir: number, name: string): Promise<FsAttr | undefined> {
  try {
    return await fs.lookup(dir, name);
  } catch (err) {
    if (isCairnError(err, 'CAIRN_ERR_FS_NOT_FOUND') || isCairnError(err, 'CAIRN_ERR_FS_NOT_DIR') || isCairnError(err, 'CAIRN_ERR_FS_STALE')) return undefined;
    throw err;
  }
}

/** Resolves path segments below a directory; undefined when a component is missing or not a directory on the way. */
export async function resolvePath(fs: VolumeFs, dir: number, segments: readonly string[]): Promise<FsAttr | undefined> {
  let cur: FsAttr | undefined;
  let at = dir;
  for (let i = 0; i < segments.length; i++) {
    cur = await lookupOrUndefined(fs, at, segments[i]!);
    if (!cur) return undefined;
    if (i < segments.length - 1) {
      if (cur.type !== 'dir') return undefined;
      at = cur.ino;
    }
  }
  return cur;
}

/**
 * Makes sure the directories `segments` exist below `dir` (creating missing ones,
 * marked implicit); returns the innermost directory's inode. A component that
 * exists as something else than a directory is a 409 conflict.
 */
export async function ensureDirs(fs: VolumeFs, dir: number, segments: readonly string[], markImplicit = true): Promise<number> {
  let at = dir;
  for (const seg of segments) {
    let a = await lookupOrUndefined(fs, at, seg);
    if (!a) {
      try {
        a = await fs.mkdir(at, seg);
        if (markImplicit) await fs.setxattr(a.ino, XATTR_IMPLICIT, Buffer.from('1'));
      } catch (err) {
        if (!isCairnError(err, 'CAIRN_ERR_FS_EXISTS')) throw err;
        a = await fs.lookup(at, seg);
      }
    }
    if (a.type !== 'dir') throw cairnError('CAIRN_ERR_HTTP_CONFLICT', `${JSON.stringify(seg)} exists and is not a directory`);
    at = a.ino;
  }
  return at;
}

/**
 * After an object below `container` was removed: removes the now-empty implicit
 * parent directories `segments` (innermost first), stopping at the first one
 * that is not empty, not implicit, or gone.
 */
export async function pruneImplicitDirs(fs: VolumeFs, containerIno: number, segments: readonly string[]): Promise<void> {
  for (let depth = segments.length; depth > 0; depth--) {
    const parent = depth === 1 ? { ino: containerIno } : await resolvePath(fs, containerIno, segments.slice(0, depth - 1));
    if (!parent) return;
    const name = segments[depth - 1]!;
    const a = await lookupOrUndefined(fs, parent.ino, name);
    if (!a || a.type !== 'dir') return;
    if ((await fs.getxattr(a.ino, XATTR_IMPLICIT)) === undefined) return;
    try {
      await fs.rmdir(parent.ino, name);
    } catch (err) {
      if (isCairnError(err, 'CAIRN_ERR_FS_NOT_EMPTY') || isCairnError(err, 'CAIRN_ERR_FS_NOT_FOUND')) return;
      throw err;
    }
  }
}

/** True when a directory has no entries. */
export async function isEmptyDir(fs: VolumeFs, ino: number): Promise<boolean> {
  for await (const _ of fs.readdir(ino)) return false;
  return true;
}

/** The hidden working directory for uploads in progress (created on first use). */
export async function tmpDir(fs: VolumeFs): Promise<number> {
  return ensureDirs(fs, fs.rootIno, [TMP_DIR], false);
}

/** A fresh name for a temporary file (time-ordered, so sweeps can tell old ones). */
export function tmpName(): string {
  return `${Date.now().toString(36).padStart(9, '0')}-${randomBytes(8).toString('hex')}`;
}

/** Creates a temporary file in the working directory. */
export async function createTmpFile(fs: VolumeFs): Promise<{ dir: number; name: string; attr: FsAttr }> {
  const dir = await tmpDir(fs);
  const name = tmpName();
  const attr = await fs.createFile(dir, name);
  return { dir, name, attr };
}

/** Unlinks a file, ignoring "not found" (cleanup paths). */
export async function unlinkQuiet(fs: VolumeFs, dir: number, name: string): Promise<void> {
  try {
    await fs.unlink(dir, name);
  } catch (err) {
    if (!isCairnError(err, 'CAIRN_ERR_FS_NOT_FOUND')) throw err;
  }
}

/**
 * Removes temporary upload files older than `maxAgeMs` (left by a crash during
 * an upload). Returns how many were removed.
 */
export async function sweepTmp(fs: VolumeFs, maxAgeMs: number, now = Date.now()): Promise<number> {
  const dir = await lookupOrUndefined(fs, fs.rootIno, TMP_DIR);
  if (!dir || dir.type !== 'dir') return 0;
  const old: string[] = [];
  for await (const e of fs.readdir(dir.ino)) {
    const t = parseInt(e.name.split('-')[0] ?? '', 36);
    if (e.type === 'file' && Number.isFinite(t) && now - t > maxAgeMs) old.push(e.name);
  }
  for (const n of old) await unlinkQuiet(fs, dir.ino, n);
  return old.length;
}
