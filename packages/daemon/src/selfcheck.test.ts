import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFsStore, createMemoryStore, type ObjectStore } from '@cairn/objstore';
import { runSelfCheck } from './selfcheck.js';

describe('object-store self-check', () => {
  it('passes every step on the memory backend', async () => {
    const store = createMemoryStore();
    const r = await runSelfCheck(store);
    expect(r.steps.filter((s) => !s.ok)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.steps.map((s) => s.step)).toContain('streaming segment');
  });

  it('passes on the fs backend and leaves nothing behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-selfcheck-'));
    const store = createFsStore({ root: dir });
    try {
      const r = await runSelfCheck(store);
      expect(r.ok).toBe(true);
      const left = await store.container('cairn-selfcheck').list({});
      expect(left.entries).toEqual([]);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a failing backend instead of throwing', async () => {
    const inner = createMemoryStore();
    const broken: ObjectStore = {
      kind: 'broken',
      container: (n) => {
        const c = inner.container(n);
        return Object.assign(Object.create(c), { getBuffer: async () => Buffer.from('wrong') });
      },
      ping: async () => {},
      stats: () => inner.stats(),
      close: () => inner.close(),
    };
    const r = await runSelfCheck(broken);
    expect(r.ok).toBe(false);
    expect(r.steps.find((s) => s.step === 'get whole')?.ok).toBe(false);
  });
});
