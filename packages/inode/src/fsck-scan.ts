// fsck, namespace part: the meta record, inodes, orphan records, directory
// entries against their cookie records, link counts, directory parents and
// reachability from the root. Reads one consistent view (ScanCtx.view) and
// records findings with their fixes (fsck-repair.ts). Internal to fsck.

import { decodeKey } from '@cairn/headhunter';
import { strPart, uintPart, type ScanCtx } from './fsck-findings.js';
import { F_MULTI, F_ORPHAN, F_TRIM } from './fsck-table.js';
import {
  attachFix, deleteCookieFix, dirSizeFix, entryTypeFix, extraEntryFix, metaRaiseFix, newCookieFix, nextCookieFix, nlinkFix, orphanFix, parentFix, removeEntryFix,
  rootFix, writeCookieFix,
} from './fsck-repair.js';
import { FIRST_ENTRY_COOKIE, ROOT_INO, S_IFDIR, S_IFMT, S_IFREG, TREES } from './format.js';
import { dircookieCodec, direntCodec, inodeCodec, META_KEY, metaCodec, orphanCodec, type DircookieRec, type DirentRec } from './records.js';

/** Runs the namespace checks of one pass. */
export async function scanNamespace(c: ScanCtx): Promise<void> {
  await scanMeta(c);
  await scanInodes(c);
  await scanOrphans(c);
  await scanEntries(c);
  checkLinks(c);
}

async function scanMeta(c: ScanCtx): Promise<void> {
  const b = await c.view.tree(TREES.meta).get(META_KEY);
  c.progress.tick();
  if (b === undefined) {
    c.add('meta', 'the meta record is missing');
    return;
  }
  try {
    c.meta = metaCodec.decode(b);
  } catch (err) {
    c.add('meta', `the meta record does not decode: ${(err as Error).message}`);
  }
}

async function scanInodes(c: ScanCtx): Promise<void> {
  const t = c.table;
  const decode = (key: Buffer, value: Buffer): { ino: number; rec: ReturnType<typeof inodeCodec.decode> } => {
    const ino = uintPart(decodeKey(key)[0], 'inode number');
    try {
      return { ino, rec: inodeCodec.decode(value) };
    } catch (err) {
      c.badInodes.add(ino);
      throw err;
    }
  };
  const root = (): void => {
    // A missing root gets a stand-in, so that its entries still count (rootFix recreates it).
    if (t.size > 0 || c.badInodes.has(ROOT_INO)) return;
    c.syntheticRoot = true;
    t.add(ROOT_INO, {
      mode: S_IFDIR | 0o755, uid: 0, gid: 0, nlink: 2, size: 0, atime: 0n, mtime: 0n, ctime: 0n, btime: 0n, change: -1, dataVersion: 0, rdev: 0,
      parent: ROOT_INO, nextCookie: Number.MAX_SAFE_INTEGER,
    });
    c.add('root', 'the root directory (inode 1) is missing', { ino: ROOT_INO, fix: rootFix(() => 2 + t.subdirs[0]!) });
  };
  for await (const { ino, rec } of c.records(TREES.inodes, decode, false)) {
    if (ino !== ROOT_INO) root();
    t.add(ino, rec);
    c.counts.inodes++;
    const type = rec.mode & S_IFMT;
    if (type === S_IFDIR) c.counts.directories++;
    else if (type === S_IFREG) c.counts.files++;
  }
  root();
  const ri = t.find(ROOT_INO);
  if (ri >= 0 && !t.isDir(ri)) c.add('root', `the root (inode 1) is not a directory (mode 0o${t.mode[ri]!.toString(8)})`, { ino: ROOT_INO });
  if (c.meta !== undefined && c.meta.nextIno <= t.maxIno) {
    c.add('meta-next-ino', `nextIno ${c.meta.nextIno} is not above inode ${t.maxIno}`, { fix: metaRaiseFix('nextIno', t.maxIno + 1) });
  }
}

