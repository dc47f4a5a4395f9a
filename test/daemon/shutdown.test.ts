// SIGTERM while RPC clients create, write and fsync files: cairnd stops
// accepting, finishes what is in flight, flushes and checkpoints; after a
// restart every acknowledged create and fsync is there.

import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { startChild, tempDir, type ChildDaemon } from './helpers.js';
import { connect, runLoad, verify } from './rpc-load.js';

const dir = tempDir('cairn-sigterm-');
const children: ChildDaemon[] = [];
const CONFIG = `
log: { level: info }
backend: { kind: fs, fs: { fsync: false } }
limits: { fsync: true, maxFlushTimeMs: 300 }
volumes:
  - name: vol1
    secret: load-secret
`;

afterAll(async () => {
  for (const c of children) await c.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('graceful shutdown under load', () => {
  it('loses nothing acknowledged', { timeout: 180_000 }, async () => {
    const a = await startChild({ cwd: dir, config: CONFIG });
    children.push(a);
    const client = await connect(a.runtime.rpc!, 'vol1', 'load-secret');
    const d = await client.mkdir({ parent: 1, name: 'load', mode: 0o755 });
    const stop = new AbortController();
    const load = runLoad(client, d.ino, 'f', 6, stop.signal);
    await new Promise((r) => setTimeout(r, 1500));
    const code = await a.stop('SIGTERM');
    stop.abort();
    const acked = await load;
    await client.close().catch(() => undefined);
    expect(code, a.output().slice(-3000)).toBe(0);
    expect(acked.created.size).toBeGreaterThan(5);
    expect(a.output()).toMatch(/"failures":0,"msg":"cairnd stopped"/);

    const b = await startChild({ cwd: dir, config: CONFIG });
    children.push(b);
    const c2 = await connect(b.runtime.rpc!, 'vol1', 'load-secret');
    try {
      const dir2 = await c2.lookup({ parent: 1, name: 'load' });
      expect(await verify(c2, dir2.ino, acked)).toEqual([]);
    } finally {
      await c2.close();
    }
    expect(await b.stop('SIGTERM')).toBe(0);
  });
});
