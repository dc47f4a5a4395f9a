// fsck: a healthy volume has no problem; each kind of corruption, made by
// editing the trees directly through headhunter, is found exactly (and
// nothing else), and repair fixes it so that a second check finds nothing,
// also after a remount. Paths, progress, leaked segment objects.

import { decodeKey, encodeKey, type BatchOp } from '@cairn/headhunter';
import { segmentName } from '@cairn/segments';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Vol } from './context.js';
import { fsck, volumeOf, type FsckProblemKind, type FsckReport } from './fsck.js';
import { ROOT_INO, S_IFDIR, S_IFREG, TREES } from './format.js';
import { ROOT_CRED as root } from './index.js';
import {
  deadSegCodec, dircookieCodec, dircookieKey, direntCodec, direntKey, extentCodec, extentKey, inodeCodec, inodeKey, journalCodec, journalKey,
  META_KEY, metaCodec, nonceKey, orphanCodec, orphanKey, segmentCodec, xattrCodec, xattrKey,
  type DirentRec, type ExtentRec, type InodeRec, type MetaRec, type SegmentRec,
} from './records.js';
import { makeFs, type TestFs } from './testing/fixture.js';

let t: TestFs;
let v: Vol;
/** Inode numbers of the populated tree. */
let ino: { a: number; b: number; file: number; data: number; fifo: number; sym: number };
const big = Buffer.alloc(8192);
for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;

beforeEach(async () => {
  t = await makeFs();
  const fs = t.fs;
  const a = (await fs.mkdir(root, 1, 'a', 0o755)).ino;
  const b = (await fs.mkdir(root, a, 'b', 0o755)).ino;
  const file = (await fs.create(root, b, 'file', 0o644)).attr.ino;
  await fs.write(root, file, 0, Buffer.from('hello world'));
  await fs.flushFile(file);
  await fs.link(root, file, 1, 'hard');
  const sym = (await fs.symlink(root, 1, 'sym', 'a/b/file')).ino;
  const fifo = (await fs.mknod(root, 1, 'fifo', 0o010644)).ino;
  const data = (await fs.create(root, 1, 'data', 0o644)).attr.ino;
  await fs.write(root, data, 0, big.subarray(0, 4096));
  await fs.flushFile(data);
  await fs.write(root, data, 4096, big.subarray(4096));
  await fs.flushFile(data);
  await fs.setxattr(root, file, 'user.k', Buffer.from('v'));
  await fs.create(root, 1, 'tmp', 0o644);
  await fs.unlink(root, 1, 'tmp');
  v = volumeOf(fs);
  ino = { a, b, file, data, fifo, sym };
});

afterEach(async () => {
  await t.cleanup();
});

// ---- raw access -----------------------------------------------------------------

async function raw(ops: BatchOp[]): Promise<void> {
  await v.hh.batch(ops);
}
const put = (tree: string, key: Uint8Array, value: Uint8Array): BatchOp => ({ type: 'put', tree, key, value });
const del = (tree: string, key: Uint8Array): BatchOp => ({ type: 'del', tree, key });

async function inode(n: number): Promise<InodeRec> {
  return inodeCodec.decode((await v.hh.tree(TREES.inodes).get(inodeKey(n)))!);
}
async function dirent(dir: number, name: string): Promise<DirentRec> {
  return direntCodec.decode((await v.hh.tree(TREES.dirents).get(direntKey(dir, name)))!);
}
async function meta(): Promise<MetaRec> {
  return metaCodec.decode((await v.hh.tree(TREES.meta).get(META_KEY))!);
}
async function extents(n: number): Promise<Array<{ offset: number; e: ExtentRec }>> {
  const rows = await v.hh.tree(TREES.extents).scan({ gte: encodeKey([n]), lt: encodeKey([n + 1]) });
  return rows.map((r) => ({ offset: decodeKey(r.key)[1] as number, e: extentCodec.decode(r.value) }));
}
async function segment(nonce: bigint): Promise<SegmentRec> {
  return segmentCodec.decode((await v.hh.tree(TREES.segments).get(nonceKey(nonce)))!);
}
const putInode = (n: number, rec: InodeRec): BatchOp => put(TREES.inodes, inodeKey(n), inodeCodec.encode(rec));
const putMeta = (m: MetaRec): BatchOp => put(TREES.meta, META_KEY, metaCodec.encode(m));