async function scanOrphans(c: ScanCtx): Promise<void> {
  const t = c.table;
  const decode = (key: Buffer, value: Buffer): { ino: number; kind: string; size: number | undefined; raw: Buffer; key: Buffer } => {
    const parts = decodeKey(key);
    const ino = uintPart(parts[0], 'inode number');
    const kind = strPart(parts[1], 'orphan kind');
    const rec = orphanCodec.decode(value);
    if (rec.kind !== kind) throw new Error(`orphan kind ${rec.kind} under key kind ${kind}`);
    return { ino, kind, size: rec.size, raw: Buffer.from(value), key: Buffer.from(key) };
  };
  for await (const o of c.records(TREES.orphans, decode, true)) {
    c.counts.orphans++;
    const i = t.find(o.ino);
    if (i < 0) {
      if (c.badInodes.has(o.ino)) continue;
      c.add('orphan-stale', `'${o.kind}' orphan record of missing inode ${o.ino}`, {
        ino: o.ino, fix: orphanFix(o.ino, o.kind as 'unlinked' | 'trim', (rec) => rec === undefined),
      });
      continue;
    }
    if (o.kind === 'trim') {
      if (!t.isRegular(i)) {
        c.add('orphan-stale', `'trim' orphan record of inode ${o.ino}, which is not a regular file`, {
          ino: o.ino, fix: orphanFix(o.ino, 'trim', (rec) => rec === undefined || (rec.mode & S_IFMT) !== S_IFREG),
        });
        continue;
      }
      t.flags[i]! |= F_TRIM;
      t.trims.set(o.ino, o.size ?? 0);
      continue;
    }
    if (t.nlink[i]! > 0) {
      c.add('orphan-stale', `'unlinked' orphan record of inode ${o.ino}, which has ${t.nlink[i]} links`, {
        ino: o.ino, fix: orphanFix(o.ino, 'unlinked', (rec) => rec !== undefined && rec.nlink > 0),
      });
      continue;
    }
    t.flags[i]! |= F_ORPHAN;
  }
}

// ---- entries ----------------------------------------------------------------------

interface EntryRow {
  readonly dir: number;
  readonly name: string;
  readonly e: DirentRec;
}

interface CookieRow {
  readonly dir: number;
  readonly cookie: number;
  readonly ck: DircookieRec;
  readonly raw: Buffer;
}

/** Groups consecutive items of an ordered stream by directory. */
async function* byDir<T extends { dir: number }>(items: AsyncIterable<T>): AsyncGenerator<{ dir: number; items: T[] }> {
  let cur: { dir: number; items: T[] } | undefined;
  for await (const it of items) {
    if (cur !== undefined && cur.dir === it.dir) {
      cur.items.push(it);
      continue;
    }
    if (cur !== undefined) yield cur;
    cur = { dir: it.dir, items: [it] };
  }
  if (cur !== undefined) yield cur;
}

/** Walks `dirents` and `dircookies` side by side, one directory at a time. */
async function scanEntries(c: ScanCtx): Promise<void> {
  const ents = byDir(c.records(TREES.dirents, (key, value): EntryRow => {
    const parts = decodeKey(key);
    return { dir: uintPart(parts[0], 'directory'), name: strPart(parts[1], 'name'), e: direntCodec.decode(value) };
  }, true));
  const cks = byDir(c.records(TREES.dircookies, (key, value): CookieRow => {
    const parts = decodeKey(key);
    return { dir: uintPart(parts[0], 'directory'), cookie: uintPart(parts[1], 'cookie'), ck: dircookieCodec.decode(value), raw: Buffer.from(value) };
  }, true));
  let a = await ents.next();
  let b = await cks.next();
  while (!a.done || !b.done) {
    const dir = Math.min(a.done ? Infinity : a.value.dir, b.done ? Infinity : b.value.dir);
    const entries = !a.done && a.value.dir === dir ? a.value.items : [];
    const cookies = !b.done && b.value.dir === dir ? b.value.items : [];
    if (entries.length > 0) a = await ents.next();
    if (cookies.length > 0) b = await cks.next();
    checkDirectory(c, dir, entries, cookies);
  }
}

