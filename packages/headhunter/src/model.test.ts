// Model-based test: random programs of batches, transactions, checkpoints,
// snapshots, scans, remounts and crashes (with and without an unacknowledged
// commit in flight) against a plain Map model, with a tiny node cache so
// nodes are evicted and reloaded all the time. check() runs after every
// commit; every acknowledged change must be there after every remount.
// Compaction runs with its defaults, eagerly (most objects, a tiny budget, so
// passes are partial) or not at all; reclamation passes delete everything
// they may, and every snapshot must still read exactly its moment afterwards
// (also through a view opened before the snapshot was deleted).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isCairnError } from '@cairn/errors';
import { encodeKey } from './keys.js';
import type { FailpointName, Failpoints } from './failpoints.js';
import type { BatchOp, Headhunter } from './index.js';
import { makeVolume, settleReclaim, type TestVolume } from './testing/volume.js';

type Model = Map<string, Map<string, string>>;
const TREES = ['t', 'u'];

type Action =
  | { t: 'batch'; ops: Array<{ tree: number; key: number; del: boolean; size: number; fill: number }> }
  | { t: 'concurrent'; n: number; key: number }
  | { t: 'txn'; key: number }
  | { t: 'checkpoint' }
  | { t: 'remount' }
  | { t: 'crash'; pending: boolean; keep: boolean }
  | { t: 'snapshot'; name: number }
  | { t: 'dropSnapshot'; name: number; retire: boolean }
  | { t: 'reclaim' }
  | { t: 'scan'; tree: number; from: number; reverse: boolean; limit: number };

const opArb = fc.record({ tree: fc.nat(1), key: fc.nat(60), del: fc.boolean(), size: fc.oneof(fc.nat(20), fc.nat(1500)), fill: fc.nat(255) });
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ t: fc.constant('batch' as const), ops: fc.array(opArb, { minLength: 1, maxLength: 30, size: 'medium' }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('concurrent' as const), n: fc.integer({ min: 2, max: 6 }), key: fc.nat(60) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('txn' as const), key: fc.nat(60) }) },
  { weight: 3, arbitrary: fc.constant({ t: 'checkpoint' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'remount' as const }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('crash' as const), pending: fc.boolean(), keep: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('snapshot' as const), name: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('dropSnapshot' as const), name: fc.nat(2), retire: fc.boolean() }) },
  { weight: 2, arbitrary: fc.constant({ t: 'reclaim' as const }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('scan' as const), tree: fc.nat(1), from: fc.nat(60), reverse: fc.boolean(), limit: fc.integer({ min: 1, max: 20 }) }) },
);

const key = (n: number): Buffer => encodeKey([n % 7, `k${n}`]);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function clone(m: Model): Model {
  return new Map([...m].map(([t, e]) => [t, new Map(e)]));
}

function applyOps(m: Model, ops: BatchOp[]): void {
  for (const o of ops) {
    const t = m.get(o.tree)!;
    if (o.type === 'put') t.set(hex(o.key), hex(o.value));
    else t.delete(hex(o.key));
  }
}

async function contents(db: Headhunter | { tree(n: string): { scan(o: object): Promise<Array<{ key: Buffer; value: Buffer }>> } }): Promise<Model> {
  const m: Model = new Map();
  for (const t of TREES) {
    const entries = await db.tree(t).scan({ limit: 100_000 });
    m.set(t, new Map(entries.map((e) => [hex(e.key), hex(e.value)])));
  }
  return m;
}

function sameModel(a: Model, b: Model): boolean {
  for (const t of TREES) {
    const x = a.get(t)!;
    const y = b.get(t)!;
    if (x.size !== y.size) return false;
    for (const [k, v] of x) if (y.get(k) !== v) return false;
  }
  return true;
}

/** Failpoints whose 'batch.after-log-append' can be made to hang once (an unacknowledged commit). */
function hangingFailpoints(): Failpoints & { arm(): Promise<void> } {
  let armed: (() => void) | undefined;
  return {
    async hit(name: FailpointName) {
      if (name === 'batch.after-log-append' && armed !== undefined) {
        const reached = armed;
        armed = undefined;
        reached();
        await new Promise<void>(() => {});
      }
    },
    counts: () => ({}),
    arm() {
      return new Promise<void>((resolve) => {
        armed = resolve;
      });
    },
  };
}

