// FsReader: typed asynchronous reads of one consistent moment (a headhunter
// read view, or a snapshot's), for operations that read several records
// (lookupPath, readdir, read, listxattr), snapshots and fsck. Every read of
// one FsReader sees the same commit. Operations that read one record use
// readInode / readDirent on the live trees instead: a single get is atomic and
// needs no view.

import { cairnError } from '@cairn/errors';
import type { ReadView } from '@cairn/headhunter';
import type { Extent, ExtentMap, ExtentValue } from '@cairn/segments';
import { TREES } from './format.js';
import type { Vol } from './context.js';
import {
  dircookieCodec, dircookieKey, direntCodec, direntKey, extentCodec, extentKey, inodeCodec, inodeKey, META_KEY, metaCodec,
  orphanCodec, orphanKey, xattrCodec, xattrKey,
  type DirentRec, type InodeRec, type MetaRec, type OrphanRec,
} from './records.js';
import { encodeKey, decodeKey } from '@cairn/headhunter';

/**
 * One inode from the live tree, without a view: a single get sees one commit,
 * which is all an operation reading one record needs (getattr, handles).
 */
export function readInode(v: Vol, ino: number): Promise<InodeRec | undefined> {
  // Plain promise chains, no async layers: getattr is the hottest call there is.
  return v.liveInodes.get(inodeKey(ino)).then((b) => (b === undefined ? undefined : inodeCodec.decode(b)));
}

/** The inode or ESTALE, from the live tree. */
export function mustReadInode(v: Vol, ino: number): Promise<InodeRec> {
  return v.liveInodes.get(inodeKey(ino)).then((b) => {
    if (b === undefined) throw cairnError('CAIRN_ERR_FS_STALE', `inode ${ino}`);
    return inodeCodec.decode(b);
  });
}

/** One directory entry from the live tree, without a view. */
export async function readDirent(v: Vol, dir: number, name: string): Promise<DirentRec | undefined> {
  const b = await v.liveDirents.get(direntKey(dir, name));
  return b === undefined ? undefined : direntCodec.decode(b);
}

export class FsReader {
  constructor(readonly view: ReadView) {}

  /** Runs fn over a fresh view of the newest commit and releases the view. */
  static async with<T>(v: Vol, fn: (r: FsReader) => Promise<T>): Promise<T> {
    const view = v.hh.view();
    try {
      return await fn(new FsReader(view));
    } finally {
      view.release();
    }
  }

  async meta(): Promise<MetaRec> {
    const b = await this.view.tree(TREES.meta).get(META_KEY);
    if (b === undefined) throw cairnError('CAIRN_ERR_FS_IO', 'no filesystem meta record');
    return metaCodec.decode(b);
  }

  async inode(ino: number): Promise<InodeRec | undefined> {
    const b = await this.view.tree(TREES.inodes).get(inodeKey(ino));
    return b === undefined ? undefined : inodeCodec.decode(b);
  }

  /** The inode or ESTALE. */
  async mustInode(ino: number): Promise<InodeRec> {
    const r = await this.inode(ino);
    if (r === undefined) throw cairnError('CAIRN_ERR_FS_STALE', `inode ${ino}`);
    return r;
  }

  async dirent(dir: number, name: string): Promise<DirentRec | undefined> {
    const b = await this.view.tree(TREES.dirents).get(direntKey(dir, name));
    return b === undefined ? undefined : direntCodec.decode(b);
  }

