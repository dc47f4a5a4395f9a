// The change journal: monotonic ids written with each change, listing since a
// cursor with pagination, long-polling, compaction and expired cursors.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROOT_CRED as root, type Filesystem } from './index.js';
import { errnoOf, makeFs, type TestFs } from './testing/fixture.js';

let t: TestFs;
let fs: Filesystem;
beforeEach(async () => {
  t = await makeFs();
  fs = t.fs;
});
afterEach(async () => {
  await t.cleanup();
});

describe('change journal', () => {
  it('records every committed change with increasing ids, attributes after the change', async () => {
    const start = await fs.journalCursor();
    expect(start).toBe(0);
    const d = await fs.mkdir(root, 1, 'd', 0o755);
    const f = (await fs.create(root, d.ino, 'f', 0o644)).attr.ino;
    await fs.write(root, f, 0, Buffer.from('abc'));
    await fs.flushFile(f);
    await fs.rename(root, d.ino, 'f', 1, 'g');
    await fs.setattr(root, f, { mode: 0o600 });
    await fs.setxattr(root, f, 'user.k', Buffer.from('v'));
    await fs.unlink(root, 1, 'g');
    await fs.rmdir(root, 1, 'd');
    const page = await fs.listChanges(start);
    expect(page.more).toBe(false);
    expect(page.changes.map((c) => c.kind)).toEqual(['mkdir', 'create', 'write', 'rename', 'setattr', 'xattr', 'unlink', 'rmdir']);
    expect(page.changes.map((c) => c.jid)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(page.cursor).toBe(8);
    expect(page.changes[1]).toMatchObject({ ino: f, parent: d.ino, name: 'f', size: 0 });
    expect(page.changes[2]).toMatchObject({ ino: f, size: 3 });
    expect(page.changes[3]).toMatchObject({ ino: f, parent: d.ino, name: 'f', newParent: 1, newName: 'g' });
    expect(page.changes[4]!.mode! & 0o777).toBe(0o600);
    expect(page.changes[6]).toMatchObject({ ino: f, nlink: 0 });
    expect(await fs.journalCursor()).toBe(8);
    // Failed operations change nothing and journal nothing.
    await errnoOf(fs.rmdir(root, 1, 'nope'));
    expect(await fs.journalCursor()).toBe(8);
  });

  it('paginates from any cursor; a cursor from the future is EINVAL', async () => {
    for (let i = 0; i < 25; i++) await fs.mkdir(root, 1, `d${i}`, 0o755);
    const all = [];
    let cursor = 0;
    for (;;) {
      const p = await fs.listChanges(cursor, { limit: 7 });
      all.push(...p.changes);
      cursor = p.cursor;
      if (!p.more) break;
    }
    expect(all.map((c) => c.name)).toEqual(Array.from({ length: 25 }, (_, i) => `d${i}`));
    expect((await fs.listChanges(20)).changes.map((c) => c.jid)).toEqual([21, 22, 23, 24, 25]);
    expect(await errnoOf(fs.listChanges(26))).toBe('EINVAL');
  });

  it('waitForChanges resolves when a change lands, false on timeout, and rejects on abort', async () => {
    const cursor = await fs.journalCursor();
    expect(await fs.waitForChanges(cursor, { timeoutMs: 20 })).toBe(false);
    const waiting = fs.waitForChanges(cursor, { timeoutMs: 10_000 });
    setTimeout(() => void fs.mkdir(root, 1, 'x', 0o755), 10);
    expect(await waiting).toBe(true);
    expect(await fs.waitForChanges(cursor, { timeoutMs: 10_000 })).toBe(true);
    const ac = new AbortController();
    const aborted = fs.waitForChanges(cursor + 1, { timeoutMs: 10_000, signal: ac.signal });
    ac.abort();
    expect(await errnoOf(aborted)).toBe('ECANCELED');
  });

  it('compaction drops old entries; a cursor before them gets CURSOR_EXPIRED, later ones still work', async () => {
    for (let i = 0; i < 30; i++) await fs.mkdir(root, 1, `d${i}`, 0o755);
    expect(await fs.compactJournal({ horizonMs: 0, minEntries: 10 })).toBe(20);
    const err = await fs.listChanges(5).catch((e: unknown) => e as { code: string });
    expect((err as { code: string }).code).toBe('CAIRN_ERR_FS_CURSOR_EXPIRED');
    expect(await errnoOf(fs.listChanges(0))).toBe('ESTALE');
    const p = await fs.listChanges(20);
    expect(p.changes.map((c) => c.jid)).toEqual(Array.from({ length: 10 }, (_, i) => 21 + i));
    // Entries younger than the horizon stay.
    expect(await fs.compactJournal({ horizonMs: 3_600_000, minEntries: 0 })).toBe(0);
    await t.remount();
    fs = t.fs;
    expect((await fs.listChanges(25)).changes.length).toBe(5);
    expect(await errnoOf(fs.listChanges(3))).toBe('ESTALE');
    await fs.mkdir(root, 1, 'after', 0o755);
    expect(await fs.journalCursor()).toBe(31);
  });
});
