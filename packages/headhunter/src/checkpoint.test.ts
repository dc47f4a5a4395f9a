import { describe, expect, it } from 'vitest';
import { cairnError, isCairnError } from '@cairn/errors';
import type { Container } from '@cairn/objstore';
import { encodeKey } from './keys.js';
import { formatVolume, openVolume } from './mount.js';
import { MemoryLog } from './testing/memory-log.js';
import { makeVolume } from './testing/volume.js';
import { createMemoryStore } from '@cairn/objstore';

const k = (n: number): Buffer => encodeKey([n]);

async function eventually(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A container whose puts fail while `down` is set. */
function flaky(inner: Container): { container: Container; down: boolean } {
  const state = { down: false, container: undefined as unknown as Container };
  state.container = new Proxy(inner, {
    get(target, prop, recv) {
      if (prop === 'put') {
        return async (...args: Parameters<Container['put']>) => {
          if (state.down) throw cairnError('CAIRN_ERR_OBJ_FORBIDDEN', 'store refuses writes (test)');
          return target.put(...args);
        };
      }
      return Reflect.get(target, prop, recv);
    },
  });
  return state;
}

describe('checkpoints', () => {
  it('a failing store fails checkpoints, not commits; the background retry converges', async () => {
    const store = createMemoryStore();
    const base = store.container('vol-flaky');
    await formatVolume({ container: base, trees: ['t'] });
    const f = flaky(base);
    const db = await openVolume({ container: f.container, log: new MemoryLog(), checkpointIntervalMs: 3_600_000 });
    f.down = true;
    for (let i = 0; i < 50; i++) await db.batch([{ type: 'put', tree: 't', key: k(i), value: Buffer.from('x') }]);
    await expect(db.checkpoint()).rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_META_CHECKPOINT_FAILED'));
    expect(db.stats().checkpoint.failed).toBeGreaterThan(0);
    expect(db.stats().stopped).toBeUndefined();
    const before = db.stats().checkpoint.published;
    f.down = false;
    // Nobody asks again: the scheduled retry (1 s backoff) publishes.
    await eventually(() => db.stats().checkpoint.published > before, 5000);
    expect(db.stats().checkpoint.seq).toBeGreaterThan(0);
    const db2 = await openVolume({ container: base, log: new MemoryLog() });
    expect(await db2.tree('t').count()).toBe(50);
    await db2.close();
    await db.close();
  });

  it('checkpoints on an interval when something changed, when changed nodes take memory, when the log grows', async () => {
    const vol = await makeVolume({}, { checkpointIntervalMs: 30 });
    await vol.db.batch([{ type: 'put', tree: 't', key: k(1), value: Buffer.from('x') }]);
    await eventually(() => vol.db.stats().checkpoint.last?.commitSeq === 1);
    const n = vol.db.stats().checkpoint.published;
    await new Promise((r) => setTimeout(r, 150));
    // Nothing changed: no new checkpoint.
    expect(vol.db.stats().checkpoint.published).toBe(n);
    await vol.db.close();

    const vol3 = await makeVolume({}, { checkpointDirtyBytes: 5_000 });
    for (let i = 0; i < 100; i++) await vol3.db.batch([{ type: 'put', tree: 't', key: k(i * 7919 % 1000), value: Buffer.alloc(100, i) }]);
    await eventually(() => vol3.db.stats().checkpoint.published > 1);
    await vol3.db.close();

    const vol2 = await makeVolume({}, { checkpointLogBytes: 2000 });
    for (let i = 0; i < 60; i++) await vol2.db.batch([{ type: 'put', tree: 't', key: k(i), value: Buffer.alloc(100, i) }]);
    await eventually(() => vol2.log.liveBytes() < 6000);
    expect(vol2.db.stats().checkpoint.published).toBeGreaterThan(1);
    await vol2.db.close();
  });

  it('merges concurrent requests into one checkpoint', async () => {
    const vol = await makeVolume();
    await vol.db.batch([{ type: 'put', tree: 't', key: k(1), value: Buffer.from('x') }]);
    const first = vol.db.checkpoint();
    const rest = Array.from({ length: 8 }, () => vol.db.checkpoint());
    const infos = await Promise.all([first, ...rest]);
    const seqs = new Set(infos.map((i) => i.seq));
    expect(seqs.size).toBeLessThanOrEqual(2);
    await vol.db.close();
  });

  it('writes only the nodes that changed (cost independent of volume size)', async () => {
    const vol = await makeVolume({ leafMaxEntries: 64, indexMaxEntries: 64, maxNodeBytes: 64 * 1024 });
    for (let i = 0; i < 20_000; i += 500) {
      const ops = [];
      for (let j = i; j < i + 500; j++) ops.push({ type: 'put' as const, tree: 't', key: k(j), value: Buffer.from(`v${j}`) });
      await vol.db.batch(ops);
    }
    const big = await vol.db.checkpoint();
    expect(big.nodes).toBeGreaterThan(300);
    const height = (await vol.db.check()).trees.t!.height;
    for (let i = 0; i < 10; i++) await vol.db.batch([{ type: 'put', tree: 't', key: k(i * 1999), value: Buffer.from('changed') }]);
    const small = await vol.db.checkpoint();
    expect(small.nodes).toBeLessThanOrEqual(10 * height);
    expect(small.nodeBytes).toBeLessThan(big.nodeBytes / 10);
    await vol.db.close();
  });

  it('nonce requests beyond the reservation wait for a published one, and never repeat', async () => {
    const vol = await makeVolume({}, { nonceRange: 2 });
    const got = await Promise.all(Array.from({ length: 25 }, () => vol.db.nextNonce()));
    expect(new Set(got).size).toBe(25);
    const durable = vol.db.stats().nonces.durableLimit;
    for (const n of got) expect(n < durable).toBe(true);
    await vol.db.close();
  });

  it('a replay-log failure stops commits (the state may not be durable) but not the process', async () => {
    const vol = await makeVolume();
    await vol.db.batch([{ type: 'put', tree: 't', key: k(1), value: Buffer.from('x') }]);
    vol.log.failNext = cairnError('CAIRN_ERR_LOG_IO', 'disk gone (test)');
    await expect(vol.db.batch([{ type: 'put', tree: 't', key: k(2), value: Buffer.from('y') }]))
      .rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_LOG_IO'));
    await expect(vol.db.batch([{ type: 'put', tree: 't', key: k(3), value: Buffer.from('z') }]))
      .rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_LOG_IO'));
    expect(vol.db.stats().stopped).toMatch(/disk gone/);
    await vol.db.close();
  });

  it('refuses bad options and bad shapes', async () => {
    const store = createMemoryStore();
    await expect(formatVolume({ container: store.container('vol-bad'), leafMaxEntries: 3 }))
      .rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_CONFIG_INVALID'));
    await expect(formatVolume({ container: store.container('vol-bad'), trees: ['Bad Name'] }))
      .rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_INVALID_ARGUMENT'));
    await formatVolume({ container: store.container('vol-ok') });
    await expect(openVolume({ container: store.container('vol-ok'), log: new MemoryLog(), nonceRange: 0 }))
      .rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_CONFIG_INVALID'));
  });
});
