// Group commit (db.ts runGroup): transactions that arrive together share one
// attempt and one log record, yet each still commits or fails as a whole.

import { describe, expect, it } from 'vitest';
import { encodeKey } from './keys.js';
import { makeVolume } from './testing/volume.js';
import type { Headhunter, Txn } from './index.js';
import { decodeCommit, withoutSuperseded, OP_DEL, OP_PUT, OP_TREE_CREATE, type CommitOp, type CommitRecord } from './payload-codec.js';

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

describe('withoutSuperseded', () => {
  const put = (tree: string, key: string, value: string): CommitOp => ({ op: OP_PUT, tree, key: Buffer.from(key), value: Buffer.from(value) });
  const del = (tree: string, key: string): CommitOp => ({ op: OP_DEL, tree, key: Buffer.from(key) });

  it('keeps the last op of each (tree, key), in their order', () => {
    const ops = [put('a', 'x', '1'), put('b', 'x', '2'), del('a', 'y'), put('a', 'x', '3'), put('a', 'y', '4'), del('b', 'x')];
    expect(withoutSuperseded(ops)).toEqual([put('a', 'x', '3'), put('a', 'y', '4'), del('b', 'x')]);
  });

  it('tells trees apart even when tree name and key run together', () => {
    const ops = [put('ab', 'c', '1'), put('a', 'bc', '2')];
    expect(withoutSuperseded(ops)).toBe(ops);
  });

  it('leaves a commit with other ops alone', () => {
    const ops = [put('a', 'x', '1'), { op: OP_TREE_CREATE, tree: 'n' } as CommitOp, put('a', 'x', '2')];
    expect(withoutSuperseded(ops)).toBe(ops);
  });
});

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

  it('a record that many members of a group rewrite is logged once, with its last value', async () => {
    const vol = await makeVolume();
    const db = vol.db;
    await db.batch([{ type: 'put', tree: 't', key: k(0), value: v('0') }]);
    const lsn0 = vol.log.nextLsn;
    const ps: Array<Promise<unknown>> = [];
    for (let i = 1; i <= 40; i++) {
      ps.push(db.transact((tx: Txn) => {
        // A shared counter (read, bumped, written back), one key of its own, and a key deleted then written again.
        const n = Number(tx.get('t', k(0))!.toString());
        tx.put('t', k(0), v(String(n + 1)));
        tx.put('t', k(i), v(`own ${i}`));
        if (i % 2 === 0) tx.del('t', k(500));
        else tx.put('t', k(500), v(`odd ${i}`));
        return i;
      }));
    }
    await Promise.all(ps);
    const want = await contents(db);
    expect(want[k(0).toString('hex')]).toBe('40');
    expect(want[k(500).toString('hex')]).toBeUndefined(); // the last member (40) deleted it
    const records: CommitRecord[] = [];
    for await (const r of vol.log.replay(lsn0 - 1n)) records.push(decodeCommit(r.payload));
    expect(records.length).toBeLessThan(40); // grouped
    let ops = 0;
    for (const c of records) {
      const keys = c.ops.map((o) => ('key' in o ? `${o.tree}/${o.key.toString('hex')}` : ''));
      expect(new Set(keys).size).toBe(keys.length); // no key twice in one record
      ops += c.ops.length;
    }
    // Each member's own key, plus the counter and k(500) at most once per record.
    expect(ops).toBeLessThanOrEqual(40 + 2 * records.length);
    const again = await vol.crash();
    expect(await contents(again)).toEqual(want);
    expect((await again.check()).errors).toEqual([]);
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