const checks = { total: 0, space: 0, compacted: 0, deleted: 0 };

/** Compaction settings: the defaults, eager (small budget: partial passes), off. */
const COMPACTION = {
  default: {},
  eager: { compactBelow: 0.6, compactBytesPerCheckpoint: 1500 },
  off: { compactBelow: 0 },
} as const;

async function runProgram(actions: Action[], cacheBytes: number, keys: number, compaction: keyof typeof COMPACTION): Promise<void> {
  const fp = hangingFailpoints();
  const vol: TestVolume = await makeVolume({ trees: TREES }, {
    cacheBytes, deletesPerSecond: 5000, failpoints: fp, nonceRange: 3, ...COMPACTION[compaction],
  });
  const model: Model = new Map(TREES.map((t) => [t, new Map()]));
  const snaps = new Map<string, Model>();
  let counter = 0;
  const check = async (): Promise<void> => {
    const r = await vol.db.check();
    expect(r.errors.join('\n')).toBe('');
    checks.total++;
    if (r.spaceChecked) checks.space++;
    expect(sameModel(await contents(vol.db), model)).toBe(true);
  };
  const checkSnapshots = async (): Promise<void> => {
    expect(vol.db.listSnapshots().map((s) => s.name)).toEqual([...snaps.keys()].sort());
    for (const [name, m] of snaps) {
      const view = vol.db.snapshot(name);
      expect(sameModel(await contents(view), m)).toBe(true);
      view.release();
    }
  };
  /** Publishes enough checkpoints that no retained one is older than now, then lets the reclaimer delete all it may. */
  const reclaimAll = async (): Promise<void> => {
    for (let i = 0; i < 3; i++) checks.compacted += (await vol.db.checkpoint({ force: true })).compactedNodes;
    const before = vol.db.stats().reclaim.deleted;
    await settleReclaim(vol.db);
    checks.deleted += vol.db.stats().reclaim.deleted - before;
  };
  for (const a of actions) {
    const db = vol.db;
    switch (a.t) {
      case 'batch': {
        const ops: BatchOp[] = a.ops.map((o) => o.del
          ? { type: 'del', tree: TREES[o.tree]!, key: key(o.key * keys + (o.fill % keys)) }
          : { type: 'put', tree: TREES[o.tree]!, key: key(o.key * keys + (o.fill % keys)), value: Buffer.alloc(o.size, o.fill) });
        await db.batch(ops);
        applyOps(model, ops);
        await check();
        break;
      }
      case 'concurrent': {
        const batches: BatchOp[][] = [];
        for (let i = 0; i < a.n; i++) {
          batches.push([
            { type: 'put', tree: 't', key: key(a.key), value: Buffer.from(`c${counter++}`) },
            { type: 'put', tree: 'u', key: key((a.key + i) % 61), value: Buffer.from(`d${i}`) },
          ]);
        }
        const cp = db.checkpoint().catch(() => undefined);
        const infos = await Promise.all(batches.map((b) => db.batch(b)));
        await cp;
        const order = infos.map((inf, i) => ({ seq: inf.seq, i })).sort((x, y) => x.seq - y.seq);
        for (const { i } of order) applyOps(model, batches[i]!);
        await check();
        break;
      }
      case 'txn': {
        await db.transact((tx) => {
          const cur = tx.get('u', key(a.key));
          const n = cur === undefined || cur.length < 4 ? 0 : cur.readUInt32BE(0);
          const next = Buffer.alloc(4);
          next.writeUInt32BE((n + 1) % 0x100000000);
          tx.put('u', key(a.key), next);
          expect(tx.get('u', key(a.key))!.equals(next)).toBe(true);
        });
        const m = model.get('u')!;
        const cur = m.get(hex(key(a.key)));
        const n = cur === undefined || cur.length < 8 ? 0 : Buffer.from(cur, 'hex').readUInt32BE(0);
        const next = Buffer.alloc(4);
        next.writeUInt32BE((n + 1) % 0x100000000);
        m.set(hex(key(a.key)), hex(next));
        await check();
        break;
      }
      case 'checkpoint':
        checks.compacted += (await db.checkpoint({ force: true })).compactedNodes;
        await check();
        await checkSnapshots();
        break;
      case 'reclaim':
        await reclaimAll();
        await check();
        await checkSnapshots();
        break;
      case 'remount':
        await vol.remount();
        await check();
        break;
      case 'crash': {
        if (a.pending) {
          const ops: BatchOp[] = [
            { type: 'put', tree: 't', key: key(counter % 61), value: Buffer.from(`p${counter++}`) },
            { type: 'del', tree: 'u', key: key(counter % 61) },
            { type: 'put', tree: 'u', key: key((counter + 5) % 61), value: Buffer.from(`q${counter++}`) },
          ];
          const reached = fp.arm();
          void db.batch(ops).catch(() => undefined);
          await reached;
          await vol.crash(a.keep ? 1 : 0);
          const after = clone(model);
          applyOps(after, ops);
          const got = await contents(vol.db);
          // The unacknowledged commit is either wholly there or wholly absent.
          if (sameModel(got, after)) applyOps(model, ops);
          else expect(sameModel(got, model)).toBe(true);
        } else {
          await vol.crash(0);
        }
        await check();
        await checkSnapshots();
        break;
      }
      case 'snapshot': {
        const name = `s${a.name}`;
        if (snaps.has(name)) {
          await expect(db.createSnapshot(name)).rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_META_SNAPSHOT_EXISTS'));
        } else {
          const info = await db.createSnapshot(name);
          expect(info.counts.t).toBe(model.get('t')!.size);
          snaps.set(name, clone(model));
        }
        await check();
        break;
      }
      case 'dropSnapshot': {
        const name = `s${a.name}`;
        if (snaps.has(name)) {
          // A view opened before the delete keeps reading the snapshot's moment, whatever is reclaimed meanwhile.
          const view = db.snapshot(name);
          await db.deleteSnapshot(name);
          const m = snaps.get(name)!;
          snaps.delete(name);
          if (a.retire) await reclaimAll();
          expect(sameModel(await contents(view), m)).toBe(true);
          view.release();
        } else {
          await expect(db.deleteSnapshot(name)).rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_META_SNAPSHOT_NOT_FOUND'));
        }
        expect(db.listSnapshots().map((s) => s.name)).toEqual([...snaps.keys()].sort());
        await check();
        break;
      }
      case 'scan': {
        const tree = TREES[a.tree]!;
        const from = key(a.from);
        const got = await db.tree(tree).scan(a.reverse ? { lt: from, reverse: true, limit: a.limit } : { gte: from, limit: a.limit });
        const all = [...model.get(tree)!.keys()].sort();
        const want = a.reverse
          ? all.filter((k) => k < hex(from)).reverse().slice(0, a.limit)
          : all.filter((k) => k >= hex(from)).slice(0, a.limit);
        expect(got.map((e) => hex(e.key))).toEqual(want);
        const cnt = await db.tree(tree).count(a.reverse ? { lt: from } : { gte: from });
        expect(cnt).toBe(a.reverse ? all.filter((k) => k < hex(from)).length : all.filter((k) => k >= hex(from)).length);
        break;
      }
    }
  }
  await reclaimAll();
  await checkSnapshots();
  await check();
  await vol.db.close();
}

describe('headhunter against a Map model', () => {
  it('random programs with a tiny node cache', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(actionArb, { minLength: 10, maxLength: 80, size: 'max' }), fc.constantFrom(0, 3000, 50_000), fc.constantFrom(1, 5),
      fc.constantFrom<keyof typeof COMPACTION>('default', 'eager', 'off'),
      async (actions, cache, spread, compaction) => {
        await runProgram(actions, cache, spread, compaction);
      },
    ), { numRuns: Number(process.env.CAIRN_TEST_MODEL_RUNS ?? 60) });
    // The space accounting must actually have been compared most of the time,
    // and compaction and reclamation must actually have happened.
    expect(checks.space).toBeGreaterThan(checks.total * 0.8);
    expect(checks.compacted).toBeGreaterThan(0);
    expect(checks.deleted).toBeGreaterThan(0);
  }, 240_000);
});
