// The crash test's model of a filesystem tree, shared by the test and its
// child process: the operations (as JSON lines), a seeded generator of valid
// operations, applying an operation to the model, taking a snapshot of a real
// Filesystem, and comparing a snapshot with the model (allowing the one
// operation the kill interrupted to be there or not; an interrupted write may
// have landed in parts).

import { createHash } from 'node:crypto';
import { ROOT_CRED as root, type Filesystem } from '@cairn/inode';

export type CrashOp =
  | { readonly k: 'create' | 'mkdir'; readonly path: string; readonly mode: number }
  | { readonly k: 'write'; readonly path: string; readonly off: number; readonly len: number; readonly seed: number }
  | { readonly k: 'truncate'; readonly path: string; readonly size: number }
  | { readonly k: 'chmod'; readonly path: string; readonly mode: number }
  | { readonly k: 'rename' | 'link'; readonly path: string; readonly to: string }
  | { readonly k: 'unlink'; readonly path: string };

type Node = { readonly kind: 'dir'; mode: number } | { readonly kind: 'file'; readonly id: number };

/** A tree: paths ("/a/b") to nodes; file contents and modes by file id (hard links share one). */
export class Model {
  readonly nodes = new Map<string, Node>();
  readonly files = new Map<number, { mode: number; data: Buffer }>();
  nextId = 1;

  clone(): Model {
    const m = new Model();
    for (const [p, n] of this.nodes) m.nodes.set(p, n.kind === 'dir' ? { kind: 'dir', mode: n.mode } : n);
    for (const [id, f] of this.files) m.files.set(id, { mode: f.mode, data: Buffer.from(f.data) });
    m.nextId = this.nextId;
    return m;
  }

  dirs(): string[] {
    return ['', ...[...this.nodes].filter(([, n]) => n.kind === 'dir').map(([p]) => p)];
  }

  filePaths(): string[] {
    return [...this.nodes].filter(([, n]) => n.kind === 'file').map(([p]) => p);
  }
}

/** The bytes a write with this seed puts (deterministic, so the test can recompute them). */
export function writeData(seed: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/'));
}

/** Applies an operation the generator made (valid for the model) to it. */
export function applyOp(m: Model, op: CrashOp): void {
  switch (op.k) {
    case 'create':
      m.nodes.set(op.path, { kind: 'file', id: m.nextId });
      m.files.set(m.nextId++, { mode: op.mode, data: Buffer.alloc(0) });
      return;
    case 'mkdir':
      m.nodes.set(op.path, { kind: 'dir', mode: op.mode });
      return;
    case 'write': {
      const f = fileOf(m, op.path);
      const end = op.off + op.len;
      if (end > f.data.length) f.data = Buffer.concat([f.data, Buffer.alloc(end - f.data.length)]);
      writeData(op.seed, op.len).copy(f.data, op.off);
      return;
    }
    case 'truncate': {
      const f = fileOf(m, op.path);
      f.data = op.size <= f.data.length ? Buffer.from(f.data.subarray(0, op.size)) : Buffer.concat([f.data, Buffer.alloc(op.size - f.data.length)]);
      return;
    }
    case 'chmod': {
      const n = m.nodes.get(op.path)!;
      if (n.kind === 'dir') n.mode = op.mode;
      else m.files.get(n.id)!.mode = op.mode;
      return;
    }
    case 'link':
      m.nodes.set(op.to, m.nodes.get(op.path)!);
      return;
    case 'unlink':
      unlinkPath(m, op.path);
      return;
    case 'rename': {
      const n = m.nodes.get(op.path)!;
      const target = m.nodes.get(op.to);
      // Two names of one file: rename(2) does nothing.
      if (n.kind === 'file' && target?.kind === 'file' && target.id === n.id) return;
      if (target !== undefined) unlinkPath(m, op.to);
      const moved = [...m.nodes].filter(([p]) => p === op.path || p.startsWith(`${op.path}/`));
      for (const [p] of moved) m.nodes.delete(p);
      for (const [p, x] of moved) m.nodes.set(op.to + p.slice(op.path.length), x);
    }
  }
}

function fileOf(m: Model, path: string): { mode: number; data: Buffer } {
  const n = m.nodes.get(path);
  if (n?.kind !== 'file') throw new Error(`model: ${path} is not a file`);
  return m.files.get(n.id)!;
}

function unlinkPath(m: Model, path: string): void {
  const n = m.nodes.get(path);
  m.nodes.delete(path);
  if (n?.kind === 'file' && ![...m.nodes.values()].some((x) => x.kind === 'file' && x.id === n.id)) m.files.delete(n.id);
}