function checkDirectory(c: ScanCtx, dir: number, entries: EntryRow[], cookies: CookieRow[]): void {
  const t = c.table;
  c.counts.entries += entries.length;
  const di = t.find(dir);
  const byCookie = new Map<number, CookieRow>();
  for (const r of cookies) byCookie.set(r.cookie, r);
  const claimed = new Set<number>();
  if (di < 0 || !t.isDir(di)) {
    if (c.badInodes.has(dir)) return;
    const what = di < 0 ? 'does not exist' : 'is not a directory';
    for (const r of entries) {
      claimed.add(r.e.cookie);
      c.add('dirent-dir', `entry "${r.name}" (inode ${r.e.ino}) is in inode ${dir}, which ${what}`, {
        ino: r.e.ino, at: { dir, name: r.name },
        fix: removeEntryFix(dir, r.name, r.e.ino, r.e.cookie, (tx) => {
          const d = tx.inode(dir);
          return d === undefined || (d.mode & S_IFMT) !== S_IFDIR;
        }),
      });
    }
    orphanCookies(c, dir, cookies, claimed);
    return;
  }
  t.entries[di] = entries.length;
  const nextCookie = t.nextCookie[di]! || FIRST_ENTRY_COOKIE;
  let maxCookie = 0;
  for (const r of entries) {
    const { name, e } = r;
    const at = { dir, name };
    const ti = t.find(e.ino);
    if (ti < 0) {
      if (!c.badInodes.has(e.ino)) {
        c.add('dirent-dangling', `entry names inode ${e.ino}, which does not exist`, {
          ino: e.ino, at, fix: removeEntryFix(dir, name, e.ino, e.cookie, (tx) => tx.inode(e.ino) === undefined),
        });
      }
      claimed.add(e.cookie);
      continue;
    }
    t.addLink(ti, dir, name);
    if (t.isDir(ti)) t.subdirs[di]!++;
    if (e.type !== t.typeBits(ti)) {
      c.add('dirent-type', `entry type 0o${e.type.toString(8)}, inode ${e.ino} is 0o${t.typeBits(ti).toString(8)}`, { ino: e.ino, at, fix: entryTypeFix(dir, name, e.ino) });
    }
    if (e.cookie < FIRST_ENTRY_COOKIE || claimed.has(e.cookie)) {
      const why = e.cookie < FIRST_ENTRY_COOKIE ? `cookie ${e.cookie} is below ${FIRST_ENTRY_COOKIE}` : `cookie ${e.cookie} is also another entry's`;
      c.add(e.cookie < FIRST_ENTRY_COOKIE ? 'cookie-range' : 'cookie-duplicate', why, { ino: e.ino, at, fix: newCookieFix(dir, name, e.cookie) });
      continue;
    }
    claimed.add(e.cookie);
    maxCookie = Math.max(maxCookie, e.cookie);
    const ck = byCookie.get(e.cookie)?.ck;
    if (ck === undefined || ck.name !== name || ck.ino !== e.ino || ck.type !== e.type) {
      c.add('dirent-cookie', ck === undefined ? `no cookie record ${e.cookie}` : `cookie record ${e.cookie} says "${ck.name}" -> ${ck.ino}`, {
        ino: e.ino, at, fix: writeCookieFix(dir, name, e.cookie),
      });
    }
  }
  if (maxCookie >= nextCookie) {
    c.add('cookie-range', `cookie ${maxCookie} is not below the directory's nextCookie ${nextCookie}`, {
      ino: dir, fix: nextCookieFix(dir, maxCookie),
    });
  }
  orphanCookies(c, dir, cookies, claimed);
}

function orphanCookies(c: ScanCtx, dir: number, cookies: CookieRow[], claimed: Set<number>): void {
  for (const r of cookies) {
    if (claimed.has(r.cookie)) continue;
    c.add('cookie-orphan', `cookie record ${r.cookie} ("${r.ck.name}" -> ${r.ck.ino}) has no entry`, {
      at: { dir, name: r.ck.name }, fix: deleteCookieFix(dir, r.cookie, r.ck.name, r.raw),
    });
  }
}

// ---- link counts, parents, reachability --------------------------------------------------

const UNKNOWN = 0;
const WALKING = 1;
const REACHABLE = 2;
const UNREACHABLE = 3;

/** Reachability of every directory from the root, following each one's naming entry up. */
function reachability(c: ScanCtx): Uint8Array {
  const t = c.table;
  const state = new Uint8Array(t.size);
  for (let i = 0; i < t.size; i++) {
    if (state[i] !== UNKNOWN || !t.isDir(i)) continue;
    const path: number[] = [];
    let cur = i;
    let result = UNREACHABLE;
    for (;;) {
      if (state[cur] === REACHABLE || state[cur] === UNREACHABLE) {
        result = state[cur]!;
        break;
      }
      if (state[cur] === WALKING) break; // a cycle
      if (t.ino[cur] === ROOT_INO) {
        result = REACHABLE;
        path.push(cur);
        break;
      }
      state[cur] = WALKING;
      path.push(cur);
      const p = t.namedIn[cur]!;
      const pi = p === 0 ? -1 : t.find(p);
      if (pi < 0 || !t.isDir(pi)) break;
      cur = pi;
    }
    for (const k of path) state[k] = result;
  }
  return state;
}

