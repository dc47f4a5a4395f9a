// Differential test: random sequences of operations run against Cairn and
// against a real local directory through Node's fs module (as root, so Cairn
// is called with the root credential). Every operation must give the same
// result or the same errno, and the final trees must match: names, types,
// modes, sizes, link counts, symlink targets, contents.

import { closeSync, lstatSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeSync } from 'node:fs';
import * as nfs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ROOT_CRED as root, type Filesystem } from '@cairn/inode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFs, type TestFs } from '../../packages/inode/src/testing/fixture.js';

const isRoot = process.getuid?.() === 0;
// Comparing owners and modes with a real directory needs root; CI runs as root and must not skip it.
if (!isRoot && /^(1|true)$/i.test(process.env['CI'] ?? '')) throw new Error('the differential test needs root under CI=true');
const NAMES = ['a', 'b', 'c', 'd'];
const UMASK = 0o022;

type Op =
  | { op: 'create' | 'mkdir' | 'unlink' | 'rmdir' | 'readdir' | 'lstat'; path: string }
  | { op: 'write'; path: string; offset: number; data: number[] }
  | { op: 'read'; path: string; offset: number; length: number }
  | { op: 'truncate'; path: string; size: number }
  | { op: 'rename' | 'link'; path: string; to: string }
  | { op: 'symlink'; path: string; target: string }
  | { op: 'chmod'; path: string; mode: number }
  | { op: 'remount' };

const nameArb = fc.constantFrom(...NAMES);
const pathArb = fc.oneof(
  { weight: 5, arbitrary: nameArb },
  { weight: 4, arbitrary: fc.tuple(nameArb, nameArb).map((p) => p.join('/')) },
  { weight: 1, arbitrary: fc.tuple(nameArb, nameArb, nameArb).map((p) => p.join('/')) },
);

/** Every run starts from this tree, so that most generated paths name something. */
const PRELUDE: Op[] = [
  { op: 'mkdir', path: 'a' }, { op: 'mkdir', path: 'a/b' }, { op: 'mkdir', path: 'c' }, { op: 'mkdir', path: 'd' }, { op: 'mkdir', path: 'c/d' },
  { op: 'create', path: 'b' }, { op: 'create', path: 'a/a' }, { op: 'create', path: 'c/b' }, { op: 'create', path: 'a/b/c' },
  { op: 'write', path: 'b', offset: 0, data: [1, 2, 3, 4, 5, 6, 7, 8] }, { op: 'write', path: 'a/a', offset: 5, data: [9, 9] },
  { op: 'symlink', path: 'c/c', target: 'a/b' }, { op: 'link', path: 'b', to: 'c/a' },
];
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('create' as const), path: pathArb }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('mkdir' as const), path: pathArb }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('write' as const), path: pathArb, offset: fc.nat(300), data: fc.array(fc.nat(255), { minLength: 1, maxLength: 64 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('read' as const), path: pathArb, offset: fc.nat(300), length: fc.nat(400) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), path: pathArb, size: fc.nat(400) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('rename' as const), path: pathArb, to: pathArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('link' as const), path: pathArb, to: pathArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('unlink' as const), path: pathArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('rmdir' as const), path: pathArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('symlink' as const), path: pathArb, target: fc.constantFrom('a', 'b', 'c', 'a/b', 'b/c', 'c/a/b', 'a/b/c') }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('chmod' as const), path: pathArb, mode: fc.constantFrom(0o755, 0o644, 0o700, 0o000, 0o1777, 0o2755, 0o4755, 0o6711) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('readdir' as const), path: fc.oneof(pathArb, fc.constant('')) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('lstat' as const), path: pathArb }) },
  { weight: 1, arbitrary: fc.constant({ op: 'remount' as const }) },
);

type Outcome = { ok: unknown } | { err: string };

function split(path: string): { parent: string; name: string } {
  const i = path.lastIndexOf('/');
  return i < 0 ? { parent: '', name: path } : { parent: path.slice(0, i), name: path.slice(i + 1) };
}