function kinds(r: FsckReport): FsckProblemKind[] {
  return r.problems.map((p) => p.kind).sort();
}

/** fsck finds exactly `want`; repair fixes it; a second check and a check after a remount find nothing. */
async function expectFoundAndRepaired(want: FsckProblemKind[]): Promise<FsckReport> {
  const found = await fsck(t.fs, { leakGraceMs: 0 });
  expect(kinds(found)).toEqual([...want].sort());
  expect(found.ok).toBe(false);
  expect(JSON.parse(JSON.stringify(found)).problems).toHaveLength(want.length); // reports go through JSON as they are
  const fixed = await fsck(t.fs, { repair: true, leakGraceMs: 0 });
  expect(fixed.remaining).toEqual([]);
  expect(fixed.ok).toBe(true);
  expect(fixed.repairs).toBeGreaterThan(0);
  expect((await fsck(t.fs, { leakGraceMs: 0 })).problems).toEqual([]);
  await t.remount();
  v = volumeOf(t.fs);
  const after = await fsck(t.fs, { leakGraceMs: 0 });
  expect(after.problems).toEqual([]);
  return found;
}

// ---- tests ----------------------------------------------------------------------------

describe('fsck of a healthy volume', () => {
  it('finds nothing, counts what is there, reports progress up to the total', async () => {
    const progress: Array<{ phase: string; done: number; total: number }> = [];
    const r = await fsck(t.fs, { onProgress: (p) => progress.push(p), leakGraceMs: 0 });
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.counts).toMatchObject({ inodes: 7, directories: 3, files: 2, entries: 7, xattrs: 1, orphans: 0 });
    expect(r.counts.extents).toBe(3);
    expect(r.counts.liveBytes).toBe(11 + 8192);
    expect(r.leaks.segments).toBe(0);
    const scan = progress.filter((p) => p.phase === 'scan');
    expect(scan.length).toBeGreaterThan(0);
    expect(scan[scan.length - 1]!.done).toBe(scan[scan.length - 1]!.total);
    expect(progress.some((p) => p.phase === 'trees')).toBe(true);
  });

  it('a repair of a healthy volume changes nothing', async () => {
    const before = await v.hh.view().commitSeq;
    const r = await fsck(t.fs, { repair: true, leakGraceMs: 0 });
    expect(r).toMatchObject({ ok: true, repairs: 0, passes: 1 });
    expect(v.hh.stats().commitSeq).toBe(before);
  });

  it('accepts open-unlinked orphans and pending truncates', async () => {
    const f = await t.fs.create(root, 1, 'open', 0o644, { open: { write: true } });
    await t.fs.write(root, f.attr.ino, 0, Buffer.from('still open'));
    await t.fs.flushFile(f.attr.ino);
    await t.fs.unlink(root, 1, 'open');
    expect((await fsck(t.fs)).problems).toEqual([]);
    await t.fs.release(f.fh!);
    expect((await fsck(t.fs)).problems).toEqual([]);
  });
});

