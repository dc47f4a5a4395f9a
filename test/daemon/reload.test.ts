// SIGHUP: cairnd re-reads its file and applies what can change live (log
// level, tokens, volumes to serve); an invalid file is refused and the
// running configuration stays.

import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api, startChild, tempDir, waitFor, type ChildDaemon } from './helpers.js';

const dir = tempDir('cairn-reload-');
const children: ChildDaemon[] = [];
const base = `
backend: { kind: fs, fs: { fsync: false } }
limits: { fsync: false }
mgmt: { adminToken: first-token }
objectApi: { key: first-key }
`;

afterAll(async () => {
  for (const c of children) await c.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('SIGHUP', () => {
  it('reloads tokens, log level and volumes to serve; refuses a bad file', { timeout: 120_000 }, async () => {
    const a = await startChild({ cwd: dir, config: `${base}volumes: [{ name: vol1 }]\n`, env: { CAIRN_LOG_LEVEL: '' } });
    children.push(a);
    const url = a.runtime.mgmtUrl;
    const file = join(dir, 'cairn.yaml');
    const login = (user: string, key: string) => fetch(`${a.runtime.objectApiUrl}/auth/v1.0`, { headers: { 'x-auth-user': user, 'x-auth-key': key } });
    const first = await login('vol1:admin', 'first-key');
    expect(first.status).toBe(200);
    const oldToken = first.headers.get('x-auth-token')!;
    const account = (token: string, acct: string) => fetch(`${a.runtime.objectApiUrl}/v1/${acct}?format=json`, { headers: { 'x-auth-token': token } });
    expect((await account(oldToken, 'AUTH_vol1')).status).toBe(200);

    writeFileSync(file, `${base.replace('first-token', 'second-token').replace('first-key', 'second-key')}log: { level: debug }\nvolumes: [{ name: vol1, serve: false }, { name: vol2 }]\n`);
    a.proc.kill('SIGHUP');
    await waitFor('vol2 served', async () => {
      const r = await api(url, 'GET', '/v1/volumes', 'second-token');
      return r.status === 200 && r.body.volumes.some((v: any) => v.name === 'vol2' && v.served) ? true : undefined;
    }, 30_000, 100);
    expect((await api(url, 'GET', '/v1/volumes', 'first-token')).status).toBe(401);
    const vols = (await api(url, 'GET', '/v1/volumes', 'second-token')).body.volumes;
    expect(vols.find((v: any) => v.name === 'vol1').served).toBe(false);
    expect(a.output()).toMatch(/"level":20,[^\n]*"component":"volumes","volume":"vol2"[^\n]*taking ownership/);

    // The object API key changed: tokens under the old one end; the new key logs in,
    // also for vol2, a volume that did not exist when the server started.
    expect((await account(oldToken, 'AUTH_vol1')).status).toBe(401);
    expect((await login('vol1:admin', 'first-key')).status).toBe(401);
    const second = await login('vol2:admin', 'second-key');
    expect(second.status).toBe(200);
    expect((await account(second.headers.get('x-auth-token')!, 'AUTH_vol2')).status).toBe(200);

    writeFileSync(file, 'mgmt: { prot: 1 }\n');
    a.proc.kill('SIGHUP');
    await waitFor('refusal logged', () => (/reload refused/.test(a.output()) ? true : undefined), 10_000);
    expect((await api(url, 'GET', '/v1/status', 'second-token')).status).toBe(200);
    expect(await a.stop('SIGTERM')).toBe(0);
  });
});
