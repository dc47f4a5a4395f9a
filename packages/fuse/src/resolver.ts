// Paths → inodes for the FUSE operations. A path the PathCache does not know
// is resolved one component at a time from its deepest known ancestor (the
// kernel walks top-down, so usually only the last component costs a lookup);
// concurrent resolutions of one path share their lookup. When an operation
// fails with ESTALE on an inode that came from the cache (someone
// else removed or replaced it), the path is looked up again and the operation
// repeated once: nothing ran the first time, so the repeat is safe. (The
// server answers ESTALE for an inode that is gone, ENOENT for a missing name;
// a path renamed elsewhere is trusted until its entry timeout.)
//
// Attributes: concurrent fetches of one inode share their getattr. After a
// change through this mount that alters a directory (an entry added or
// removed), dirChanged() caches the directory's attributes the answer carried
// (the RPCs are asked withParentAttr): the kernel checks the directory's
// permissions at the next path walk through it (default_permissions, kernel
// attribute timeout 0) and then finds them without a round trip. Answers that
// overlap (several changes of one directory in flight) keep the newest
// attributes by their change counter. When the answer carried none (an older
// server), or cannot be ordered against a concurrent change, refresh()
// fetches them again right away in the background.
//
// Lookup storms: when names of one directory keep missing the cache and are
// found by the server (stat of many files, ls -l, find, make), the directory
// is read with readdirplus once (one page, at most once per entry timeout)
// and every entry goes into the caches, as the Linux NFS client does.
//
// Negative lookups (option negativeLookups; mountFuse turns it on): lookups
// that find nothing (a create storm: the kernel looks up every name before it
// creates it) start such a listing too, and a listing that holds the whole
// directory is kept, by directory inode, for the entry timeout from when it
// was asked for: a name it lacks is answered ENOENT without an RPC. Changes
// made through this mount keep it exact: each one is counted while in flight
// (a name with a change in flight is always looked up at the server), applied
// when it answers (also to a listing still on its way: the answers that came
// meanwhile are applied on top of it), and a change that failed drops the
// listing. A name created elsewhere is seen once the listing expires (at most
// the entry timeout, as a name removed or renamed elsewhere already is).

import type { CairnClient, Credentials } from '@cairn/rpc';
import { splitPath, type AttrCache, type PathCache, type XattrMissCache } from './cache.js';
import type { Attr } from './convert.js';
import { cairnError } from '@cairn/errors';
import { ENOENT, ESTALE, errnoOf } from './errno.js';
import type { WriteClock } from './open-files.js';

/**
 * Taken before a request whose answer tells about paths or attributes: the
 * answer is cached only if no invalidation (path generation) or write of the
 * inode (write clock) happened meanwhile.
 */
export interface Ticket {
  readonly generation: number;
  readonly since: number;
  /** AttrCache.stamp(). */
  readonly attrs: number;
}

/** Found lookups in one directory that start a prefetch, within an entry timeout. */
const PREFETCH_AFTER = 8;
/** Entries a prefetch reads (one readdirplus page). */
const PREFETCH_ENTRIES = 4096;
/** A directory larger than one page is not prefetched again for this many entry timeouts. */
const PREFETCH_BIG_BACKOFF = 30;
/** Directories whose lookups are counted. */
const PREFETCH_DIRS = 1024;

export interface ResolverOptions {
  /** The path cache's entry timeout (ms); prefetching is off when it or the attribute timeout is 0. */
  readonly entryTtlMs: number;
  readonly attrTtlMs: number;
  /** Answer names missing from a complete, recent listing ENOENT without an RPC (default false; see the header). */
  readonly negativeLookups?: boolean;
  /** Most names the complete listings hold together (default 65 536); the oldest listings go first. */
  readonly maxListedNames?: number;
  readonly now?: () => number;
}

/** The names of a directory read whole (readdirplus), kept for the entry timeout. */
interface Listing {
  readonly names: Set<string>;
  readonly expires: number;
}

/** A listing on its way: the changes through this mount that answered meanwhile, in order (undefined: one failed). */
interface ListingRead {
  log: Array<readonly [string, boolean]> | undefined;
}

