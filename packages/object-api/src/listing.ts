// Container listings: the files below a container as object names, in the
// order Swift and S3 list (UTF-8 byte order), with prefix, delimiter, marker,
// end marker, limit and reverse.
//
// The walk reads one directory at a time and sorts its children by the key
// they contribute: a file "x" the key base+"x"; a directory "d" two keys, its
// subtree base+"d/" (all names below it start with that) and, when it is
// empty, a directory-marker object (base+"d" for Swift, base+"d/" for S3).
// Subtrees that lie wholly outside the prefix or before the marker are never
// read, and a subtree that a delimiter rolls up into one common prefix is only
// peeked at (is it empty?), never walked.

import { compareNames } from '@cairn/objstore';
import type { FsAttr, VolumeFs } from './fs-port.js';
import { isEmptyDir } from './paths.js';

/** How empty directories appear: Swift "a/b" (application/directory), S3 "a/b/". */
export type DirMarkerStyle = 'swift' | 's3';

export interface ListParams {
  readonly prefix?: string;
  readonly delimiter?: string;
  /** Ascending: only keys > marker. Reverse: only keys < marker. */
  readonly marker?: string;
  /** Ascending: only keys < endMarker. Reverse: only keys > endMarker. */
  readonly endMarker?: string;
  readonly limit: number;
  readonly reverse?: boolean;
  readonly style: DirMarkerStyle;
}

export type Listed =
  | { readonly kind: 'object'; readonly name: string; readonly attr: FsAttr; readonly isDir: boolean }
  | { readonly kind: 'prefix'; readonly prefix: string };

export interface ListResult {
  readonly entries: Listed[];
  /** More entries follow the last one returned. */
  readonly truncated: boolean;
}

interface Item {
  readonly key: string;
  readonly kind: 'file' | 'marker' | 'subtree';
  readonly ino: number;
}

interface Ctx {
  readonly fs: VolumeFs;
  readonly p: ListParams;
  readonly prefix: string;
  readonly desc: boolean;
}

/** True when key k is inside the requested bounds (marker, end marker). */
function inBounds(c: Ctx, k: string): boolean {
  const { marker, endMarker } = c.p;
  if (!c.desc) {
    if (marker !== undefined && compareNames(k, marker) <= 0) return false;
    if (endMarker !== undefined && compareNames(k, endMarker) >= 0) return false;
  } else {
    if (marker !== undefined && compareNames(k, marker) >= 0) return false;
    if (endMarker !== undefined && compareNames(k, endMarker) <= 0) return false;
  }
  return true;
}

/** Could any key starting with `sub` be inside prefix and bounds? */
function subtreeMayMatch(c: Ctx, sub: string): boolean {
  if (!(sub.startsWith(c.prefix) || c.prefix.startsWith(sub))) return false;
  const lo = c.desc ? c.p.endMarker : c.p.marker;
  const hi = c.desc ? c.p.marker : c.p.endMarker;
  // Every key of the subtree starts with sub: it is >= sub, and below anything
  // greater than sub that does not start with it.
  if (lo !== undefined && !lo.startsWith(sub) && compareNames(lo, sub) > 0) return false;
  if (hi !== undefined && compareNames(hi, sub) <= 0) return false;
  return true;
}

/** True when every key from here on is out of bounds (ascending past the end marker, or descending past it). */
function pastEnd(c: Ctx, k: string): boolean {
  const stop = c.p.endMarker;
  if (stop === undefined) return false;
  return c.desc ? compareNames(k, stop) <= 0 && !(stop.startsWith(k) && k.length < stop.length) : compareNames(k, stop) >= 0;
}

/** Directories with at least this many entries keep their sorted listing while unchanged. */
const CACHE_MIN_ENTRIES = 1000;
/** Sorted listings kept per volume (the most recently used). */
const CACHE_DIRS = 8;
const sortedCache = new WeakMap<VolumeFs, Map<string, { change: number; items: Item[] }>>();

/**
 * The entries of a directory as listing items in key order. A large
 * directory's sorted items are kept while its change attribute is unchanged
 * (every entry added, removed or renamed changes it), so the pages of one
 * listing read and sort the directory once.
 */
async function children(c: Ctx, ino: number, base: string): Promise<Item[]> {
  let change: number | undefined;
  try {
    change = (await c.fs.getattr(ino)).change;
  } catch {
    change = undefined;
  }
  const key = `${ino}\0${c.p.style}\0${base}`;
  let cache = sortedCache.get(c.fs);
  const hit = change === undefined ? undefined : cache?.get(key);
  let items: Item[];
  if (hit !== undefined && hit.change === change) {
    cache!.delete(key);
    cache!.set(key, hit);
    items = hit.items;
  } else {
    items = await readChildren(c, ino, base);
    if (change !== undefined && items.length >= CACHE_MIN_ENTRIES) {
      if (cache === undefined) sortedCache.set(c.fs, (cache = new Map()));
      cache.delete(key);
      cache.set(key, { change, items });
      while (cache.size > CACHE_DIRS) cache.delete(cache.keys().next().value!);
    }
  }
  return c.desc ? [...items].reverse() : items;
}

