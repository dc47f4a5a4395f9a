// cairnd on a real OpenStack Swift: formats its volume there, serves it over
// RPC, checkpoints through the management API, and hands it over through
// unserve/serve with nothing lost.

import { rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createDaemon, type Daemon } from '@cairn/daemon';
import { swiftSettings } from '../helpers/services.js';
import { api, tempDir, testConfig, testLogger } from './helpers.js';
import { connect, runLoad, verify } from './rpc-load.js';

const swift = swiftSettings();
const dir = tempDir('cairn-swiftd-');
const daemons: Daemon[] = [];

afterAll(async () => {
  for (const d of daemons) await d.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!swift)('cairnd on Swift', () => {
  it('serves, checkpoints and hands over a volume stored in Swift', { timeout: 180_000 }, async () => {
    const vol = `d${randomBytes(5).toString('hex')}`;
    const cfg = (sub: string, serve: boolean) => testConfig(`${dir}/${sub}`, {
      backend: { kind: 'swift', swift: { authUrl: swift!.authUrl, user: swift!.user, key: swift!.key } },
      volumes: [{ name: vol, secret: 'swift-secret', serve, format: serve }],
    });
    const a = createDaemon({ config: cfg('a', true), logger: testLogger() });
    daemons.push(a);
    const ia = await a.start();
    expect(ia.backend).toBe('swift');
    expect(ia.volumes).toEqual([expect.objectContaining({ name: vol, served: true })]);

    const client = await connect(a.runtime.listeners.rpc!, vol, 'swift-secret');
    const d = await client.mkdir({ parent: 1, name: 'data', mode: 0o755 });
    const stop = new AbortController();
    const load = runLoad(client, d.ino, 's', 3, stop.signal);
    await new Promise((r) => setTimeout(r, 1000));
    stop.abort();
    const acked = await load;
    const cp = await api(ia.mgmtUrl, 'POST', `/v1/volumes/${vol}/checkpoints`, 'admin-secret-token');
    expect(cp.status).toBe(201);
    await client.close();
    expect((await api(ia.mgmtUrl, 'POST', `/v1/volumes/${vol}/unserve`, 'admin-secret-token')).status).toBe(200);

    const b = createDaemon({ config: cfg('b', false), logger: testLogger() });
    daemons.push(b);
    const ib = await b.start();
    const served = await api(ib.mgmtUrl, 'POST', `/v1/volumes/${vol}/serve`, 'admin-secret-token', {});
    expect(served.status, JSON.stringify(served.body)).toBe(200);
    const cb = await connect(b.runtime.listeners.rpc!, vol, 'swift-secret');
    try {
      const dirB = await cb.lookup({ parent: 1, name: 'data' });
      expect(await verify(cb, dirB.ino, acked)).toEqual([]);
    } finally {
      await cb.close();
    }
    const list = await api(ib.mgmtUrl, 'GET', `/v1/volumes/${vol}/checkpoints`, 'admin-secret-token');
    expect(list.body.checkpoints[0].id).toBeGreaterThan(cp.body.id);
  });
});
