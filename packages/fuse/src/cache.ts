// The mount's small metadata caches. FUSE 2 hands every operation a path; the
// RPC API addresses inodes. PathCache maps a path to its inode number (filled
// by lookups, creates and directory listings) so that resolving a path costs
// at most one lookup per component the cache does not know; AttrCache keeps
// the attributes the last answer carried, so the getattr that follows every
// kernel lookup does not cost a second round trip.
//
// Both expire (entry and attribute timeouts, like the kernel's own caches)
// and are bounded (the oldest entries go first). Every change made through
// this mount invalidates what it touches: unlink/rmdir/rename drop the path
// and, for directories, everything below it. A generation number, bumped by
// every invalidation, keeps a lookup that raced with a rename from caching
// an answer for a path that no longer holds it; the generation of each
// path's last invalidation is kept too, so that an answer is dropped only
// when its own path or a directory above it changed meanwhile
// (setUnlessChanged), not for every change anywhere.

import type { Attr, FileType } from './convert.js';

interface PathEntry {
  readonly ino: number;
  readonly type: FileType | undefined;
  readonly expires: number;
}

interface AttrEntry {
  readonly attr: Attr;
  readonly expires: number;
}

export interface CacheOptions {
  /** How long a path → inode entry is trusted (ms; 0: not cached). */
  readonly entryTtlMs: number;
  /** How long attributes are trusted (ms; 0: not cached). */
  readonly attrTtlMs: number;
  /** Most entries each cache holds. */
  readonly maxEntries: number;
  readonly now?: () => number;
}

/** The parent directory and the last component of an absolute path ("/a/b" → ["/a", "b"]). */
export function splitPath(path: string): [string, string] {
  const i = path.lastIndexOf('/');
  return [i <= 0 ? '/' : path.slice(0, i), path.slice(i + 1)];
}

/**
 * When each key was last invalidated (a counter value), for the newest
 * `limit` keys; an older one reads as `floor`, at least the value of any
 * invalidation forgotten. A key invalidated again keeps its place in the
 * eviction order (a directory changed by every create would otherwise churn
 * the map): the floor an eviction sets can then only be higher, which is
 * safe (answers are dropped, never kept wrongly).
 */
class InvalidationLog<K> {
  private readonly last = new Map<K, number>();
  private floor = 0;

  constructor(private readonly limit: number) {}

  /** The value of `key`'s last invalidation (or the floor). */
  at(key: K): number {
    return this.last.get(key) ?? this.floor;
  }

  mark(key: K, value: number): void {
    const again = this.last.has(key);
    this.last.set(key, value);
    if (again || this.last.size <= this.limit) return;
    const oldest = this.last.entries().next();
    if (!oldest.done) {
      this.last.delete(oldest.value[0]);
      this.floor = Math.max(this.floor, oldest.value[1]);
    }
  }

  /** Forgets every key: each now reads as `value`. */
  clear(value: number): void {
    this.last.clear();
    this.floor = value;
  }
}

/** Path → inode number. */
export class PathCache {
  private readonly map = new Map<string, PathEntry>();
  /**
   * Entries held below each directory path (every ancestor of every key), so
   * that invalidating a path with nothing cached below it (a file's unlink)
   * does not look at every key.
   */
  private readonly below = new Map<string, number>();
  /** The generation of each path's last invalidation. */
  private readonly invalidated: InvalidationLog<string>;
  private gen = 0;
  private readonly now: () => number;

  constructor(private readonly options: CacheOptions) {
    this.now = options.now ?? Date.now;
    this.invalidated = new InvalidationLog(options.maxEntries);
  }

  /** Changes with every invalidation; pass it back to set(). */
  get generation(): number {
    return this.gen;
  }

  get size(): number {
    return this.map.size;
  }

  get(path: string): number | undefined {
    const e = this.map.get(path);
    if (!e) return undefined;
    if (e.expires <= this.now()) {
      this.drop(path);
      return undefined;
    }
    return e.ino;
  }

  /** Remembers `path` → `ino`, unless something was invalidated since `generation` was read. */
  set(path: string, ino: number, type: FileType | undefined, generation = this.gen): void {
    if (generation !== this.gen || this.options.entryTtlMs <= 0 || path === '/') return;
    const entry = { ino, type, expires: this.now() + this.options.entryTtlMs };
    if (this.map.delete(path)) {
      this.map.set(path, entry);
      return;
    }
    this.map.set(path, entry);
    this.count(path, 1);
    if (this.map.size > this.options.maxEntries) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.drop(oldest.value);
    }
  }

  /**
   * Remembers `path` → `ino`, unless `path` or a directory above it was
   * invalidated since `generation` was read: an answer that left before a
   * change of another name (a concurrent unlink in the same directory) is
   * still good, where set() would drop it.
   */
  setUnlessChanged(path: string, ino: number, type: FileType | undefined, generation: number): void {
    if (generation < this.gen && this.changedSince(path, generation)) return;
    this.set(path, ino, type);
  }

  /** Whether `path` or a directory above it was invalidated after `generation`. */
  private changedSince(path: string, generation: number): boolean {
    for (let p = path; ; ) {
      if (this.invalidated.at(p) > generation) return true;
      if (p === '/') return false;
      const i = p.lastIndexOf('/');
      p = i <= 0 ? '/' : p.slice(0, i);
    }
  }

  /** Forgets `path` and, unless it is known not to be a directory, every path below it. */
  invalidate(path: string): void {
    this.gen++;
    this.invalidated.mark(path, this.gen);
    const e = this.map.get(path);
    this.drop(path);
    if (e && e.type !== undefined && e.type !== 'dir') return;
    if (!this.below.has(path)) return;
    const prefix = path === '/' ? '/' : `${path}/`;
    for (const key of this.map.keys()) if (key.startsWith(prefix)) this.drop(key);
  }

  clear(): void {
    this.gen++;
    this.map.clear();
    this.below.clear();
    this.invalidated.clear(this.gen);
  }

  private drop(path: string): void {
    if (this.map.delete(path)) this.count(path, -1);
  }

  /** Adds `d` to the count of every ancestor directory of `path`. */
  private count(path: string, d: number): void {
    for (let i = path.lastIndexOf('/'); i >= 0; i = i === 0 ? -1 : path.lastIndexOf('/', i - 1)) {
      const dir = i === 0 ? '/' : path.slice(0, i);
      const n = (this.below.get(dir) ?? 0) + d;
      if (n > 0) this.below.set(dir, n);
      else this.below.delete(dir);
    }
  }
}

