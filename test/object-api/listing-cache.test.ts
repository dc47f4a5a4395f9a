// Listings of a large container (over the sorted-listing cache's threshold) on
// a real volume: pages continue exactly, in name order, in both directions,
// and every change of the directory (a new object, a deleted one, a
// replacement, a rename through the filesystem) shows in the next listing.

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

const req = (method: string, url: string, payload?: string) =>
  s.app.inject({ method: method as 'GET', url: `/v1/AUTH_test/${url}`, headers: { 'x-auth-token': tok }, ...(payload !== undefined ? { payload } : {}) });

async function listAll(extra = ''): Promise<string[]> {
  const out: string[] = [];
  let marker = '';
  for (;;) {
    const r = await req('GET', `big?format=json&limit=250${extra}${marker ? `&marker=${encodeURIComponent(marker)}` : ''}`);
    if (r.statusCode === 204) return out;
    const page = JSON.parse(r.body) as Array<{ name: string }>;
    if (page.length === 0) return out;
    out.push(...page.map((e) => e.name));
    marker = page[page.length - 1]!.name;
  }
}

describe('listing a large container', () => {
  it('pages are exact and every change of the directory shows at once', async () => {
    await req('PUT', 'big');
    const names = Array.from({ length: 1100 }, (_, i) => `o${String((i * 7919) % 1100).padStart(4, '0')}`);
    for (let i = 0; i < names.length; i += 50) await Promise.all(names.slice(i, i + 50).map((n) => req('PUT', `big/${n}`, n)));
    const sorted = [...names].sort();
    expect(await listAll()).toEqual(sorted);
    expect(await listAll('&reverse=true')).toEqual([...sorted].reverse());
    await req('PUT', 'big/o0500a', 'new');
    await req('DELETE', 'big/o0001');
    await req('PUT', 'big/o0002', 'replaced');
    const c = await s.fs.lookup(s.fs.rootIno, 'big');
    await s.fs.rename(c.ino, 'o0003', c.ino, 'zz-renamed');
    const expected = [...sorted.filter((n) => n !== 'o0001' && n !== 'o0003'), 'o0500a', 'zz-renamed'].sort();
    expect(await listAll()).toEqual(expected);
    const r = await req('GET', 'big?format=json&prefix=o0002');
    expect((JSON.parse(r.body) as Array<{ name: string; bytes: number }>)).toMatchObject([{ name: 'o0002', bytes: 8 }]);
  });
});
