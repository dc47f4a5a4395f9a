import { describe, expect, it } from 'vitest';
import { isCairnError } from '@cairn/errors';
import { createMemoryStore } from '@cairn/objstore';
import { encodeKey } from './keys.js';
import { formatVolume, openVolume } from './mount.js';
import { MemoryLog } from './testing/memory-log.js';
import { SMALL_SHAPE } from './testing/volume.js';

const k = (n: number): Buffer => encodeKey([n]);
const fenced = (e: unknown): boolean => isCairnError(e, 'CAIRN_ERR_META_FENCED');

async function setup() {
  const store = createMemoryStore();
  const container = store.container('vol-fence');
  await formatVolume({ container, trees: ['t'], ...SMALL_SHAPE });
  const open = (log: MemoryLog) => openVolume({ container, log, checkpointIntervalMs: 3_600_000 });
  return { store, container, open };
}

describe('fencing', () => {
  it('a second mount takes the volume over; the first stops serving at its next checkpoint', async () => {
    const { open } = await setup();
    const a = await open(new MemoryLog());
    await a.batch([{ type: 'put', tree: 't', key: k(1), value: Buffer.from('a1') }]);
    await a.checkpoint();
    const b = await open(new MemoryLog());
    expect((await b.tree('t').get(k(1)))?.toString()).toBe('a1');
    // A does not know yet; its next publish loses the race.
    await a.batch([{ type: 'put', tree: 't', key: k(2), value: Buffer.from('a2') }]);
    await expect(a.checkpoint()).rejects.toSatisfy(fenced);
    await expect(a.tree('t').get(k(1))).rejects.toSatisfy(fenced);
    await expect(a.batch([{ type: 'put', tree: 't', key: k(3), value: Buffer.from('a3') }])).rejects.toSatisfy(fenced);
    await expect(a.nextNonce()).rejects.toSatisfy(fenced);
    expect(a.stats().stopped).toMatch(/another writer|published/);
    await a.close();
    // B never saw A's late write and serves on.
    expect(await b.tree('t').get(k(2))).toBeUndefined();
    await b.batch([{ type: 'put', tree: 't', key: k(4), value: Buffer.from('b4') }]);
    await b.checkpoint();
    expect((await b.check()).errors).toEqual([]);
    await b.close();
  });

  it('of two mounts racing for the same volume, exactly one serves', async () => {
    const { open } = await setup();
    const results = await Promise.allSettled([open(new MemoryLog()), open(new MemoryLog()), open(new MemoryLog())]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(ok.length).toBeGreaterThanOrEqual(1);
    for (const r of lost) expect(fenced((r as PromiseRejectedResult).reason)).toBe(true);
    // Every winner but the last to claim finds out at its next checkpoint; at most one keeps serving.
    let serving = 0;
    for (const r of ok) {
      const db = (r as PromiseFulfilledResult<Awaited<ReturnType<typeof open>>>).value;
      try {
        await db.batch([{ type: 'put', tree: 't', key: k(1), value: Buffer.from('x') }]);
        await db.checkpoint();
        serving++;
      } catch (e) {
        expect(fenced(e)).toBe(true);
      }
      await db.close();
    }
    expect(serving).toBe(1);
  });

  it('a read-only mount reads without fencing the owner and refuses to write', async () => {
    const { open, container } = await setup();
    const a = await open(new MemoryLog());
    await a.batch([{ type: 'put', tree: 't', key: k(1), value: Buffer.from('a1') }]);
    await a.checkpoint();
    const ro = await openVolume({ container, readOnly: true });
    expect((await ro.tree('t').get(k(1)))?.toString()).toBe('a1');
    const readOnly = (e: unknown): boolean => isCairnError(e, 'CAIRN_ERR_META_READ_ONLY');
    await expect(ro.batch([{ type: 'put', tree: 't', key: k(2), value: Buffer.from('x') }])).rejects.toSatisfy(readOnly);
    await expect(ro.checkpoint()).rejects.toSatisfy(readOnly);
    await expect(ro.nextNonce()).rejects.toSatisfy(readOnly);
    await ro.close();
    // The owner was not fenced.
    await a.batch([{ type: 'put', tree: 't', key: k(3), value: Buffer.from('a3') }]);
    await a.checkpoint();
    expect((await a.check()).errors).toEqual([]);
    await a.close();
  });

  it('a publish whose answer was lost is recognised as its own, not as fencing', async () => {
    const { container, open } = await setup();
    const db = await open(new MemoryLog());
    // Make the next checkpoint-record PUT succeed but report a reset.
    const orig = container.put.bind(container);
    let tripped = false;
    (container as { put: typeof container.put }).put = async (name, body, o) => {
      const info = await orig(name, body, o);
      if (!tripped && name.startsWith('meta/checkpoints/')) {
        tripped = true;
        throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
      }
      return info;
    };
    await db.batch([{ type: 'put', tree: 't', key: k(1), value: Buffer.from('x') }]);
    await expect(db.checkpoint()).rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_META_CHECKPOINT_FAILED'));
    (container as { put: typeof container.put }).put = orig;
    await db.batch([{ type: 'put', tree: 't', key: k(2), value: Buffer.from('y') }]);
    const info = await db.checkpoint();
    expect(info.commitSeq).toBe(2);
    expect(db.stats().stopped).toBeUndefined();
    await db.close();
  });
});