/**
 * Inode number → attributes. Every invalidation is stamped: attributes an
 * answer carried are only cached when their inode was not invalidated after
 * the request left (set()'s `since`, read from stamp() before the request),
 * so a slow getattr cannot bring back what a chmod through this mount just
 * replaced.
 */
export class AttrCache {
  private readonly map = new Map<number, AttrEntry>();
  private readonly now: () => number;
  private seq = 0;
  /** The stamp of each inode's last invalidation. */
  private readonly invalidated: InvalidationLog<number>;

  constructor(private readonly options: CacheOptions) {
    this.now = options.now ?? Date.now;
    this.invalidated = new InvalidationLog(options.maxEntries);
  }

  get size(): number {
    return this.map.size;
  }

  /** Read before a request whose answer carries attributes; pass it to set(). */
  stamp(): number {
    return this.seq;
  }

  /** Whether `ino` was invalidated after `since` (a stamp()). */
  changedSince(ino: number, since: number): boolean {
    return this.invalidated.at(ino) > since;
  }

  get(ino: number): Attr | undefined {
    const e = this.map.get(ino);
    if (!e) return undefined;
    if (e.expires <= this.now()) {
      this.map.delete(ino);
      return undefined;
    }
    return e.attr;
  }

  /** Caches `attr`, unless its inode was invalidated after `since` (a stamp()). */
  set(attr: Attr, since = this.seq): void {
    if (this.options.attrTtlMs <= 0 || this.changedSince(attr.ino, since)) return;
    this.map.delete(attr.ino);
    this.map.set(attr.ino, { attr, expires: this.now() + this.options.attrTtlMs });
    if (this.map.size > this.options.maxEntries) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
  }

  invalidate(ino: number): void {
    this.map.delete(ino);
    this.invalidated.mark(ino, ++this.seq);
  }

  clear(): void {
    this.map.clear();
    this.invalidated.clear(++this.seq);
  }
}

/** The key that stands for every attribute name (an inode without attributes). */
const ALL = '\0all';

/** What is known about an extended attribute being missing. */
export type MissState = 'fresh' | 'stale' | 'unknown';

/**
 * Extended attributes known to be missing, per inode. The kernel asks for
 * security.capability before every write(2) to a file, and that question
 * would otherwise queue behind the file's own write RPCs. A miss is trusted
 * for the attribute timeout ('fresh'); after that it is 'stale' for as long
 * again: the caller may answer from it and check with the server in the
 * background (refresh()).
 */
export class XattrMissCache {
  private readonly map = new Map<number, Map<string, number>>();
  private readonly now: () => number;

  constructor(private readonly options: CacheOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Whether `name` of `ino` was found missing recently ('fresh'), a while ago ('stale'), or not known. */
  state(ino: number, name: string): MissState {
    const names = this.map.get(ino);
    if (!names) return 'unknown';
    const a = this.state1(ino, names, ALL);
    const b = this.state1(ino, names, name);
    return a === 'fresh' || b === 'fresh' ? 'fresh' : a === 'stale' || b === 'stale' ? 'stale' : 'unknown';
  }

  private state1(ino: number, names: Map<string, number>, name: string): MissState {
    const at = names.get(name);
    if (at === undefined) return 'unknown';
    const age = this.now() - at;
    if (age < this.options.attrTtlMs) return 'fresh';
    if (age < 2 * this.options.attrTtlMs) return 'stale';
    names.delete(name);
    if (names.size === 0) this.map.delete(ino);
    return 'unknown';
  }

  /** Remembers that `name` of `ino` is missing (as of now). */
  remember(ino: number, name: string): void {
    if (this.options.attrTtlMs <= 0) return;
    let names = this.map.get(ino);
    if (!names) {
      this.map.set(ino, (names = new Map()));
      if (this.map.size > this.options.maxEntries) {
        const oldest = this.map.keys().next();
        if (!oldest.done) this.map.delete(oldest.value);
      }
    }
    names.set(name, this.now());
  }

  /** Remembers that `ino` has no attributes at all (it was just created). */
  rememberNone(ino: number): void {
    this.remember(ino, ALL);
  }

  /** Forgets what is known of `ino` (an attribute was set, or found). */
  invalidate(ino: number): void {
    this.map.delete(ino);
  }
}
