// Listing for the fs backend: a depth-first walk of a container's name trie
// (fs-path.ts) in byte order, starting where prefix and marker say, pruning every
// subtree that cannot hold a wanted name, and stopping as soon as the page is full.
// Only the sorted entries of the directories on the current path are in memory,
// never the whole container.

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cairnError } from '@cairn/errors';
import type { ListEntry, ListPage } from '../types.js';
import { keyName, sortEntries, type TrieEntry } from './fs-path.js';

/** What the walk yields: object names still to be read, or rolled-up prefixes. */
export type WalkItem =
  | { readonly kind: 'object'; readonly key: string; readonly path: string }
  | { readonly kind: 'prefix'; readonly key: string };

/** Instrumentation for tests: the most directory entries the walk held at once. */
export interface WalkProbe {
  maxEntriesHeld: number;
  dirsRead: number;
}

interface Frame {
  readonly dir: string;
  readonly key: string;
  readonly entries: readonly TrieEntry[];
  i: number;
}

/**
 * Walks names in byte order. Keys are byte keys (fs-path.ts nameKey). The walk
 * yields objects with names starting with `prefix` and greater than `marker`;
 * with a delimiter, names whose remainder after the prefix contains it are
 * rolled up to `prefix + remainder up to and including the delimiter`, each
 * roll-up once and only if it is greater than the marker.
 */
export class TrieWalker {
  private readonly stack: Frame[] = [];
  private started = false;
  private done = false;
  /** Names starting with this are rolled up already (or at/below the marker). */
  private skip: string | undefined;
  private held = 0;

  constructor(
    private readonly containerDir: string,
    private readonly containerName: string,
    private readonly prefix: string,
    private readonly marker: string | undefined,
    private readonly delimiter: string | undefined,
    private readonly probe?: WalkProbe,
  ) {
    if (marker !== undefined && delimiter !== undefined && marker.startsWith(prefix)) {
      const at = marker.indexOf(delimiter, prefix.length);
      if (at >= 0) this.skip = marker.slice(0, at + delimiter.length);
    }
  }

  async next(): Promise<WalkItem | undefined> {
    if (this.done) return undefined;
    if (!this.started) {
      this.started = true;
      const entries = await this.readSorted(this.containerDir, true);
      this.push({ dir: this.containerDir, key: '', entries, i: 0 });
    }
    const { prefix: P, marker: M, delimiter: D } = this;
    for (;;) {
      const top = this.stack[this.stack.length - 1];
      if (!top) return this.finish();
      if (top.i >= top.entries.length) {
        this.pop();
        continue;
      }
      const e = top.entries[top.i++]!;
      const K = top.key + e.chunk;
      const path = join(top.dir, e.fsName);
      if (e.terminal) {
        // The name is exactly K.
        if (!K.startsWith(P)) {
          if (K > P) return this.finish();
          continue;
        }
        if (this.skip !== undefined && K.startsWith(this.skip)) continue;
        if (M !== undefined && K <= M) continue;
        const rolled = this.rollUp(K);
        if (rolled !== undefined) {
          this.skip = rolled;
          if (M !== undefined && rolled <= M) continue;
          return { kind: 'prefix', key: rolled };
        }
        return { kind: 'object', key: K, path };
      }
      // A directory: every name in it is K plus at least one more byte.
      if (!K.startsWith(P) && !P.startsWith(K)) {
        if (K > P) return this.finish();
        continue;
      }
      if (this.skip !== undefined && K.startsWith(this.skip)) continue;
      if (M !== undefined && K < M && !M.startsWith(K)) continue;
      const rolled = K.startsWith(P) ? this.rollUp(K) : undefined;
      if (rolled !== undefined) {
        // Every name below rolls up to the same prefix: no need to walk it, only
        // to know it is not an empty leftover directory.
        if (M !== undefined && rolled <= M) {
          this.skip = rolled;
          continue;
        }
        if (await this.holdsAnObject(path)) {
          this.skip = rolled;
          return { kind: 'prefix', key: rolled };
        }
        continue;
      }
      this.push({ dir: path, key: K, entries: await this.readSorted(path, false), i: 0 });
    }
  }

  private rollUp(key: string): string | undefined {
    const D = this.delimiter;
    if (D === undefined) return undefined;
    const at = key.indexOf(D, this.prefix.length);
    return at >= 0 ? key.slice(0, at + D.length) : undefined;
  }

  private async holdsAnObject(dir: string): Promise<boolean> {
    const entries = await this.readSorted(dir, false);
    for (const e of entries) {
      if (e.terminal) return true;
    }
    for (const e of entries) {
      if (await this.holdsAnObject(join(dir, e.fsName))) return true;
    }
    return false;
  }

  private async readSorted(dir: string, isRoot: boolean): Promise<TrieEntry[]> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        if (isRoot) throw cairnError('CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND', this.containerName);
        return []; // removed by a concurrent delete's pruning
      }
      throw err;
    }
    if (this.probe) this.probe.dirsRead++;
    return sortEntries(names);
  }

  private push(f: Frame): void {
    this.stack.push(f);
    this.held += f.entries.length;
    if (this.probe && this.held > this.probe.maxEntriesHeld) this.probe.maxEntriesHeld = this.held;
  }

  private pop(): void {
    this.held -= this.stack.pop()!.entries.length;
  }

  private finish(): undefined {
    this.done = true;
    this.stack.length = 0;
    this.held = 0;
    return undefined;
  }
}

/** Reads one object's listing fields; undefined when it vanished meanwhile. */
export type ReadEntry = (path: string, name: string) => Promise<Extract<ListEntry, { kind: 'object' }> | undefined>;

/** How many object headers a page reads at once. */
const HEADER_READS_IN_FLIGHT = 16;

/**
 * One page: up to `limit` entries after the marker, then a look at the next
 * candidate to decide whether there is a nextMarker (the last entry's name or
 * prefix). Objects deleted while the page is built are left out and replaced.
 */
export async function listPage(walker: TrieWalker, limit: number, readEntry: ReadEntry, signal?: AbortSignal): Promise<ListPage> {
  const out: ListEntry[] = [];
  let exhausted = false;
  while (out.length < limit && !exhausted) {
    const batch: WalkItem[] = [];
    while (batch.length < limit - out.length) {
      const item = await walker.next();
      if (!item) {
        exhausted = true;
        break;
      }
      batch.push(item);
    }
    if (signal?.aborted) throw cairnError('CAIRN_ERR_CANCELED', 'list');
    const resolved = await mapLimited(batch, HEADER_READS_IN_FLIGHT, async (item): Promise<ListEntry | undefined> =>
      item.kind === 'prefix' ? { kind: 'prefix', prefix: keyName(item.key) } : readEntry(item.path, keyName(item.key)),
    );
    for (const e of resolved) if (e) out.push(e);
  }
  if (out.length < limit || exhausted || !(await walker.next())) return { entries: out };
  const last = out[out.length - 1]!;
  return { entries: out, nextMarker: last.kind === 'object' ? last.name : last.prefix };
}

async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