/** The node fs side. */
function runReal(base: string, o: Op): Outcome {
  const p = (x: string): string => join(base, x);
  try {
    switch (o.op) {
      case 'create': closeSync(openSync(p(o.path), 'wx', 0o644)); return { ok: null };
      case 'mkdir': nfs.mkdirSync(p(o.path), 0o755); return { ok: null };
      case 'write': {
        const fd = openSync(p(o.path), 'r+');
        try {
          writeSync(fd, Buffer.from(o.data), 0, o.data.length, o.offset);
        } finally {
          closeSync(fd);
        }
        return { ok: null };
      }
      case 'read': {
        const all = readFileSync(p(o.path));
        return { ok: [...all.subarray(o.offset, o.offset + o.length)] };
      }
      case 'truncate': nfs.truncateSync(p(o.path), o.size); return { ok: null };
      case 'rename': nfs.renameSync(p(o.path), p(o.to)); return { ok: null };
      case 'link': nfs.linkSync(p(o.path), p(o.to)); return { ok: null };
      case 'unlink': nfs.unlinkSync(p(o.path)); return { ok: null };
      case 'rmdir': nfs.rmdirSync(p(o.path)); return { ok: null };
      case 'symlink': nfs.symlinkSync(o.target, p(o.path)); return { ok: null };
      case 'chmod': nfs.chmodSync(p(o.path), o.mode); return { ok: null };
      case 'readdir': return { ok: readdirSync(p(o.path)).sort() };
      case 'lstat': {
        const s = lstatSync(p(o.path));
        return { ok: { mode: s.mode, nlink: s.nlink, size: s.isDirectory() ? 0 : s.size } };
      }
      case 'remount': return { ok: null };
    }
  } catch (err) {
    return { err: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
}

/** Resolves the directory a path's last component lives in (symlinks followed on the way, like path walk). */
async function parentOf(fs: Filesystem, path: string): Promise<{ dir: number; name: string }> {
  const { parent, name } = split(path);
  // The trailing "/" makes the walk require a directory, as a component followed by more does.
  const dir = parent === '' ? 1 : (await fs.lookupPath(root, `${parent}/`)).ino;
  return { dir, name };
}

/** The Cairn side. */
async function runCairn(t: TestFs, o: Op): Promise<Outcome> {
  const fs = t.fs;
  try {
    switch (o.op) {
      case 'create': {
        const { dir, name } = await parentOf(fs, o.path);
        await fs.create(root, dir, name, 0o644, { umask: UMASK });
        return { ok: null };
      }
      case 'mkdir': {
        const { dir, name } = await parentOf(fs, o.path);
        await fs.mkdir(root, dir, name, 0o755, { umask: UMASK });
        return { ok: null };
      }
      case 'write': {
        const f = await fs.lookupPath(root, o.path);
        const h = await fs.open(root, f.ino, { read: true, write: true });
        try {
          await fs.write(root, f.ino, o.offset, Buffer.from(o.data), h.fh);
        } finally {
          await fs.release(h.fh);
        }
        return { ok: null };
      }
      case 'read': {
        const f = await fs.lookupPath(root, o.path);
        if (f.type === 'dir') {
          // readFileSync opens the directory (fine) and fails on read(2).
          return { err: 'EISDIR' };
        }
        return { ok: [...(await fs.read(root, f.ino, o.offset, o.length))] };
      }
      case 'truncate': {
        const f = await fs.lookupPath(root, o.path);
        await fs.setattr(root, f.ino, { size: o.size });
        return { ok: null };
      }
      case 'rename': {
        const a = await parentOf(fs, o.path);
        const b = await parentOf(fs, o.to);
        await fs.rename(root, a.dir, a.name, b.dir, b.name);
        return { ok: null };
      }
      case 'link': {
        const src = await fs.lookupPath(root, o.path, { followLast: false });
        const b = await parentOf(fs, o.to);
        await fs.link(root, src.ino, b.dir, b.name);
        return { ok: null };
      }
      case 'unlink': {
        const { dir, name } = await parentOf(fs, o.path);
        await fs.unlink(root, dir, name);
        return { ok: null };
      }
      case 'rmdir': {
        const { dir, name } = await parentOf(fs, o.path);
        await fs.rmdir(root, dir, name);
        return { ok: null };
      }
      case 'symlink': {
        const { dir, name } = await parentOf(fs, o.path);
        await fs.symlink(root, dir, name, o.target);
        return { ok: null };
      }
      case 'chmod': {
        const f = await fs.lookupPath(root, o.path);
        await fs.setattr(root, f.ino, { mode: o.mode });
        return { ok: null };
      }
      case 'readdir': {
        const d = o.path === '' ? await fs.getattr(root, 1) : await fs.lookupPath(root, o.path);
        const names: string[] = [];
        let cookie = 0;
        for (;;) {
          const page = await fs.readdir(root, d.ino, { cookie, limit: 2 });
          for (const e of page.entries) if (e.name !== '.' && e.name !== '..') names.push(e.name);
          if (page.entries.length > 0) cookie = page.entries[page.entries.length - 1]!.cookie;
          if (page.eof) break;
        }
        return { ok: names.sort() };
      }
      case 'lstat': {
        const a = await fs.lookupPath(root, o.path, { followLast: false });
        return { ok: { mode: a.mode, nlink: a.nlink, size: a.type === 'dir' ? 0 : a.size } };
      }
      case 'remount':
        await t.remount();
        return { ok: null };
    }
  } catch (err) {
    const e = err as { errno?: string; code?: string };
    if (typeof e.code === 'string' && e.code.startsWith('CAIRN_ERR_FS_') && e.errno) return { err: e.errno };
    throw err;
  }
}

interface TreeNode {
  type: string;
  mode: number;
  nlink: number;
  size?: number;
  target?: string;
  data?: string;
  children?: Record<string, TreeNode>;
}

function realTree(path: string): TreeNode {
  const s = lstatSync(path);
  if (s.isSymbolicLink()) return { type: 'symlink', mode: s.mode, nlink: s.nlink, size: s.size, target: readlinkSync(path) };
  if (s.isDirectory()) {
    const children: Record<string, TreeNode> = {};
    for (const n of readdirSync(path).sort()) children[n] = realTree(join(path, n));
    return { type: 'dir', mode: s.mode, nlink: s.nlink, children };
  }
  return { type: 'file', mode: s.mode, nlink: s.nlink, size: s.size, data: readFileSync(path).toString('hex') };
}

async function cairnTree(fs: Filesystem, ino: number): Promise<TreeNode> {
  const a = await fs.getattr(root, ino);
  if (a.type === 'symlink') return { type: 'symlink', mode: a.mode, nlink: a.nlink, size: a.size, target: await fs.readlink(root, ino) };
  if (a.type === 'dir') {
    const children: Record<string, TreeNode> = {};
    const entries = (await fs.readdir(root, ino, { limit: 10_000 })).entries.filter((e) => e.name !== '.' && e.name !== '..');
    for (const e of entries.sort((x, y) => (x.name < y.name ? -1 : 1))) children[e.name] = await cairnTree(fs, e.ino);
    return { type: 'dir', mode: a.mode, nlink: a.nlink, children };
  }
  return { type: 'file', mode: a.mode, nlink: a.nlink, size: a.size, data: (await fs.read(root, ino, 0, a.size)).toString('hex') };
}

describe.skipIf(!isRoot)('differential: Cairn vs the local filesystem', () => {
  let scratch: string;
  let oldUmask: number;
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'cairn-diff-'));
    oldUmask = process.umask(UMASK);
  });
  afterAll(() => {
    process.umask(oldUmask);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('same results, same errnos, same final tree', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 10, maxLength: 80 }), fc.boolean(), async (ops, smallSegments) => {
        const base = join(scratch, String(run++));
        nfs.mkdirSync(base);
        const t = await makeFs({}, smallSegments ? { segments: { maxFlushSize: 256, maxFlushTimeMs: 60_000 } } : {});
        try {
          for (const [i, o] of [...PRELUDE, ...ops].entries()) {
            const want = runReal(base, o);
            const got = await runCairn(t, o);
            if (JSON.stringify(got) !== JSON.stringify(want)) {
              throw new Error(`op ${i} ${JSON.stringify(o)}: cairn ${JSON.stringify(got)}, linux ${JSON.stringify(want)}`);
            }
          }
          const want = realTree(base);
          const got = await cairnTree(t.fs, 1);
          // The top directory itself: compare its contents and link count, not its mode.
          expect({ ...got, mode: 0 }).toEqual({ ...want, mode: 0 });
        } finally {
          await t.cleanup();
          rmSync(base, { recursive: true, force: true });
        }
      }),
      { numRuns: Number(process.env.CAIRN_DIFF_RUNS ?? 1000), interruptAfterTimeLimit: 40_000, markInterruptAsFailure: false },
    );
  }, 120_000);
});
