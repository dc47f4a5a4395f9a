import type { CairnClient } from '@cairn/rpc';
import { cairnError } from '@cairn/errors';
import { describe, expect, it } from 'vitest';
import { AttrCache, PathCache, XattrMissCache } from './cache.js';
import type { Attr } from './convert.js';
import { Resolver } from './resolver.js';

const attr = (ino: number, type: Attr['type'] = 'file', size = 0): Attr =>
  ({ ino, type, mode: type === 'dir' ? 0o40755 : 0o100644, nlink: 1, uid: 0, gid: 0, size, blocks: 0, blksize: 4096, rdev: 0, atimeNs: 0n, mtimeNs: 0n, ctimeNs: 0n, btimeNs: 0n, change: 1, dataVersion: 1 }) as Attr;

/** A server of one directory (the root, inode 1) holding `names` (inode 100 + index); every call counted. */
function fakeServer(names: string[]) {
  const calls: Record<string, number> = {};
  const count = (m: string): void => void (calls[m] = (calls[m] ?? 0) + 1);
  let size = 0;
  const gates: Array<() => void> = [];
  let gated = false;
  const wait = (): Promise<void> => (gated ? new Promise((r) => gates.push(r)) : Promise.resolve());
  const client = {
    mount: { rootIno: 1 },
    async lookup({ name }: { parent: number; name: string }) {
      count('lookup');
      await wait();
      const i = names.indexOf(name);
      if (i < 0) throw cairnError('CAIRN_ERR_FS_NOT_FOUND', name);
      return attr(100 + i);
    },
    async getattr({ ino }: { ino: number }) {
      count('getattr');
      const s = size;
      await wait();
      return attr(ino, ino === 1 ? 'dir' : 'file', s);
    },
    async readdirplus({ limit }: { ino: number; cookie: number; limit: number }) {
      count('readdirplus');
      await wait();
      const entries = names.slice(0, limit).map((name, i) => ({ name, ino: 100 + i, type: 'file', cookie: i + 3, attr: attr(100 + i) }));
      return { entries, eof: names.length <= limit };
    },
  };
  return {
    client: client as unknown as CairnClient,
    calls,
    setSize: (n: number) => void (size = n),
    gate: () => void (gated = true),
    /** Lets the held calls answer, the last one first. */
    open: () => {
      gated = false;
      for (const g of gates.splice(0).reverse()) g();
    },
  };
}

function resolver(server: ReturnType<typeof fakeServer>, ttlMs = 1000): Resolver {
  const o = { entryTtlMs: ttlMs, attrTtlMs: ttlMs, maxEntries: 1000 };
  const writes = { clock: 0, settledSince: () => true };
  return new Resolver(server.client, new PathCache(o), new AttrCache(o), new XattrMissCache(o), writes, { entryTtlMs: ttlMs, attrTtlMs: ttlMs });
}

describe('Resolver attributes', () => {
  it('shares a getattr in flight, but not one that left before the inode changed', async () => {
    const s = fakeServer([]);
    const r = resolver(s);
    s.gate();
    const a = r.getattr(7, undefined);
    const b = r.getattr(7, undefined);
    r.attrs.invalidate(7);
    s.setSize(5);
    const c = r.getattr(7, undefined);
    s.open();
    expect([(await a).size, (await b).size, (await c).size]).toEqual([0, 0, 5]);
    expect(s.calls['getattr']).toBe(2);
    // The answer that left before the change is not what the cache keeps.
    expect((await r.getattr(7, undefined)).size).toBe(5);
    expect(s.calls['getattr']).toBe(2);
  });

  it('refresh() fetches a changed directory in the background, and the next getattr uses that answer', async () => {
    const s = fakeServer([]);
    const r = resolver(s);
    await r.getattr(1, undefined);
    s.setSize(4096);
    r.refresh(1, undefined);
    expect(s.calls['getattr']).toBe(2);
    expect((await r.getattr(1, undefined)).size).toBe(4096);
    expect((await r.getattr(1, undefined)).size).toBe(4096);
    expect(s.calls['getattr']).toBe(2);
  });
});

