// Volume handover between two cairnd processes on one object store: while A
// serves the volume B cannot take it; A unserves (final checkpoint, ownership
// released); B serves it and sees everything A acknowledged; A cannot take it
// back while B owns it, and A's next start leaves it unserved.

import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api, startChild, tempDir, type ChildDaemon } from './helpers.js';
import { connect, runLoad, verify } from './rpc-load.js';

const dir = tempDir('cairn-handover-');
const objects = join(dir, 'shared-objects');
const children: ChildDaemon[] = [];

const config = (serve: boolean): string => `
backend: { kind: fs, fs: { root: ${JSON.stringify(objects)}, fsync: false } }
limits: { fsync: false, maxFlushTimeMs: 300 }
volumes:
  - { name: vol1, secret: shared-secret, serve: ${serve}, format: ${serve} }
`;

afterAll(async () => {
  for (const c of children) await c.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('handover between daemons', () => {
  it('unserve on one cairnd, serve on another: nothing lost', { timeout: 240_000 }, async () => {
    mkdirSync(join(dir, 'a'));
    mkdirSync(join(dir, 'b'));
    const a = await startChild({ cwd: join(dir, 'a'), config: config(true) });
    children.push(a);
    const b = await startChild({ cwd: join(dir, 'b'), config: config(false) });
    children.push(b);
    const tokA = a.creds.adminToken;
    const tokB = b.creds.adminToken;
    expect(a.runtime.nodeId).not.toBe(b.runtime.nodeId);

    const ca = await connect(a.runtime.rpc!, 'vol1', 'shared-secret');
    const d = await ca.mkdir({ parent: 1, name: 'data', mode: 0o755 });
    const stop = new AbortController();
    const load = runLoad(ca, d.ino, 'h', 4, stop.signal);
    await new Promise((r) => setTimeout(r, 800));

    // B cannot serve what A owns.
    const refused = await api(b.runtime.mgmtUrl, 'POST', '/v1/volumes/vol1/serve', tokB, {});
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('CAIRN_ERR_MGMT_OWNED_ELSEWHERE');
    expect(refused.body.error.message).toContain(a.runtime.nodeId);

    // A unserves while the load runs: in-flight calls finish, later ones fail.
    const un = await api(a.runtime.mgmtUrl, 'POST', '/v1/volumes/vol1/unserve', tokA);
    expect(un.status, JSON.stringify(un.body)).toBe(200);
    stop.abort();
    const acked = await load;
    await ca.close().catch(() => undefined);
    expect(acked.created.size).toBeGreaterThan(3);

    const served = await api(b.runtime.mgmtUrl, 'POST', '/v1/volumes/vol1/serve', tokB, {});
    expect(served.status, JSON.stringify(served.body)).toBe(200);
    expect(served.body.owner).toBe(b.runtime.nodeId);
    const cb = await connect(b.runtime.rpc!, 'vol1', 'shared-secret');
    try {
      const dirB = await cb.lookup({ parent: 1, name: 'data' });
      expect(await verify(cb, dirB.ino, acked)).toEqual([]);
    } finally {
      await cb.close();
    }

    // A cannot take it back while B owns it.
    const back = await api(a.runtime.mgmtUrl, 'POST', '/v1/volumes/vol1/serve', tokA, {});
    expect(back.status).toBe(409);

    // A restarted keeps it unserved (the run-time decision wins over its config).
    expect(await a.stop('SIGTERM')).toBe(0);
    const a2 = await startChild({ cwd: join(dir, 'a'), config: config(true) });
    children.push(a2);
    const vols = await api(a2.runtime.mgmtUrl, 'GET', '/v1/volumes', tokA);
    expect(vols.body.volumes).toEqual([expect.objectContaining({ name: 'vol1', served: false, owner: b.runtime.nodeId })]);
    expect(await a2.stop('SIGTERM')).toBe(0);
    expect(await b.stop('SIGTERM')).toBe(0);
  });
});
