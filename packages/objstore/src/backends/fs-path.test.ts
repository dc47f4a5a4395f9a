import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareNames } from '../names.js';
import type { Container, ListEntry, ObjectStore } from '../types.js';
import { createFsStore } from './fs.js';
import { createMemoryStore } from './memory.js';
import { MAX_ROOT_BYTES, compareEntries, objectComponents, objectPath, parseEntry } from './fs-path.js';

/** Order of two names as a depth-first walk of their trie paths visits them. */
function walkOrder(a: string, b: string): number {
  const pa = objectComponents(a).map((c) => parseEntry(c)!);
  const pb = objectComponents(b).map((c) => parseEntry(c)!);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const c = compareEntries(pa[i]!, pb[i]!);
    if (c !== 0) return c;
  }
  return pa.length - pb.length;
}

describe('fs name → path mapping', () => {
  it('cuts names into 2-byte hex directories and a final .obj file', () => {
    expect(objectComponents('a')).toEqual(['61.obj']);
    expect(objectComponents('ab')).toEqual(['6162.obj']);
    expect(objectComponents('abc')).toEqual(['6162', '63.obj']);
    expect(objectComponents('a/b')).toEqual(['612f', '62.obj']);
    expect(objectComponents('é')).toEqual(['c3a9.obj']);
    expect(objectComponents('..')).toEqual(['2e2e.obj']);
    expect(objectComponents('/')).toEqual(['2f.obj']);
  });

  it('keeps hostile names inside the container, with short components', () => {
    const dir = resolve('/store/c');
    for (const n of ['..', '../..', '../../etc/passwd', '/', '//', '/etc/passwd', '.', './.', 'a/../../b', '\\..\\x', 'x'.repeat(300), '😀'.repeat(256)]) {
      const p = objectPath(dir, n);
      const rel = relative(dir, p);
      expect(rel.startsWith('..')).toBe(false);
      for (const part of rel.split(sep)) {
        expect(part).toMatch(/^[0-9a-f]{2,4}(\.obj)?$/);
        expect(Buffer.byteLength(part)).toBeLessThanOrEqual(8);
      }
    }
  });

  it('gives names that are prefixes of each other distinct paths', () => {
    const names = ['a', 'ab', 'a/', 'a/b', 'a/bc', 'abc', 'abcd'];
    const paths = new Set(names.map((n) => objectPath('/r/c', n)));
    expect(paths.size).toBe(names.length);
    // A file never sits where another name needs a directory.
    for (const p of paths) for (const q of paths) if (p !== q) expect(q.startsWith(`${p}${sep}`)).toBe(false);
  });

  it('fits the longest name under PATH_MAX with the longest root', () => {
    const longest = '\u{10FFFF}'.repeat(256);
    expect(Buffer.byteLength(longest)).toBe(1024);
    const root = `/${'r'.repeat(MAX_ROOT_BYTES - 1)}`;
    expect(Buffer.byteLength(objectPath(join(root, 'c'.repeat(63)), longest))).toBeLessThan(4096);
    expect(() => createFsStore({ root: `${root}x` })).toThrow(/root path longer/);
  });

  it('walk order equals UTF-8 byte order (property)', () => {
    const name = fc.oneof(fc.string({ unit: fc.constantFrom('a', 'b', '/', 'é', '\uFFFD', '😀', '0'), minLength: 1, maxLength: 9 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }));
    fc.assert(fc.property(name, name, (a, b) => Math.sign(walkOrder(a, b)) === Math.sign(compareNames(a, b))), { numRuns: 5000 });
  });

  it('ignores directory entries that are not its own', () => {
    // '61': a directory always holds 2 name bytes.
    for (const junk of ['6162.sub', '616.obj', '61626.obj', 'ABCD', 'abcd.tmp', '.x', 'g1', '61', '616263']) expect(parseEntry(junk)).toBeUndefined();
    expect(parseEntry('61.obj')?.terminal).toBe(true);
    expect(parseEntry('6162')?.terminal).toBe(false);
  });
});