async function readChildren(c: Ctx, ino: number, base: string): Promise<Item[]> {
  const items: Item[] = [];
  for await (const e of c.fs.readdir(ino)) {
    if (e.type === 'file') items.push({ key: base + e.name, kind: 'file', ino: e.ino });
    else if (e.type === 'dir') {
      items.push({ key: base + e.name + (c.p.style === 's3' ? '/' : ''), kind: 'marker', ino: e.ino });
      items.push({ key: `${base}${e.name}/`, kind: 'subtree', ino: e.ino });
    }
  }
  items.sort((a, b) => {
    const d = compareNames(a.key, b.key);
    if (d !== 0) return d;
    return a.kind === 'marker' ? -1 : b.kind === 'marker' ? 1 : 0;
  });
  return items;
}

type Emit = { kind: 'object'; key: string; ino: number; isDir: boolean } | { kind: 'prefix'; prefix: string };

/** The common prefix a delimiter rolls `key` up into, if any. */
function rollup(c: Ctx, key: string): string | undefined {
  const d = c.p.delimiter;
  if (!d || !key.startsWith(c.prefix)) return undefined;
  const i = key.indexOf(d, c.prefix.length);
  return i === -1 ? undefined : key.slice(0, i + d.length);
}

async function* walk(c: Ctx, ino: number, base: string): AsyncGenerator<Emit, boolean> {
  for (const it of await children(c, ino, base)) {
    if (it.kind === 'subtree') {
      if (!subtreeMayMatch(c, it.key)) {
        if (!c.desc && pastEnd(c, it.key)) return true;
        continue;
      }
      const cp = rollup(c, it.key);
      const cut = (b: string | undefined): boolean => b !== undefined && b.startsWith(it.key);
      if (cp !== undefined && it.key.startsWith(cp) && !cut(c.p.marker) && !cut(c.p.endMarker)) {
        // The whole subtree rolls up into cp (when it holds anything).
        if (!(await isEmptyDir(c.fs, it.ino))) yield { kind: 'prefix', prefix: cp };
        continue;
      }
      const stop: boolean = yield* walk(c, it.ino, it.key);
      if (stop) return true;
      continue;
    }
    if (!it.key.startsWith(c.prefix)) continue;
    if (!inBounds(c, it.key)) {
      if (pastEnd(c, it.key)) return true;
      continue;
    }
    if (it.kind === 'marker' && !(await isEmptyDir(c.fs, it.ino))) continue;
    const cp = rollup(c, it.key);
    if (cp !== undefined) yield { kind: 'prefix', prefix: cp };
    else yield { kind: 'object', key: it.key, ino: it.ino, isDir: it.kind === 'marker' };
  }
  return false;
}

/**
 * Lists a container (the directory `containerIno`). Common prefixes are
 * emitted once each and count toward the limit, like Swift's subdir entries
 * and S3's CommonPrefixes.
 */
export async function listContainer(fs: VolumeFs, containerIno: number, p: ListParams): Promise<ListResult> {
  const c: Ctx = { fs, p, prefix: p.prefix ?? '', desc: p.reverse === true };
  const entries: Listed[] = [];
  let lastPrefix: string | undefined;
  const gen = walk(c, containerIno, '');
  for (;;) {
    const r = await gen.next();
    if (r.done) break;
    const e = r.value;
    if (e.kind === 'prefix') {
      if (e.prefix === lastPrefix) continue;
      // A common prefix equal to the marker was returned on the previous page.
      if (p.marker !== undefined && !c.desc && compareNames(e.prefix, p.marker) <= 0) continue;
      lastPrefix = e.prefix;
      if (entries.length === p.limit) return { entries, truncated: true };
      entries.push(e);
      continue;
    }
    let attr: FsAttr;
    try {
      attr = await fs.getattr(e.ino);
    } catch {
      continue; // removed while listing
    }
    if (entries.length === p.limit) return { entries, truncated: true };
    entries.push({ kind: 'object', name: e.key, attr, isDir: e.isDir });
  }
  return { entries, truncated: false };
}

/** The marker that continues after a page (the last name or common prefix). */
export function lastKey(entries: readonly Listed[]): string | undefined {
  const e = entries[entries.length - 1];
  return e === undefined ? undefined : e.kind === 'object' ? e.name : e.prefix;
}