describe('fsck finds each kind of problem and repairs it', () => {
  it('dirent-dangling: an entry naming a missing inode (repair removes it)', async () => {
    await raw([del(TREES.inodes, inodeKey(ino.fifo))]);
    const r = await expectFoundAndRepaired(['dirent-dangling']);
    expect(r.problems[0]).toMatchObject({ path: '/fifo', ino: ino.fifo, repairable: true });
    await expect(t.fs.lookup(root, 1, 'fifo')).rejects.toMatchObject({ errno: 'ENOENT' });
  });

  it('dirent-dir: an entry inside a file', async () => {
    await raw([put(TREES.dirents, direntKey(ino.data, 'x'), direntCodec.encode({ ino: ino.fifo, type: 0o010000, cookie: 3 }))]);
    await expectFoundAndRepaired(['dirent-dir']);
  });

  it('dirent-type: type bits that differ from the inode', async () => {
    const e = await dirent(1, 'fifo');
    await raw([
      put(TREES.dirents, direntKey(1, 'fifo'), direntCodec.encode({ ...e, type: S_IFREG })),
      put(TREES.dircookies, dircookieKey(1, e.cookie), dircookieCodec.encode({ name: 'fifo', ino: ino.fifo, type: S_IFREG })),
    ]);
    await expectFoundAndRepaired(['dirent-type']);
    expect((await t.fs.readdir(root, 1)).entries.find((x) => x.name === 'fifo')?.type).toBe('fifo');
  });

  it('dirent-cookie: an entry without its cookie record', async () => {
    const e = await dirent(1, 'sym');
    await raw([del(TREES.dircookies, dircookieKey(1, e.cookie))]);
    await expectFoundAndRepaired(['dirent-cookie']);
    expect((await t.fs.readdir(root, 1)).entries.map((x) => x.name)).toContain('sym');
  });

  it('cookie-orphan: a cookie record without its entry', async () => {
    // The cookie 'tmp' had: below nextCookie and unused, so only the record is wrong.
    const cookie = (await inode(1)).nextCookie! - 1;
    await raw([put(TREES.dircookies, dircookieKey(1, cookie), dircookieCodec.encode({ name: 'tmp', ino: 999, type: S_IFREG }))]);
    await expectFoundAndRepaired(['cookie-orphan']);
  });

  it('cookie-duplicate: two entries with one cookie (with the records that follow from it)', async () => {
    const sym = await dirent(1, 'sym');
    const fifo = await dirent(1, 'fifo');
    await raw([put(TREES.dirents, direntKey(1, 'fifo'), direntCodec.encode({ ...fifo, cookie: sym.cookie }))]);
    await expectFoundAndRepaired(['cookie-duplicate', 'cookie-orphan', 'dirent-cookie']);
    const names = (await t.fs.readdir(root, 1)).entries.map((x) => x.name).sort();
    expect(names).toEqual(['.', '..', 'a', 'data', 'fifo', 'hard', 'sym']);
  });

  it('cookie-range: nextCookie not above the cookies in use', async () => {
    await raw([putInode(1, { ...(await inode(1)), nextCookie: 3 })]);
    await expectFoundAndRepaired(['cookie-range']);
    await t.fs.create(root, 1, 'new', 0o644);
    expect((await fsck(t.fs)).problems).toEqual([]);
  });

  it('nlink: a file link count that differs from its entries', async () => {
    await raw([putInode(ino.file, { ...(await inode(ino.file)), nlink: 5 })]);
    const r = await expectFoundAndRepaired(['nlink']);
    expect(r.problems[0]!.path).toMatch(/^\/(a\/b\/file|hard)$/);
    expect((await t.fs.getattr(root, ino.file)).nlink).toBe(2);
  });

  it('dir-size: a directory size that is not its number of entries', async () => {
    const before = (await t.fs.getattr(root, ino.a)).size;
    expect(before).toBeGreaterThan(0);
    await raw([putInode(ino.a, { ...(await inode(ino.a)), size: before + 7 })]);
    const r = await expectFoundAndRepaired(['dir-size']);
    expect(r.problems[0]).toMatchObject({ path: '/a', ino: ino.a });
    expect((await t.fs.getattr(root, ino.a)).size).toBe(before);
  });

  it('nlink: a directory link count that is not 2 + subdirectories', async () => {
    await raw([putInode(ino.a, { ...(await inode(ino.a)), nlink: 7 })]);
    const r = await expectFoundAndRepaired(['nlink']);
    expect(r.problems[0]).toMatchObject({ path: '/a', ino: ino.a });
    expect((await t.fs.getattr(root, ino.a)).nlink).toBe(3);
  });

  it('dir-parent: a directory whose parent is not the directory naming it', async () => {
    await raw([putInode(ino.b, { ...(await inode(ino.b)), parent: 1 })]);
    await expectFoundAndRepaired(['dir-parent']);
    expect((await t.fs.lookup(root, ino.b, '..')).ino).toBe(ino.a);
  });

  it('dir-links: a directory named twice (the root then has a link too many)', async () => {
    const rootRec = await inode(1);
    const cookie = rootRec.nextCookie!;
    await raw([
      put(TREES.dirents, direntKey(1, 'b2'), direntCodec.encode({ ino: ino.b, type: S_IFDIR, cookie })),
      put(TREES.dircookies, dircookieKey(1, cookie), dircookieCodec.encode({ name: 'b2', ino: ino.b, type: S_IFDIR })),
      putInode(1, { ...rootRec, nextCookie: cookie + 1 }),
    ]);
    await expectFoundAndRepaired(['dir-links', 'dir-size', 'nlink']);
    await expect(t.fs.lookup(root, 1, 'b2')).rejects.toMatchObject({ errno: 'ENOENT' });
    expect((await t.fs.lookupPath(root, '/a/b')).ino).toBe(ino.b);
  });

  it('unreachable: a file in no directory goes to /lost+found', async () => {
    const e = await dirent(1, 'data');
    await raw([del(TREES.dirents, direntKey(1, 'data')), del(TREES.dircookies, dircookieKey(1, e.cookie))]);
    await expectFoundAndRepaired(['dir-size', 'unreachable']);
    const found = await t.fs.lookupPath(root, `/lost+found/#${ino.data}`);
    expect(found).toMatchObject({ ino: ino.data, nlink: 1, size: 8192 });
    expect((await t.fs.read(root, ino.data, 0, 8192)).equals(big)).toBe(true);
  });

  it('unreachable: a directory subtree in no directory goes to /lost+found whole', async () => {
    const e = await dirent(1, 'a');
    await raw([del(TREES.dirents, direntKey(1, 'a')), del(TREES.dircookies, dircookieKey(1, e.cookie))]);
    await expectFoundAndRepaired(['dir-size', 'nlink', 'unreachable']);
    const f = await t.fs.lookupPath(root, `/lost+found/#${ino.a}/b/file`);
    expect(f.ino).toBe(ino.file);
    expect((await t.fs.lookupPath(root, `/lost+found/#${ino.a}/..`)).ino).toBe((await t.fs.lookup(root, 1, 'lost+found')).ino);
    expect((await t.fs.getattr(root, 1)).nlink).toBe(3);
  });

  it('unreachable: a cycle of directories is cut and linked into /lost+found', async () => {
    const e = await dirent(1, 'a');
    const b = await inode(ino.b);
    const cookie = b.nextCookie!;
    await raw([
      del(TREES.dirents, direntKey(1, 'a')), del(TREES.dircookies, dircookieKey(1, e.cookie)),
      put(TREES.dirents, direntKey(ino.b, 'up'), direntCodec.encode({ ino: ino.a, type: S_IFDIR, cookie })),
      put(TREES.dircookies, dircookieKey(ino.b, cookie), dircookieCodec.encode({ name: 'up', ino: ino.a, type: S_IFDIR })),
      putInode(ino.b, { ...b, nextCookie: cookie + 1 }),
    ]);
    const r = await expectFoundAndRepaired(['dir-parent', 'dir-size', 'dir-size', 'nlink', 'nlink', 'unreachable']);
    expect(r.problems.find((p) => p.kind === 'unreachable')).toMatchObject({ ino: ino.a });
    expect((await t.fs.lookupPath(root, `/lost+found/#${ino.a}/b/file`)).ino).toBe(ino.file);
  });

  it('orphan-stale: an unlinked-orphan record of a linked file, a trim record of a missing inode', async () => {
    await raw([
      put(TREES.orphans, orphanKey(ino.file, 'unlinked'), orphanCodec.encode({ kind: 'unlinked', since: 1n })),
      put(TREES.orphans, orphanKey(4242, 'trim'), orphanCodec.encode({ kind: 'trim', size: 0, since: 1n })),
    ]);
    await expectFoundAndRepaired(['orphan-stale', 'orphan-stale']);
    expect((await t.fs.read(root, ino.file, 0, 100)).toString()).toBe('hello world');
  });

  it('extent-inode: extents of a missing inode (their bytes go back to the segment)', async () => {
    const [x] = await extents(ino.file);
    await raw([put(TREES.extents, extentKey(4242, 0), extentCodec.encode(x!.e))]);
    await expectFoundAndRepaired(['extent-inode', 'segment-live']);
    expect((await segment(x!.e.nonce)).live).toBe(11);
  });

  it('extent-overlap: two extents of a file that overlap', async () => {
    const [, second] = await extents(ino.data);
    await raw([del(TREES.extents, extentKey(ino.data, 4096)), put(TREES.extents, extentKey(ino.data, 4000), extentCodec.encode(second!.e))]);
    await expectFoundAndRepaired(['extent-overlap']);
    const xs = await extents(ino.data);
    expect(xs.map((x) => [x.offset, x.e.length])).toEqual([[0, 4000], [4000, 4096]]);
  });

  it('extent-past-size: extents past the size (repair trims them)', async () => {
    await raw([putInode(ino.data, { ...(await inode(ino.data)), size: 100 })]);
    await expectFoundAndRepaired(['extent-past-size']);
    expect((await extents(ino.data)).map((x) => [x.offset, x.e.length])).toEqual([[0, 100]]);
    expect((await t.fs.read(root, ino.data, 0, 1000)).equals(big.subarray(0, 100))).toBe(true);
  });

  it('extent-segment: an extent naming an unrecorded segment becomes a hole', async () => {
    const [, second] = await extents(ino.data);
    await raw([del(TREES.segments, nonceKey(second!.e.nonce))]);
    await expectFoundAndRepaired(['extent-segment', 'meta-live-bytes', 'meta-stored-bytes']);
    const got = await t.fs.read(root, ino.data, 0, 8192);
    expect(got.subarray(0, 4096).equals(big.subarray(0, 4096))).toBe(true);
    expect(got.subarray(4096).equals(Buffer.alloc(4096))).toBe(true);
  });

  it('extent-segment: an extent naming a dead segment revives it', async () => {
    const [, second] = await extents(ino.data);
    const seg = await segment(second!.e.nonce);
    await raw([
      del(TREES.segments, nonceKey(second!.e.nonce)),
      put(TREES.deadsegs, nonceKey(second!.e.nonce), deadSegCodec.encode({ container: seg.container, size: seg.size, died: 1, checkpoint: 0 })),
    ]);
    await expectFoundAndRepaired(['extent-segment', 'meta-live-bytes']);
    expect((await t.fs.read(root, ino.data, 0, 8192)).equals(big)).toBe(true);
    expect((await segment(second!.e.nonce)).live).toBe(4096);
  });

  it('extent-segment-range: an extent past its segment data', async () => {
    const [, second] = await extents(ino.data);
    const seg = await segment(second!.e.nonce);
    await raw([put(TREES.segments, nonceKey(second!.e.nonce), segmentCodec.encode({ ...seg, size: 1000 }))]);
    await expectFoundAndRepaired(['extent-segment-range', 'meta-stored-bytes']);
  });

  it('segment-live, meta-live-bytes: live bytes that differ from the extents', async () => {
    const [x] = await extents(ino.file);
    const seg = await segment(x!.e.nonce);
    await raw([put(TREES.segments, nonceKey(x!.e.nonce), segmentCodec.encode({ ...seg, live: seg.live + 1000 }))]);
    await expectFoundAndRepaired(['meta-live-bytes', 'segment-live']);
    expect((await segment(x!.e.nonce)).live).toBe(11);
    expect((await meta()).liveBytes).toBe(11 + 8192);
  });

  it('segment-dead: a segment recorded live and dead', async () => {
    const [x] = await extents(ino.file);
    const seg = await segment(x!.e.nonce);
    await raw([put(TREES.deadsegs, nonceKey(x!.e.nonce), deadSegCodec.encode({ container: seg.container, size: seg.size, died: 1, checkpoint: 0 }))]);
    await expectFoundAndRepaired(['segment-dead']);
  });

  it('segment-container: a segment recorded in the wrong container', async () => {
    const [x] = await extents(ino.file);
    const seg = await segment(x!.e.nonce);
    await raw([put(TREES.segments, nonceKey(x!.e.nonce), segmentCodec.encode({ ...seg, container: 'elsewhere' }))]);
    await expectFoundAndRepaired(['segment-container']);
  });

  it('meta counters: storedBytes and nextIno', async () => {
    const m = await meta();
    await raw([putMeta({ ...m, storedBytes: m.storedBytes + 5, nextIno: 3 })]);
    await expectFoundAndRepaired(['meta-next-ino', 'meta-stored-bytes']);
    const n = (await t.fs.create(root, 1, 'after', 0o644)).attr.ino;
    expect(n).toBeGreaterThan(ino.data);
  });

  it('journal-gap: a missing journal entry moves the floor past it (older cursors must rescan)', async () => {
    const m = await meta();
    const mid = Math.floor((m.journalFloor + m.nextJid) / 2);
    await raw([del(TREES.journal, journalKey(mid))]);
    await expectFoundAndRepaired(['journal-gap']);
    expect((await meta()).journalFloor).toBe(mid + 1);
    await expect(t.fs.listChanges(0)).rejects.toMatchObject({ code: 'CAIRN_ERR_FS_CURSOR_EXPIRED' });
    expect((await t.fs.listChanges(mid)).changes[0]!.jid).toBe(mid + 1);
  });

  it('journal-range: an entry past nextJid and entries below the floor', async () => {
    const m = await meta();
    await raw([
      put(TREES.journal, journalKey(m.nextJid + 3), journalCodec.encode({ kind: 'create', ino: 1, time: 1n })),
      putMeta({ ...m, journalFloor: m.journalFloor + 2 }),
    ]);
    await expectFoundAndRepaired(['journal-range', 'journal-range']);
    expect((await meta()).nextJid).toBe(m.nextJid + 4);
  });

  it('xattr-inode: xattrs of a missing inode', async () => {
    await raw([put(TREES.xattrs, xattrKey(4242, 'user.x'), xattrCodec.encode({ value: Buffer.from('1') }))]);
    await expectFoundAndRepaired(['xattr-inode']);
  });

  it('bad-record: an undecodable entry is deleted', async () => {
    await raw([put(TREES.dirents, direntKey(1, 'junk'), Buffer.from([1, 2, 3]))]);
    const r = await expectFoundAndRepaired(['bad-record']);
    expect(r.problems[0]!.message).toContain('dirents');
  });

  it('root: a missing root directory is recreated, its entries kept', async () => {
    await raw([del(TREES.inodes, inodeKey(ROOT_INO))]);
    await expectFoundAndRepaired(['root']);
    expect((await t.fs.lookupPath(root, '/a/b/file')).ino).toBe(ino.file);
    expect((await t.fs.getattr(root, 1)).nlink).toBe(3);
  });

  it('an undecodable inode is reported, not repaired, and its entries are left alone', async () => {
    await raw([put(TREES.inodes, inodeKey(ino.fifo), Buffer.from([9, 9]))]);
    const r = await fsck(t.fs, { repair: true });
    expect(kinds(r)).toEqual(['bad-record']);
    expect(r.remaining.map((p) => p.kind)).toEqual(['bad-record']);
    expect(r.problems[0]!.repairable).toBe(false);
    expect(await v.hh.tree(TREES.dirents).has(direntKey(1, 'fifo'))).toBe(true);
  });
});

describe('leaked segment objects', () => {
  it('counts objects no record names once they are older than the grace period; repair deletes them', async () => {
    const m = await meta();
    const nonce = await v.hh.nextNonce(); // handed out, never committed: what a crash after the PUT leaves
    const loc = v.locate(nonce);
    expect(await v.hh.tree(TREES.segments).has(nonceKey(nonce))).toBe(false);
    await t.store.container(loc.container).put(segmentName(nonce), Buffer.alloc(100));
    expect(m.dataContainers).toContain(loc.container);
    const fresh = await fsck(t.fs);
    // Young objects are not examined further: the three live segments and the leak.
    expect(fresh.leaks).toMatchObject({ segments: 0, recent: 4 });
    const old = await fsck(t.fs, { leakGraceMs: 0 });
    expect(old.ok).toBe(true);
    expect(old.leaks).toMatchObject({ segments: 1, bytes: 100, nonces: [String(nonce)], recent: 0 });
    const r = await fsck(t.fs, { repair: true, leakGraceMs: 0 });
    expect(r.leaks.deleted).toBe(1);
    await expect(t.store.container(loc.container).head(segmentName(nonce))).rejects.toMatchObject({ code: 'CAIRN_ERR_OBJ_NOT_FOUND' });
  });
});
