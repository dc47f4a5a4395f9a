// Snapshots: a snapshot keeps reading exactly the names, attributes, xattrs
// and bytes of its moment through overwrites, truncates, deletes, renames,
// cleaning, segment deletion and remounts; its segments are deleted only
// after the snapshot is gone (and no read of a handle on it runs); handles pin
// nothing; names and errors.

import { afterEach, describe, expect, it } from 'vitest';
import { segmentName } from '@cairn/segments';
import type { Vol } from './context.js';
import type { FilesystemImpl } from './fs.js';
import type { Attr, Filesystem, SnapshotFs } from './index.js';
import { ROOT_CRED as root } from './perms.js';
import { errnoOf, makeFs, user, type TestFs } from './testing/fixture.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fixture(): Promise<TestFs> {
  const t = await makeFs();
  cleanups.push(() => t.cleanup());
  return t;
}

function vol(fs: Filesystem): Vol {
  return (fs as unknown as FilesystemImpl).m.vol;
}

function pattern(len: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 131 + i * 7 + (i >> 8)) & 0xff;
  return b;
}

/** Attributes a snapshot must show unchanged (atime moves in the background on reads). */
function stable(a: Attr): Omit<Attr, 'atimeNs'> {
  const { atimeNs: _, ...rest } = a;
  return rest;
}

/** Every segment object a snapshot file's read plan names is stored. */
async function expectPlanStored(t: TestFs, s: SnapshotFs, ino: number): Promise<Set<string>> {
  const { plan } = await s.readPlan(root, ino, 0, 1 << 30);
  const objects = new Set<string>();
  for (const step of plan) {
    if (!('object' in step)) continue;
    await t.store.container(step.container).head(step.object);
    objects.add(`${step.container}/${step.object}`);
  }
  return objects;
}

/** Enough checkpoints for the deletion policy to allow segments that died before them. */
async function ageCheckpoints(fs: Filesystem): Promise<void> {
  for (let i = 0; i < 4; i++) await fs.checkpoint();
}

async function exists(t: TestFs, obj: string): Promise<boolean> {
  const [c, n] = [obj.slice(0, obj.indexOf('/')), obj.slice(obj.indexOf('/') + 1)];
  try {
    await t.store.container(c).head(n);
    return true;
  } catch {
    return false;
  }
}

