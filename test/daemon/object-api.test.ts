// The object API as cairnd wires it: one Swift account per volume, user
// <volume>:admin with the generated key; objects are files of the volume; the
// read-only switch applies.

import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Daemon } from '@cairn/daemon';
import { api, startInProcess, tempDir } from './helpers.js';

let dir: string;
let daemon: Daemon;
let url: string;

beforeAll(async () => {
  dir = tempDir('cairn-objapi-');
  ({ daemon, url } = await startInProcess(dir));
});

afterAll(async () => {
  await daemon?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('object API through cairnd', () => {
  it('logs in as <volume>:admin, stores and reads an object, honours read-only', async () => {
    const base = daemon.runtime.listeners.object!;
    const login = await fetch(`${base}/auth/v1.0`, { headers: { 'x-auth-user': 'vol1:admin', 'x-auth-key': daemon.runtime.objectApiKey } });
    expect(login.status).toBeLessThan(300);
    const token = login.headers.get('x-auth-token')!;
    const storage = login.headers.get('x-storage-url')!;
    expect(storage).toMatch(/\/v1\/AUTH_vol1$/);
    const h = { 'x-auth-token': token };
    expect((await fetch(`${storage}/bucket`, { method: 'PUT', headers: h })).status).toBeLessThan(300);
    const put = await fetch(`${storage}/bucket/hello.txt`, { method: 'PUT', headers: h, body: 'hello from swift' });
    expect(put.status).toBe(201);
    const get = await fetch(`${storage}/bucket/hello.txt`, { headers: h });
    expect(await get.text()).toBe('hello from swift');

    const wrong = await fetch(`${base}/auth/v1.0`, { headers: { 'x-auth-user': 'vol1:admin', 'x-auth-key': 'nope' } });
    expect(wrong.status).toBe(401);

    await api(url, 'PUT', '/v1/volumes/vol1/read-only', 'admin-secret-token', { enabled: true });
    const refused = await fetch(`${storage}/bucket/other.txt`, { method: 'PUT', headers: h, body: 'x' });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(await (await fetch(`${storage}/bucket/hello.txt`, { headers: h })).text()).toBe('hello from swift');
    await api(url, 'PUT', '/v1/volumes/vol1/read-only', 'admin-secret-token', { enabled: false });

    const metrics = await api(url, 'GET', '/metrics', 'read-only-token');
    expect(metrics.body).toMatch(/cairn_fs_operations_total\{api="object",volume="vol1",method="[a-z]+",outcome="ok"\}/);
  });
});
