import { describe, expect, it } from 'vitest';
import { isCairnError } from '@cairn/errors';
import type { Container } from '@cairn/objstore';
import { encodeKey } from './keys.js';
import { CHECKPOINT_OBJECT_PREFIX, checkpointObjectName, nodeObjectName } from './names.js';
import type { Headhunter } from './index.js';
import { openVolume } from './mount.js';
import { makeVolume, settleReclaim } from './testing/volume.js';

const k = (n: number): Buffer => encodeKey([n]);

async function exists(c: Container, nonce: bigint): Promise<boolean> {
  try {
    await c.head(nodeObjectName(nonce));
    return true;
  } catch (err) {
    if (isCairnError(err, 'CAIRN_ERR_OBJ_NOT_FOUND')) return false;
    throw err;
  }
}

async function eventually(cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function rewriteAll(db: Headhunter, tag: string): Promise<void> {
  const ops = [];
  for (let i = 0; i < 150; i++) ops.push({ type: 'put' as const, tree: 't', key: k(i), value: Buffer.from(`${tag}${i}`) });
  await db.batch(ops);
}

/** Writes a first generation of nodes and returns its object's nonce. */
async function firstGeneration(db: Headhunter): Promise<bigint> {
  await rewriteAll(db, 'a');
  const info = await db.checkpoint();
  expect(info.nodeObject).toBeDefined();
  return info.nodeObject!;
}

describe('space reclamation', () => {
  it('deletes a dead node object only once no retained checkpoint references it', async () => {
    const vol = await makeVolume({}, { deletesPerSecond: 1000, retainCheckpoints: 2 });
    const db = vol.db;
    const x1 = await firstGeneration(db);
    await rewriteAll(db, 'b');
    await db.checkpoint(); // x1 is dead in this one, but the previous checkpoint (kept for fallback) needs it
    expect(db.stats().liveObjects).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    expect(await exists(vol.container, x1)).toBe(true);
    await db.checkpoint({ force: true }); // now no retained checkpoint references x1
    await eventually(async () => !(await exists(vol.container, x1)));
    expect((await db.check()).errors).toEqual([]);
    // Old checkpoint records go too: only the retained ones stay (plus at most one being deleted).
    await eventually(async () => (await vol.container.list({ prefix: CHECKPOINT_OBJECT_PREFIX })).entries.length <= 2);
    const again = await vol.crash();
    expect((await again.tree('t').get(k(149)))?.toString()).toBe('b149');
    expect((await again.check()).errors).toEqual([]);
    await again.close();
  });

  it('keeps objects a snapshot references until the snapshot is deleted', async () => {
    const vol = await makeVolume({}, { deletesPerSecond: 1000, cacheBytes: 0 });
    const db = vol.db;
    const x1 = await firstGeneration(db);
    await db.createSnapshot('before');
    for (let g = 0; g < 3; g++) {
      await rewriteAll(db, `g${g}`);
      await db.checkpoint();
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(await exists(vol.container, x1)).toBe(true);
    const db2 = await vol.crash();
    const view = db2.snapshot('before');
    expect((await view.tree('t').get(k(3)))?.toString()).toBe('a3');
    expect(await view.tree('t').count()).toBe(150);
    view.release();
    await db2.deleteSnapshot('before');
    await db2.checkpoint();
    await db2.checkpoint({ force: true });
    await eventually(async () => !(await exists(vol.container, x1)));
    expect((await db2.check()).errors).toEqual([]);
    await db2.close();
  });

  it('keeps what a deleted snapshot referenced while a retained checkpoint still lists the snapshot', async () => {
    const vol = await makeVolume({}, { deletesPerSecond: 5000, cacheBytes: 0, retainCheckpoints: 2, compactBelow: 0 });
    const db = vol.db;
    const x1 = await firstGeneration(db);
    await db.createSnapshot('kept');
    await rewriteAll(db, 'b');
    await db.checkpoint(); // x1 is dead; only the snapshot holds it
    await db.deleteSnapshot('kept');
    const newest = await db.checkpoint(); // no longer lists the snapshot; the previous (retained) one does
    await settleReclaim(db);
    expect(await exists(vol.container, x1)).toBe(true);
    // A mount that falls back to that previous checkpoint, without the replay log, reads the snapshot.
    const bytes = await vol.container.getBuffer(checkpointObjectName(newest.seq));
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await vol.container.put(checkpointObjectName(newest.seq), bytes);
    const fallback = await openVolume({ container: vol.container, readOnly: true });
    const view = fallback.snapshot('kept');
    expect((await view.tree('t').get(k(3)))?.toString()).toBe('a3');
    expect(await view.tree('t').count()).toBe(150);
    view.release();
    await fallback.close();
    await db.close();
  });

  it('keeps objects an open reader may still read, and pauses on request', async () => {
    const vol = await makeVolume({}, { deletesPerSecond: 1000, cacheBytes: 0 });
    const db = vol.db;
    const x1 = await firstGeneration(db);
    const view = db.view();
    for (let g = 0; g < 3; g++) {
      await rewriteAll(db, `g${g}`);
      await db.checkpoint();
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(await exists(vol.container, x1)).toBe(true);
    // The view still reads the first generation, loading nodes from x1 (the cache holds nothing).
    expect((await view.tree('t').get(k(10)))?.toString()).toBe('a10');
    db.pauseReclaim();
    view.release();
    await db.checkpoint({ force: true });
    await new Promise((r) => setTimeout(r, 100));
    expect(await exists(vol.container, x1)).toBe(true);
    expect(db.stats().reclaim.paused).toBe(true);
    db.resumeReclaim();
    await eventually(async () => !(await exists(vol.container, x1)));
    await expect(view.tree('t').get(k(1))).rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_CLOSED'));
    await db.close();
  });

  it('throttles deletions', async () => {
    const vol = await makeVolume({}, { deletesPerSecond: 10, reclaimPaused: true });
    const db = vol.db;
    for (let g = 0; g < 8; g++) {
      await rewriteAll(db, `g${g}`);
      await db.checkpoint();
    }
    await db.checkpoint({ force: true });
    expect(db.stats().reclaim.deleted).toBe(0);
    const t0 = Date.now();
    db.resumeReclaim();
    await eventually(async () => db.stats().garbageObjects === 0, 10_000);
    const deleted = db.stats().reclaim.deleted;
    expect(deleted).toBeGreaterThanOrEqual(7);
    // 10 per second: deleting n objects takes at least (n - 1) / 10 seconds.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(((deleted - 1) / 10) * 1000 * 0.8);
    await db.close();
  });
});
