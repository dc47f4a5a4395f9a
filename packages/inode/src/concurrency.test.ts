// Operations running concurrently stay correct: creates in one directory,
// data operations on one file issued without waiting (they apply in call
// order), reads racing segment commits, unlink racing release.

import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT_CRED as root } from './index.js';
import { makeFs, type TestFs } from './testing/fixture.js';

let t: TestFs | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

describe('concurrency', () => {
  it('concurrent creates in one directory: unique inodes and cookies, every entry listed once', async () => {
    t = await makeFs();
    const fs = t.fs;
    const made = await Promise.all(Array.from({ length: 200 }, (_, i) => fs.create(root, 1, `f${i}`, 0o644)));
    expect(new Set(made.map((m) => m.attr.ino)).size).toBe(200);
    const list = (await fs.readdir(root, 1, { limit: 1000 })).entries.slice(2);
    expect(list.length).toBe(200);
    expect(new Set(list.map((e) => e.cookie)).size).toBe(200);
    expect(new Set(list.map((e) => e.name)).size).toBe(200);
    const dup = await Promise.allSettled(Array.from({ length: 20 }, () => fs.mkdir(root, 1, 'same', 0o755)));
    expect(dup.filter((r) => r.status === 'fulfilled').length).toBe(1);
  });

  it('writes, truncates and fsyncs issued without waiting apply in call order', async () => {
    t = await makeFs({}, { segments: { maxFlushSize: 512, maxFlushTimeMs: 5 } });
    const fs = t.fs;
    const tt = t;
    const op = fc.oneof(
      fc.record({ k: fc.constant('w' as const), off: fc.nat(2000), len: fc.integer({ min: 1, max: 300 }), seed: fc.nat(255) }),
      fc.record({ k: fc.constant('t' as const), size: fc.nat(2500) }),
      fc.record({ k: fc.constant('s' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
        const name = `f${Math.random().toString(36).slice(2)}`;
        const f = (await fs.create(root, 1, name, 0o644)).attr.ino;
        let model = Buffer.alloc(0);
        const running: Promise<unknown>[] = [];
        for (const o of ops) {
          if (o.k === 'w') {
            const data = Buffer.alloc(o.len);
            for (let i = 0; i < o.len; i++) data[i] = (o.seed + i) & 0xff;
            if (o.off + o.len > model.length) model = Buffer.concat([model, Buffer.alloc(o.off + o.len - model.length)]);
            data.copy(model, o.off);
            running.push(fs.write(root, f, o.off, data));
          } else if (o.k === 't') {
            model = o.size <= model.length ? model.subarray(0, o.size) : Buffer.concat([model, Buffer.alloc(o.size - model.length)]);
            running.push(fs.setattr(root, f, { size: o.size }));
          } else {
            running.push(fs.fsync(f));
          }
          // Reads race everything; they must never fail.
          running.push(fs.read(root, f, 0, 4000));
        }
        await Promise.all(running);
        expect((await fs.getattr(root, f)).size).toBe(model.length);
        expect((await fs.read(root, f, 0, 4000)).equals(model)).toBe(true);
        await fs.fsync(f);
        expect((await fs.read(root, f, 0, 4000)).equals(model)).toBe(true);
        await fs.unlink(root, 1, name);
      }),
      { numRuns: 40 },
    );
    // Every byte still referenced is accounted for; everything else was counted dead.
    const s = await fs.statfs();
    expect(s.liveBytes).toBe(0);
    expect(s.segments).toBe(0);
    await tt.remount();
  });

  it('reads racing segment commits always see the newest acknowledged bytes', async () => {
    t = await makeFs({}, { segments: { maxFlushSize: 64, maxFlushTimeMs: 2 } });
    const fs = t.fs;
    const f = (await fs.create(root, 1, 'f', 0o644)).attr.ino;
    for (let round = 0; round < 200; round++) {
      const v = Buffer.alloc(32, round & 0xff);
      await fs.write(root, f, (round % 4) * 32, v);
      const got = await fs.read(root, f, (round % 4) * 32, 32);
      expect(got.equals(v)).toBe(true);
      if (round % 7 === 0) await new Promise((r) => setTimeout(r, 1));
    }
  });

  it('unlink racing open/release never loses data of an open file nor leaks an orphan', async () => {
    t = await makeFs();
    const fs = t.fs;
    for (let i = 0; i < 30; i++) {
      const f = (await fs.create(root, 1, `f${i}`, 0o644)).attr.ino;
      await fs.write(root, f, 0, Buffer.from(`data${i}`));
      const h = await fs.open(root, f, { read: true });
      const [, read] = await Promise.all([fs.unlink(root, 1, `f${i}`), fs.read(root, f, 0, 10, h.fh)]);
      expect(read.toString()).toBe(`data${i}`);
      await fs.release(h.fh);
    }
    const s = await fs.statfs();
    expect(s.inodes).toBe(1);
    expect(s.liveBytes).toBe(0);
  });
});
