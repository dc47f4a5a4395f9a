// What one fsck pass works with: the scan context (the view, the inode table,
// the segment maps, the findings), the finding type with its optional fix,
// progress reporting, and the typed iteration over a tree that turns
// undecodable records into findings. Internal to fsck.

import { cairnError } from '@cairn/errors';
import { decodeKey, encodeKey, type ReadView } from '@cairn/headhunter';
import type { Vol } from './context.js';
import { ROOT_INO, TREES } from './format.js';
import { InodeTable, NonceMap, type SegInfo } from './fsck-table.js';
import type { FsckCounts, FsckPhase, FsckProblem, FsckProblemKind, FsckProgress } from './fsck-types.js';
import { direntCodec, type MetaRec } from './records.js';
import type { FsTx } from './tx.js';

/**
 * A repair: `tx` fixes run inside a filesystem transaction (several per
 * transaction) and return false when the re-check inside finds the problem
 * gone or changed; `async` fixes run their own transactions (chunked work, or
 * work that must hold a file's gate).
 */
export type Fix =
  | { readonly kind: 'tx'; readonly run: (t: FsTx) => boolean }
  | { readonly kind: 'async'; readonly run: (v: Vol) => Promise<boolean> };

/** A problem, where it is (for its path), and how to fix it. */
export interface Finding {
  problem: Omit<FsckProblem, 'path' | 'repaired'> & { path?: string; repaired?: boolean };
  readonly fix: Fix | undefined;
  /** The inode (path of the inode) or the entry (path of the entry) concerned. */
  readonly at?: { readonly ino: number } | { readonly dir: number; readonly name: string };
}

/** Mutable counts of one pass. */
export type Counts = { -readonly [K in keyof FsckCounts]: FsckCounts[K] };

/** Records a scan reads before it lets the event loop run other work. */
const YIELD_EVERY = 256;

/** Reports progress every PROGRESS_EVERY items. */
const PROGRESS_EVERY = 4096;

export class Progress {
  done = 0;
  private last = 0;

  constructor(
    readonly phase: FsckPhase,
    readonly pass: number,
    readonly total: number,
    private readonly problems: () => number,
    private readonly cb: ((p: FsckProgress) => void) | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {}

  tick(n = 1): void {
    this.done += n;
    if (this.done - this.last >= PROGRESS_EVERY) this.report();
  }

  report(): void {
    this.last = this.done;
    if (this.signal?.aborted === true) throw cairnError('CAIRN_ERR_CANCELED', 'fsck');
    this.cb?.({ phase: this.phase, pass: this.pass, done: this.done, total: Math.max(this.total, this.done), problems: this.problems() });
  }
}

/** Everything one pass reads and learns. */
export class ScanCtx {
  readonly table = new InodeTable();
  /** Inodes whose record does not decode (entries naming them are not dangling). */
  readonly badInodes = new Set<number>();
  /** Live and dead segment records; segments whose record does not decode. */
  readonly segs = new NonceMap<SegInfo>();
  readonly dead = new NonceMap<SegInfo>();
  readonly badSegs = new NonceMap<true>();
  /** Dead segments extents name (one revive finding each). */
  readonly revived = new NonceMap<true>();
  /** Sum of extent lengths per segment. */
  readonly extentSums = new NonceMap<number>();
  readonly findings: Finding[] = [];
  meta: MetaRec | undefined;
  /** The root inode is missing: the table holds a stand-in. */
  syntheticRoot = false;
  readonly counts: Counts = {
    inodes: 0, directories: 0, files: 0, entries: 0, extents: 0, segments: 0, deadSegments: 0, xattrs: 0, orphans: 0, journal: 0, liveBytes: 0,
  };

  constructor(readonly v: Vol, readonly view: ReadView, readonly progress: Progress) {}

  add(kind: FsckProblemKind, message: string, o: { ino?: number; nonce?: bigint; fix?: Fix; at?: Finding['at'] } = {}): void {
    this.findings.push({
      problem: {
        kind, message, repairable: o.fix !== undefined,
        ...(o.ino !== undefined ? { ino: o.ino } : {}),
        ...(o.nonce !== undefined ? { nonce: o.nonce.toString() } : {}),
      },
      fix: o.fix,
      ...(o.at !== undefined ? { at: o.at } : o.ino !== undefined ? { at: { ino: o.ino } } : {}),
    });
  }

