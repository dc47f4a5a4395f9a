// Directory st_size: the number of entries ("." and ".." not counted), kept in
// the same transaction as every change of the entries. fast-check runs random
// creates, mkdirs, links, renames (replacing or not, across directories),
// unlinks, rmdirs and upload commits against the count readdir sees, with a
// remount at the end.

import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT_CRED as root, type Filesystem } from './index.js';
import { makeFs, type TestFs } from './testing/fixture.js';

let t: TestFs | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

async function entries(fs: Filesystem, dir: number): Promise<number> {
  let n = 0;
  let cookie = 0;
  for (;;) {
    const page = await fs.readdir(root, dir, { cookie, limit: 1000 });
    for (const e of page.entries) {
      cookie = e.cookie;
      if (e.name !== '.' && e.name !== '..') n++;
    }
    if (page.eof || page.entries.length === 0) return n;
  }
}

const name = fc.constantFrom('a', 'b', 'c', 'd');
const dirIdx = fc.integer({ min: 0, max: 2 });
const op = fc.oneof(
  fc.record({ k: fc.constant('create' as const), d: dirIdx, n: name }),
  fc.record({ k: fc.constant('mkdir' as const), d: dirIdx, n: name }),
  fc.record({ k: fc.constant('link' as const), d: dirIdx, n: name, d2: dirIdx, n2: name }),
  fc.record({ k: fc.constant('rename' as const), d: dirIdx, n: name, d2: dirIdx, n2: name }),
  fc.record({ k: fc.constant('unlink' as const), d: dirIdx, n: name }),
  fc.record({ k: fc.constant('rmdir' as const), d: dirIdx, n: name }),
  fc.record({ k: fc.constant('upload' as const), d: dirIdx, n: name }),
);

describe('directory size', () => {
  it('is the number of entries after any sequence of namespace operations, and after a remount', async () => {
    t = await makeFs();
    const base = t;
    await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
      const fs = base.fs;
      const top = (await fs.mkdir(root, 1, `run-${Date.now()}-${Math.random().toString(36).slice(2)}`, 0o755)).ino;
      const dirs = [top, (await fs.mkdir(root, top, 'x', 0o755)).ino, (await fs.mkdir(root, top, 'y', 0o755)).ino];
      for (const o of ops) {
        const d = dirs[o.d]!;
        const quiet = (p: Promise<unknown>): Promise<unknown> => p.catch(() => undefined);
        if (o.k === 'create') await quiet(fs.create(root, d, o.n, 0o644));
        else if (o.k === 'mkdir') await quiet(fs.mkdir(root, d, o.n, 0o755));
        else if (o.k === 'link') await quiet(fs.lookup(root, d, o.n).then((a) => fs.link(root, a.ino, dirs[o.d2]!, o.n2)));
        else if (o.k === 'rename') await quiet(fs.rename(root, d, o.n, dirs[o.d2]!, o.n2));
        else if (o.k === 'unlink') await quiet(fs.unlink(root, d, o.n));
        else if (o.k === 'rmdir') await quiet(fs.rmdir(root, d, o.n));
        else {
          const up = await fs.beginUpload(root);
          await up.write(Buffer.from('z'));
          await quiet(fs.commitUpload(root, d, o.n, up).catch(async (err: unknown) => {
            await up.abort();
            throw err;
          }));
        }
        for (const dir of dirs) {
          const a = await fs.getattr(root, dir).catch(() => undefined);
          if (a !== undefined) expect(a.size).toBe(await entries(fs, dir));
        }
      }
    }), { numRuns: 30 });
    const fs = await base.remount();
    const check = async (dir: number): Promise<void> => {
      expect((await fs.getattr(root, dir)).size).toBe(await entries(fs, dir));
      for (const e of (await fs.readdir(root, dir)).entries) if (e.type === 'dir' && e.name !== '.' && e.name !== '..') await check(e.ino);
    };
    await check(1);
  });
});