describe('Resolver directory changes', () => {
  const dir = (change: number, size: number): Attr => ({ ...attr(1, 'dir', size), change }) as Attr;

  it('keeps the newest of the attributes concurrent changes answered, whatever order they arrive in', async () => {
    const s = fakeServer([]);
    const r = resolver(s);
    const t1 = r.ticket();
    const t2 = r.ticket();
    r.dirChanged(1, dir(3, 2), t2, undefined);
    r.dirChanged(1, dir(2, 1), t1, undefined); // older, arrives last
    expect((await r.getattr(1, undefined)).size).toBe(2);
    r.dirChanged(1, dir(4, 3), r.ticket(), undefined);
    expect((await r.getattr(1, undefined)).size).toBe(3);
    expect(s.calls['getattr']).toBeUndefined();
  });

  it('a getattr that left before the change does not bring back older attributes', async () => {
    const s = fakeServer([]);
    const r = resolver(s);
    s.setSize(1);
    s.gate();
    const old = r.getattr(1, undefined);
    r.dirChanged(1, dir(9, 7), r.ticket(), undefined);
    s.open();
    expect((await old).size).toBe(1);
    expect((await r.getattr(1, undefined)).size).toBe(7);
  });

  it('fetches again when the answer carried nothing, or cannot be ordered against a change in between', async () => {
    const s = fakeServer([]);
    const r = resolver(s);
    s.setSize(5);
    r.dirChanged(1, undefined, r.ticket(), undefined);
    expect(s.calls['getattr']).toBe(1);
    expect((await r.getattr(1, undefined)).size).toBe(5);
    const t = r.ticket();
    r.attrs.invalidate(1); // e.g. a chmod of the directory, its answer still out
    s.setSize(6);
    r.dirChanged(1, dir(2, 0), t, undefined);
    expect(s.calls['getattr']).toBe(2);
    expect((await r.getattr(1, undefined)).size).toBe(6);
  });
});

describe('Resolver lookup storms', () => {
  it('reads a directory whose names keep being found, then answers from the cache', async () => {
    const names = Array.from({ length: 50 }, (_, i) => `f${i}`);
    const s = fakeServer(names);
    const r = resolver(s);
    for (let i = 0; i < 8; i++) expect(await r.resolve(`/f${i}`, undefined)).toBe(100 + i);
    expect([s.calls['lookup'], s.calls['readdirplus']]).toEqual([8, 1]);
    for (let i = 8; i < 50; i++) expect(await r.resolve(`/f${i}`, undefined)).toBe(100 + i);
    expect((await r.getattr(140, undefined)).ino).toBe(140);
    expect([s.calls['lookup'], s.calls['readdirplus'], s.calls['getattr'] ?? 0]).toEqual([8, 1, 0]);
  });

  it('keeps what a listing brought although another name of the directory was dropped meanwhile', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `f${i}`);
    const s = fakeServer(names);
    const r = resolver(s);
    for (let i = 0; i < 7; i++) await r.resolve(`/f${i}`, undefined);
    s.gate();
    const eighth = r.resolve('/f7', undefined);
    await new Promise((res) => setTimeout(res, 0));
    expect(s.calls['lookup']).toBe(8);
    s.open(); // the 8th lookup answers and starts the listing...
    s.gate(); // ...which waits
    await eighth;
    await new Promise((res) => setTimeout(res, 0));
    expect(s.calls['readdirplus']).toBe(1);
    r.forget('/f0'); // e.g. an unlink of f0 while the listing is on its way
    s.open();
    for (let i = 8; i < 20; i++) expect(await r.resolve(`/f${i}`, undefined)).toBe(100 + i);
    expect([s.calls['lookup'], s.calls['readdirplus']]).toEqual([8, 1]);
  });

  it('never answers that a name is missing from a listing: the server is asked', async () => {
    const s = fakeServer(Array.from({ length: 20 }, (_, i) => `f${i}`));
    const r = resolver(s);
    for (let i = 0; i < 8; i++) await r.resolve(`/f${i}`, undefined);
    await expect(Promise.resolve(r.resolve('/new', undefined))).rejects.toMatchObject({ code: 'CAIRN_ERR_FS_NOT_FOUND' });
    expect(s.calls['lookup']).toBe(9);
  });

  it('does not read a directory for lookups that find nothing (a create storm)', async () => {
    const s = fakeServer([]);
    const r = resolver(s);
    for (let i = 0; i < 20; i++) await expect(Promise.resolve(r.resolve(`/n${i}`, undefined))).rejects.toThrow();
    expect(s.calls['readdirplus']).toBeUndefined();
  });

  it('reads a directory at most once per entry timeout', async () => {
    const s = fakeServer(Array.from({ length: 40 }, (_, i) => `f${i}`));
    const r = resolver(s, 60_000);
    for (let i = 0; i < 8; i++) await r.resolve(`/f${i}`, undefined);
    r.paths.clear();
    for (let i = 0; i < 40; i++) await r.resolve(`/f${i}`, undefined);
    expect(s.calls['readdirplus']).toBe(1);
  });

  it('is off when the caches are', async () => {
    const s = fakeServer(Array.from({ length: 20 }, (_, i) => `f${i}`));
    const r = resolver(s, 0);
    for (let i = 0; i < 20; i++) await r.resolve(`/f${i}`, undefined);
    expect([s.calls['lookup'], s.calls['readdirplus']]).toEqual([20, undefined]);
  });
});

