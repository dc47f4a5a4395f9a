// Exactly once under chaos: a client runs many non-idempotent operations
// through a proxy that cuts its connections at random points (before a request
// reaches the server, after the server executed it but before the reply got
// back, in the middle of a frame). The client reconnects and re-sends with the
// same request ids; afterwards every operation took effect exactly once and
// every call got the answer of its one execution.

import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CairnClient, RpcClient, type Credentials, type RpcServer } from '../../packages/rpc/src/index.js';
import { ChaosProxy } from './helpers/chaos-proxy.js';
import { FS_SECRET, startFsServer } from './helpers/fs.js';
import { SECRET, startTestServer } from './helpers/table.js';
import { socketDir, TRANSPORTS } from './helpers/transport.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Runs `n` tasks with at most `width` at once. */
async function pool(n: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) await task(next++);
  }));
}

// Over TCP and over Unix-domain sockets (client to proxy to server).
describe.each(TRANSPORTS)('over %s', (transport) => {
  describe('exactly once across cut connections (test method table)', () => {
    it('every increment, append and create executes once, whatever the proxy cuts', async () => {
      const { server, addr, volume } = await startTestServer({}, transport);
      cleanups.push(() => server.close());
      const dir = socketDir();
      cleanups.push(() => dir.remove());
      const proxyPath = join(dir.dir, 'proxy.sock');
      const proxy = new ChaosProxy({
        ...('socketPath' in addr ? { targetPath: addr.socketPath, listenPath: proxyPath } : { targetPort: addr.port }),
        seed: 0xc0ffee, dropRequest: 0.02, dropReply: 0.025, cutMidFrame: 0.01,
      });
      const pport = await proxy.start();
      cleanups.push(() => proxy.close());
      const client = new RpcClient({ ...(transport === 'unix' ? { socketPath: proxyPath } : { host: '127.0.0.1', port: pport }), poolSize: 2, deadlineMs: 60_000 });
      cleanups.push(() => client.close());

      proxy.enabled = false;
      const { mountId } = await client.call<{ mountId: string }>('mount', { volume: 'vol', secret: SECRET });
      proxy.enabled = true;

      const N = 1500;
      const incrValues: number[] = [];
      const failures: unknown[] = [];
      await pool(N, 24, async (i) => {
        try {
          if (i % 3 === 0) incrValues.push((await client.call<{ value: number }>('incr', {}, {}, mountId)).value);
          else if (i % 3 === 1) await client.call('append', { token: `t${i}` }, {}, mountId);
          else expect(await client.call('create', { name: `n${i}` }, {}, mountId)).toEqual({ created: `n${i}` });
        } catch (err) {
          failures.push(err);
        }
      });

      expect(failures).toEqual([]);
      const incrs = Math.ceil(N / 3);
      expect(volume.counter).toBe(incrs);
      // Each increment saw its own value: no reply was shared or duplicated.
      expect([...incrValues].sort((a, b) => a - b)).toEqual(Array.from({ length: incrs }, (_, k) => k + 1));
      const tokens = Array.from({ length: N }, (_, i) => i).filter((i) => i % 3 === 1).map((i) => `t${i}`);
      expect([...volume.appended].sort()).toEqual([...tokens].sort());
      expect(volume.names.size).toBe(N - incrs - tokens.length);
      expect([...volume.executions.values()].every((n) => n === 1)).toBe(true);
      expect(volume.executions.size).toBe(N);
      // The chaos really happened, at every kind of point.
      expect(proxy.stats.cutBeforeRequest).toBeGreaterThan(3);
      expect(proxy.stats.cutAfterExecution).toBeGreaterThan(3);
      expect(proxy.stats.cutMidFrame).toBeGreaterThan(0);
      expect(client.stats().resent).toBeGreaterThan(0);
      const cache = (server as RpcServer).stats().replyCache;
      expect(cache.cachedHits + cache.attached).toBeGreaterThan(0);
    });
  });
});

describe('exactly once across cut connections (a real Filesystem on the memory store)', () => {
  it('creates, renames, mkdirs and append-writes each take effect once', async () => {
    const env = await startFsServer();
    cleanups.push(() => env.close());
    const proxy = new ChaosProxy({ targetPort: env.port, seed: 0x5eed, dropRequest: 0.02, dropReply: 0.025, cutMidFrame: 0.01 });
    const pport = await proxy.start();
    cleanups.push(() => proxy.close());
    const root: Credentials = { uid: 0, gid: 0, groups: [] };
    proxy.enabled = false;
    const client = await CairnClient.connect({ host: '127.0.0.1', port: pport, volume: 'rpcvol', secret: FS_SECRET, cred: root, poolSize: 2 });
    cleanups.push(() => client.close());
    const dir = await client.mkdir({ parent: 1, name: 'chaos', mode: 0o755 });
    const log = await client.create({ parent: 1, name: 'append.log', mode: 0o644, open: { write: true, append: true } });
    proxy.enabled = true;

    const N = 600;
    const failures: unknown[] = [];
    await pool(N, 16, async (i) => {
      try {
        switch (i % 4) {
          case 0:
            await client.create({ parent: dir.ino, name: `c${i}`, mode: 0o644 });
            break;
          case 1: // two dependent non-idempotent operations
            await client.create({ parent: dir.ino, name: `tmp${i}`, mode: 0o644 });
            await client.rename({ parent: dir.ino, name: `tmp${i}`, newParent: dir.ino, newName: `r${i}` });
            break;
          case 2:
            await client.mkdir({ parent: dir.ino, name: `d${i}`, mode: 0o755 });
            break;
          default: // write at the end: running twice would add the token twice
            await client.write({ ino: log.attr.ino, offset: 0, data: Buffer.from(`<${String(i).padStart(6, '0')}>`), fh: log.fh! });
        }
      } catch (err) {
        failures.push(err);
      }
    });
    proxy.enabled = false;
    expect(failures).toEqual([]);

    const names: string[] = [];
    let cookie = 0;
    for (;;) {
      const page = await client.readdir({ ino: dir.ino, cookie, limit: 1000 });
      names.push(...page.entries.map((e) => e.name).filter((n) => n !== '.' && n !== '..'));
      if (page.eof) break;
      cookie = page.entries[page.entries.length - 1]!.cookie;
    }
    const expected = Array.from({ length: N }, (_, i) => i)
      .filter((i) => i % 4 !== 3)
      .map((i) => (i % 4 === 0 ? `c${i}` : i % 4 === 1 ? `r${i}` : `d${i}`));
    expect(names.sort()).toEqual(expected.sort());

    const appends = Array.from({ length: N }, (_, i) => i).filter((i) => i % 4 === 3);
    const size = (await client.getattr({ ino: log.attr.ino })).size;
    expect(size).toBe(appends.length * 8);
    const content = (await client.read({ ino: log.attr.ino, offset: 0, length: size })).data.toString();
    const tokens = content.match(/<\d{6}>/g) ?? [];
    expect(tokens.length).toBe(appends.length);
    expect(new Set(tokens).size).toBe(appends.length);

    expect(proxy.stats.cutBeforeRequest + proxy.stats.cutAfterExecution + proxy.stats.cutMidFrame).toBeGreaterThan(10);
    expect(proxy.stats.cutAfterExecution).toBeGreaterThan(3);
    const cache = env.server.stats().replyCache;
    expect(cache.cachedHits + cache.attached).toBeGreaterThan(0);
  });
});