interface DirStats {
  /** Found lookups since windowStart. */
  found: number;
  windowStart: number;
  /** No prefetch before this time. */
  notBefore: number;
}

/** The server no longer has the inode (it answers ESTALE for a gone inode, ENOENT for a missing name). */
function isStale(err: unknown): boolean {
  return errnoOf(err) === ESTALE;
}

/**
 * The ENOENT of a name a listing lacks: an expected answer (a create storm
 * makes one per file), so built without a stack trace.
 */
function notFound(name: string): Error {
  return cairnError('CAIRN_ERR_FS_NOT_FOUND', `no such file or directory: ${name}`, { expected: true });
}

/** Call options carrying the caller's identity (none: the client's default). */
export function as(cred: Credentials | undefined): { cred?: Credentials } {
  return cred ? { cred } : {};
}

export class Resolver {
  private readonly resolving = new Map<string, Promise<number>>();
  /** getattr RPCs in flight by inode, with the attribute stamp taken before each left. */
  private readonly fetching = new Map<number, { stamp: number; attr: Promise<Attr> }>();
  /** Lookup counts per directory path (prefetching). */
  private readonly dirs = new Map<string, DirStats>();
  /** Prefetches in flight by directory path. */
  private readonly prefetching = new Map<string, Promise<void>>();
  private readonly now: () => number;
  private readonly prefetchTtlMs: number;
  private readonly negativeLookups: boolean;
  /** Complete listings by directory inode (negative lookups). */
  private readonly listings = new Map<number, Listing>();
  /** Listings being read, by directory inode. */
  private readonly listingReads = new Map<number, Set<ListingRead>>();
  /** Changes through this mount in flight, by directory inode and name. */
  private readonly changing = new Map<number, Map<string, number>>();
  /** Names the listings hold together, and the most they may. */
  private listedNames = 0;
  private readonly maxListedNames: number;

  constructor(
    private readonly client: CairnClient,
    readonly paths: PathCache,
    readonly attrs: AttrCache,
    readonly xattrMisses: XattrMissCache,
    private readonly writes: WriteClock,
    options: ResolverOptions = { entryTtlMs: 0, attrTtlMs: 0 },
  ) {
    this.now = options.now ?? Date.now;
    this.prefetchTtlMs = Math.min(options.entryTtlMs, options.attrTtlMs);
    this.negativeLookups = options.negativeLookups === true && this.prefetchTtlMs > 0;
    this.maxListedNames = options.maxListedNames ?? 65_536;
  }

  /** Complete listings held (negative lookups). */
  get listedDirs(): number {
    return this.listings.size;
  }

  /**
   * Runs `op`, a change through this mount that adds (`present`) or removes
   * `name` in directory `dir`, keeping the complete listings exact: while it
   * runs the name is looked up at the server; its answer is applied to the
   * listing (and to listings on their way); a failure drops them.
   */
  changeEntry<T>(dir: number, name: string, present: boolean, op: () => Promise<T>): Promise<T> {
    if (!this.negativeLookups) return op();
    let names = this.changing.get(dir);
    if (!names) this.changing.set(dir, (names = new Map()));
    names.set(name, (names.get(name) ?? 0) + 1);
    const changing = names;
    let p: Promise<T>;
    try {
      p = op();
    } catch (err) {
      p = Promise.reject(err);
    }
    return p.then(
      (r) => {
        this.changed(dir, changing, name, present, true);
        return r;
      },
      (err: unknown) => {
        this.changed(dir, changing, name, present, false);
        throw err;
      },
    );
  }

  /** A change of `name` in `dir` answered (`ok`) or failed: see changeEntry(). */
  private changed(dir: number, names: Map<string, number>, name: string, present: boolean, ok: boolean): void {
    const n = names.get(name)! - 1;
    if (n > 0) names.set(name, n);
    else names.delete(name);
    if (names.size === 0 && this.changing.get(dir) === names) this.changing.delete(dir);
    const listing = this.listings.get(dir);
    if (listing) {
      if (!ok) this.dropListing(dir);
      else if (present) {
        if (!listing.names.has(name)) {
          listing.names.add(name);
          this.listedNames++;
          this.trimListings(dir);
        }
      } else if (listing.names.delete(name)) this.listedNames--;
    }
    const reads = this.listingReads.get(dir);
    if (reads) {
      for (const read of reads) {
        if (!ok) read.log = undefined;
        else read.log?.push([name, present]);
      }
    }
  }

