// The middleware role: requests for accounts that are not Cairn volumes, and
// logins of users not configured here, pass through unchanged to a backing
// Swift (here a small recording HTTP server on loopback).

import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServer, type TestServer } from './helpers/server.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let backing: Server;
let backingUrl: string;
const seen: Seen[] = [];
let s: TestServer;
let base: string;

beforeAll(async () => {
  backing = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      if (req.url === '/auth/v1.0') {
        res.writeHead(200, { 'x-auth-token': 'AUTH_tkbacking', 'x-storage-url': `${backingUrl}/v1/AUTH_other`, 'content-length': '0' });
        res.end();
        return;
      }
      res.writeHead(req.method === 'PUT' ? 201 : 200, { 'x-backing': 'yes', etag: 'abc', 'content-type': 'text/plain' });
      res.end(req.method === 'HEAD' ? undefined : `backing says ${req.method} ${req.url}`);
    });
  });
  await new Promise<void>((r) => backing.listen(0, '127.0.0.1', () => r()));
  backingUrl = `http://127.0.0.1:${(backing.address() as { port: number }).port}`;
  s = await testServer({ server: { swift: { users: [{ account: 'test', user: 'tester', key: 'testing' }], backingUrl } } });
  await s.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(s.app.server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await s.app.close();
  await new Promise<void>((r) => backing.close(() => r()));
});

describe('pass-through to a backing Swift', () => {
  it('forwards requests for other accounts with their body and headers, and marks them', async () => {
    const r = await fetch(`${base}/v1/AUTH_other/cont/obj%20name?x=1`, { method: 'PUT', headers: { 'x-auth-token': 'AUTH_tkbacking', 'x-object-meta-a': 'b' }, body: 'payload' });
    expect(r.status).toBe(201);
    expect(r.headers.get('x-backing')).toBe('yes');
    expect(r.headers.get('x-cairn-volume')).toBe('false');
    expect(await r.text()).toBe('backing says PUT /v1/AUTH_other/cont/obj%20name?x=1');
    const last = seen[seen.length - 1]!;
    expect(last).toMatchObject({ method: 'PUT', url: '/v1/AUTH_other/cont/obj%20name?x=1', body: 'payload' });
    expect(last.headers['x-auth-token']).toBe('AUTH_tkbacking');
    expect(last.headers['x-object-meta-a']).toBe('b');
    const h = await fetch(`${base}/v1/AUTH_other`, { method: 'HEAD', headers: { 'x-auth-token': 'AUTH_tkbacking' } });
    expect(h.headers.get('x-cairn-volume')).toBe('false');
  });
  it('logins of users not configured here go to the backing Swift, with the storage URL pointing back here', async () => {
    const r = await fetch(`${base}/auth/v1.0`, { headers: { 'x-auth-user': 'other:user', 'x-auth-key': 'k' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-auth-token')).toBe('AUTH_tkbacking');
    expect(r.headers.get('x-storage-url')).toBe(`${base}/v1/AUTH_other`);
  });
  it('Cairn accounts are served here and never forwarded', async () => {
    const n = seen.length;
    const token = await s.token();
    const r = await fetch(`${base}/v1/AUTH_test`, { method: 'HEAD', headers: { 'x-auth-token': token } });
    expect(r.status).toBe(204);
    expect(r.headers.get('x-cairn-volume')).toBe('true');
    const bad = await fetch(`${base}/v1/AUTH_test`, { method: 'HEAD', headers: { 'x-auth-token': 'AUTH_tkbacking' } });
    expect(bad.status).toBe(401);
    expect(seen.length).toBe(n);
  });
});
