// The orphan sweep on the memory store: what it deletes (segment objects no
// record or snapshot names, older than the grace period) and everything it
// leaves alone (referenced, dead-but-tracked, young, in flight, not yet
// handed out, not a segment name); dry run, progress and cancel.

import { afterEach, describe, expect, it } from 'vitest';
import { segmentName } from '@cairn/segments';
import { trackWriter } from './cleaner-inflight.js';
import type { Vol } from './context.js';
import type { FilesystemImpl } from './fs.js';
import { TREES } from './format.js';
import { sweepOrphans, type SweepProgress } from './orphan-sweep.js';
import { ROOT_CRED as root } from './perms.js';
import { makeFs, type TestFs } from './testing/fixture.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fixture(): Promise<TestFs> {
  const t = await makeFs();
  cleanups.push(() => t.cleanup());
  return t;
}

function vol(t: TestFs): Vol {
  return (t.fs as unknown as FilesystemImpl).m.vol;
}

/** Stores an object under a fresh segment name that nothing will ever commit (a PUT whose commit never came). */
async function orphan(t: TestFs, bytes = 100): Promise<{ nonce: bigint; name: string }> {
  const v = vol(t);
  const nonce = await v.hh.nextNonce();
  const ref = v.locate(nonce);
  await t.store.container(ref.container).put(ref.name, Buffer.alloc(bytes, 7));
  return { nonce, name: ref.name };
}

async function names(t: TestFs): Promise<string[]> {
  const out: string[] = [];
  for await (const e of t.store.container('vol-data').listAll()) if (e.kind === 'object') out.push(e.name);
  return out.sort();
}

async function writeFile(t: TestFs, name: string, data: Buffer): Promise<number> {
  const ino = (await t.fs.create(root, 1, name, 0o644)).attr.ino;
  await t.fs.write(root, ino, 0, data);
  await t.fs.flushFile(ino);
  return ino;
}

describe('orphan sweep', () => {
  it('deletes only unreferenced segment objects past the grace period', async () => {
    const t = await fixture();
    const v = vol(t);
    const a = await writeFile(t, 'a', Buffer.alloc(5000, 1));
    const b = await writeFile(t, 'b', Buffer.alloc(3000, 2));
    await t.fs.write(root, b, 0, Buffer.alloc(3000, 3)); // b's first segment becomes dead (tracked in deadsegs)
    await t.fs.flushFile(b);
    const o1 = await orphan(t, 100);
    const o2 = await orphan(t, 50);
    const future = segmentName(v.hh.stats().nonces.next + 10n);
    await t.store.container('vol-data').put(future, Buffer.alloc(10));
    await t.store.container('vol-data').put('not-a-segment', Buffer.alloc(10));
    const before = await names(t);

    // Default grace: everything is too young.
    const young = await sweepOrphans(v);
    expect(young).toMatchObject({ orphans: 0, deleted: 0, young: 5, future: 1, foreign: 0 });

    // Dry run with no grace: found, not deleted.
    const dry = await sweepOrphans(v, { graceMs: 0, dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, orphans: 2, orphanBytes: 150, deleted: 0, referenced: 3, future: 1 });
    expect(dry.orphanNames.sort()).toEqual([`vol-data/${o1.name}`, `vol-data/${o2.name}`].sort());
    expect(await names(t)).toEqual(before);

    const progress: SweepProgress[] = [];
    const r = await sweepOrphans(v, { graceMs: 0, deletesPerSecond: 1000, onProgress: (p) => progress.push(p) });
    expect(r).toMatchObject({ orphans: 2, deleted: 2, deletedBytes: 150, referenced: 3, future: 1, canceled: false });
    expect(progress.at(-1)).toMatchObject({ containersDone: 1, containersTotal: 1, orphans: 2, deleted: 2 });
    expect(await names(t)).toEqual(before.filter((n) => n !== o1.name && n !== o2.name));
    expect((await t.fs.read(root, a, 0, 10_000)).equals(Buffer.alloc(5000, 1))).toBe(true);
    expect((await t.fs.read(root, b, 0, 10_000)).equals(Buffer.alloc(3000, 3))).toBe(true);
    // The dead segment is the deletion policy's, and still works through it.
    for (let i = 0; i < 3; i++) await t.fs.checkpoint();
    expect((await t.fs.reclaimSegments()).deleted).toBe(1);
    expect((await sweepOrphans(v, { graceMs: 0 })).orphans).toBe(0);
  });

  it('leaves segments a writer holds and segments only a snapshot names', async () => {
    const t = await fixture();
    const v = vol(t);
    const held = await orphan(t);
    const untrack = trackWriter(v, { readPending: (s) => ((typeof s === 'bigint' ? s : s.nonce) === held.nonce ? Buffer.alloc(0) : undefined) });
    const snap = await writeFile(t, 'snap', Buffer.alloc(4000, 9));
    await v.hh.createSnapshot('s');
    // Drop every live trace of the file's segment (as if its deadsegs record were gone): only the snapshot names it.
    await t.fs.unlink(root, 1, 'snap');
    await v.tx((tx) => {
      for (const e of tx.tx.scan(TREES.deadsegs)) tx.tx.del(TREES.deadsegs, e.key);
    });
    const r = await sweepOrphans(v, { graceMs: 0 });
    expect(r).toMatchObject({ inFlight: 1, referenced: 1, orphans: 0 });
    untrack();
    const r2 = await sweepOrphans(v, { graceMs: 0 });
    expect(r2).toMatchObject({ orphans: 1, deleted: 1, referenced: 1 });
    await v.hh.deleteSnapshot('s');
    const r3 = await sweepOrphans(v, { graceMs: 0 });
    expect(r3).toMatchObject({ orphans: 1, deleted: 1 });
    expect(snap).toBeGreaterThan(0);
  });

  it('stops when canceled and checks its options', async () => {
    const t = await fixture();
    const v = vol(t);
    for (let i = 0; i < 5; i++) await orphan(t);
    const ac = new AbortController();
    ac.abort();
    const r = await sweepOrphans(v, { graceMs: 0, signal: ac.signal });
    expect(r).toMatchObject({ canceled: true, deleted: 0 });
    await expect(sweepOrphans(v, { graceMs: -1 })).rejects.toMatchObject({ code: 'CAIRN_ERR_INVALID_ARGUMENT' });
    await expect(sweepOrphans(v, { deletesPerSecond: 0 })).rejects.toMatchObject({ code: 'CAIRN_ERR_INVALID_ARGUMENT' });
  });
});