/** A small seeded generator (xorshift). */
export class Rng {
  private x: number;
  constructor(seed: number) {
    this.x = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    this.x ^= this.x << 13;
    this.x ^= this.x >>> 17;
    this.x ^= this.x << 5;
    return (this.x >>> 0) / 2 ** 32;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
}

/** A random operation valid for the model; `fresh` makes names never used before. */
export function nextOp(m: Model, rng: Rng, fresh: () => string): CrashOp {
  const dirs = m.dirs();
  const files = m.filePaths();
  const r = rng.next();
  const mode = (): number => 0o600 | (rng.int(8) << 3) | rng.int(8);
  if (files.length === 0 || (r < 0.14 && files.length < 40)) return { k: 'create', path: `${rng.pick(dirs)}/${fresh()}`, mode: mode() };
  if (r < 0.18 && dirs.length < 8) return { k: 'mkdir', path: `${rng.pick(dirs)}/${fresh()}`, mode: 0o700 | rng.int(0o100) };
  const file = rng.pick(files);
  const size = fileOf(m, file).data.length;
  if (r < 0.42) {
    const off = rng.int(Math.min(size + 1, 96 * 1024));
    return { k: 'write', path: file, off, len: 1 + rng.int(rng.next() < 0.7 ? 4096 : 40_000), seed: 1 + rng.int(2 ** 30) };
  }
  if (r < 0.5) return { k: 'truncate', path: file, size: rng.int(size + 2000) };
  if (r < 0.58) {
    const all = [...m.nodes.keys()];
    return { k: 'chmod', path: rng.pick(all), mode: mode() };
  }
  if (r < 0.72) {
    const fromDir = dirs.length > 1 && rng.next() < 0.2;
    if (fromDir) {
      const d = rng.pick(dirs.slice(1));
      const targets = dirs.filter((x) => x !== d && !x.startsWith(`${d}/`));
      return { k: 'rename', path: d, to: `${rng.pick(targets)}/${fresh()}` };
    }
    const over = files.filter((f) => f !== file);
    const to = over.length > 0 && rng.next() < 0.3 ? rng.pick(over) : `${rng.pick(dirs)}/${fresh()}`;
    return { k: 'rename', path: file, to };
  }
  if (r < 0.8) return { k: 'link', path: file, to: `${rng.pick(dirs)}/${fresh()}` };
  return { k: 'unlink', path: file };
}

/** Runs an operation against a real filesystem (write: then fsync). */
export async function runOp(fs: Filesystem, op: CrashOp): Promise<void> {
  const parent = async (p: string): Promise<number> => (p === '' ? fs.rootIno : (await fs.lookupPath(root, p)).ino);
  const base = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
  switch (op.k) {
    case 'create':
      await fs.create(root, await parent(parentOf(op.path)), base(op.path), op.mode);
      return;
    case 'mkdir':
      await fs.mkdir(root, await parent(parentOf(op.path)), base(op.path), op.mode);
      return;
    case 'write': {
      const ino = (await fs.lookupPath(root, op.path)).ino;
      await fs.write(root, ino, op.off, writeData(op.seed, op.len));
      await fs.fsync(ino);
      return;
    }
    case 'truncate':
      await fs.setattr(root, (await fs.lookupPath(root, op.path)).ino, { size: op.size });
      return;
    case 'chmod':
      await fs.setattr(root, (await fs.lookupPath(root, op.path)).ino, { mode: op.mode });
      return;
    case 'link':
      await fs.link(root, (await fs.lookupPath(root, op.path)).ino, await parent(parentOf(op.to)), base(op.to));
      return;
    case 'unlink':
      await fs.unlink(root, await parent(parentOf(op.path)), base(op.path));
      return;
    case 'rename':
      await fs.rename(root, await parent(parentOf(op.path)), base(op.path), await parent(parentOf(op.to)), base(op.to));
  }
}

// ---- snapshots --------------------------------------------------------------------

/** One path of a snapshot; `group` lists every path of the same file (hard links). */
export interface SnapEntry {
  readonly path: string;
  readonly kind: 'dir' | 'file';
  readonly mode: number;
  readonly size: number;
  readonly hash: string;
  readonly group: string;
}

const hash = (b: Buffer): string => createHash('sha1').update(b).digest('hex');

function finish(raw: Array<Omit<SnapEntry, 'group'> & { id: number }>): SnapEntry[] {
  const byId = new Map<number, string[]>();
  for (const e of raw) if (e.kind === 'file') byId.set(e.id, [...(byId.get(e.id) ?? []), e.path]);
  return raw
    .map(({ id, ...e }) => ({ ...e, group: e.kind === 'file' ? byId.get(id)!.sort().join('|') : '' }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The model as a snapshot. */
export function modelSnapshot(m: Model): SnapEntry[] {
  return finish([...m.nodes].map(([path, n]) => {
    if (n.kind === 'dir') return { path, kind: 'dir' as const, mode: n.mode, size: 0, hash: '', id: 0 };
    const f = m.files.get(n.id)!;
    return { path, kind: 'file' as const, mode: f.mode, size: f.data.length, hash: hash(f.data), id: n.id };
  }));
}

/** Walks a real filesystem; returns its snapshot and a model of it (file contents read in full). */
export async function fsSnapshot(fs: Filesystem): Promise<{ snap: SnapEntry[]; model: Model }> {
  const m = new Model();
  const ids = new Map<number, number>();
  const walk = async (dir: number, path: string): Promise<void> => {
    let cookie = 0;
    for (;;) {
      const page = await fs.readdir(root, dir, { cookie, limit: 500 });
      for (const e of page.entries) {
        cookie = e.cookie;
        if (e.name === '.' || e.name === '..') continue;
        const p = `${path}/${e.name}`;
        const a = await fs.getattr(root, e.ino);
        if (a.type === 'dir') {
          m.nodes.set(p, { kind: 'dir', mode: a.mode & 0o7777 });
          await walk(e.ino, p);
          continue;
        }
        if (a.type !== 'file') throw new Error(`unexpected ${a.type} at ${p}`);
        let id = ids.get(e.ino);
        if (id === undefined) {
          ids.set(e.ino, (id = m.nextId++));
          m.files.set(id, { mode: a.mode & 0o7777, data: a.size > 0 ? await fs.read(root, e.ino, 0, a.size) : Buffer.alloc(0) });
        }
        m.nodes.set(p, { kind: 'file', id });
      }
      if (page.eof) return;
    }
  };
  await walk(fs.rootIno, '');
  return { snap: modelSnapshot(m), model: m };
}

/**
 * Why `actual` is not the model with every acknowledged operation, plus maybe
 * the interrupted one (undefined when it is). An interrupted write may have
 * landed in parts: each of its bytes is old or new, the size between the two.
 */
export function mismatch(actual: Model, acked: Model, inflight: CrashOp | undefined): string | undefined {
  const a = JSON.stringify(modelSnapshot(actual));
  if (a === JSON.stringify(modelSnapshot(acked))) return undefined;
  if (inflight === undefined) return diff(actual, acked);
  if (inflight.k !== 'write') {
    const after = acked.clone();
    applyOp(after, inflight);
    return a === JSON.stringify(modelSnapshot(after)) ? undefined : `${diff(actual, acked)} (nor with ${JSON.stringify(inflight)} applied: ${diff(actual, after)})`;
  }
  // The written file may differ; everything else must match exactly.
  const mask = (m: Model): string => JSON.stringify(modelSnapshot(m).map((e) => (e.group.split('|').includes(inflight.path) ? { ...e, size: 0, hash: '' } : e)));
  if (mask(actual) !== mask(acked)) return diff(actual, acked);
  const old = fileOf(acked, inflight.path).data;
  const got = fileOf(actual, inflight.path).data;
  const data = writeData(inflight.seed, inflight.len);
  const end = Math.max(old.length, inflight.off + inflight.len);
  if (got.length < old.length || got.length > end) return `${inflight.path}: size ${got.length} not in [${old.length}, ${end}]`;
  for (let i = 0; i < got.length; i++) {
    const before = old[i] ?? 0;
    const inside = i >= inflight.off && i < inflight.off + inflight.len;
    if (got[i] !== before && !(inside && got[i] === data[i - inflight.off])) return `${inflight.path}: byte ${i} is ${got[i]}, neither old ${before} nor written`;
  }
  return undefined;
}

function diff(actual: Model, want: Model): string {
  const a = new Map(modelSnapshot(actual).map((e) => [e.path, e]));
  const w = new Map(modelSnapshot(want).map((e) => [e.path, e]));
  const out: string[] = [];
  for (const [p, e] of w) {
    const x = a.get(p);
    if (x === undefined) out.push(`missing ${p}`);
    else if (JSON.stringify(x) !== JSON.stringify(e)) out.push(`${p}: ${JSON.stringify(x)} != ${JSON.stringify(e)}`);
  }
  for (const p of a.keys()) if (!w.has(p)) out.push(`unexpected ${p}`);
  return out.slice(0, 5).join('; ');
}
