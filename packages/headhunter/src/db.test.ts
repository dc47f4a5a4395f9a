import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isCairnError } from '@cairn/errors';
import { encodeKey } from './keys.js';
import { formatVolume, openVolume } from './mount.js';
import { makeVolume } from './testing/volume.js';
import type { Headhunter } from './index.js';

const k = (n: number): Buffer => encodeKey([n]);
const v = (s: string): Buffer => Buffer.from(s);

async function expectOk(db: Headhunter): Promise<void> {
  const r = await db.check();
  expect(r.errors).toEqual([]);
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect((err as { code?: string }).code).toBe(code);
}

describe('headhunter basics', () => {
  it('puts, gets, scans, counts, deletes; survives remount with and without checkpoints', async () => {
    const vol = await makeVolume();
    let db = vol.db;
    const ops = [];
    for (let i = 0; i < 300; i++) ops.push({ type: 'put' as const, tree: 't', key: k(i), value: v(`v${i}`) });
    const c = await db.batch(ops);
    expect(c.seq).toBe(1);
    await expectOk(db);
    expect((await db.tree('t').get(k(7)))?.toString()).toBe('v7');
    expect(await db.tree('t').get(k(1000))).toBeUndefined();
    expect(await db.tree('t').count()).toBe(300);
    expect(await db.tree('t').count({ gte: k(10), lt: k(20) })).toBe(10);
    const page = await db.tree('t').scan({ gt: k(100), limit: 5 });
    expect(page.map((e) => e.value.toString())).toEqual(['v101', 'v102', 'v103', 'v104', 'v105']);
    const back = await db.tree('t').scan({ lte: k(100), reverse: true, limit: 3 });
    expect(back.map((e) => e.value.toString())).toEqual(['v100', 'v99', 'v98']);
    expect((await db.tree('t').first())?.value.toString()).toBe('v0');
    expect((await db.tree('t').last())?.value.toString()).toBe('v299');

    await db.batch([{ type: 'del', tree: 't', key: k(7) }, { type: 'put', tree: 't', key: k(8), value: v('eight') }]);
    await expectOk(db);
    db = await vol.crash();
    await expectOk(db);
    expect(await db.tree('t').get(k(7))).toBeUndefined();
    expect((await db.tree('t').get(k(8)))?.toString()).toBe('eight');
    expect(await db.tree('t').count()).toBe(299);

    const info = await db.checkpoint();
    expect(info.nodes).toBeGreaterThan(0);
    await expectOk(db);
    db = await vol.crash();
    await expectOk(db);
    expect((await db.tree('t').get(k(299)))?.toString()).toBe('v299');
    expect(await db.tree('t').count()).toBe(299);
    const all = await db.tree('t').scan({ limit: 10_000 });
    expect(all.length).toBe(299);
    await db.close();
  });

  it('deletes everything back to an empty tree', async () => {
    const vol = await makeVolume();
    const db = vol.db;
    for (let i = 0; i < 200; i++) await db.batch([{ type: 'put', tree: 't', key: k(i), value: v('x'.repeat(i % 50)) }]);
    await db.checkpoint();
    for (let i = 0; i < 200; i += 2) await db.batch([{ type: 'del', tree: 't', key: k(i) }]);
    await expectOk(db);
    await db.checkpoint();
    for (let i = 1; i < 200; i += 2) {
      await db.batch([{ type: 'del', tree: 't', key: k(i) }]);
      if (i % 37 === 0) await expectOk(db);
    }
    await expectOk(db);
    expect(await db.tree('t').count()).toBe(0);
    expect(await db.tree('t').first()).toBeUndefined();
    await db.close();
  });

  it('transactions read their own writes and commit atomically', async () => {
    const vol = await makeVolume();
    const db = vol.db;
    await db.batch([{ type: 'put', tree: 't', key: k(1), value: v('1') }]);
    const r = await db.transact((tx) => {
      const n = Number(tx.get('t', k(1))!.toString());
      tx.put('t', k(1), v(String(n + 1)));
      tx.put('t', k(2), v('two'));
      return tx.get('t', k(1))!.toString();
    });
    expect(r.result).toBe('2');
    await rejectsWith(db.transact((tx) => {
      tx.put('t', k(3), v('3'));
      throw new Error('caller changed its mind');
    }).catch((e) => { throw Object.assign(e, { code: 'CALLER' }); }), 'CALLER');
    expect(await db.tree('t').get(k(3))).toBeUndefined();
    await rejectsWith(db.batch([{ type: 'put', tree: 'nope', key: k(1), value: v('') }]), 'CAIRN_ERR_META_NO_SUCH_TREE');
    await rejectsWith(db.batch([{ type: 'put', tree: 't', key: Buffer.alloc(2000), value: v('') }]), 'CAIRN_ERR_INVALID_ARGUMENT');
    await db.close();
  });

  it('creates trees, refuses to format twice, reports unformatted volumes', async () => {
    const vol = await makeVolume();
    await vol.db.createTree('inodes');
    await vol.db.batch([{ type: 'put', tree: 'inodes', key: k(1), value: v('root') }]);
    expect(vol.db.treeNames()).toEqual(['inodes', 't']);
    const db = await vol.crash();
    expect(db.treeNames()).toEqual(['inodes', 't']);
    expect((await db.tree('inodes').get(k(1)))?.toString()).toBe('root');
    await rejectsWith(formatVolume({ container: vol.container }), 'CAIRN_ERR_META_ALREADY_FORMATTED');
    await rejectsWith(openVolume({ container: vol.store.container('empty-one'), log: vol.log }), 'CAIRN_ERR_META_NOT_FORMATTED');
    await db.close();
  });

  it('concurrent reads of one node share one GET; a cache far smaller than the tree still works', async () => {
    const vol = await makeVolume({}, { cacheBytes: 0 });
    const ops = [];
    for (let i = 0; i < 500; i++) ops.push({ type: 'put' as const, tree: 't', key: k(i), value: v(`v${i}`) });
    await vol.db.batch(ops);
    await vol.db.checkpoint();
    const db = await vol.crash();
    const before = db.stats().loader;
    const got = await Promise.all(Array.from({ length: 40 }, () => db.tree('t').get(k(250))));
    for (const g of got) expect(g?.toString()).toBe('v250');
    const after = db.stats().loader;
    const height = (await db.check()).trees.t!.height;
    // Forty readers, one path: each node of the path read once (the rest joined a read in flight).
    expect(after.loads - before.loads).toBeLessThanOrEqual(height);
    expect(after.sharedLoads - before.sharedLoads).toBeGreaterThan(0);
    expect((await db.tree('t').scan({ limit: 1000 })).length).toBe(500);
    await db.close();
  });

  it('hands out nonces that are never reused, across crashes', async () => {
    const vol = await makeVolume({}, { nonceRange: 10 });
    const seen = new Set<bigint>();
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 25; i++) {
        const n = await vol.db.nextNonce();
        expect(seen.has(n)).toBe(false);
        seen.add(n);
      }
      await vol.db.batch([{ type: 'put', tree: 't', key: k(round), value: v('x') }]);
      await vol.db.checkpoint();
      await vol.crash();
    }
    expect(seen.has(0n)).toBe(false);
    await vol.db.close();
  });
});

