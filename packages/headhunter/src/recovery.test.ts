import { describe, expect, it } from 'vitest';
import { isCairnError } from '@cairn/errors';
import { encodeKey } from './keys.js';
import { checkpointObjectName, nodeObjectName } from './names.js';
import type { Headhunter } from './index.js';
import { makeVolume, type TestVolume } from './testing/volume.js';

const k = (n: number): Buffer => encodeKey([n]);

async function load(vol: TestVolume, from: number, to: number, tag: string): Promise<void> {
  for (let i = from; i < to; i += 10) {
    const ops = [];
    for (let j = i; j < Math.min(to, i + 10); j++) ops.push({ type: 'put' as const, tree: 't', key: k(j), value: Buffer.from(`${tag}${j}`) });
    await vol.db.batch(ops);
  }
}

async function expectAll(db: Headhunter, n: number, tagOf: (i: number) => string): Promise<void> {
  const all = await db.tree('t').scan({ limit: 100_000 });
  expect(all.length).toBe(n);
  for (const e of all) {
    const i = Number(e.value.toString().replace(/^\D+/, ''));
    expect(e.value.toString()).toBe(`${tagOf(i)}${i}`);
  }
  expect((await db.check()).errors).toEqual([]);
}

describe('mount recovery', () => {
  it('falls back to the previous checkpoint when the newest record is corrupt, losing nothing', async () => {
    const vol = await makeVolume();
    await load(vol, 0, 100, 'a');
    await vol.db.checkpoint();
    await load(vol, 100, 200, 'b');
    const newest = await vol.db.checkpoint();
    await load(vol, 200, 250, 'c');
    await vol.crash();
    // The mount after the crash published its own claim; corrupt whatever is newest after the next crash.
    await vol.db.checkpoint({ force: true });
    const after = vol.db.stats().checkpoint.seq;
    expect(after).toBeGreaterThan(newest.seq);
    await vol.crash();
    const latest = vol.db.stats().checkpoint.seq;
    const bytes = await vol.container.getBuffer(checkpointObjectName(latest));
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0xff;
    await vol.container.put(checkpointObjectName(latest), bytes);
    const db = await vol.crash();
    expect(db.stats().checkpoint.seq).toBeGreaterThan(latest);
    await expectAll(db, 250, (i) => (i < 100 ? 'a' : i < 200 ? 'b' : 'c'));
    await db.close();
  });

  it('falls back when the newest checkpoint names a root that cannot be read', async () => {
    const vol = await makeVolume();
    await load(vol, 0, 120, 'a');
    await vol.db.checkpoint();
    await load(vol, 0, 60, 'b');
    const info = await vol.db.checkpoint();
    await load(vol, 60, 90, 'b');
    expect(info.nodeObject).toBeDefined();
    await vol.container.delete(nodeObjectName(info.nodeObject!));
    const db = await vol.crash();
    await expectAll(db, 120, (i) => (i < 90 ? 'b' : 'a'));
    await db.close();
  });

  it('refuses to mount when every checkpoint is unusable', async () => {
    const vol = await makeVolume();
    for (const e of (await vol.container.list({ prefix: 'meta/checkpoints/' })).entries) {
      if (e.kind === 'object') await vol.container.put(e.name, Buffer.from('not a checkpoint'));
    }
    await expect(vol.crash()).rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_META_BAD_MAGIC'));
  });

  it('refuses a replay log with a gap in the commit sequence', async () => {
    const vol = await makeVolume();
    await load(vol, 0, 50, 'a');
    vol.log.dropRecord(2);
    await expect(vol.crash()).rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_META_CORRUPT'));
  });

  it('skips log records of other writers and epochs', async () => {
    const vol = await makeVolume();
    await load(vol, 0, 30, 'a');
    // A stale copy of this log (another writer's history from here on).
    const stale = vol.log.crash();
    await vol.db.checkpoint();
    await vol.crash();
    await load(vol, 30, 40, 'b');
    await vol.db.checkpoint();
    // Mounting with the stale log: its records are older epochs or covered; nothing of it is applied.
    vol.log = stale;
    const db = await vol.crash();
    await expectAll(db, 40, (i) => (i < 30 ? 'a' : 'b'));
    await db.close();
  });
});
