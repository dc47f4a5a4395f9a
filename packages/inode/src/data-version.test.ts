// dataVersion: changes with every change of the contents — each write (before
// any flush), truncate, fallocate, concat, clone —, never goes backwards (also
// across segment commits, remounts and crashes), and keeps the ETag rule: an
// ETag recorded for one dataVersion is never shown valid after the contents
// changed.

import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT_CRED as root } from './perms.js';
import { makeFs, type TestFs } from './testing/fixture.js';

let t: TestFs | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

const dv = async (ino: number): Promise<number> => (await t!.fs.getattr(root, ino)).dataVersion;

describe('dataVersion', () => {
  it('changes with every write before any flush, and with truncate, fallocate, concat and clone', async () => {
    t = await makeFs();
    const fs = t.fs;
    const f = (await fs.create(root, 1, 'f', 0o644)).attr.ino;
    const seen = [await dv(f)];
    const step = async (what: string, change: () => Promise<unknown>): Promise<void> => {
      await change();
      const now = await dv(f);
      expect(now, what).toBeGreaterThan(seen[seen.length - 1]!);
      seen.push(now);
    };
    await step('write 1', () => fs.write(root, f, 0, Buffer.from('hello')));
    await step('write 2 (same segment, not flushed)', () => fs.write(root, f, 0, Buffer.from('jello')));
    await step('write 3', () => fs.write(root, f, 5, Buffer.from('!')));
    // A flush changes nothing a reader sees: the value may stay, never go back.
    await fs.flushFile(f);
    expect(await dv(f)).toBeGreaterThanOrEqual(seen[seen.length - 1]!);
    seen.push(await dv(f));
    await step('write after flush', () => fs.write(root, f, 1, Buffer.from('E')));
    await step('extend by setattr with a write pending', () => fs.setattr(root, f, { size: 100 }));
    await step('shrink', () => fs.setattr(root, f, { size: 3 }));
    await step('fallocate', () => fs.fallocate(root, f, 0, 4096));
    const g = (await fs.create(root, 1, 'g', 0o644)).attr.ino;
    await fs.write(root, g, 0, Buffer.from('tail'));
    await step('concat', () => fs.concatFiles(root, f, [g]));
    const h = (await fs.create(root, 1, 'h', 0o644)).attr.ino;
    const before = await dv(h);
    await fs.cloneFile(root, f, h);
    expect(await dv(h)).toBeGreaterThan(before);
    // The durable value survives a clean remount and is not below anything shown.
    const last = await dv(f);
    await t.remount();
    expect(await dv(f)).toBeGreaterThanOrEqual(last);
  });

  it('never goes backwards and changes on every content change, across segment commits, remounts and crashes', async () => {
    t = await makeFs({}, { segments: { maxFlushSize: 700, maxFlushTimeMs: 60_000 } });
    const tt = t;
    const op = fc.oneof(
      { weight: 6, arbitrary: fc.record({ k: fc.constant('write' as const), off: fc.nat(3000), len: fc.integer({ min: 1, max: 900 }) }) },
      { weight: 2, arbitrary: fc.record({ k: fc.constant('truncate' as const), size: fc.nat(4000) }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('fallocate' as const), end: fc.integer({ min: 1, max: 5000 }) }) },
      { weight: 2, arbitrary: fc.record({ k: fc.constant('fsync' as const) }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('remount' as const) }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('crash' as const) }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (ops) => {
        const f = (await tt.fs.create(root, 1, `f${Math.random().toString(36).slice(2)}`, 0o644)).attr.ino;
        await tt.fs.flushFile(f);
        let shown = await dv(f);
        let durable = shown;
        for (const o of ops) {
          const fs = tt.fs;
          const size = (await fs.getattr(root, f)).size;
          let changes = true;
          if (o.k === 'write') await fs.write(root, f, o.off, Buffer.alloc(o.len, 7));
          else if (o.k === 'truncate') await fs.setattr(root, f, { size: o.size });
          else if (o.k === 'fallocate') {
            await fs.fallocate(root, f, 0, o.end);
            changes = o.end > size;
          } else if (o.k === 'fsync') {
            await fs.flushFile(f);
            changes = false;
          } else {
            changes = false;
            if (o.k === 'remount') await tt.remount();
            else {
              await tt.crash(); // unsynced writes may be lost: the value may go back to the durable one, not below
              const now = await dv(f);
              expect(now).toBeGreaterThanOrEqual(durable);
              shown = now;
              continue;
            }
          }
          const now = await dv(f);
          if (changes) expect(now, o.k).toBeGreaterThan(shown);
          else expect(now, o.k).toBeGreaterThanOrEqual(shown);
          shown = now;
          if (o.k === 'fsync' || o.k === 'remount') durable = now;
        }
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  it('an ETag is recorded only for the current contents and is stale after any change, even one not flushed', async () => {
    t = await makeFs();
    const fs = t.fs;
    const f = (await fs.create(root, 1, 'obj', 0o644)).attr.ino;
    await fs.write(root, f, 0, Buffer.from('v1'));
    const pending = await fs.getattr(root, f);
    expect(await fs.setEtag(root, f, { value: 'md5-v1', dataVersion: pending.dataVersion })).toBe(false); // writes pending
    await fs.flushFile(f);
    const a1 = await fs.getattr(root, f);
    expect(await fs.setEtag(root, f, { value: 'md5-v1', dataVersion: a1.dataVersion })).toBe(true);
    expect((await fs.getattr(root, f)).etag).toEqual({ value: 'md5-v1', dataVersion: a1.dataVersion });
    for (const change of [
      () => fs.write(root, f, 0, Buffer.from('v2')),
      () => fs.setattr(root, f, { size: 1 }),
      () => fs.fallocate(root, f, 0, 10),
    ]) {
      await change();
      const a = await fs.getattr(root, f);
      expect(a.etag!.dataVersion).not.toBe(a.dataVersion);
      await fs.flushFile(f);
      const b = await fs.getattr(root, f);
      expect(b.etag!.dataVersion).not.toBe(b.dataVersion);
      expect(await fs.setEtag(root, f, { value: 'stale', dataVersion: a1.dataVersion })).toBe(false);
    }
  });
});
