// The create, unlink and counter paths build their records with fewer copies
// (dir.ts newInode, tx.ts addEntryAndTouch / removeEntryAndTouch / bumpMeta):
// the bytes they store must be exactly those of the step-by-step versions.

import { describe, expect, it } from 'vitest';
import type { Txn } from '@cairn/headhunter';
import { newInode } from './dir.js';
import { FIRST_ENTRY_COOKIE, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, S_ISGID, TREES } from './format.js';
import { compact, inodeCodec, inodeKey, META_KEY, metaCodec, orphanCodec, type InodeRec, type MetaRec, type OrphanRec } from './records.js';
import { FsTx } from './tx.js';

/** A Txn over one Map per tree (no B+Tree: the bytes are what matters here). */
function memTxn(): Txn & { bytes(tree: string, key: Buffer): Buffer | undefined } {
  const trees = new Map<string, Map<string, Buffer>>();
  const t = (name: string): Map<string, Buffer> => {
    let m = trees.get(name);
    if (m === undefined) trees.set(name, (m = new Map()));
    return m;
  };
  const hex = (k: Uint8Array): string => Buffer.from(k).toString('hex');
  return {
    get: (tree, key) => t(tree).get(hex(key)),
    has: (tree, key) => t(tree).has(hex(key)),
    scan: () => [],
    count: (tree) => t(tree).size,
    put: (tree, key, value) => void t(tree).set(hex(key), Buffer.from(value)),
    putOwned: (tree, key, value) => void t(tree).set(hex(key), value),
    del: (tree, key) => void t(tree).delete(hex(key)),
    bytes: (tree, key) => t(tree).get(hex(key)),
  };
}

const NOW = 1_763_800_000_123_456_000n;
const META: MetaRec = {
  format: 1, volumeId: 'v-1', dataContainers: ['c0', 'c1'], created: 5n, nextIno: 1000, nextJid: 77, journalFloor: 3, liveBytes: 12, storedBytes: 34,
};
const cred = { uid: 1000, gid: 1000 };

function dirs(): InodeRec[] {
  const base = {
    mode: S_IFDIR | 0o755, uid: 0, gid: 50, nlink: 3, size: 7, atime: 1n, mtime: 2n, ctime: 3n, btime: 4n, change: 9, dataVersion: 0, rdev: 0,
  };
  return [
    { ...base, parent: 1, nextCookie: 12 },
    { ...base, nextCookie: 12, parent: 1 },
    { ...base, parent: 1 }, // no cookie counter yet
    { ...base, mode: S_IFDIR | S_ISGID | 0o775, nextCookie: 3 },
    inodeCodec.decode(inodeCodec.encode({ ...base, nextCookie: 40, parent: 2 })),
  ];
}

/** newInode as it was: the record with spreads. */
function oldNewInode(rec: InodeRec, extra: Partial<InodeRec>): InodeRec {
  const { nextCookie: _n, ...rest } = rec;
  const type = rec.mode & S_IFMT;
  const plain = {
    mode: rest.mode, uid: rest.uid, gid: rest.gid, nlink: rest.nlink, size: 0,
    atime: NOW, mtime: NOW, ctime: NOW, btime: NOW, change: 0, dataVersion: 0, rdev: 0,
  };
  return { ...plain, ...(type === S_IFDIR ? { nextCookie: FIRST_ENTRY_COOKIE } : {}), ...extra };
}