  /**
   * Iterates a tree, decoding each record; a record `decode` throws on is a
   * 'bad-record' finding (deleted by repair when `deletable`).
   */
  async *records<T>(tree: string, decode: (key: Buffer, value: Buffer) => T, deletable: boolean): AsyncGenerator<T> {
    // Cached nodes make a scan all microtasks: let timers and I/O of the serving volume run now and then.
    await new Promise<void>((r) => setImmediate(r));
    let n = 0;
    for await (const e of this.view.tree(tree).range()) {
      this.progress.tick();
      if (++n % YIELD_EVERY === 0) await new Promise<void>((r) => setImmediate(r));
      let rec: T;
      try {
        rec = decode(e.key, e.value);
      } catch (err) {
        const key = Buffer.from(e.key);
        const value = Buffer.from(e.value);
        this.add('bad-record', `tree ${tree} key ${key.toString('hex')}: ${(err as Error).message}`, {
          fix: deletable ? { kind: 'tx', run: (t) => deleteIfSame(t, tree, key, value) } : undefined,
        });
        continue;
      }
      yield rec;
    }
  }

  // ---- paths ----------------------------------------------------------------------

  /** The path of a directory from the names the entry scan saw. */
  dirPath(dir: number): string {
    const parts: string[] = [];
    const seen = new Set<number>();
    let cur = dir;
    while (cur !== ROOT_INO) {
      if (seen.has(cur) || parts.length > 4096) return `<inode ${cur}>/${parts.reverse().join('/')}`;
      seen.add(cur);
      const i = this.table.find(cur);
      const name = this.table.dirNames.get(cur);
      if (i < 0 || name === undefined || this.table.namedIn[i] === 0) return `<inode ${cur}>${parts.length > 0 ? '/' : ''}${parts.reverse().join('/')}`;
      parts.push(name);
      cur = this.table.namedIn[i]!;
    }
    return `/${parts.reverse().join('/')}`;
  }

  /**
   * Fills in the path of every finding: entries from their directory's path;
   * directories from the names seen; other inodes by looking their name up in
   * the directory holding them (one scan per such directory, at most 64).
   */
  async resolvePaths(): Promise<void> {
    const wanted = new Map<number, Finding[]>();
    for (const f of this.findings) {
      const at = f.at;
      if (at === undefined) continue;
      if ('dir' in at) {
        f.problem.path = `${this.dirPath(at.dir).replace(/\/$/, '')}/${at.name}`;
        continue;
      }
      const i = this.table.find(at.ino);
      if (at.ino === ROOT_INO) f.problem.path = '/';
      else if (i >= 0 && this.table.isDir(i) && this.table.namedIn[i] !== 0) f.problem.path = this.dirPath(at.ino);
      else if (i >= 0 && this.table.namedIn[i] !== 0) {
        const dir = this.table.namedIn[i]!;
        const l = wanted.get(dir);
        if (l === undefined) wanted.set(dir, [f]);
        else l.push(f);
      }
    }
    let scans = 0;
    for (const [dir, fs] of wanted) {
      const names = new Map<number, string>();
      if (scans++ < 64) {
        const want = new Set(fs.map((f) => (f.at as { ino: number }).ino));
        for await (const e of this.view.tree(TREES.dirents).range({ gte: encodeKey([dir]), lt: encodeKey([dir + 1]) })) {
          try {
            const d = direntCodec.decode(e.value);
            if (want.has(d.ino) && !names.has(d.ino)) names.set(d.ino, decodeKey(e.key)[1] as string);
          } catch {
            // a bad record is a finding of its own
          }
        }
      }
      const base = this.dirPath(dir).replace(/\/$/, '');
      for (const f of fs) {
        const ino = (f.at as { ino: number }).ino;
        f.problem.path = `${base}/${names.get(ino) ?? `<inode ${ino}>`}`;
      }
    }
  }
}

/** Deletes a record if it still holds exactly `value`. */
export function deleteIfSame(t: FsTx, tree: string, key: Buffer, value: Buffer): boolean {
  const cur = t.tx.get(tree, key);
  if (cur === undefined || !cur.equals(value)) return false;
  t.tx.del(tree, key);
  return true;
}

/** A key part as a safe unsigned integer (throws otherwise: the record is bad). */
export function uintPart(p: unknown, what: string): number {
  if (typeof p === 'number' && Number.isSafeInteger(p) && p >= 0) return p;
  throw new Error(`${what} in the key is not an unsigned integer`);
}

/** A key part as a nonce. */
export function noncePart(p: unknown): bigint {
  if (typeof p === 'bigint' && p > 0n) return p;
  if (typeof p === 'number' && Number.isSafeInteger(p) && p > 0) return BigInt(p);
  throw new Error('nonce in the key is not a positive integer');
}

/** A key part as a string. */
export function strPart(p: unknown, what: string): string {
  if (typeof p === 'string') return p;
  throw new Error(`${what} in the key is not a string`);
}
