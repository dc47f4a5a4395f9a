// The Swift API in-process (fastify inject) over a model volume: auth,
// accounts, containers, listings, object PUT/GET/HEAD/POST/DELETE/COPY,
// ranges, conditional requests, read plans, SLO/DLO manifests and ETags.

import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testServer, type Backend, type TestServer } from './helpers/server.js';

function rawRequest(port: number, method: string, path: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let data = '';
      res.on('data', (d: Buffer) => (data += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');

let s: TestServer;
let tok: string;
const h = (extra: Record<string, string> = {}): Record<string, string> => ({ 'x-auth-token': tok, ...extra });

async function put(path: string, body: string | Buffer, headers: Record<string, string> = {}) {
  return s.app.inject({ method: 'PUT', url: `/v1/AUTH_test/${path}`, headers: h(headers), payload: body });
}
async function get(path: string, headers: Record<string, string> = {}) {
  return s.app.inject({ method: 'GET', url: `/v1/AUTH_test/${path}`, headers: h(headers) });
}

describe.each(['model', 'inode'] as const)('%s volume', (backend: Backend) => {
  beforeEach(async () => {
    s = await testServer({ backend });
    tok = await s.token();
  });
  afterEach(async () => {
    await s.app.close();
  });

  describe('swift auth', () => {
    it('issues tokens and a storage URL, refuses bad keys', async () => {
      const ok = await s.app.inject({ method: 'GET', url: '/auth/v1.0', headers: { 'x-auth-user': 'test:tester', 'x-auth-key': 'testing', host: 'h:1' } });
      expect(ok.statusCode).toBe(200);
      expect(ok.headers['x-storage-url']).toBe('http://h:1/v1/AUTH_test');
      expect(String(ok.headers['x-auth-token'])).toMatch(/^AUTH_tk[0-9a-f]{32}$/);
      const bad = await s.app.inject({ method: 'GET', url: '/auth/v1.0', headers: { 'x-auth-user': 'test:tester', 'x-auth-key': 'nope' } });
      expect(bad.statusCode).toBe(401);
    });
    it('401 without or with a bad token, 403 on another account', async () => {
      expect((await s.app.inject({ method: 'HEAD', url: '/v1/AUTH_test' })).statusCode).toBe(401);
      expect((await s.app.inject({ method: 'HEAD', url: '/v1/AUTH_test', headers: { 'x-auth-token': 'AUTH_tkbogus' } })).statusCode).toBe(401);
      const r = await s.app.inject({ method: 'GET', url: '/v1/AUTH_test2/c', headers: h() });
      expect(r.statusCode).toBe(403);
      expect(r.body).toMatch(/may not access AUTH_test2/);
    });
    it('every request gets its own transaction id, and another server draws other ids', async () => {
      const ids = new Set<string>();
      for (let i = 0; i < 5; i++) {
        const r = await s.app.inject({ method: 'HEAD', url: '/v1/AUTH_test', headers: h() });
        const id = String(r.headers['x-trans-id']);
        expect(id).toMatch(/^tx[0-9a-f]{20,}$/);
        expect(r.headers['x-openstack-request-id']).toBe(id);
        ids.add(id);
      }
      expect(ids.size).toBe(5);
      const other = await testServer({ backend });
      try {
        const r = await other.app.inject({ method: 'HEAD', url: '/v1/AUTH_test', headers: { 'x-auth-token': await other.token() } });
        const id = String(r.headers['x-trans-id']);
        expect(id.slice(0, 14)).not.toBe([...ids][0]!.slice(0, 14));
      } finally {
        await other.app.close();
      }
    });
    it('tokens expire', async () => {
      let now = Date.now();
      const t = await testServer({ backend, server: { now: () => now, swift: { users: [{ account: 'test', user: 'tester', key: 'testing' }], tokenTtlSeconds: 10 } } });
      const token = await t.token();
      expect((await t.app.inject({ method: 'HEAD', url: '/v1/AUTH_test', headers: { 'x-auth-token': token } })).statusCode).toBe(204);
      now += 11_000;
      expect((await t.app.inject({ method: 'HEAD', url: '/v1/AUTH_test', headers: { 'x-auth-token': token } })).statusCode).toBe(401);
      await t.app.close();
    });
  });

  describe('swift account and containers', () => {
    it('account HEAD says it is a Cairn volume and counts', async () => {
      await put('c1', '');
      await put('c1/o', 'hello');
      const r = await s.app.inject({ method: 'HEAD', url: '/v1/AUTH_test', headers: h() });
      expect(r.statusCode).toBe(204);
      expect(r.headers['x-cairn-volume']).toBe('true');
      expect(r.headers['x-account-container-count']).toBe('1');
      expect(r.headers['x-account-object-count']).toBe('1');
      expect(r.headers['x-account-bytes-used']).toBe('5');
    });
    it('container PUT/HEAD/POST/DELETE and account listings', async () => {
      expect((await put('b', '')).statusCode).toBe(201);
      expect((await put('a', '', { 'x-container-meta-color': 'blue' })).statusCode).toBe(201);
      expect((await put('a', '')).statusCode).toBe(202);
      const head = await s.app.inject({ method: 'HEAD', url: '/v1/AUTH_test/a', headers: h() });
      expect(head.statusCode).toBe(204);
      expect(head.headers['x-container-meta-color']).toBe('blue');
      expect(head.headers['x-container-object-count']).toBe('0');
      await s.app.inject({ method: 'POST', url: '/v1/AUTH_test/a', headers: h({ 'x-remove-container-meta-color': 'x', 'x-container-meta-size': 'L' }) });
      const head2 = await s.app.inject({ method: 'HEAD', url: '/v1/AUTH_test/a', headers: h() });
      expect(head2.headers['x-container-meta-color']).toBeUndefined();
      expect(head2.headers['x-container-meta-size']).toBe('L');
      expect((await get('')).body).toBe('a\nb\n');
      expect((await get('?reverse=true')).body).toBe('b\na\n');
      expect((await get('?marker=a')).body).toBe('b\n');
      expect((await get('?end_marker=b')).body).toBe('a\n');
      expect((await get('?limit=1')).body).toBe('a\n');
      const js = JSON.parse((await get('?format=json')).body) as Array<{ name: string; count: number }>;
      expect(js.map((x) => x.name)).toEqual(['a', 'b']);
      expect((await get('?format=xml')).body).toContain('<account name="AUTH_test"><container><name>a</name>');
      await put('a/o', 'x');
      const del = await s.app.inject({ method: 'DELETE', url: '/v1/AUTH_test/a', headers: h() });
      expect(del.statusCode).toBe(409);
      await s.app.inject({ method: 'DELETE', url: '/v1/AUTH_test/a/o', headers: h() });
      expect((await s.app.inject({ method: 'DELETE', url: '/v1/AUTH_test/a', headers: h() })).statusCode).toBe(204);
      expect((await s.app.inject({ method: 'DELETE', url: '/v1/AUTH_test/a', headers: h() })).statusCode).toBe(404);
      // the working directories are never containers
      expect((await get('.cairn-tmp')).statusCode).toBe(400);
      expect((await get('')).body).toBe('b\n');
    });
    it('container listings: prefix, delimiter, markers, reverse, formats', async () => {
      await put('c', '');
      for (const n of ['a/b/c', 'a/b-x', 'a/d', 'a-1', 'z', 'a/b/d']) expect((await put(`c/${n}`, n)).statusCode).toBe(201);
      expect((await get('c')).body).toBe('a-1\na/b-x\na/b/c\na/b/d\na/d\nz\n');
      expect((await get('c?delimiter=/')).body).toBe('a-1\na/\nz\n');
      expect((await get('c?prefix=a/&delimiter=/')).body).toBe('a/b-x\na/b/\na/d\n');
      expect((await get('c?prefix=a/b')).body).toBe('a/b-x\na/b/c\na/b/d\n');
      expect((await get('c?marker=a/b-x&limit=2')).body).toBe('a/b/c\na/b/d\n');
      expect((await get('c?marker=a/b/c&end_marker=z')).body).toBe('a/b/d\na/d\n');
      expect((await get('c?reverse=true')).body).toBe('z\na/d\na/b/d\na/b/c\na/b-x\na-1\n');
      expect((await get('c?reverse=true&marker=a/d&end_marker=a-1')).body).toBe('a/b/d\na/b/c\na/b-x\n');
      expect((await get('c?path=a')).body).toBe('a/b-x\na/b/\na/d\n');
      const js = JSON.parse((await get('c?format=json&delimiter=/')).body) as Array<Record<string, unknown>>;
      expect(js[0]).toMatchObject({ name: 'a-1', bytes: 3, hash: md5('a-1'), content_type: 'application/octet-stream' });
      expect(js[0]!['last_modified']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
      expect(js[1]).toEqual({ subdir: 'a/' });
      const xml = (await get('c?format=xml&prefix=z')).body;
      expect(xml).toContain(`<container name="c"><object><name>z</name><hash>${md5('z')}</hash><bytes>1</bytes>`);
      expect((await get('c?prefix=nothing')).statusCode).toBe(204);
      expect((await get('c?limit=abc')).statusCode).toBe(400);
    });
    it('empty directories are listed as application/directory objects; implicit ones vanish with their last object', async () => {
      await put('c', '');
      await put('c/dir', '', { 'content-type': 'application/directory', 'content-length': '0' });
      await put('c/x/y/z', 'data');
      expect((await get('c')).body).toBe('dir\nx/y/z\n');
      const js = JSON.parse((await get('c?format=json')).body) as Array<Record<string, unknown>>;
      expect(js[0]).toMatchObject({ name: 'dir', content_type: 'application/directory', bytes: 0 });
      expect((await s.app.inject({ method: 'DELETE', url: '/v1/AUTH_test/c/x/y/z', headers: h() })).statusCode).toBe(204);
      expect([...(await s.fs.dump()).keys()].filter((k) => k.startsWith('/c'))).toEqual(['/c', '/c/dir']);
      expect((await s.app.inject({ method: 'DELETE', url: '/v1/AUTH_test/c/dir', headers: h() })).statusCode).toBe(204);
      expect((await s.app.inject({ method: 'DELETE', url: '/v1/AUTH_test/c', headers: h() })).statusCode).toBe(204);
    });
  });

  describe('swift objects', () => {
    beforeEach(async () => {
      await put('c', '');
    });
    it('PUT creates parents, GET/HEAD return bytes, metadata, ETag; the filesystem sees the file', async () => {
      const r = await put('c/a/b/obj.txt', 'hello world', { 'x-object-meta-Color': 'red', 'content-encoding': 'gzip' });
      expect(r.statusCode).toBe(201);
      expect(r.headers.etag).toBe(md5('hello world'));
      expect((await s.fs.bytes('/c/a/b/obj.txt')).toString()).toBe('hello world');
      const g = await get('c/a/b/obj.txt');
      expect(g.statusCode).toBe(200);
      expect(g.body).toBe('hello world');
      expect(g.headers['content-type']).toBe('text/plain');
      expect(g.headers['x-object-meta-color']).toBe('red');
      expect(g.headers['content-encoding']).toBe('gzip');
      expect(g.headers.etag).toBe(md5('hello world'));
      expect(g.headers['content-length']).toBe('11');
      const hd = await s.app.inject({ method: 'HEAD', url: '/v1/AUTH_test/c/a/b/obj.txt', headers: h() });
      expect(hd.statusCode).toBe(200);
      expect(hd.headers['content-length']).toBe('11');
      expect(hd.body).toBe('');
    });
    it('a wrong ETag is 422 and changes nothing', async () => {
      await put('c/o', 'old');
      const r = await put('c/o', 'new content', { etag: md5('something else') });
      expect(r.statusCode).toBe(422);
      expect((await get('c/o')).body).toBe('old');
      expect([...(await s.fs.dump()).keys()].filter((k) => k.startsWith('/.cairn-tmp/'))).toEqual([]);
      const ok = await put('c/o', 'new content', { etag: md5('new content') });
      expect(ok.statusCode).toBe(201);
    });
    it('a new object under a mismatched ETag leaves no parent directories or files behind', async () => {
      const r = await put('c/p/q/o', 'x', { etag: md5('y') });
      expect(r.statusCode).toBe(422);
      expect([...(await s.fs.dump()).keys()].filter((k) => k.startsWith('/c/'))).toEqual([]);
    });
    it('If-None-Match: * creates only when absent; Content-Length is required', async () => {
      expect((await put('c/o', 'a', { 'if-none-match': '*' })).statusCode).toBe(201);
      expect((await put('c/o', 'b', { 'if-none-match': '*' })).statusCode).toBe(412);
      expect((await get('c/o')).body).toBe('a');
      const r = await s.app.inject({ method: 'PUT', url: '/v1/AUTH_test/c/n', headers: h() });
      expect(r.statusCode).toBe(411);
    });
    it('ranges: single, suffix, multiple (multipart/byteranges), unsatisfiable', async () => {
      await put('c/r', '0123456789');
      const one = await get('c/r', { range: 'bytes=2-4' });
      expect(one.statusCode).toBe(206);
      expect(one.body).toBe('234');
      expect(one.headers['content-range']).toBe('bytes 2-4/10');
      expect((await get('c/r', { range: 'bytes=-3' })).body).toBe('789');
      expect((await get('c/r', { range: 'bytes=8-' })).body).toBe('89');
      const multi = await get('c/r', { range: 'bytes=0-1,5-6' });
      expect(multi.statusCode).toBe(206);
      const ct = String(multi.headers['content-type']);
      const boundary = /boundary=(\w+)/.exec(ct)![1]!;
      expect(multi.body).toBe(`--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-1/10\r\n\r\n01\r\n` +
        `--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 5-6/10\r\n\r\n56\r\n--${boundary}--\r\n`);
      expect(Number(multi.headers['content-length'])).toBe(Buffer.byteLength(multi.body));
      const bad = await get('c/r', { range: 'bytes=20-30' });
      expect(bad.statusCode).toBe(416);
      expect(bad.headers['content-range']).toBe('bytes */10');
      expect((await get('c/r', { range: 'bytes=5-2' })).statusCode).toBe(200);
    });
    it('conditional GETs', async () => {
      const r = await put('c/k', 'v');
      const etag = String(r.headers.etag);
      expect((await get('c/k', { 'if-match': etag })).statusCode).toBe(200);
      expect((await get('c/k', { 'if-match': '"nope"' })).statusCode).toBe(412);
      expect((await get('c/k', { 'if-none-match': `"${etag}"` })).statusCode).toBe(304);
      expect((await get('c/k', { 'if-none-match': 'other' })).statusCode).toBe(200);
      const future = new Date(Date.now() + 3_600_000).toUTCString();
      const past = new Date(Date.now() - 3_600_000).toUTCString();
      expect((await get('c/k', { 'if-modified-since': future })).statusCode).toBe(304);
      expect((await get('c/k', { 'if-modified-since': past })).statusCode).toBe(200);
      expect((await get('c/k', { 'if-unmodified-since': past })).statusCode).toBe(412);
      expect((await get('c/missing', { 'if-match': '*' })).statusCode).toBe(412);
    });
    it('POST replaces metadata; DELETE removes; 404s', async () => {
      await put('c/m', 'x', { 'x-object-meta-a': '1', 'x-object-meta-b': '2' });
      const p = await s.app.inject({ method: 'POST', url: '/v1/AUTH_test/c/m', headers: h({ 'x-object-meta-c': '3', 'content-type': 'text/csv' }) });
      expect(p.statusCode).toBe(202);
      const g = await get('c/m');
      expect(g.headers['x-object-meta-a']).toBeUndefined();
      expect(g.headers['x-object-meta-c']).toBe('3');
      expect(g.headers['content-type']).toBe('text/csv');
      expect(g.headers.etag).toBe(md5('x'));
      expect((await s.app.inject({ method: 'DELETE', url: '/v1/AUTH_test/c/m', headers: h() })).statusCode).toBe(204);
      expect((await get('c/m')).statusCode).toBe(404);
      expect((await s.app.inject({ method: 'DELETE', url: '/v1/AUTH_test/c/m', headers: h() })).statusCode).toBe(404);
      expect((await get('nocontainer/x')).statusCode).toBe(404);
    });
    it('bad names are 400 with a clear body', async () => {
      for (const [name, why] of [['c/a//b', 'empty path segment'], [`c/${'x'.repeat(256)}`, 'longer than 255 bytes'], [`c/${'a/'.repeat(600)}b`, 'longer than 1024 bytes']] as const) {
        const r = await put(name, 'x');
        expect(r.statusCode, name.slice(0, 30)).toBe(400);
        expect(r.body).toContain(why);
      }
      expect((await s.app.inject({ method: 'GET', url: '/v1/AUTH_test/c/%ZZ', headers: h() })).statusCode).toBe(400);
      expect((await s.app.inject({ method: 'GET', url: '/v1/AUTH_test/c/a%00b', headers: h() })).statusCode).toBe(400);
      expect([...(await s.fs.dump()).keys()].filter((k) => k !== '/c' && !k.startsWith('/.cairn-tmp'))).toEqual([]);
    });
    it('dot segments sent raw over a socket are 400', async () => {
      await s.app.listen({ port: 0, host: '127.0.0.1' });
      const port = (s.app.server.address() as { port: number }).port;
      for (const [path, why] of [['/v1/AUTH_test/c/a/../b', "'..' path segment"], ['/v1/AUTH_test/c/./b', "'.' path segment"], ['/v1/AUTH_test/c/a/%2e%2e/b', "'..' path segment"]] as const) {
        const r = await rawRequest(port, 'PUT', path, { 'x-auth-token': tok, 'content-length': '1' }, 'x');
        expect(r.status, path).toBe(400);
        expect(r.body).toContain(why);
      }
      expect([...(await s.fs.dump()).keys()].filter((k) => k !== '/c' && !k.startsWith('/.cairn-tmp'))).toEqual([]);
      // Chunked transfer encoding (no Content-Length), checked against the ETag sent.
      const body = 'chunked body '.repeat(1000);
      const chunked = await rawRequest(port, 'PUT', '/v1/AUTH_test/c/chunked', { 'x-auth-token': tok, 'transfer-encoding': 'chunked', etag: md5(body) }, body);
      expect(chunked.status).toBe(201);
      expect((await get('c/chunked')).body).toBe(body);
      const wrong = await rawRequest(port, 'PUT', '/v1/AUTH_test/c/chunked', { 'x-auth-token': tok, 'transfer-encoding': 'chunked', etag: md5('x') }, 'other');
      expect(wrong.status).toBe(422);
      expect((await get('c/chunked')).body).toBe(body);
    });
    it('a file in the way of a path is a 409 conflict, a directory in the way of a file too', async () => {
      await put('c/f', 'file');
      expect((await put('c/f/g', 'x')).statusCode).toBe(409);
      await put('c/d/e', 'x');
      expect((await put('c/d', 'x')).statusCode).toBe(409);
      expect((await get('c/d')).headers['content-type']).toBe('application/directory');
    });
    it('COPY and X-Copy-From copy bytes and metadata', async () => {
      await put('c/src', 'copy me', { 'x-object-meta-k': 'v', 'content-type': 'text/x-test' });
      const r = await s.app.inject({ method: 'COPY', url: '/v1/AUTH_test/c/src', headers: h({ destination: '/c/dst/one' }) });
      expect(r.statusCode).toBe(201);
      const g = await get('c/dst/one');
      expect(g.body).toBe('copy me');
      expect(g.headers['x-object-meta-k']).toBe('v');
      expect(g.headers['content-type']).toBe('text/x-test');
      expect(g.headers.etag).toBe(md5('copy me'));
      const r2 = await put('c/two', '', { 'x-copy-from': 'c/src', 'x-fresh-metadata': 'true', 'x-object-meta-n': '1' });
      expect(r2.statusCode).toBe(201);
      const g2 = await get('c/two');
      expect(g2.body).toBe('copy me');
      expect(g2.headers['x-object-meta-k']).toBeUndefined();
      expect(g2.headers['x-object-meta-n']).toBe('1');
      expect((await put('c/three', '', { 'x-copy-from': 'c/none' })).statusCode).toBe(404);
    });
    it('COPY shares extents when the filesystem can', async () => {
      const t = await testServer({ backend, fs: { fastPaths: true } });
      const tk = await t.token();
      await t.app.inject({ method: 'PUT', url: '/v1/AUTH_test/c', headers: { 'x-auth-token': tk } });
      await t.app.inject({ method: 'PUT', url: '/v1/AUTH_test/c/a', headers: { 'x-auth-token': tk }, payload: 'abc' });
      const r = await t.app.inject({ method: 'COPY', url: '/v1/AUTH_test/c/a', headers: { 'x-auth-token': tk, destination: 'c/b' } });
      expect(r.statusCode).toBe(201);
      if (t.model) expect(t.model.calls.get('cloneFile')).toBe(1);
      expect((await t.fs.bytes('/c/b')).toString()).toBe('abc');
      expect(r.headers.etag).toBe(md5('abc'));
      await t.app.close();
    });
    it('ETag: MD5 while unchanged; opaque and changing after filesystem writes (MD5 healing off)', async () => {
      const t = await testServer({ backend, server: { etagHealMaxBytes: 0 } });
      const th = { 'x-auth-token': await t.token() };
      const tget = (p: string) => t.app.inject({ method: 'GET', url: `/v1/AUTH_test/${p}`, headers: th });
      await t.app.inject({ method: 'PUT', url: '/v1/AUTH_test/c', headers: th });
      await t.app.inject({ method: 'PUT', url: '/v1/AUTH_test/c/e', headers: th, payload: 'abcdef' });
      expect((await tget('c/e')).headers.etag).toBe(md5('abcdef'));
      await t.fs.fsWrite('/c/e', 0, Buffer.from('X'));
      const e1 = String((await tget('c/e')).headers.etag);
      expect(e1).toMatch(/^cairn-[0-9a-f]+-\d+-[0-9a-z]+$/);
      expect(e1).not.toBe(md5('Xbcdef'));
      await t.fs.fsWrite('/c/e', 1, Buffer.from('Y'));
      const e2 = String((await tget('c/e')).headers.etag);
      expect(e2).not.toBe(e1);
      const listing = JSON.parse((await tget('c?format=json')).body) as Array<{ hash: string }>;
      expect(listing[0]!.hash).toBe(e2);
      await t.app.close();
    });
    it('ETag healing: a GET after a filesystem write shows (and records) the MD5 of the new bytes', async () => {
      await put('c/e', 'abcdef');
      await s.fs.fsWrite('/c/e', 0, Buffer.from('X'));
      const before = JSON.parse((await get('c?format=json')).body) as Array<{ hash: string }>;
      expect(before[0]!.hash).toMatch(/^cairn-/);
      const g = await get('c/e');
      expect(g.body).toBe('Xbcdef');
      expect(g.headers.etag).toBe(md5('Xbcdef'));
      const after = JSON.parse((await get('c?format=json')).body) as Array<{ hash: string }>;
      expect(after[0]!.hash).toBe(md5('Xbcdef'));
    });
    it('files written through the filesystem are objects', async () => {
      const c = await s.fs.lookup(s.fs.rootIno, 'c');
      const f = await s.fs.createFile(c.ino, 'fromfs');
      const fh = await s.fs.open(f.ino, { write: true });
      await fh.write(0, Buffer.from('written by NFS'));
      await fh.close();
      const g = await get('c/fromfs');
      expect(g.statusCode).toBe(200);
      expect(g.body).toBe('written by NFS');
      expect(g.headers.etag).toBe(md5('written by NFS'));
    });
    it('read plans: ?readplan and X-Cairn-Read-Plan', async () => {
      await put('c/big', Buffer.alloc(2500, 7));
      const r = await get('c/big?readplan');
      expect(r.statusCode).toBe(200);
      const plan = JSON.parse(r.body) as { size: number; etag: string; steps: Array<{ object: string; offset: number; length: number }> };
      expect(plan.size).toBe(2500);
      expect(plan.etag).toBe(md5(Buffer.alloc(2500, 7)));
      expect(plan.steps.reduce((n, x) => n + x.length, 0)).toBe(2500);
      for (const st of plan.steps) expect(st.object).toMatch(/^[^/]+\/.+/);
      if (backend === 'model') expect(plan.steps.map((x) => x.length)).toEqual([1000, 1000, 500]);
      const ranged = JSON.parse((await get('c/big', { 'x-cairn-read-plan': 'true', range: 'bytes=1500-1599' })).body) as { offset: number; length: number; steps: unknown[] };
      expect(ranged).toMatchObject({ offset: 1500, length: 100, steps: [{ length: 100 }] });
      if (backend === 'model') expect(ranged.steps).toMatchObject([{ offset: 500 }]);
    });
    it('X-Delete-After expires objects', async () => {
      let now = Date.now();
      const t = await testServer({ backend, server: { now: () => now } });
      const tk = await t.token();
      await t.app.inject({ method: 'PUT', url: '/v1/AUTH_test/c', headers: { 'x-auth-token': tk } });
      await t.app.inject({ method: 'PUT', url: '/v1/AUTH_test/c/tmp', headers: { 'x-auth-token': tk, 'x-delete-after': '60' }, payload: 'x' });
      const g = await t.app.inject({ method: 'GET', url: '/v1/AUTH_test/c/tmp', headers: { 'x-auth-token': tk } });
      expect(g.statusCode).toBe(200);
      expect(Number(g.headers['x-delete-at'])).toBe(Math.floor(now / 1000) + 60);
      now += 61_000;
      expect((await t.app.inject({ method: 'GET', url: '/v1/AUTH_test/c/tmp', headers: { 'x-auth-token': tk } })).statusCode).toBe(404);
      await t.app.close();
    });
  });

  describe('swift uploads', () => {
    it('a PUT commits through the filesystem\'s uploads: no temporary file, metadata and ETag at once', async () => {
      await put('c', '');
      const r = await put('c/x/y.txt', 'payload', { 'x-object-meta-k': 'v', 'x-delete-at': String(Math.floor(Date.now() / 1000) + 3600) });
      expect(r.statusCode).toBe(201);
      if (s.model) {
        expect(s.model.calls.get('commitUpload')).toBe(1);
        expect(s.model.calls.get('createFile')).toBeUndefined();
      }
      const g = await get('c/x/y.txt');
      expect(g.body).toBe('payload');
      expect(g.headers.etag).toBe(md5('payload'));
      expect(g.headers['x-object-meta-k']).toBe('v');
      expect(g.headers['content-type']).toBe('text/plain');
      expect(g.headers['x-delete-at']).toBeDefined();
      expect([...(await s.fs.dump()).keys()].filter((k) => k.startsWith('/.cairn-tmp/'))).toEqual([]);
      // A directory in the way is 409 and nothing changes.
      await put('c/d', '', { 'content-type': 'application/directory', 'content-length': '0' });
      expect((await put('c/d', 'file?')).statusCode).toBe(409);
      expect((await get('c/d')).headers['content-type']).toBe('application/directory');
    });
    it('racing PUTs of one name leave one whole body', async () => {
      await put('c', '');
      const bodies = Array.from({ length: 12 }, (_, i) => Buffer.alloc(3000 + i * 1000, 65 + i));
      const rs = await Promise.all(bodies.map((b) => put('c/same', b)));
      for (const r of rs) expect(r.statusCode).toBe(201);
      const g = await get('c/same');
      expect(bodies.some((b) => b.equals(g.rawPayload))).toBe(true);
      expect(g.headers.etag).toBe(md5(g.rawPayload));
    });
    it('without the filesystem\'s uploads, PUTs go through temporary files', async () => {
      const t = await testServer({ backend: 'model', fs: { uploads: false } });
      const hh = { 'x-auth-token': await t.token() };
      await t.app.inject({ method: 'PUT', url: '/v1/AUTH_test/c', headers: hh });
      expect((await t.app.inject({ method: 'PUT', url: '/v1/AUTH_test/c/o', headers: { ...hh, etag: md5('x') }, payload: 'y' })).statusCode).toBe(422);
      expect((await t.app.inject({ method: 'PUT', url: '/v1/AUTH_test/c/o', headers: hh, payload: 'body' })).statusCode).toBe(201);
      expect(t.model!.calls.get('createFile')).toBeGreaterThanOrEqual(1);
      expect(t.model!.calls.get('beginUpload')).toBeUndefined();
      expect((await t.app.inject({ method: 'GET', url: '/v1/AUTH_test/c/o', headers: hh })).body).toBe('body');
      expect([...(await t.fs.dump()).keys()].filter((k) => k.startsWith('/.cairn-tmp/'))).toEqual([]);
      await t.app.close();
    });
  });

  describe('swift users at run time', () => {
    it('setUsers ends the tokens of removed users (and of changed keys), keeps the others, admits new users', async () => {
      const login = async (user: string, key: string) => s.app.inject({ method: 'GET', url: '/auth/v1.0', headers: { 'x-auth-user': user, 'x-auth-key': key } });
      const head = async (account: string, token: string) => (await s.app.inject({ method: 'HEAD', url: `/v1/${account}`, headers: { 'x-auth-token': token } })).statusCode;
      const t1 = tok;
      const t2 = await s.token2();
      expect(await head('AUTH_test', t1)).toBe(204);
      expect(await head('AUTH_test2', t2)).toBe(204);
      s.app.setUsers([{ account: 'test', user: 'tester', key: 'testing' }, { account: 'test2', user: 'newbie', key: 'fresh' }]);
      expect(await head('AUTH_test', t1)).toBe(204);
      expect(await head('AUTH_test2', t2)).toBe(401);
      expect((await login('test2:tester2', 'testing2')).statusCode).toBe(401);
      const n = await login('test2:newbie', 'fresh');
      expect(n.statusCode).toBe(200);
      expect(await head('AUTH_test2', String(n.headers['x-auth-token']))).toBe(204);
      // A changed key ends the user's tokens too.
      s.app.setUsers([{ account: 'test', user: 'tester', key: 'rotated' }]);
      expect(await head('AUTH_test', t1)).toBe(401);
      expect(await head('AUTH_test2', String(n.headers['x-auth-token']))).toBe(401);
      expect((await login('test:tester', 'rotated')).statusCode).toBe(200);
      // A bad table changes nothing.
      expect(() => s.app.setUsers([{ account: 'a:b', user: 'u', key: 'k' }])).toThrow(/swift user/);
      expect((await login('test:tester', 'rotated')).statusCode).toBe(200);
    });
  });

  describe('swift large objects', () => {
    beforeEach(async () => {
      await put('c', '');
      await put('segs', '');
      await put('segs/p1', 'aaaa');
      await put('segs/p2', 'bbb');
      await put('segs/p3', 'cc');
    });
    it('an SLO manifest becomes one file; manifest get and cascading delete work', async () => {
      const manifest = JSON.stringify([
        { path: '/segs/p1', etag: md5('aaaa'), size_bytes: 4 },
        { path: '/segs/p2', etag: null, size_bytes: null },
        { path: '/segs/p3', range: '1-1' },
      ]);
      const r = await put('c/slo?multipart-manifest=put', manifest);
      expect(r.statusCode).toBe(201);
      const g = await get('c/slo');
      expect(g.body).toBe('aaaabbbc');
      expect(g.headers['x-static-large-object']).toBe('True');
      expect((await s.fs.bytes('/c/slo')).toString()).toBe('aaaabbbc');
      const m = JSON.parse((await get('c/slo?multipart-manifest=get')).body) as Array<{ name: string; bytes: number }>;
      expect(m.map((x) => [x.name, x.bytes])).toEqual([['/segs/p1', 4], ['/segs/p2', 3], ['/segs/p3', 1]]);
      const d = await s.app.inject({ method: 'DELETE', url: '/v1/AUTH_test/c/slo?multipart-manifest=delete', headers: h() });
      expect(d.statusCode).toBe(200);
      expect(d.body).toContain('Number Deleted: 4');
      expect((await get('segs')).statusCode).toBe(204);
    });
    it('bad manifests are 400 and create nothing', async () => {
      expect((await put('c/x?multipart-manifest=put', 'not json')).statusCode).toBe(400);
      expect((await put('c/x?multipart-manifest=put', JSON.stringify([{ path: '/segs/nope' }]))).statusCode).toBe(400);
      expect((await put('c/x?multipart-manifest=put', JSON.stringify([{ path: '/segs/p1', etag: 'wrong' }]))).statusCode).toBe(400);
      expect((await put('c/x?multipart-manifest=put', JSON.stringify([{ path: '/segs/p1', size_bytes: 99 }]))).statusCode).toBe(400);
      expect((await get('c/x')).statusCode).toBe(404);
    });
    it('a DLO manifest joins the segments under its prefix', async () => {
      const r = await put('c/dlo', '', { 'x-object-manifest': 'segs/p' });
      expect(r.statusCode).toBe(201);
      const g = await get('c/dlo');
      expect(g.body).toBe('aaaabbbcc');
      expect(g.headers['x-object-manifest']).toBe('segs/p');
    });
    it('a DLO is dynamic: GET and HEAD join the segments that exist now, in name order', async () => {
      expect((await put('c/late', '', { 'x-object-manifest': 'segs/late/' })).statusCode).toBe(201);
      expect((await get('c/late')).body).toBe('');
      // Segments uploaded after the manifest, out of name order.
      await put('segs/late/002', 'CC');
      await put('segs/late/000', 'AAAA');
      await put('segs/late/001', 'B');
      const g = await get('c/late');
      expect(g.statusCode).toBe(200);
      expect(g.body).toBe('AAAABCC');
      expect(g.headers['content-length']).toBe('7');
      expect(g.headers.etag).toBe(`"${md5(md5('AAAA') + md5('B') + md5('CC'))}"`);
      const hd = await s.app.inject({ method: 'HEAD', url: '/v1/AUTH_test/c/late', headers: h() });
      expect(hd.headers['content-length']).toBe('7');
      expect(hd.headers['x-object-manifest']).toBe('segs/late/');
      // Ranges across segment boundaries.
      const rg = await get('c/late', { range: 'bytes=3-5' });
      expect(rg.statusCode).toBe(206);
      expect(rg.body).toBe('ABC');
      expect(rg.headers['content-range']).toBe('bytes 3-5/7');
      // A segment replaced or deleted changes the object at once.
      await put('segs/late/001', 'bbb');
      await s.app.inject({ method: 'DELETE', url: '/v1/AUTH_test/segs/late/000', headers: h() });
      expect((await get('c/late')).body).toBe('bbbCC');
      // ?multipart-manifest=get answers the manifest itself; its file holds what was joined at PUT time (nothing then).
      const mg = await get('c/late?multipart-manifest=get');
      expect(mg.body).toBe('');
      expect(mg.headers['x-object-manifest']).toBe('segs/late/');
      expect((await s.fs.bytes('/c/late')).length).toBe(0);
      const list = JSON.parse((await get('c?format=json')).body) as Array<{ name: string; bytes: number }>;
      expect(list.find((e) => e.name === 'late')?.bytes).toBe(0);
      // A read plan covers the joined bytes.
      const plan = JSON.parse((await get('c/late?readplan')).body) as { length: number; steps: Array<{ length?: number; zero?: number }> };
      expect(plan.length).toBe(5);
      expect(plan.steps.reduce((n, st) => n + (st.length ?? st.zero ?? 0), 0)).toBe(5);
      // A copy of a DLO is an ordinary object with the joined bytes.
      const cp = await put('c/copy', '', { 'x-copy-from': 'c/late' });
      expect(cp.statusCode).toBe(201);
      const gc = await get('c/copy');
      expect(gc.body).toBe('bbbCC');
      expect(gc.headers['x-object-manifest']).toBeUndefined();
      // A manifest whose prefix also matches itself never joins itself; its file holds the segments joined at PUT time.
      expect((await put('segs/late/zz-manifest', '', { 'x-object-manifest': 'segs/late/' })).statusCode).toBe(201);
      expect((await get('segs/late/zz-manifest')).body).toBe('bbbCC');
      expect((await s.fs.bytes('/segs/late/zz-manifest')).toString()).toBe('bbbCC');
      // Modified through the filesystem, a manifest is a plain file (like a joined SLO).
      await s.fs.fsWrite('/c/late', 0, Buffer.from('plain'));
      expect((await get('c/late')).body).toBe('plain');
      expect((await put('c/bad', '', { 'x-object-manifest': 'nocontainer' })).statusCode).toBe(400);
    });
    it('coalesce uses concatFiles when the filesystem has it', async () => {
      const t = await testServer({ backend, fs: { fastPaths: true } });
      const tk = await t.token();
      const hh = { 'x-auth-token': tk };
      await t.app.inject({ method: 'PUT', url: '/v1/AUTH_test/c', headers: hh });
      await t.app.inject({ method: 'PUT', url: '/v1/AUTH_test/c/1', headers: hh, payload: '111' });
      await t.app.inject({ method: 'PUT', url: '/v1/AUTH_test/c/2', headers: hh, payload: '22' });
      const r = await t.app.inject({ method: 'PUT', url: '/v1/AUTH_test/c/j?multipart-manifest=put', headers: hh, payload: JSON.stringify([{ path: 'c/1' }, { path: 'c/2' }]) });
      expect(r.statusCode).toBe(201);
      if (t.model) expect(t.model.calls.get('concatFiles')).toBe(1);
      expect((await t.fs.bytes('/c/j')).toString()).toBe('11122');
      await t.app.close();
    });
  });
});