  /**
   * True when `path` is known not to exist (negative lookups): its directory
   * is cached and a complete, recent listing of it lacks the name. Answers
   * synchronously, for the kernel's lookups before creates.
   */
  absent(path: string): boolean {
    if (!this.negativeLookups || path === '/') return false;
    const [dir, name] = splitPath(path);
    const parent = dir === '/' ? this.rootIno : this.paths.get(dir);
    return parent !== undefined && this.knownAbsent(parent, name);
  }

  /** True when a complete, recent listing of `dir` lacks `name` and no change of it through this mount is in flight. */
  private knownAbsent(dir: number, name: string): boolean {
    const l = this.listings.get(dir);
    if (!l) return false;
    if (l.expires <= this.now()) {
      this.dropListing(dir);
      return false;
    }
    return !l.names.has(name) && !(this.changing.get(dir)?.has(name) ?? false);
  }

  /** See Ticket. */
  ticket(): Ticket {
    return { generation: this.paths.generation, since: this.writes.clock, attrs: this.attrs.stamp() };
  }

  /** Caches attributes an answer carried, unless the file was written or changed meanwhile (see Ticket). */
  cacheAttr(attr: Attr, ticket: Ticket): void {
    if (this.writes.settledSince(attr.ino, ticket.since)) this.attrs.set(attr, ticket.attrs);
  }

  get rootIno(): number {
    return this.client.mount.rootIno;
  }

  /** The inode number at `path`. */
  resolve(path: string, cred: Credentials | undefined): Promise<number> | number {
    if (path === '/') return this.rootIno;
    const hit = this.paths.get(path);
    if (hit !== undefined) return hit;
    let p = this.resolving.get(path);
    if (!p) {
      const listing = this.prefetching.get(splitPath(path)[0]);
      p = (listing ? this.afterListing(listing, path, cred) : this.lookup(path, cred)).finally(() => this.resolving.delete(path));
      this.resolving.set(path, p);
    }
    return p;
  }

  /** Resolves `path` once its directory's prefetch is done: from the cache when the listing brought it. */
  private async afterListing(listing: Promise<void>, path: string, cred: Credentials | undefined): Promise<number> {
    await listing;
    return this.paths.get(path) ?? this.lookup(path, cred);
  }

  /** Runs `op` on the inode at `path`, again once with a fresh lookup if a cached inode was stale. */
  async withIno<T>(path: string, cred: Credentials | undefined, op: (ino: number) => Promise<T>): Promise<T> {
    const cached = path !== '/' && this.paths.get(path) !== undefined;
    const ino = await this.resolve(path, cred);
    try {
      return await op(ino);
    } catch (err) {
      if (!cached || !isStale(err)) throw err;
      this.forget(path, ino);
      return op(await this.resolve(path, cred));
    }
  }

  /** Runs `op` with the inode of `path`'s directory and its last component (retried like withIno). */
  withParent<T>(path: string, cred: Credentials | undefined, op: (parent: number, name: string) => Promise<T>): Promise<T> {
    const [dir, name] = splitPath(path);
    return this.withIno(dir, cred, (parent) => op(parent, name));
  }

  /** Fresh attributes of `ino`: from the cache when recent, else from a getattr in flight since its last change, else fetched. */
  getattr(ino: number, cred: Credentials | undefined): Promise<Attr> | Attr {
    const hit = this.attrs.get(ino);
    if (hit) return hit;
    const f = this.fetching.get(ino);
    // Someone else's fetch may fail for reasons of its own (its caller's identity): then fetch.
    if (f && !this.attrs.changedSince(ino, f.stamp)) return f.attr.catch(() => this.fetch(ino, cred));
    return this.fetch(ino, cred);
  }

