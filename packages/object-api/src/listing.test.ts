// Model-based test of container listings: random trees of files and empty
// directories, random parameters, compared with a naive listing computed from
// the sorted list of every key.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareNames } from '@cairn/objstore';
import { listContainer, type ListParams } from './listing.js';
import { createModelFs } from './testing/model-fs.js';

type Tree = Array<{ path: string[]; dir: boolean }>;

async function build(tree: Tree): Promise<{ fs: ReturnType<typeof createModelFs>; root: number; files: Set<string>; dirs: Set<string> }> {
  const fs = createModelFs();
  const c = await fs.mkdir(fs.rootIno, 'c');
  const files = new Set<string>();
  const dirs = new Set<string>();
  for (const { path, dir } of tree) {
    let at = c.ino;
    for (let i = 0; i < path.length; i++) {
      const last = i === path.length - 1;
      const key = path.slice(0, i + 1).join('/');
      if (files.has(key)) break; // a file in the way: skipped, like a 409
      if (last && !dir) {
        if (dirs.has(key)) break;
        await fs.createFile(at, path[i]!);
        files.add(key);
      } else if (dirs.has(key)) {
        at = (await fs.lookup(at, path[i]!)).ino;
      } else {
        at = (await fs.mkdir(at, path[i]!)).ino;
        dirs.add(key);
      }
    }
  }
  return { fs, root: c.ino, files, dirs };
}

function naive(files: Set<string>, dirs: Set<string>, p: ListParams): string[] {
  const nonEmpty = new Set<string>();
  for (const k of [...files, ...dirs]) {
    const parts = k.split('/');
    for (let i = 1; i < parts.length; i++) nonEmpty.add(parts.slice(0, i).join('/'));
  }
  const keys = [...files, ...[...dirs].filter((d) => !nonEmpty.has(d)).map((d) => (p.style === 's3' ? `${d}/` : d))];
  keys.sort(compareNames);
  if (p.reverse) keys.reverse();
  const prefix = p.prefix ?? '';
  const out: string[] = [];
  for (const k of keys) {
    if (!k.startsWith(prefix)) continue;
    if (!p.reverse) {
      if (p.marker !== undefined && compareNames(k, p.marker) <= 0) continue;
      if (p.endMarker !== undefined && compareNames(k, p.endMarker) >= 0) continue;
    } else {
      if (p.marker !== undefined && compareNames(k, p.marker) >= 0) continue;
      if (p.endMarker !== undefined && compareNames(k, p.endMarker) <= 0) continue;
    }
    let e = k;
    if (p.delimiter) {
      const i = k.indexOf(p.delimiter, prefix.length);
      if (i !== -1) e = `P:${k.slice(0, i + p.delimiter.length)}`;
    }
    if (e.startsWith('P:') && !p.reverse && p.marker !== undefined && compareNames(e.slice(2), p.marker) <= 0) continue;
    if (out[out.length - 1] === e) continue;
    out.push(e);
  }
  return out;
}

const seg = fc.constantFrom('a', 'b', 'a-', 'a.b', 'z', '\u00e9');
const treeArb: fc.Arbitrary<Tree> = fc.array(fc.record({ path: fc.array(seg, { minLength: 1, maxLength: 3 }), dir: fc.boolean() }), { maxLength: 14 });
const keyish = fc.array(fc.constantFrom('a', 'b', '-', '/', '.', 'z'), { maxLength: 5 }).map((a) => a.join(''));

describe('listContainer', () => {
  it('equals the naive listing for random trees and parameters', async () => {
    await fc.assert(fc.asyncProperty(
      treeArb,
      fc.record({
        prefix: fc.option(keyish, { nil: undefined }),
        delimiter: fc.option(fc.constantFrom('/', '-', 'a/'), { nil: undefined }),
        marker: fc.option(keyish, { nil: undefined }),
        endMarker: fc.option(keyish, { nil: undefined }),
        limit: fc.integer({ min: 1, max: 20 }),
        reverse: fc.boolean(),
        style: fc.constantFrom('swift' as const, 's3' as const),
      }),
      async (tree, params) => {
        const p: ListParams = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) as unknown as ListParams;
        const { fs, root, files, dirs } = await build(tree);
        const want = naive(files, dirs, p);
        const got = await listContainer(fs, root, p);
        const names = got.entries.map((e) => (e.kind === 'prefix' ? `P:${e.prefix}` : e.name));
        expect(names).toEqual(want.slice(0, p.limit));
        expect(got.truncated).toBe(want.length > p.limit);
      },
    ), { numRuns: 1500 });
  });
});