describe('records built with fewer copies', () => {
  it('newInode: the same fields in the same order as before, with and without extras', () => {
    const t = new FsTx(memTxn(), { now: NOW, checkpointSeq: 0 });
    for (const d of dirs()) {
      for (const [mode, extra] of [
        [S_IFREG | 0o644, undefined], [S_IFDIR | 0o755, undefined], [S_IFREG | 0o644, {}], [S_IFLNK | 0o777, { target: 'x/y', size: 3 }],
        [S_IFREG | 0o644, { rdev: 5 }], [S_IFDIR | 0o700, { etag: { value: 'e', dataVersion: 1 } }],
      ] as Array<[number, Partial<InodeRec> | undefined]>) {
        const got = newInode(t, cred, d, mode, extra);
        const want = oldNewInode(got, extra ?? {});
        expect(Object.keys(got)).toEqual(Object.keys(want));
        expect(inodeCodec.encode(compact(got)).equals(inodeCodec.encode(compact(want)))).toBe(true);
      }
    }
  });

  it('addEntryAndTouch and removeEntryAndTouch store the bytes of putInode over addEntry / removeEntry', () => {
    for (const d of dirs()) {
      for (const delta of [0, 1]) {
        const a = memTxn();
        const ta = new FsTx(a, { now: NOW, checkpointSeq: 0 });
        ta.addEntryAndTouch(7, d, 'name', 99, S_IFREG | 0o644, delta);
        const b = memTxn();
        const tb = new FsTx(b, { now: NOW, checkpointSeq: 0 });
        const x = tb.addEntry(7, d, 'name', 99, S_IFREG | 0o644);
        tb.putInode(7, { ...x, mtime: NOW, ctime: NOW, nlink: x.nlink + delta });
        expect(a.bytes(TREES.inodes, inodeKey(7))!.equals(b.bytes(TREES.inodes, inodeKey(7))!)).toBe(true);
        for (const tree of [TREES.dirents, TREES.dircookies]) expect(a.count(tree)).toBe(1);
      }
      const e = { ino: 99, type: S_IFREG, cookie: 5 };
      const a = memTxn();
      new FsTx(a, { now: NOW, checkpointSeq: 0 }).removeEntryAndTouch(7, d, 'name', e);
      const b = memTxn();
      const tb = new FsTx(b, { now: NOW, checkpointSeq: 0 });
      const x = tb.removeEntry(7, d, 'name', e);
      tb.putInode(7, { ...x, mtime: NOW, ctime: NOW });
      expect(a.bytes(TREES.inodes, inodeKey(7))!.equals(b.bytes(TREES.inodes, inodeKey(7))!)).toBe(true);
    }
  });

  it('counters changed in place: the meta record written is the one setMeta would write, and records handed out never change', () => {
    const tx = memTxn();
    tx.put(TREES.meta, META_KEY, metaCodec.encode(META));
    const t = new FsTx(tx, { now: NOW, checkpointSeq: 0 });
    const seen = t.getMeta();
    expect(t.allocIno()).toBe(1000);
    expect(t.allocIno()).toBe(1001);
    const mid = t.getMeta();
    t.journal({ kind: 'create', ino: 1000 });
    t.journal({ kind: 'create', ino: 1001 });
    expect(seen.nextIno).toBe(1000);
    expect(mid.nextIno).toBe(1002);
    expect(mid.nextJid).toBe(77);
    t.setMeta({ liveBytes: 13 });
    expect(t.allocIno()).toBe(1002);
    t.finish();
    const want = metaCodec.encode({ ...META, nextIno: 1003, nextJid: 79, liveBytes: 13 });
    expect(tx.bytes(TREES.meta, Buffer.from(META_KEY))!.equals(want)).toBe(true);
    expect(t.journaled.map((j) => j.jid)).toEqual([77, 78]);
  });

  it('decoding builds the same records as before: fields, values and order (re-encoding depends on it)', () => {
    const base = {
      mode: S_IFREG | 0o644, uid: 1, gid: 2, nlink: 1, size: 5, atime: 1n, mtime: 2n, ctime: 3n, btime: 4n, change: 9, dataVersion: 3, rdev: 0,
    };
    const inodes: InodeRec[] = [
      base,
      { ...base, etag: { value: 'abc', dataVersion: 3 } },
      { ...base, mode: S_IFLNK | 0o777, target: 'a/b' },
      { ...base, mode: S_IFDIR | 0o755, nextCookie: 4, parent: 1 },
      { ...base, mode: S_IFDIR | 0o755, parent: 1, nextCookie: 4 },
      { ...base, etag: { value: 'e', dataVersion: 1 }, target: 't', nextCookie: 2, parent: 3 },
    ];
    for (const rec of inodes) {
      const got = inodeCodec.decode(inodeCodec.encode(rec));
      // As before: the twelve fields, then target, parent, nextCookie, etag when present.
      const want = {
        ...base, ...Object.fromEntries(Object.entries(rec).filter(([k]) => k in base)),
        ...(rec.target !== undefined ? { target: rec.target } : {}),
        ...(rec.parent !== undefined ? { parent: rec.parent } : {}),
        ...(rec.nextCookie !== undefined ? { nextCookie: rec.nextCookie } : {}),
        ...(rec.etag !== undefined ? { etag: rec.etag } : {}),
      };
      expect(got).toEqual(want);
      expect(Object.keys(got)).toEqual(Object.keys(want));
    }
    const orphans: OrphanRec[] = [
      { kind: 'unlinked', since: 5n }, { kind: 'unlinked', reclaiming: true, since: 6n }, { kind: 'trim', size: 10, since: 7n },
      { since: 8n, kind: 'trim', size: 0 } as OrphanRec,
    ];
    for (const o of orphans) {
      const got = orphanCodec.decode(orphanCodec.encode(o));
      const want = { kind: o.kind, ...(o.reclaiming === true ? { reclaiming: true } : {}), ...(o.size !== undefined ? { size: o.size } : {}), since: o.since };
      expect(got).toEqual(want);
      expect(Object.keys(got)).toEqual(Object.keys(want));
    }
  });
});