describe('snapshots', () => {
  it('keep the names, attributes, xattrs and bytes of their moment through every change, cleaning, reclaim and remount', async () => {
    const t = await fixture();
    let fs = t.fs;
    const a = await fs.create(root, 1, 'a', 0o644);
    await fs.write(root, a.attr.ino, 0, pattern(100_000, 1));
    await fs.flushFile(a.attr.ino);
    const b = await fs.create(root, 1, 'b', 0o600);
    await fs.write(root, b.attr.ino, 0, pattern(50_000, 2));
    await fs.write(root, b.attr.ino, 70_000, pattern(10_000, 3)); // a hole, and not flushed: the snapshot flushes it
    const c = await fs.create(root, 1, 'c', 0o640);
    await fs.write(root, c.attr.ino, 0, pattern(5000, 4));
    const d = await fs.mkdir(root, 1, 'd', 0o750);
    const e = await fs.create(root, d.ino, 'e', 0o644);
    await fs.write(root, e.attr.ino, 0, pattern(3000, 5));
    await fs.symlink(root, d.ino, 'l', '../a');
    await fs.setxattr(root, a.attr.ino, 'user.k', Buffer.from('v1'));

    const info = await fs.createSnapshot('s1');
    expect(info).toMatchObject({ name: 's1', inodes: 7 });
    expect(info.createdAt).toBeGreaterThan(Date.now() - 60_000);
    const model = {
      bytes: new Map<number, Buffer>([
        [a.attr.ino, pattern(100_000, 1)],
        [b.attr.ino, Buffer.concat([pattern(50_000, 2), Buffer.alloc(20_000), pattern(10_000, 3)])],
        [c.attr.ino, pattern(5000, 4)],
        [e.attr.ino, pattern(3000, 5)],
      ]),
      attrs: new Map<number, Omit<Attr, 'atimeNs'>>(),
    };
    for (const ino of [1, a.attr.ino, b.attr.ino, c.attr.ino, d.ino, e.attr.ino]) model.attrs.set(ino, stable(await fs.getattr(root, ino)));
    const lAttr = stable(await fs.lookup(root, d.ino, 'l'));

    // Change everything.
    await fs.write(root, a.attr.ino, 0, pattern(100_000, 9));
    await fs.setattr(root, b.attr.ino, { size: 10, mode: 0o666 });
    await fs.unlink(root, 1, 'c');
    await fs.rename(root, d.ino, 'e', 1, 'e2');
    await fs.unlink(root, d.ino, 'l');
    await fs.setxattr(root, a.attr.ino, 'user.k', Buffer.from('v2'));
    await fs.setxattr(root, a.attr.ino, 'user.other', Buffer.from('x'));
    const n = await fs.create(root, 1, 'new', 0o644);
    await fs.write(root, n.attr.ino, 0, pattern(1000, 7));
    await fs.flushFile(a.attr.ino);
    await fs.flushFile(n.attr.ino);
    const v = vol(fs);
    const cleaned = await fs.clean({ minAgeMs: 0, bytesPerSecond: Infinity, includeSnapshotted: true, maxUtilization: 1 });
    expect(cleaned.canceled).toBe(false);
    await ageCheckpoints(fs);
    const before = await fs.reclaimSegments();
    expect(before.waiting).toBeGreaterThan(0); // the snapshot holds dead segments
    fs = await t.remount();
    expect(vol(fs)).not.toBe(v);
    await ageCheckpoints(fs);
    await fs.reclaimSegments();

    const s = await fs.openSnapshot('s1');
    expect(s.info.commitSeq).toBe(info.commitSeq);
    const names = (await s.readdir(root, 1)).entries.map((x) => x.name);
    expect(names.sort()).toEqual(['.', '..', 'a', 'b', 'c', 'd']);
    expect((await s.readdir(root, d.ino)).entries.map((x) => x.name).sort()).toEqual(['.', '..', 'e', 'l']);
    const plus = await s.readdirplus(root, 1);
    for (const x of plus.entries) if (x.name !== '.' && x.name !== '..') expect(stable(x.attr!)).toEqual(model.attrs.get(x.ino));
    for (const [ino, attr] of model.attrs) expect(stable(await s.getattr(root, ino))).toEqual(attr);
    expect(stable(await s.lookup(root, d.ino, 'l'))).toEqual(lAttr);
    expect(await s.readlink(root, lAttr.ino)).toBe('../a');
    expect((await s.lookupPath(root, '/d/l')).ino).toBe(a.attr.ino);
    expect((await s.lookupPath(root, 'd/e')).ino).toBe(e.attr.ino);
    expect(await errnoOf(s.lookupPath(root, '/e2'))).toBe('ENOENT');
    expect(await errnoOf(s.lookup(root, 1, 'new'))).toBe('ENOENT');
    for (const [ino, bytes] of model.bytes) {
      expect((await s.read(root, ino, 0, 1 << 20)).equals(bytes)).toBe(true);
      expect((await s.read(root, ino, 777, 1234)).equals(bytes.subarray(777, 777 + 1234))).toBe(true);
      expect((await s.readPlan(root, ino, 0, 1 << 20)).size).toBe(bytes.length);
    }
    expect((await s.getxattr(root, a.attr.ino, 'user.k')).toString()).toBe('v1');
    expect(await s.listxattr(root, a.attr.ino)).toEqual(['user.k']);
    expect(await errnoOf(s.getxattr(root, a.attr.ino, 'user.other'))).toBe('ENODATA');

    // Every segment the snapshot reads is stored; deleting the snapshot lets them go.
    const held = new Set<string>();
    for (const ino of model.bytes.keys()) for (const o of await expectPlanStored(t, s, ino)) held.add(o);
    await s.close();
    await expect(s.getattr(root, 1)).rejects.toMatchObject({ code: 'CAIRN_ERR_CLOSED' });
    const live = new Set<string>();
    for (const ino of [a.attr.ino, b.attr.ino, e.attr.ino, n.attr.ino]) {
      const { plan } = await fs.readPlan(root, ino, 0, 1 << 20);
      for (const step of plan) if ('object' in step) live.add(`${step.container}/${step.object}`);
    }
    const onlySnapshot = [...held].filter((o) => !live.has(o));
    expect(onlySnapshot.length).toBeGreaterThan(0);
    await fs.deleteSnapshot('s1');
    expect(await fs.listSnapshots()).toEqual([]);
    await ageCheckpoints(fs);
    const after = await fs.reclaimSegments();
    expect(after.deleted).toBeGreaterThan(0);
    for (const o of onlySnapshot) expect(await exists(t, o)).toBe(false);
    for (const o of live) expect(await exists(t, o)).toBe(true);
    expect((await fs.read(root, a.attr.ino, 0, 1 << 20)).equals(pattern(100_000, 9))).toBe(true);
  });

  it('a handle pins nothing: once its snapshot is deleted (or made again) its calls fail and the segments go', async () => {
    const t = await fixture();
    const fs = t.fs;
    const a = await fs.create(root, 1, 'a', 0o644);
    await fs.write(root, a.attr.ino, 0, pattern(20_000, 1));
    await fs.createSnapshot('s');
    const s = await fs.openSnapshot('s');
    expect(fs.stats().openSnapshots).toBe(1);
    await fs.write(root, a.attr.ino, 0, pattern(20_000, 2));
    await fs.flushFile(a.attr.ino);
    const held = await expectPlanStored(t, s, a.attr.ino);
    await ageCheckpoints(fs);
    const r0 = await fs.reclaimSegments();
    expect(r0.waiting).toBeGreaterThan(0);
    for (const o of held) expect(await exists(t, o)).toBe(true);
    // A read racing the deletion of its snapshot and the reclaim still gets the old bytes.
    const racing = s.read(root, a.attr.ino, 0, 30_000);
    const gone = fs.deleteSnapshot('s').then(() => fs.reclaimSegments());
    expect((await racing).equals(pattern(20_000, 1))).toBe(true);
    await gone;
    await expect(s.read(root, a.attr.ino, 0, 10)).rejects.toMatchObject({ code: 'CAIRN_ERR_META_SNAPSHOT_NOT_FOUND' });
    const r1 = await fs.reclaimSegments();
    expect(r0.waiting - r1.waiting).toBeGreaterThan(0);
    for (const o of held) expect(await exists(t, o)).toBe(false);
    // The same name again is another snapshot: the old handle does not read it.
    await fs.createSnapshot('s');
    await expect(s.getattr(root, 1)).rejects.toMatchObject({ code: 'CAIRN_ERR_META_SNAPSHOT_NOT_FOUND' });
    await s.close();
    await s.close(); // idempotent
    expect(fs.stats().openSnapshots).toBe(0);
    await expect(s.getattr(root, 1)).rejects.toMatchObject({ code: 'CAIRN_ERR_CLOSED' });
  });

  it('checks names, refuses duplicates and unknown names, checks permissions, and closes handles at unmount', async () => {
    const t = await fixture();
    const fs = t.fs;
    const f = await fs.create(root, 1, 'secret', 0o600);
    await fs.write(root, f.attr.ino, 0, Buffer.from('hidden'));
    for (const bad of ['', '.x', 'a/b', 'a b', 'x'.repeat(129), 'a:b', 42 as unknown as string]) {
      await expect(fs.createSnapshot(bad)).rejects.toMatchObject({ code: 'CAIRN_ERR_INVALID_ARGUMENT' });
    }
    const i1 = await fs.createSnapshot('daily-2024.01_01');
    await expect(fs.createSnapshot('daily-2024.01_01')).rejects.toMatchObject({ code: 'CAIRN_ERR_META_SNAPSHOT_EXISTS' });
    await expect(fs.deleteSnapshot('nope')).rejects.toMatchObject({ code: 'CAIRN_ERR_META_SNAPSHOT_NOT_FOUND' });
    await expect(fs.openSnapshot('nope')).rejects.toMatchObject({ code: 'CAIRN_ERR_META_SNAPSHOT_NOT_FOUND' });
    const i2 = await fs.createSnapshot('b');
    expect(i2.commitSeq).toBeGreaterThan(i1.commitSeq);
    expect((await fs.listSnapshots()).map((s) => s.name)).toEqual(['b', 'daily-2024.01_01']);
    expect(fs.stats().snapshots).toBe(2);
    const s = await fs.openSnapshot('b');
    expect(await errnoOf(s.read(user(1000), f.attr.ino, 0, 10))).toBe('EACCES');
    expect(await errnoOf(s.getxattr(user(1000), f.attr.ino, 'user.x'))).toBe('EACCES');
    expect((await s.read(root, f.attr.ino, 0, 10)).toString()).toBe('hidden');
    expect(await errnoOf(s.read(root, 1, 0, 10))).toBe('EISDIR');
    expect(await errnoOf(s.readlink(root, f.attr.ino))).toBe('EINVAL');
    expect(await errnoOf(s.getattr(root, 999))).toBe('ESTALE');
    // xattr errors as on the live volume (the file did not change since the snapshot).
    await fs.setxattr(root, f.attr.ino, 'trusted.t', Buffer.from('1')).catch(() => {});
    for (const [who, name] of [[root, 'user.'], [root, 'foo.bar'], [root, ''], [user(1000), 'trusted.t'], [user(1000), 'security.s'], [root, 'user.none']] as const) {
      const live = await errnoOf(fs.getxattr(who, f.attr.ino, name));
      expect(await errnoOf(s.getxattr(who, f.attr.ino, name)), `${name} as ${who.uid}`).toBe(live);
    }
    await t.remount();
    await expect(s.getattr(root, 1)).rejects.toMatchObject({ code: 'CAIRN_ERR_CLOSED' }); // a handle of the unmounted filesystem
    expect((await t.fs.listSnapshots()).map((x) => x.name)).toEqual(['b', 'daily-2024.01_01']);
  });
});
