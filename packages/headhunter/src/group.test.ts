// Group commit (db.ts runGroup): transactions that arrive together share one
// attempt and one log record, yet each still commits or fails as a whole.

import { describe, expect, it } from 'vitest';
import { encodeKey } from './keys.js';
import { makeVolume } from './testing/volume.js';
import type { Headhunter, Txn } from './index.js';

const k = (n: number): Buffer => encodeKey([n]);
const v = (s: string): Buffer => Buffer.from(s);

async function settle<T>(ps: Array<Promise<T>>): Promise<Array<{ ok: true; value: T } | { ok: false; err: unknown }>> {
  return Promise.all(ps.map((p) => p.then((value) => ({ ok: true as const, value }), (err: unknown) => ({ ok: false as const, err }))));
}

async function contents(db: Headhunter): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const e of db.tree('t').range()) out[e.key.toString('hex')] = e.value.toString();
  return out;
}

describe('group commit', () => {
  it('many concurrent transactions share log records; each sees the ones before it; failures leave no trace', async () => {
    const vol = await makeVolume();
    const db = vol.db;
    await db.batch([{ type: 'put', tree: 't', key: k(0), value: v('0') }]);
    const seq0 = db.stats().commitSeq;
    const lsn0 = vol.log.nextLsn;
    const ps: Array<Promise<unknown>> = [];
    for (let i = 1; i <= 60; i++) {
      ps.push(db.transact((tx: Txn) => {
        // Reads what the transactions before it in the same group wrote.
        const prev = tx.get('t', k(i - 1));
        if (i % 10 === 3) throw new Error(`fails before writing ${i}`);
        tx.put('t', k(i), v(`${i}:${prev === undefined ? '-' : 'seen'}`));
        if (i % 10 === 7) {
          tx.put('t', k(1000 + i), v('half'));
          throw new Error(`fails after writing ${i}`);
        }
        return i;
      }));
    }
    const out = await settle(ps);
    for (let i = 1; i <= 60; i++) {
      const r = out[i - 1]!;
      if (i % 10 === 3 || i % 10 === 7) {
        expect(r.ok).toBe(false);
        expect((r as { err: Error }).err.message).toMatch(String(i));
      } else {
        expect(r).toEqual({ ok: true, value: { result: i, commit: expect.objectContaining({ seq: expect.any(Number) }) } });
      }
    }
    const want: Record<string, string> = { [k(0).toString('hex')]: '0' };
    for (let i = 1; i <= 60; i++) {
      if (i % 10 === 3 || i % 10 === 7) continue;
      // i - 1 exists unless it failed (or is 0, written before).
      const prevFailed = (i - 1) % 10 === 3 || (i - 1) % 10 === 7;
      want[k(i).toString('hex')] = `${i}:${prevFailed ? '-' : 'seen'}`;
    }
    expect(await contents(db)).toEqual(want);
    // Fewer commits (and log records) than transactions.
    const commits = db.stats().commitSeq - seq0;
    expect(commits).toBeGreaterThan(0);
    expect(commits).toBeLessThan(48);
    expect(Number(vol.log.nextLsn - lsn0)).toBe(commits);
    expect((await db.check()).errors).toEqual([]);
    // Replay rebuilds exactly the acknowledged state.
    const again = await vol.crash();
    expect(await contents(again)).toEqual(want);
    expect((await again.check()).errors).toEqual([]);
  });

  it('a snapshot taken among concurrent transactions holds exactly the ones queued before it', async () => {
    const vol = await makeVolume();
    const db = vol.db;
    const ps: Array<Promise<unknown>> = [];
    for (let i = 0; i < 20; i++) ps.push(db.transact((tx: Txn) => tx.put('t', k(i), v(`a${i}`))));
    const snap = db.createSnapshot('mid');
    for (let i = 0; i < 20; i++) ps.push(db.transact((tx: Txn) => tx.put('t', k(i), v(`b${i}`))));
    await Promise.all([...ps, snap]);
    const view = db.snapshot('mid');
    try {
      for (let i = 0; i < 20; i++) expect((await view.tree('t').get(k(i)))?.toString()).toBe(`a${i}`);
    } finally {
      view.release();
    }
    for (let i = 0; i < 20; i++) expect((await db.tree('t').get(k(i)))?.toString()).toBe(`b${i}`);
    expect((await db.check()).errors).toEqual([]);
  });

  it('a transaction that needs a node from the store leaves its group and commits on its own', async () => {
    const vol = await makeVolume({}, { cacheBytes: 1 });
    let db = vol.db;
    const ops = [];
    for (let i = 0; i < 400; i++) ops.push({ type: 'put' as const, tree: 't', key: k(i), value: v(`v${i}`) });
    await db.batch(ops);
    await db.checkpoint();
    db = await vol.remount();
    // Cold: every transaction misses nodes; some groups still form for the cached paths.
    const ps: Array<Promise<unknown>> = [];
    for (let i = 0; i < 400; i += 7) ps.push(db.transact((tx: Txn) => tx.put('t', k(i), v(`w${i}`))));
    await Promise.all(ps);
    for (let i = 0; i < 400; i++) expect((await db.tree('t').get(k(i)))?.toString()).toBe(i % 7 === 0 ? `w${i}` : `v${i}`);
    expect((await db.check()).errors).toEqual([]);
    const again = await vol.crash();
    for (let i = 0; i < 400; i += 7) expect((await again.tree('t').get(k(i)))?.toString()).toBe(`w${i}`);
  });

  it('close waits for queued transactions', async () => {
    const vol = await makeVolume();
    const db = vol.db;
    const ps: Array<Promise<unknown>> = [];
    for (let i = 0; i < 30; i++) ps.push(db.transact((tx: Txn) => tx.put('t', k(i), v(`c${i}`))));
    await db.close();
    const out = await settle(ps);
    expect(out.every((r) => r.ok)).toBe(true);
  });
});