  /** Entries of a directory with cookie > after, in cookie order. */
  async entriesAfter(dir: number, after: number, limit: number): Promise<Array<{ cookie: number; name: string; ino: number; type: number }>> {
    const rows = await this.view.tree(TREES.dircookies).scan({ gt: dircookieKey(dir, after), lt: encodeKey([dir + 1]), limit });
    const out = new Array<{ cookie: number; name: string; ino: number; type: number }>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const d = dircookieCodec.decode(rows[i]!.value);
      out[i] = { cookie: decodeKey(rows[i]!.key)[1] as number, name: d.name, ino: d.ino, type: d.type };
    }
    return out;
  }

  async orphan(ino: number, kind: OrphanRec['kind']): Promise<OrphanRec | undefined> {
    const b = await this.view.tree(TREES.orphans).get(orphanKey(ino, kind));
    return b === undefined ? undefined : orphanCodec.decode(b);
  }

  async xattr(ino: number, name: string): Promise<Buffer | undefined> {
    const b = await this.view.tree(TREES.xattrs).get(xattrKey(ino, name));
    return b === undefined ? undefined : xattrCodec.decode(b).value;
  }

  async xattrNames(ino: number): Promise<string[]> {
    const out: string[] = [];
    for await (const e of this.view.tree(TREES.xattrs).range({ gte: encodeKey([ino]), lt: encodeKey([ino + 1]) })) {
      out.push(decodeKey(e.key)[1] as string);
    }
    return out;
  }

  /** The durable extents of a file (read-only ExtentMap view). */
  extentMap(ino: number): ExtentMap {
    return treeExtentMap(this.view.tree(TREES.extents), ino);
  }

  /**
   * The durable extents of a file from `from` on, up to `limit` of them and
   * none starting at or after `to`; the first may start before `from` (it
   * covers it). What a sequential reader gets to next, for read-ahead hints.
   */
  async extentsAhead(ino: number, from: number, to: number, limit: number): Promise<Extent[]> {
    const tree = this.view.tree(TREES.extents);
    const out: Extent[] = [];
    const floor = await tree.scan({ gte: encodeKey([ino]), lte: extentKey(ino, from), reverse: true, limit: 1 });
    for (const r of floor) {
      const e = { fileOffset: offsetOf(r.key), ...extentCodec.decode(r.value) };
      if (e.fileOffset + e.length > from) out.push(e);
    }
    const rows = await tree.scan({ gt: extentKey(ino, from), lt: extentKey(ino, to), limit: limit - out.length });
    for (const r of rows) out.push({ fileOffset: offsetOf(r.key), ...extentCodec.decode(r.value) });
    return out;
  }

  /** Every durable extent of a file in file order. */
  async allExtents(ino: number): Promise<Extent[]> {
    const out: Extent[] = [];
    for await (const e of this.view.tree(TREES.extents).range({ gte: encodeKey([ino]), lt: encodeKey([ino + 1]) })) {
      const v = extentCodec.decode(e.value);
      out.push({ fileOffset: decodeKey(e.key)[1] as number, ...v });
    }
    return out;
  }
}

/** The part of a TreeReader an extent map needs. */
interface ExtentTree {
  scan(options: { gte?: Uint8Array; gt?: Uint8Array; lt?: Uint8Array; lte?: Uint8Array; reverse?: boolean; limit?: number }): Promise<Array<{ key: Buffer; value: Buffer }>>;
}

function offsetOf(key: Buffer): number {
  return decodeKey(key)[1] as number;
}

/** A read-only ExtentMap over the `extents` tree for one file (put/delete throw). */
export function treeExtentMap(tree: ExtentTree, ino: number): ExtentMap {
  const lo = encodeKey([ino]);
  return {
    async floor(key: number) {
      const rows = await tree.scan({ gte: lo, lte: extentKey(ino, Math.max(0, Math.floor(key))), reverse: true, limit: 1 });
      if (key < 0 || rows.length === 0) return undefined;
      const r = rows[0]!;
      return [offsetOf(r.key), extentCodec.decode(r.value)] as const;
    },
    async scan(fromKey: number, toKey: number) {
      if (!(fromKey < toKey)) return [];
      const out: Array<readonly [number, ExtentValue]> = [];
      const hi = toKey === Infinity ? encodeKey([ino + 1]) : extentKey(ino, toKey);
      let from: { gte: Uint8Array } | { gt: Uint8Array } = { gte: extentKey(ino, Math.max(0, fromKey)) };
      for (;;) {
        const rows = await tree.scan({ ...from, lt: hi, limit: 1000 });
        for (const r of rows) out.push([offsetOf(r.key), extentCodec.decode(r.value)] as const);
        if (rows.length < 1000) return out;
        from = { gt: rows[rows.length - 1]!.key };
      }
    },
    async put() {
      throw cairnError('CAIRN_ERR_INTERNAL', 'read-only extent map');
    },
    async delete() {
      throw cairnError('CAIRN_ERR_INTERNAL', 'read-only extent map');
    },
  };
}
