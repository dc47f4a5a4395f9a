// fsck on a volume in use: random operation sequences (issued concurrently)
// leave nothing for fsck to find, before and after a crash; checks running
// while operations run see one consistent moment (no false problems); a
// repair racing operations fixes the corruption without undoing any of them.

import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanSegments } from './cleaner.js';
import { fsck, volumeOf, type FsckReport } from './fsck.js';
import { TREES } from './format.js';
import { ROOT_CRED as root, type Filesystem } from './index.js';
import { inodeCodec, inodeKey } from './records.js';
import { makeFs, type TestFs } from './testing/fixture.js';

let t: TestFs | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

type Op =
  | { k: 'create' | 'mkdir' | 'unlink' | 'rmdir'; d: number; n: number }
  | { k: 'write'; f: number; off: number; len: number }
  | { k: 'truncate'; f: number; size: number }
  | { k: 'rename'; d: number; n: number; d2: number; n2: number }
  | { k: 'link'; f: number; d: number; n: number }
  | { k: 'xattr'; f: number }
  | { k: 'clone'; f: number; d: number; n: number }
  | { k: 'open-unlink'; d: number; n: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constantFrom('create' as const, 'mkdir' as const, 'unlink' as const, 'rmdir' as const), d: fc.nat(3), n: fc.nat(5) }),
  fc.record({ k: fc.constant('write' as const), f: fc.nat(20), off: fc.nat(3000), len: fc.integer({ min: 1, max: 2000 }) }),
  fc.record({ k: fc.constant('truncate' as const), f: fc.nat(20), size: fc.nat(4000) }),
  fc.record({ k: fc.constant('rename' as const), d: fc.nat(3), n: fc.nat(5), d2: fc.nat(3), n2: fc.nat(5) }),
  fc.record({ k: fc.constant('link' as const), f: fc.nat(20), d: fc.nat(3), n: fc.nat(5) }),
  fc.record({ k: fc.constant('xattr' as const), f: fc.nat(20) }),
  fc.record({ k: fc.constant('clone' as const), f: fc.nat(20), d: fc.nat(3), n: fc.nat(5) }),
  fc.record({ k: fc.constant('open-unlink' as const), d: fc.nat(3), n: fc.nat(5) }),
);

/** Runs one operation against whatever exists (errors such as ENOENT or EEXIST are part of the game). */
async function run(fs: Filesystem, o: Op, dirs: number[], files: number[]): Promise<void> {
  const dir = (i: number): number => dirs[i % dirs.length]!;
  const file = (i: number): number | undefined => (files.length === 0 ? undefined : files[i % files.length]);
  const name = (n: number): string => `n${n}`;
  switch (o.k) {
    case 'create':
      files.push((await fs.create(root, dir(o.d), name(o.n), 0o644)).attr.ino);
      return;
    case 'mkdir':
      dirs.push((await fs.mkdir(root, dir(o.d), name(o.n), 0o755)).ino);
      return;
    case 'unlink':
      return fs.unlink(root, dir(o.d), name(o.n));
    case 'rmdir':
      return fs.rmdir(root, dir(o.d), name(o.n));
    case 'rename':
      return fs.rename(root, dir(o.d), name(o.n), dir(o.d2), name(o.n2));
    case 'write': {
      const f = file(o.f);
      if (f === undefined) return;
      await fs.write(root, f, o.off, Buffer.alloc(o.len, o.len & 0xff));
      if (o.len % 3 === 0) await fs.flushFile(f);
      return;
    }
    case 'truncate': {
      const f = file(o.f);
      if (f !== undefined) await fs.setattr(root, f, { size: o.size });
      return;
    }
    case 'link': {
      const f = file(o.f);
      if (f !== undefined) await fs.link(root, f, dir(o.d), name(o.n));
      return;
    }
    case 'xattr': {
      const f = file(o.f);
      if (f !== undefined) await fs.setxattr(root, f, 'user.x', Buffer.from('1'));
      return;
    }
    case 'clone': {
      const f = file(o.f);
      if (f === undefined) return;
      const dst = (await fs.create(root, dir(o.d), name(o.n), 0o644)).attr.ino;
      files.push(dst);
      await fs.flushFile(f);
      await fs.cloneFile(root, f, dst);
      return;
    }
    case 'open-unlink': {
      const c = await fs.create(root, dir(o.d), name(o.n), 0o644, { open: { write: true } });
      await fs.write(root, c.attr.ino, 0, Buffer.from('open'));
      await fs.unlink(root, dir(o.d), name(o.n));
      await fs.flushFile(c.attr.ino);
      await fs.release(c.fh!);
    }
  }
}

async function runAll(fs: Filesystem, ops: Op[], dirs: number[], files: number[]): Promise<void> {
  // Three at a time: operations race each other like a busy client's would.
  for (let i = 0; i < ops.length; i += 3) {
    await Promise.allSettled(ops.slice(i, i + 3).map((o) => run(fs, o, dirs, files)));
  }
}