describe('Resolver negative lookups', () => {
  /** A server of one directory (inode 1) whose names change: lookups and listings see `names` as it is now. */
  function liveServer(names: Set<string>) {
    const calls: Record<string, number> = {};
    const count = (m: string): void => void (calls[m] = (calls[m] ?? 0) + 1);
    const inoOf = (name: string): number => 100 + [...names].indexOf(name);
    const client = {
      mount: { rootIno: 1 },
      async lookup({ name }: { parent: number; name: string }) {
        count('lookup');
        if (!names.has(name)) throw cairnError('CAIRN_ERR_FS_NOT_FOUND', name);
        return attr(inoOf(name));
      },
      async readdir() {
        count('readdir');
        const entries = [...names].map((name, i) => ({ name, ino: 100 + i, type: 'file', cookie: i + 3 }));
        return { entries, eof: true };
      },
      async readdirplus() {
        count('readdirplus');
        const entries = [...names].map((name, i) => ({ name, ino: 100 + i, type: 'file', cookie: i + 3, attr: attr(100 + i) }));
        return { entries, eof: true };
      },
    };
    return { client: client as unknown as CairnClient, calls };
  }

  function negResolver(client: CairnClient, now: () => number, negativeLookups = true, maxListedNames?: number): Resolver {
    const o = { entryTtlMs: 1000, attrTtlMs: 1000, maxEntries: 1000, now };
    const writes = { clock: 0, settledSince: () => true };
    return new Resolver(client, new PathCache(o), new AttrCache(o), new XattrMissCache(o), writes, {
      entryTtlMs: 1000,
      attrTtlMs: 1000,
      negativeLookups,
      now,
      ...(maxListedNames !== undefined ? { maxListedNames } : {}),
    });
  }

  const missing = (r: Resolver, path: string): Promise<unknown> =>
    expect(Promise.resolve(r.resolve(path, undefined))).rejects.toMatchObject({ code: 'CAIRN_ERR_FS_NOT_FOUND' });

  it('lookups that keep finding nothing read the directory\'s names once; then missing names are answered without an RPC', async () => {
    const s = liveServer(new Set(['a', 'b']));
    const r = negResolver(s.client, () => 0);
    for (let i = 0; i < 8; i++) await missing(r, `/n${i}`);
    expect([s.calls['lookup'], s.calls['readdir']]).toEqual([8, 1]);
    for (let i = 8; i < 100; i++) await missing(r, `/n${i}`);
    expect([s.calls['lookup'], s.calls['readdir'], s.calls['readdirplus']]).toEqual([8, 1, undefined]);
    expect(r.listedDirs).toBe(1);
    // Names the listing holds are found as before.
    expect(await r.resolve('/b', undefined)).toBe(101);
  });

  it('a names listing made for a create storm does not hold back the attribute prefetch of a stat storm right after', async () => {
    const names = new Set<string>();
    const s = liveServer(names);
    let now = 0;
    const r = negResolver(s.client, () => now);
    for (let i = 0; i < 20; i++) {
      await missing(r, `/f${i}`);
      await r.changeEntry(1, `f${i}`, true, async () => void names.add(`f${i}`));
    }
    expect([s.calls['lookup'], s.calls['readdir'], s.calls['readdirplus']]).toEqual([8, 1, undefined]);
    now = 100; // the stat storm: the names are not cached (a create here learns them; this test's changes did not)
    for (let i = 0; i < 20; i++) expect(await r.resolve(`/f${i}`, undefined)).toBe(100 + i);
    expect([s.calls['lookup'], s.calls['readdirplus']]).toEqual([16, 1]);
  });

  it('holds at most maxListedNames names: a larger directory is not kept, and names created here count', async () => {
    const names = new Set(['a', 'b', 'c']);
    const s = liveServer(names);
    const r = negResolver(s.client, () => 0, true, 3);
    for (let i = 0; i < 8; i++) await missing(r, `/n${i}`);
    expect(r.listedDirs).toBe(1);
    await r.changeEntry(1, 'd', true, async () => void names.add('d')); // a 4th name: over the bound, the listing goes
    expect(r.listedDirs).toBe(0);
    const small = liveServer(new Set(['a', 'b', 'c', 'd']));
    const r2 = negResolver(small.client, () => 0, true, 3);
    for (let i = 0; i < 20; i++) await missing(r2, `/n${i}`);
    expect([r2.listedDirs, small.calls['lookup']]).toEqual([0, 20]);
  });

  it('is off with negativeLookups false: every missing name is asked for', async () => {
    const s = liveServer(new Set());
    const r = negResolver(s.client, () => 0, false);
    for (let i = 0; i < 30; i++) await missing(r, `/n${i}`);
    expect([s.calls['lookup'], s.calls['readdir']]).toEqual([30, undefined]);
  });

  it('a name created elsewhere is seen once the listing is older than the entry timeout', async () => {
    const names = new Set<string>();
    const s = liveServer(names);
    let now = 0;
    const r = negResolver(s.client, () => now);
    for (let i = 0; i < 8; i++) await missing(r, `/n${i}`);
    names.add('elsewhere'); // another client's create
    now = 500;
    await missing(r, '/elsewhere');
    expect(s.calls['lookup']).toBe(8);
    now = 1000;
    expect(await r.resolve('/elsewhere', undefined)).toBe(100);
    expect(s.calls['lookup']).toBe(9);
  });

  it('changes through this mount keep the listing exact: a name created here is found, a name removed here is missing', async () => {
    const names = new Set(['old']);
    const s = liveServer(names);
    const r = negResolver(s.client, () => 0);
    for (let i = 0; i < 8; i++) await missing(r, `/n${i}`);
    await r.changeEntry(1, 'mine', true, async () => void names.add('mine'));
    r.paths.clear();
    expect(await r.resolve('/mine', undefined)).toBe(101);
    await r.changeEntry(1, 'old', false, async () => void names.delete('old'));
    const lookups = s.calls['lookup'];
    await missing(r, '/old');
    expect(s.calls['lookup']).toBe(lookups);
  });

  it('a name with a change in flight is looked up at the server, and a failed change drops the listing', async () => {
    const names = new Set<string>();
    const s = liveServer(names);
    const r = negResolver(s.client, () => 0);
    for (let i = 0; i < 8; i++) await missing(r, `/n${i}`);
    let finish!: () => void;
    const creating = r.changeEntry(1, 'busy', true, () => new Promise<void>((res) => (finish = res)));
    names.add('busy'); // the server has made it, the answer is still on its way
    expect(await r.resolve('/busy', undefined)).toBe(100);
    finish();
    await creating;
    await expect(r.changeEntry(1, 'x', true, () => Promise.reject(cairnError('CAIRN_ERR_RPC_TIMEOUT', 'x')))).rejects.toThrow();
    expect(r.listedDirs).toBe(0);
    const lookups = s.calls['lookup']!;
    await missing(r, '/gone');
    expect(s.calls['lookup']).toBe(lookups + 1);
  });

  it('a change that answers while the listing is on its way is applied on top of it', async () => {
    const names = new Set<string>();
    const calls: Record<string, number> = {};
    let release!: () => void;
    const client = {
      mount: { rootIno: 1 },
      async lookup({ name }: { name: string }) {
        calls['lookup'] = (calls['lookup'] ?? 0) + 1;
        if (!names.has(name)) throw cairnError('CAIRN_ERR_FS_NOT_FOUND', name);
        return attr(200);
      },
      async readdir() {
        calls['readdir'] = (calls['readdir'] ?? 0) + 1;
        const entries = [...names].map((name, i) => ({ name, ino: 200 + i, type: 'file', cookie: i + 3 }));
        await new Promise<void>((res) => (release = res)); // the listing was taken before the create below
        return { entries, eof: true };
      },
    };
    const r = negResolver(client as unknown as CairnClient, () => 0);
    for (let i = 0; i < 8; i++) await missing(r, `/n${i}`);
    expect(calls['readdir']).toBe(1);
    await r.changeEntry(1, 'late', true, async () => void names.add('late'));
    release();
    await new Promise((res) => setTimeout(res, 0));
    r.paths.clear();
    expect(await r.resolve('/late', undefined)).toBe(200);
  });
});