describe('fs backend: awkward names on disk', () => {
  let root: string;
  let store: ObjectStore;
  let c: Container;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'cairn-fs-path-'));
    store = createFsStore({ root, fsync: false });
    c = store.container('names');
  });
  afterAll(async () => {
    await store.close();
    await rm(root, { recursive: true, force: true });
  });

  it('stores prefix names side by side and deletes each alone, pruning empty directories', async () => {
    const names = ['a', 'a/b', 'ab', 'a/b/c', 'abc'];
    for (const n of names) await c.put(n, Buffer.from(n));
    for (const n of names) expect((await c.getBuffer(n)).toString()).toBe(n);
    await c.delete('a/b/c');
    await c.delete('a/b');
    expect(await listNames(c)).toEqual(['a', 'ab', 'abc']);
    // "a/b/c" and "a/b" needed directories 612f/622f; they are gone now.
    expect(await readdir(join(root, 'names'))).not.toContain('612f');
    for (const n of ['a', 'ab', 'abc']) await c.delete(n);
    expect(await readdir(join(root, 'names'))).toEqual([]);
    expect((await c.list()).entries).toEqual([]);
  });

  it('round-trips dot, slash and long-component names', async () => {
    const names = ['..', '.', '../x', '/', '//', '/lead', 'trail/', 'x'.repeat(700), `${'y'.repeat(300)}/${'z'.repeat(300)}`, '😀'.repeat(200)];
    for (const n of names) await c.put(n, Buffer.from(`v:${n}`));
    for (const n of names) expect((await c.getBuffer(n)).toString()).toBe(`v:${n}`);
    expect(await listNames(c)).toEqual([...names].sort(compareNames));
    for (const n of names) await c.delete(n, { mustExist: true });
  });

  it('ignores foreign files in a container directory', async () => {
    await c.put('ok', Buffer.from('1'));
    const dir = join(root, 'names');
    await writeFile(join(dir, 'stray.tmp'), 'junk');
    await writeFile(join(dir, '6f6b.obj.partial'), 'junk');
    await mkdir(join(dir, 'ZZZZ'));
    expect(await listNames(c)).toEqual(['ok']);
    await c.delete('ok');
  });

  it('lists random unicode names like a sorted model, fs and memory alike (property)', async () => {
    const mem = createMemoryStore().container('names');
    await mem.create();
    const name = fc.string({ unit: fc.constantFrom('a', 'b', '/', 'é', '\uFFFD', '😀', '-', '0'), minLength: 1, maxLength: 7 });
    const delimiter = fc.constantFrom(undefined, '/', 'é', 'ab', '😀');
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(name, { maxLength: 30 }), fc.constantFrom('', 'a', 'a/', 'é', 'b/'), delimiter, fc.integer({ min: 1, max: 5 }), async (names, prefix, delim, limit) => {
        const p = `prop${run++}/`;
        for (const n of names) await Promise.all([c.put(p + n, Buffer.from(n)), mem.put(p + n, Buffer.from(n))]);
        const want: string[] = [];
        for (const n of names.map((x) => p + x).filter((x) => x.startsWith(p + prefix)).sort(compareNames)) {
          const at = delim === undefined ? -1 : n.indexOf(delim, (p + prefix).length);
          const e = at >= 0 ? `p:${n.slice(0, at + delim!.length)}` : `o:${n}`;
          if (want[want.length - 1] !== e) want.push(e);
        }
        for (const box of [c, mem]) {
          const got: string[] = [];
          let marker: string | undefined;
          do {
            const page = await box.list({ prefix: p + prefix, limit, ...(delim !== undefined ? { delimiter: delim } : {}), ...(marker !== undefined ? { marker } : {}) });
            got.push(...page.entries.map((e: ListEntry) => (e.kind === 'object' ? `o:${e.name}` : `p:${e.prefix}`)));
            marker = page.nextMarker;
          } while (marker !== undefined);
          expect(got).toEqual(want);
        }
      }),
      { numRuns: 80 },
    );
  });
});

async function listNames(c: Container): Promise<string[]> {
  const out: string[] = [];
  for await (const e of c.listAll()) if (e.kind === 'object') out.push(e.name);
  return out;
}
