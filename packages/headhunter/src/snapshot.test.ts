// Snapshots cost O(1) in volume size: creating one adds the same few bytes to
// the checkpoint record and keeps nothing per node object, whether the volume
// holds a thousand keys in one node object or a hundred thousand in a
// hundred; deleting one releases exactly what only it held.

import { describe, expect, it } from 'vitest';
import { encodeKey } from './keys.js';
import type { Headhunter } from './index.js';
import { makeVolume, settleReclaim, storedNodeObjects } from './testing/volume.js';

const k = (n: number): Buffer => encodeKey([n]);
const SHAPE = { leafMaxEntries: 64, indexMaxEntries: 64, maxNodeBytes: 64 * 1024 };

/** Loads `keys` ascending keys, one checkpoint (so one node object) per 1,000. */
async function load(db: Headhunter, keys: number): Promise<void> {
  for (let i = 0; i < keys; i += 1000) {
    const ops = [];
    for (let j = i; j < Math.min(keys, i + 1000); j++) ops.push({ type: 'put' as const, tree: 't', key: k(j), value: Buffer.from(`v${j}`) });
    await db.batch(ops);
    await db.checkpoint();
  }
}

/** What creating one snapshot adds to a checkpoint record of the volume. */
async function snapshotRecordCost(keys: number): Promise<{ bytes: number; objects: number }> {
  const vol = await makeVolume(SHAPE, { compactBelow: 0 });
  await load(vol.db, keys);
  const before = await vol.db.checkpoint({ force: true });
  const info = await vol.db.createSnapshot('s');
  expect(info.counts.t).toBe(keys);
  const after = await vol.db.checkpoint({ force: true });
  const objects = vol.db.stats().liveObjects;
  await vol.db.close();
  return { bytes: after.recordBytes - before.recordBytes, objects };
}

describe('snapshots', () => {
  it('creation adds the same record bytes at 10^3 keys in one node object as at 10^5 keys in a hundred', async () => {
    const small = await snapshotRecordCost(1000);
    const big = await snapshotRecordCost(100_000);
    expect(small.objects).toBe(1);
    expect(big.objects).toBeGreaterThanOrEqual(100);
    // One entry: name, time, commit, and one root per tree. Listing the node objects would add one
    // or more bytes per object; a count of 10^5 instead of 10^3 takes 2 bytes more (msgpack uint32).
    expect(small.bytes).toBeLessThan(80);
    expect(big.bytes - small.bytes).toBeLessThanOrEqual(4);
  }, 120_000);

  it('deleting a snapshot releases the objects only it held, and only those', async () => {
    const vol = await makeVolume({}, { deletesPerSecond: 5000, cacheBytes: 0, compactBelow: 0 });
    const db = vol.db;
    const put = async (tag: string): Promise<void> => {
      const ops = [];
      for (let i = 0; i < 200; i++) ops.push({ type: 'put' as const, tree: 't', key: k(i), value: Buffer.from(`${tag}${i}`) });
      await db.batch(ops);
      await db.checkpoint();
    };
    const retire = async (): Promise<void> => {
      for (let i = 0; i < 3; i++) await db.checkpoint({ force: true });
      await settleReclaim(db);
    };
    await put('a');
    await db.createSnapshot('one');
    await put('b');
    await db.createSnapshot('two');
    await put('c');
    await retire();
    const withBoth = (await storedNodeObjects(vol.container)).size;
    await db.deleteSnapshot('one');
    await retire();
    const withTwo = (await storedNodeObjects(vol.container)).size;
    expect(withTwo).toBeLessThan(withBoth);
    // 'two' still reads its moment from the store (no cache), after 'one' and its objects went.
    const view = db.snapshot('two');
    const all = await view.tree('t').scan({ limit: 1000 });
    expect(all.map((e) => e.value.toString())).toEqual(Array.from({ length: 200 }, (_, i) => `b${i}`));
    view.release();
    await db.deleteSnapshot('two');
    await retire();
    // Only the live trees' objects are left.
    expect((await storedNodeObjects(vol.container)).size).toBe(db.stats().liveObjects);
    expect((await db.check()).errors).toEqual([]);
    await db.close();
  });
});
