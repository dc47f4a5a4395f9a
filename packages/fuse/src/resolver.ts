// Paths → inodes for the FUSE operations. A path the PathCache does not know
// is resolved one component at a time from its deepest known ancestor (the
// kernel walks top-down, so usually only the last component costs a lookup);
// concurrent resolutions of one path share their lookup. When an operation
// fails with ESTALE on an inode that came from the cache (someone
// else removed or replaced it), the path is looked up again and the operation
// repeated once: nothing ran the first time, so the repeat is safe. (The
// server answers ESTALE for an inode that is gone, ENOENT for a missing name;
// a path renamed elsewhere is trusted until its entry timeout.)

import type { CairnClient, Credentials } from '@cairn/rpc';
import { AttrCache, PathCache, splitPath, XattrMissCache } from './cache.js';
import type { Attr } from './convert.js';
import { ESTALE, errnoOf } from './errno.js';
import type { WriteClock } from './open-files.js';

/**
 * Taken before a request whose answer tells about paths or attributes: the
 * answer is cached only if no invalidation (path generation) or write of the
 * inode (write clock) happened meanwhile.
 */
export interface Ticket {
  readonly generation: number;
  readonly since: number;
}

/** The server no longer has the inode (it answers ESTALE for a gone inode, ENOENT for a missing name). */
function isStale(err: unknown): boolean {
  return errnoOf(err) === ESTALE;
}

/** Call options carrying the caller's identity (none: the client's default). */
export function as(cred: Credentials | undefined): { cred?: Credentials } {
  return cred ? { cred } : {};
}

export class Resolver {
  private readonly resolving = new Map<string, Promise<number>>();

  constructor(
    private readonly client: CairnClient,
    readonly paths: PathCache,
    readonly attrs: AttrCache,
    readonly xattrMisses: XattrMissCache,
    private readonly writes: WriteClock,
  ) {}

  /** See Ticket. */
  ticket(): Ticket {
    return { generation: this.paths.generation, since: this.writes.clock };
  }

  /** Caches attributes an answer carried, unless the file was written meanwhile (see Ticket). */
  cacheAttr(attr: Attr, ticket: Ticket): void {
    if (this.writes.settledSince(attr.ino, ticket.since)) this.attrs.set(attr);
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
      p = this.lookup(path, cred).finally(() => this.resolving.delete(path));
      this.resolving.set(path, p);
    }
    return p;
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

  /** Fresh attributes of `ino` (from the cache when recent). */
  async getattr(ino: number, cred: Credentials | undefined): Promise<Attr> {
    const hit = this.attrs.get(ino);
    if (hit) return hit;
    const ticket = this.ticket();
    const attr = await this.client.getattr({ ino }, as(cred));
    this.cacheAttr(attr, ticket);
    return attr;
  }

  /** Records what an answer said about `path` (create, mkdir, link...); `ticket` was taken before the request. */
  learn(path: string, attr: Attr, ticket: Ticket): void {
    this.paths.set(path, attr.ino, attr.type, ticket.generation);
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
    let ticket = this.ticket();
    let attr: Attr;
    try {
      attr = await this.client.lookup({ parent, name }, as(cred));
    } catch (err) {
      if (!cached || !isStale(err)) throw err;
      // The cached directory may be the stale part: look it up again too.
      this.forget(dir, parent);
      parent = await this.resolve(dir, cred);
      ticket = this.ticket();
      attr = await this.client.lookup({ parent, name }, as(cred));
    }
    this.learn(path, attr, ticket);
    return attr.ino;
  }
}
