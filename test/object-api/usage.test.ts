// Container totals (X-Container-Object-Count / -Bytes-Used) kept current from
// the change journal: after random object PUTs, DELETEs, COPYs, filesystem
// writes, truncates, renames and directory changes, a container HEAD always
// equals a naive walk of the container's tree.

import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testServer, type TestServer } from './helpers/server.js';

let s: TestServer;
let tok: string;

beforeEach(async () => {
  s = await testServer({ backend: 'inode' });
  tok = await s.token();
});
afterEach(async () => {
  await s.app.close();
});

async function naive(container: string): Promise<{ count: number; bytes: number }> {
  const c = await s.fs.lookup(s.fs.rootIno, container);
  let count = 0;
  let bytes = 0;
  const stack = [c.ino];
  while (stack.length > 0) {
    for await (const e of s.fs.readdir(stack.pop()!)) {
      if (e.type === 'dir') stack.push(e.ino);
      else if (e.type === 'file') {
        count++;
        bytes += (await s.fs.getattr(e.ino)).size;
      }
    }
  }
  return { count, bytes };
}

async function head(container: string): Promise<{ count: number; bytes: number }> {
  const r = await s.app.inject({ method: 'HEAD', url: `/v1/AUTH_test/${container}`, headers: { 'x-auth-token': tok } });
  expect(r.statusCode).toBe(204);
  return { count: Number(r.headers['x-container-object-count']), bytes: Number(r.headers['x-container-bytes-used']) };
}

const names = ['a', 'b', 'd/x', 'd/y', 'd/e/z'];

type Op =
  | { op: 'put'; name: string; size: number }
  | { op: 'delete'; name: string }
  | { op: 'copy'; from: string; to: string }
  | { op: 'fswrite'; name: string; at: number; size: number }
  | { op: 'mv'; from: string; to: string; container: 'c' | 'other' }
  | { op: 'rmtree'; dir: string };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), name: fc.constantFrom(...names), size: fc.integer({ min: 0, max: 5000 }) }),
  fc.record({ op: fc.constant('delete' as const), name: fc.constantFrom(...names) }),
  fc.record({ op: fc.constant('copy' as const), from: fc.constantFrom(...names), to: fc.constantFrom(...names) }),
  fc.record({ op: fc.constant('fswrite' as const), name: fc.constantFrom(...names), at: fc.integer({ min: 0, max: 6000 }), size: fc.integer({ min: 1, max: 3000 }) }),
  fc.record({ op: fc.constant('mv' as const), from: fc.constantFrom(...names), to: fc.constantFrom('m1', 'd/m2'), container: fc.constantFrom('c' as const, 'other' as const) }),
  fc.record({ op: fc.constant('rmtree' as const), dir: fc.constantFrom('d', 'd/e') }),
);

describe('container totals from the change journal', () => {
  it('a container HEAD always equals a walk of the tree', async () => {
    const req = (method: string, url: string, headers: Record<string, string> = {}, payload?: Buffer) =>
      s.app.inject({ method: method as 'GET', url: `/v1/AUTH_test/${url}`, headers: { 'x-auth-token': tok, ...headers }, ...(payload ? { payload } : {}) });
    await req('PUT', 'c');
    await req('PUT', 'other');
    await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 12 }), async (ops) => {
      for (const o of ops) {
        if (o.op === 'put') await req('PUT', `c/${o.name}`, { 'content-length': String(o.size) }, Buffer.alloc(o.size, 7));
        else if (o.op === 'delete') await req('DELETE', `c/${o.name}`);
        else if (o.op === 'copy') await req('PUT', `c/${o.to}`, { 'x-copy-from': `c/${o.from}` });
        else if (o.op === 'fswrite') await s.fs.fsWrite(`/c/${o.name}`, o.at, Buffer.alloc(o.size, 1)).catch(() => undefined);
        else if (o.op === 'mv') {
          // A rename through the filesystem face, within the container or out of it.
          const src = await resolve(`/c/${o.from}`);
          const dst = await resolve(o.container === 'c' ? `/c/${o.to.includes('/') ? 'd' : ''}` : '/other');
          if (src && dst) await s.fs.rename(src.parent, src.name, dst.ino, o.to.split('/').pop()!).catch(() => undefined);
        } else {
          // A whole directory moved out of the container (its files leave with it).
          const d = await resolve(`/c/${o.dir}`);
          const other = await resolve('/other');
          if (d && other) await s.fs.rename(d.parent, d.name, other.ino, `moved-${Date.now()}`).catch(() => undefined);
        }
        expect(await head('c')).toEqual(await naive('c'));
      }
      expect(await head('other')).toEqual(await naive('other'));
    }), { numRuns: 25 });
  });

  it('a directory moved out of or into the container takes its files along', async () => {
    const req = (method: string, url: string, payload?: string) =>
      s.app.inject({ method: method as 'GET', url: `/v1/AUTH_test/${url}`, headers: { 'x-auth-token': tok }, ...(payload !== undefined ? { payload } : {}) });
    await req('PUT', 'c');
    await req('PUT', 'other');
    await req('PUT', 'c/d/x', 'xx');
    await req('PUT', 'c/d/e/y', 'yyy');
    await req('PUT', 'c/top', 't');
    expect(await head('c')).toEqual({ count: 3, bytes: 6 });
    const c = await s.fs.lookup(s.fs.rootIno, 'c');
    const other = await s.fs.lookup(s.fs.rootIno, 'other');
    await s.fs.rename(c.ino, 'd', other.ino, 'd');
    expect(await head('c')).toEqual({ count: 1, bytes: 1 });
    expect(await head('other')).toEqual({ count: 2, bytes: 5 });
    await s.fs.rename(other.ino, 'd', c.ino, 'back');
    expect(await head('c')).toEqual({ count: 3, bytes: 6 });
    expect(await head('other')).toEqual({ count: 0, bytes: 0 });
  });

  it('account listings show the same totals per container', async () => {
    await s.app.inject({ method: 'PUT', url: '/v1/AUTH_test/k', headers: { 'x-auth-token': tok } });
    await s.app.inject({ method: 'PUT', url: '/v1/AUTH_test/k/o1', headers: { 'x-auth-token': tok }, payload: 'abc' });
    await s.app.inject({ method: 'PUT', url: '/v1/AUTH_test/k/p/o2', headers: { 'x-auth-token': tok }, payload: 'de' });
    const r = await s.app.inject({ method: 'GET', url: '/v1/AUTH_test?format=json', headers: { 'x-auth-token': tok } });
    const k = (JSON.parse(r.body) as Array<{ name: string; count: number; bytes: number }>).find((e) => e.name === 'k');
    expect(k).toMatchObject({ count: 2, bytes: 5 });
    expect(await head('k')).toEqual({ count: 2, bytes: 5 });
  });
});

/** The directory inode and leaf name of a path, and its own inode; undefined when missing. */
async function resolve(path: string): Promise<{ parent: number; name: string; ino: number } | undefined> {
  const segs = path.split('/').filter(Boolean);
  let parent = s.fs.rootIno;
  let ino = s.fs.rootIno;
  try {
    for (const seg of segs) {
      parent = ino;
      ino = (await s.fs.lookup(ino, seg)).ino;
    }
  } catch {
    return undefined;
  }
  return { parent, name: segs[segs.length - 1] ?? '', ino };
}