describe('fsck of a volume in use', () => {
  it('random operations leave nothing for fsck to find, before and after a crash', async () => {
    t = await makeFs({}, { segments: { maxFlushSize: 4096, maxFlushTimeMs: 5 } });
    const tt = t;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 60 }), async (ops) => {
        const top = (await tt.fs.mkdir(root, 1, `r${Math.random().toString(36).slice(2)}`, 0o755)).ino;
        await runAll(tt.fs, ops, [top], []);
        const r = await fsck(tt.fs, { checkTrees: false });
        expect(r.problems).toEqual([]);
        expect(r.counts.inodes).toBeGreaterThan(1);
        await tt.crash();
        const after = await fsck(tt.fs, { leakGraceMs: 0, repair: true });
        expect(after.problems).toEqual([]);
        expect(after.ok).toBe(true);
      }),
      { numRuns: 6 },
    );
  });

  it('checks running while operations run see one moment: no false problems', async () => {
    t = await makeFs({}, { segments: { maxFlushSize: 4096, maxFlushTimeMs: 2 } });
    const fs = t.fs;
    const ops = fc.sample(opArb, { numRuns: 300, seed: 7 });
    let done = false;
    const work = runAll(fs, ops, [1], []).finally(() => {
      done = true;
    });
    let checks = 0;
    while (!done || checks < 2) {
      const r = await fsck(fs, { checkTrees: checks % 2 === 0, findLeaks: false });
      expect(r.problems).toEqual([]);
      checks++;
    }
    await work;
    expect((await fsck(fs)).problems).toEqual([]);
  });

  it('a repair racing operations fixes the corruption and keeps every operation', async () => {
    t = await makeFs();
    const fs = t.fs;
    const v = volumeOf(fs);
    const files: number[] = [];
    for (let i = 0; i < 20; i++) files.push((await fs.create(root, 1, `f${i}`, 0o644)).attr.ino);
    // Wrong link counts on every other file.
    const ops = [];
    for (const f of files.filter((_, i) => i % 2 === 0)) {
      const rec = inodeCodec.decode((await v.hh.tree(TREES.inodes).get(inodeKey(f)))!);
      ops.push({ type: 'put' as const, tree: TREES.inodes, key: inodeKey(f), value: inodeCodec.encode({ ...rec, nlink: 9 }) });
    }
    await v.hh.batch(ops);
    // Meanwhile: links to some of them, unlinks of others, new files.
    const racing = (async () => {
      for (let i = 0; i < 20; i += 4) await fs.link(root, files[i]!, 1, `l${i}`);
      for (let i = 1; i < 20; i += 4) await fs.unlink(root, 1, `f${i}`);
      for (let i = 0; i < 20; i++) await fs.create(root, 1, `new${i}`, 0o644);
    })();
    const r = await fsck(fs, { repair: true });
    await racing;
    expect(r.problemCount).toBe(10);
    const final = await fsck(fs, { repair: true });
    expect(final.ok).toBe(true);
    expect((await fsck(fs)).problems).toEqual([]);
    for (let i = 0; i < 20; i += 4) expect((await fs.getattr(root, files[i]!)).nlink).toBe(2);
    for (let i = 1; i < 20; i += 4) await expect(fs.lookup(root, 1, `f${i}`)).rejects.toMatchObject({ errno: 'ENOENT' });
    expect((await fs.readdir(root, 1, { limit: 1000 })).entries.filter((e) => e.name.startsWith('new')).length).toBe(20);
  });

  it('a check and a repair in the middle of a cleaning pass (copies stored, extents not moved yet) find nothing', async () => {
    t = await makeFs();
    const fs = t.fs;
    const files: Array<{ ino: number; data: Buffer }> = [];
    for (let i = 0; i < 2; i++) {
      const ino = (await fs.create(root, 1, `f${i}`, 0o644)).attr.ino;
      const data = Buffer.alloc(64 * 1024, i + 1);
      await fs.write(root, ino, 0, data);
      await fs.flushFile(ino);
      const over = Buffer.alloc(40 * 1024, 0x77);
      await fs.write(root, ino, 0, over);
      await fs.flushFile(ino);
      over.copy(data);
      files.push({ ino, data });
    }
    const seen: FsckReport[] = [];
    const r = await cleanSegments(volumeOf(fs), {
      minAgeMs: 0, bytesPerSecond: Infinity,
      afterCopy: async () => {
        seen.push(await fsck(fs, { leakGraceMs: 0 }));
        seen.push(await fsck(fs, { repair: true, leakGraceMs: 0 }));
      },
    });
    expect(r.segmentsCompacted).toBe(2);
    expect(seen).toHaveLength(2);
    for (const x of seen) expect(x).toMatchObject({ problems: [], repairs: 0, leaks: { segments: 0, deleted: 0 } });
    expect((await fsck(fs, { leakGraceMs: 0 })).problems).toEqual([]);
    for (const f of files) expect((await fs.read(root, f.ino, 0, 70_000)).equals(f.data)).toBe(true);
  });

  it('stops when aborted and refuses bad options', async () => {
    t = await makeFs();
    const ac = new AbortController();
    ac.abort();
    await expect(fsck(t.fs, { signal: ac.signal })).rejects.toMatchObject({ code: 'CAIRN_ERR_CANCELED' });
    await expect(fsck(t.fs, { maxRounds: -1 })).rejects.toMatchObject({ code: 'CAIRN_ERR_INVALID_ARGUMENT' });
    await expect(fsck({} as Filesystem)).rejects.toMatchObject({ code: 'CAIRN_ERR_INVALID_ARGUMENT' });
  });
});
