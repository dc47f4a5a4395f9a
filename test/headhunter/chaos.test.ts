// headhunter over a faulty object store (the chaos wrapper: failures before and
// after the operation took effect, stalls, connection resets, latency).
// Commits never depend on the store (they go to the replay log), so every
// acknowledged batch must survive; checkpoints may fail but must converge
// once retried, never corrupt the previous one, and never stop the volume.

import { describe, expect, it } from 'vitest';
import { isCairnError, isRetryable } from '../../packages/errors/src/index.js';
import { createChaosStore } from '../../packages/objstore/src/backends/chaos.js';
import { createMemoryStore } from '../../packages/objstore/src/index.js';
import { encodeKey, formatVolume, openVolume, type BatchOp, type Headhunter } from '../../packages/headhunter/src/index.js';
import { MemoryLog } from '../../packages/headhunter/src/testing/memory-log.js';
import { abandon, killable } from '../../packages/headhunter/src/testing/volume.js';

const key = (n: number): Buffer => encodeKey([n % 13, n]);

/**
 * Retries an operation that failed in a retryable way: the store may still be
 * failing after the internal retries (a commit that must load a node can fail;
 * it then changed nothing).
 */
async function read<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i > 20 || !isRetryable(err)) throw err;
    }
  }
}

async function verify(db: Headhunter, model: Map<string, string>): Promise<void> {
  const all = await read(() => db.tree('t').scan({ limit: 100_000 }));
  expect(all.length).toBe(model.size);
  for (const e of all) expect(model.get(e.key.toString('hex'))).toBe(e.value.toString('hex'));
  const r = await read(() => db.check());
  expect(r.errors).toEqual([]);
}

describe('headhunter over a faulty object store', () => {
  for (const seed of [1, 2, 3]) {
    it(`checkpoints converge and nothing acknowledged is lost (seed ${seed})`, async () => {
      const chaos = createChaosStore(createMemoryStore(), {
        seed,
        enabled: false,
        rates: { before: 0.08, after: 0.06, stall: 0.02 },
        ops: { get: { before: 0.08, after: 0.04, stall: 0.02, reset: 0.06 } },
        latencyMs: { min: 0, max: 3 },
        stallMs: 150,
      });
      const base = chaos.container('vol-chaos');
      await formatVolume({ container: base, trees: ['t'], leafMaxEntries: 8, indexMaxEntries: 8, maxNodeBytes: 32 * 1024 });
      chaos.setEnabled(true);
      let log = new MemoryLog();
      let k = killable(base);
      const opts = { cacheBytes: 48 * 1024, checkpointIntervalMs: 40, deletesPerSecond: 500, nonceRange: 4, requestTimeoutMs: 400 };
      const mount = async (): Promise<Headhunter> => {
        for (let i = 0; ; i++) {
          try {
            return await openVolume({ container: k.container, log, ...opts });
          } catch (err) {
            // A mount may give up when the store keeps failing; trying again must work.
            if (i > 10 || !isRetryable(err)) throw err;
          }
        }
      };
      let db = await mount();
      const model = new Map<string, string>();
      for (let round = 0; round < 8; round++) {
        const pending: Array<Promise<unknown>> = [];
        for (let b = 0; b < 12; b++) {
          const ops: BatchOp[] = [];
          for (let i = 0; i < 5; i++) {
            const n = Math.floor(Math.random() * 400);
            if (Math.random() < 0.25) ops.push({ type: 'del', tree: 't', key: key(n) });
            else ops.push({ type: 'put', tree: 't', key: key(n), value: Buffer.from(`r${round}b${b}i${i}`.repeat(1 + (n % 9))) });
          }
          pending.push(read(() => db.batch(ops)).then(() => {
            for (const o of ops) {
              if (o.type === 'put') model.set(Buffer.from(o.key).toString('hex'), Buffer.from(o.value).toString('hex'));
              else model.delete(Buffer.from(o.key).toString('hex'));
            }
          }));
          // Batches of one round run concurrently but touch the model in commit order only per round:
          // keep them sequential within the round so the model is exact.
          await pending[pending.length - 1];
        }
        try {
          await db.checkpoint();
        } catch (err) {
          expect(isCairnError(err, 'CAIRN_ERR_META_CHECKPOINT_FAILED')).toBe(true);
        }
        if (round % 3 === 2) {
          // kill -9 and mount again, still under faults.
          k.kill();
          abandon(db);
          log = log.crash();
          k = killable(base);
          db = await mount();
        }
        await verify(db, model);
        expect(db.stats().stopped).toBeUndefined();
      }
      // Faults off: the next checkpoint succeeds and covers everything.
      chaos.setEnabled(false);
      const last = await db.checkpoint();
      expect(last.commitSeq).toBe(db.stats().commitSeq);
      await verify(db, model);
      await db.close();
      // A clean mount from that checkpoint alone (empty log) has everything.
      const db2 = await openVolume({ container: base, log: new MemoryLog(), ...opts });
      await verify(db2, model);
      await db2.close();
      expect(chaos.injected()).toBeGreaterThan(20);
    }, 120_000);
  }
});