  /**
   * After a change through this mount that altered directory `ino` (an entry
   * added or removed): caches `attr`, the directory's attributes the answer
   * carried, when they are the newest known: nothing invalidated the
   * directory since `ticket` (taken before the request), or what is cached
   * now is older (a smaller change counter: answers of concurrent changes
   * arrive in any order). Otherwise, and without `attr`, refresh().
   */
  dirChanged(ino: number, attr: Attr | undefined, ticket: Ticket, cred: Credentials | undefined): void {
    if (attr !== undefined && attr.ino === ino) {
      const cached = this.attrs.get(ino);
      if (cached ? cached.change <= attr.change : !this.attrs.changedSince(ino, ticket.attrs)) {
        // Invalidate first: a getattr that left before the change must not bring back older attributes.
        this.attrs.invalidate(ino);
        this.attrs.set(attr);
        return;
      }
      if (cached) {
        // A newer answer is cached already.
        return;
      }
    }
    this.refresh(ino, cred);
  }

  /**
   * Forgets the attributes of directory `ino` and fetches them again in the
   * background, for the kernel's next permission check on it.
   */
  refresh(ino: number, cred: Credentials | undefined): void {
    this.attrs.invalidate(ino);
    this.fetch(ino, cred).catch(() => undefined);
  }

  private fetch(ino: number, cred: Credentials | undefined): Promise<Attr> {
    const ticket = this.ticket();
    const attr = this.client.getattr({ ino }, as(cred)).then((a) => {
      this.cacheAttr(a, ticket);
      return a;
    });
    const entry = { stamp: ticket.attrs, attr };
    this.fetching.set(ino, entry);
    const done = (): void => {
      if (this.fetching.get(ino) === entry) this.fetching.delete(ino);
    };
    attr.then(done, done);
    return attr;
  }

  /** Records what an answer said about `path` (create, mkdir, link...); `ticket` was taken before the request. */
  learn(path: string, attr: Attr, ticket: Ticket): void {
    this.paths.setUnlessChanged(path, attr.ino, attr.type, ticket.generation);
    this.cacheAttr(attr, ticket);
  }

  /** Forgets `path` (and what lies below it) and the attributes of `ino`. */
  forget(path: string, ino?: number): void {
    const known = this.paths.get(path);
    this.paths.invalidate(path);
    if (known !== undefined) this.attrs.invalidate(known);
    if (ino !== undefined) this.attrs.invalidate(ino);
  }

  private async lookup(path: string, cred: Credentials | undefined): Promise<number> {
    const [dir, name] = splitPath(path);
    const cached = dir !== '/' && this.paths.get(dir) !== undefined;
    let parent = await this.resolve(dir, cred);
    if (this.negativeLookups && this.knownAbsent(parent, name)) throw notFound(name);
    let ticket = this.ticket();
    let attr: Attr;
    try {
      attr = await this.client.lookup({ parent, name }, as(cred));
    } catch (err) {
      if (this.negativeLookups && errnoOf(err) === ENOENT) this.found(dir, parent, cred, true);
      if (!cached || !isStale(err)) throw err;
      // The cached directory may be the stale part: look it up again too.
      this.forget(dir, parent);
      parent = await this.resolve(dir, cred);
      ticket = this.ticket();
      attr = await this.client.lookup({ parent, name }, as(cred));
    }
    this.learn(path, attr, ticket);
    this.found(dir, parent, cred);
    return attr.ino;
  }