/** Link counts, directory parents and naming entries, reachability. */
function checkLinks(c: ScanCtx): void {
  const t = c.table;
  const state = reachability(c);
  const tops = new Set<number>();
  const done = new Uint8Array(t.size);
  for (let i = 0; i < t.size; i++) {
    const ino = t.ino[i]!;
    const dir = t.isDir(i);
    const links = t.links[i]!;
    const nlink = t.nlink[i]!;
    const recordedOrphan = (t.flags[i]! & F_ORPHAN) !== 0 && nlink === 0 && links === 0;
    if (recordedOrphan) continue;
    const expected = dir ? 2 + t.subdirs[i]! : links;
    if (dir) {
      checkDirNames(c, i);
      if (ino !== ROOT_INO && state[i] === UNREACHABLE) markTop(c, i, tops, done);
    } else if (links === 0) {
      c.add('unreachable', `inode ${ino} (nlink ${nlink}) is in no directory`, { ino, fix: attachFix(ino, t.change[i]!, 1) });
      continue;
    }
    if (nlink !== expected && !(ino === ROOT_INO && c.syntheticRoot)) {
      c.add('nlink', `nlink ${nlink}, ${dir ? `2 + ${t.subdirs[i]} subdirectories` : `${links} entries`}`, { ino, fix: nlinkFix(ino, expected, t.change[i]!) });
    }
    if (dir && t.fileSize[i] !== t.entries[i] && !(ino === ROOT_INO && c.syntheticRoot)) {
      c.add('dir-size', `size ${t.fileSize[i]}, ${t.entries[i]} entries`, { ino, fix: dirSizeFix(ino, t.entries[i]! - t.fileSize[i]!) });
    }
  }
  for (const i of tops) {
    const ino = t.ino[i]!;
    const p = t.namedIn[i]!;
    const name = t.dirNames.get(ino);
    const detach = p !== 0 && name !== undefined ? { dir: p, name } : undefined;
    c.add('unreachable', detach === undefined ? `directory ${ino} is in no directory` : `directory ${ino} is below no path from the root`, {
      ino, fix: attachFix(ino, t.change[i]!, 2 + t.subdirs[i]!, detach),
    });
  }
}

/** A directory's naming entries: exactly one (the root: none), in the directory its parent names. */
function checkDirNames(c: ScanCtx, i: number): void {
  const t = c.table;
  const ino = t.ino[i]!;
  const named = t.namedIn[i]!;
  const keep = t.dirNames.get(ino);
  // The root is named by no entry; another directory only by the one in namedIn.
  const extra = ino === ROOT_INO ? t.containingDirs(i) : (t.flags[i]! & F_MULTI) !== 0 ? t.moreDirs.get(ino) ?? [] : [];
  for (const dir of extra) {
    const keepName = ino !== ROOT_INO && dir === named ? keep : undefined;
    c.add('dir-links', ino === ROOT_INO ? `the root is named in directory ${dir}` : `directory ${ino} is also named in directory ${dir}`, {
      ino, fix: extraEntryFix(ino, dir, keepName),
    });
  }
  if (ino === ROOT_INO) {
    if (t.parent[i] !== ROOT_INO) c.add('dir-parent', `the root's parent is ${t.parent[i]}`, { ino, fix: parentFix(ROOT_INO, ROOT_INO, undefined) });
    return;
  }
  if (named !== 0 && t.parent[i] !== named) {
    c.add('dir-parent', `parent ${t.parent[i]}, named in directory ${named}`, { ino, fix: parentFix(ino, named, t.dirNames.get(ino)) });
  }
}

/**
 * Marks the top of the unreachable subtree holding directory i: the first
 * directory up its naming chain that no directory names (or whose naming
 * directory is not one), or the lowest-numbered directory of a cycle.
 */
function markTop(c: ScanCtx, i: number, tops: Set<number>, done: Uint8Array): void {
  const t = c.table;
  const path: number[] = [];
  const onPath = new Set<number>();
  let cur = i;
  for (;;) {
    if (done[cur] === 1) break;
    if (onPath.has(cur)) {
      // A cycle: its members are the path from cur on.
      const cycle = path.slice(path.indexOf(cur));
      tops.add(cycle.reduce((m, k) => (t.ino[k]! < t.ino[m]! ? k : m)));
      break;
    }
    onPath.add(cur);
    path.push(cur);
    const p = t.namedIn[cur]!;
    const pi = p === 0 ? -1 : t.find(p);
    if (pi < 0 || !t.isDir(pi)) {
      tops.add(cur);
      break;
    }
    cur = pi;
  }
  for (const k of path) done[k] = 1;
}
