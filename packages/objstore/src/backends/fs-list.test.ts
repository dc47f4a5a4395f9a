// Listing a big fs container page by page, holding only a bounded number of
// directory entries at a time. 20,000 objects in CI; 100,000 with CAIRN_TEST_LARGE=1.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareNames } from '../names.js';
import type { ListOptions, ListPage, ObjectStore } from '../types.js';
import { createFsStore } from './fs.js';
import type { WalkProbe } from './fs-list.js';

const COUNT = process.env.CAIRN_TEST_LARGE === '1' ? 100_000 : 20_000;

/** Names in three shapes: nonce-like hex, nested paths, and one flat run. */
function nameOf(i: number): string {
  // Multiplying by an odd constant mod 2^32 is a bijection: unique, random-looking names.
  if (i % 3 === 0) return `seg/${(Math.imul(i, 2654435761) >>> 0).toString(16).padStart(8, '0')}`;
  if (i % 3 === 1) return `dir-${i % 47}/file-${String(i).padStart(7, '0')}`;
  return `flat-${String(i).padStart(7, '0')}`;
}

type Probed = { listWithProbe(o: ListOptions, p?: WalkProbe): Promise<ListPage> };

describe(`fs backend: listing ${COUNT} objects`, () => {
  let root: string;
  let store: ObjectStore;
  const sizes = new Map<string, number>();
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'cairn-fs-list-'));
    store = createFsStore({ root, fsync: false });
    const c = store.container('many');
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < COUNT) {
        const i = next++;
        const body = Buffer.from(String(i));
        sizes.set(nameOf(i), body.length);
        await c.put(nameOf(i), body);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
  }, 600_000);
  afterAll(async () => {
    await store.close();
    await rm(root, { recursive: true, force: true });
  });

  it('pages through every object in byte order, holding few directory entries at once', async () => {
    const c = store.container('many') as unknown as Probed;
    const probe: WalkProbe = { maxEntriesHeld: 0, dirsRead: 0 };
    let marker: string | undefined;
    let count = 0;
    let last: string | undefined;
    let pages = 0;
    const started = Date.now();
    for (;;) {
      const page = await c.listWithProbe(marker === undefined ? { limit: 1000 } : { limit: 1000, marker }, probe);
      pages++;
      for (const e of page.entries) {
        if (e.kind !== 'object') throw new Error('unexpected prefix');
        if (last !== undefined) expect(compareNames(last, e.name)).toBeLessThan(0);
        expect(e.size).toBe(sizes.get(e.name));
        last = e.name;
        count++;
      }
      if (page.nextMarker === undefined) break;
      expect(page.entries.length).toBe(1000);
      marker = page.nextMarker;
    }
    const ms = Date.now() - started;
    expect(count).toBe(COUNT);
    expect(pages).toBe(Math.ceil(COUNT / 1000));
    // The walk never held more than a few directories' entries, whatever COUNT is.
    expect(probe.maxEntriesHeld).toBeLessThan(1500);
    console.info(`[fs list] ${COUNT} objects in ${pages} pages: ${ms} ms, ${probe.dirsRead} directory reads, at most ${probe.maxEntriesHeld} entries held`);
  }, 600_000);

  it('rolls up by delimiter without walking the rolled-up subtrees', async () => {
    const c = store.container('many') as unknown as Probed;
    const probe: WalkProbe = { maxEntriesHeld: 0, dirsRead: 0 };
    // The first 48 entries: 47 "dir-k/" roll-ups and the first flat object.
    const page = await c.listWithProbe({ delimiter: '/', limit: 48 }, probe);
    const got = page.entries.map((e) => (e.kind === 'prefix' ? `p:${e.prefix}` : `o:${e.name}`));
    expect(got).toEqual([...Array.from({ length: 47 }, (_, k) => `p:dir-${k}/`).sort(compareNames), 'o:flat-0000002']);
    expect(page.nextMarker).toBe('flat-0000002');
    // A roll-up costs at most one path down to its first object (to skip empty leftovers).
    expect(probe.dirsRead).toBeLessThan(48 * 10);
    // "seg/" holds a third of the objects in thousands of directories; rolling it up reads a handful.
    const segProbe: WalkProbe = { maxEntriesHeld: 0, dirsRead: 0 };
    const seg = await c.listWithProbe({ prefix: 's', delimiter: '/' }, segProbe);
    expect(seg.entries).toEqual([{ kind: 'prefix', prefix: 'seg/' }]);
    expect(seg.nextMarker).toBeUndefined();
    expect(segProbe.dirsRead).toBeLessThan(20);
  });

  it('starts a page deep inside the container from a marker and a prefix', async () => {
    const c = store.container('many') as unknown as Probed;
    const probe: WalkProbe = { maxEntriesHeld: 0, dirsRead: 0 };
    const page = await c.listWithProbe({ prefix: 'dir-7/', marker: 'dir-7/file-0010000', limit: 5 }, probe);
    const want = Array.from({ length: COUNT }, (_, i) => nameOf(i))
      .filter((n) => n.startsWith('dir-7/') && compareNames(n, 'dir-7/file-0010000') > 0)
      .sort(compareNames)
      .slice(0, 5);
    expect(page.entries.map((e) => (e.kind === 'object' ? e.name : e.prefix))).toEqual(want);
    expect(probe.dirsRead).toBeLessThan(40);
  });
});