  /**
   * Counts a name of `dir` the server had to find (or, with negative lookups,
   * found missing); starts a prefetch of `dir` when they keep coming.
   */
  private found(dir: string, ino: number, cred: Credentials | undefined, missed = false): void {
    if (this.prefetchTtlMs <= 0) return;
    const now = this.now();
    // Found names and missing names are counted apart: a names listing made for
    // a create storm must not hold back the attribute prefetch a stat storm
    // right after it needs (and the other way round).
    const key = missed ? `\0${dir}` : dir;
    let d = this.dirs.get(key);
    if (!d) {
      this.dirs.set(key, (d = { found: 0, windowStart: now, notBefore: 0 }));
      if (this.dirs.size > PREFETCH_DIRS) {
        const oldest = this.dirs.keys().next();
        if (!oldest.done) this.dirs.delete(oldest.value);
      }
    }
    if (now - d.windowStart >= this.prefetchTtlMs) {
      d.found = 0;
      d.windowStart = now;
    }
    if (++d.found < PREFETCH_AFTER || now < d.notBefore || this.prefetching.has(dir)) return;
    // A complete names listing answers the misses already.
    if (missed && this.listings.has(ino)) return;
    d.found = 0;
    d.notBefore = now + this.prefetchTtlMs;
    const stats = d;
    // Names that keep being missing need only the names (a cheaper readdir); found ones, their attributes too.
    const p = (missed ? this.listNames(ino, cred) : this.prefetch(dir, ino, cred))
      .then((complete) => {
        if (!complete) stats.notBefore = this.now() + PREFETCH_BIG_BACKOFF * this.prefetchTtlMs;
      })
      .catch(() => undefined) // EACCES (no read permission) and the like: lookups go on one by one
      .finally(() => this.prefetching.delete(dir));
    this.prefetching.set(dir, p);
  }

  /** Reads one page of `dir` with attributes into the caches; true when that was the whole directory. */
  private async prefetch(dir: string, ino: number, cred: Credentials | undefined): Promise<boolean> {
    const ticket = this.ticket();
    const asked = this.now();
    const read = this.negativeLookups ? this.beginListingRead(ino) : undefined;
    try {
      const page = await this.client.readdirplus({ ino, cookie: 0, limit: PREFETCH_ENTRIES }, as(cred));
      for (const e of page.entries) {
        if (e.attr && e.name !== '.' && e.name !== '..') this.learn(dir === '/' ? `/${e.name}` : `${dir}/${e.name}`, e.attr, ticket);
      }
      if (read && page.eof) this.keepListing(ino, page.entries, read, asked);
      return page.eof;
    } finally {
      if (read) this.endListingRead(ino, read);
    }
  }

  /** Reads one page of `dir`'s names (negative lookups); true when that was the whole directory. */
  private async listNames(ino: number, cred: Credentials | undefined): Promise<boolean> {
    const asked = this.now();
    const read = this.beginListingRead(ino);
    try {
      const page = await this.client.readdir({ ino, cookie: 0, limit: PREFETCH_ENTRIES }, as(cred));
      if (page.eof) this.keepListing(ino, page.entries, read, asked);
      return page.eof;
    } finally {
      this.endListingRead(ino, read);
    }
  }

  /** Keeps the complete listing `entries` of `ino` (asked for at `asked`), with the changes answered meanwhile on top. */
  private keepListing(ino: number, entries: ReadonlyArray<{ readonly name: string }>, read: ListingRead, asked: number): void {
    if (!read.log) return;
    const names = new Set<string>();
    for (const e of entries) if (e.name !== '.' && e.name !== '..') names.add(e.name);
    for (const [name, present] of read.log) {
      if (present) names.add(name);
      else names.delete(name);
    }
    this.dropListing(ino);
    if (names.size > this.maxListedNames) return;
    this.listings.set(ino, { names, expires: asked + this.prefetchTtlMs });
    this.listedNames += names.size;
    this.trimListings(ino);
  }

  private dropListing(ino: number): void {
    const l = this.listings.get(ino);
    if (!l) return;
    this.listings.delete(ino);
    this.listedNames -= l.names.size;
  }

  /** Drops the oldest listings (`keep`, the newest, last) while there are too many, or they hold too many names. */
  private trimListings(keep: number): void {
    for (const ino of this.listings.keys()) {
      if (this.listedNames <= this.maxListedNames && this.listings.size <= PREFETCH_DIRS) return;
      if (ino !== keep) this.dropListing(ino);
    }
    if (this.listedNames > this.maxListedNames) this.dropListing(keep);
  }

  private beginListingRead(ino: number): ListingRead {
    const read: ListingRead = { log: [] };
    let set = this.listingReads.get(ino);
    if (!set) this.listingReads.set(ino, (set = new Set()));
    set.add(read);
    return read;
  }

  private endListingRead(ino: number, read: ListingRead): void {
    const set = this.listingReads.get(ino);
    set?.delete(read);
    if (set?.size === 0) this.listingReads.delete(ino);
  }
}