describe('scans longer than one loading step', () => {
  it('scan and range give the model\'s entries for any bounds, direction and limit, with a cold cache too small for the tree', async () => {
    const vol = await makeVolume({}, { cacheBytes: 16 * 1024 });
    const n = 1200;
    await vol.db.batch(Array.from({ length: n }, (_, i) => ({ type: 'put' as const, tree: 't', key: k(i * 2), value: v(`v${i * 2}`) })));
    await vol.db.checkpoint();
    let db = await vol.crash();
    const model = Array.from({ length: n }, (_, i) => i * 2);
    await fc.assert(
      fc.asyncProperty(fc.nat(2 * n + 2), fc.nat(2 * n + 2), fc.boolean(), fc.integer({ min: 1, max: 1500 }), fc.boolean(), async (a, b, reverse, limit, cold) => {
        if (cold) db = await vol.crash();
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const want = model.filter((x) => x >= lo && x < hi);
        if (reverse) want.reverse();
        const got = await db.tree('t').scan({ gte: k(lo), lt: k(hi), reverse, limit });
        expect(got.map((e) => e.value.toString())).toEqual(want.slice(0, limit).map((x) => `v${x}`));
        const streamed: string[] = [];
        for await (const e of db.tree('t').range({ gte: k(lo), lt: k(hi), reverse, limit })) streamed.push(e.value.toString());
        expect(streamed).toEqual(want.slice(0, limit).map((x) => `v${x}`));
      }),
      { numRuns: 40 },
    );
    await db.close();
  });
});
