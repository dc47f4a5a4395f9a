// A null filesystem on fuse-native: names, sizes and modes in memory, file
// contents thrown away (reads return zeros). Mounted with exactly the libfuse
// options of a Cairn mount (fuseNativeOptions(): default_permissions,
// allow_other when root, the same timeouts), it is the FUSE ceiling of
// bench/fuse/throughput.ts: what the kernel, libfuse 2 and fuse-native's
// thread hop cost with no filesystem behind them. It counts its calls per
// operation, as a Cairn mount's stats() does.

import { fuseNativeOptions, loadFuseNative, type FuseInstance, type FuseOperations, type FuseStat } from '@cairn/fuse';

interface Node {
  readonly ino: number;
  mode: number;
  size: number;
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

export interface NullMount {
  unmount(): Promise<void>;
  /** Calls per operation so far. */
  calls(): Record<string, number>;
}

/** `ops` with every operation counted in `calls`. */
function counted(ops: FuseOperations, calls: Map<string, number>): FuseOperations {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(ops) as Array<[string, (...args: unknown[]) => void]>) {
    out[name] = (...args: unknown[]): void => {
      calls.set(name, (calls.get(name) ?? 0) + 1);
      fn(...args);
    };
  }
  return out as FuseOperations;
}

/** Mounts the null filesystem at `mountpoint` (an existing empty directory). */
export async function mountNullFs(mountpoint: string): Promise<NullMount> {
  const Fuse = loadFuseNative();
  const nodes = new Map<string, Node>([['/', { ino: 1, mode: S_IFDIR | 0o755, size: 0 }]]);
  let nextIno = 2;
  const now = BigInt(Date.now()) * 1_000_000n;
  const stat = (n: Node): FuseStat => ({
    mode: n.mode, uid: 0, gid: 0, size: n.size, nlink: n.mode & S_IFDIR ? 2 : 1, ino: n.ino, rdev: 0, blksize: 4096,
    blocks: Math.ceil(n.size / 512), atime: now, mtime: now, ctime: now,
  });
  const parentOf = (p: string): string => p.slice(0, Math.max(1, p.lastIndexOf('/')));
  const ops: FuseOperations = {
    init: (cb) => cb(0),
    getattr: (p, cb) => {
      const n = nodes.get(p);
      if (n) cb(0, stat(n));
      else cb(-2);
    },
    readdir: (p, cb) => {
      const prefix = p === '/' ? '/' : `${p}/`;
      cb(0, [...nodes.keys()].filter((k) => k !== p && k.startsWith(prefix) && !k.slice(prefix.length).includes('/')).map((k) => k.slice(prefix.length)));
    },
    create: (p, mode, _flags, cb) => {
      if (!nodes.has(parentOf(p))) return cb(-2);
      nodes.set(p, { ino: nextIno++, mode: S_IFREG | (mode & 0o7777), size: 0 });
      cb(0, 1);
    },
    open: (p, _flags, cb) => cb(nodes.has(p) ? 0 : -2, 1),
    release: (_p, _fd, cb) => cb(0),
    flush: (_p, _fd, cb) => cb(0),
    fsync: (_p, _d, _fd, cb) => cb(0),
    write: (p, _fd, _buf, len, pos, cb) => {
      const n = nodes.get(p);
      if (!n) return cb(-2);
      n.size = Math.max(n.size, pos + len);
      cb(len);
    },
    read: (p, _fd, buf, len, pos, cb) => {
      const n = nodes.get(p);
      if (!n) return cb(-2);
      const count = Math.max(0, Math.min(len, n.size - pos));
      buf.fill(0, 0, count);
      cb(count);
    },
    truncate: (p, size, cb) => {
      const n = nodes.get(p);
      if (!n) return cb(-2);
      n.size = size;
      cb(0);
    },
    ftruncate: (p, _fd, size, cb) => ops.truncate!(p, size, cb),
    utimens: (_p, _a, _m, cb) => cb(0),
    chmod: (p, mode, cb) => {
      const n = nodes.get(p);
      if (!n) return cb(-2);
      n.mode = (n.mode & ~0o7777) | (mode & 0o7777);
      cb(0);
    },
    unlink: (p, cb) => cb(nodes.delete(p) ? 0 : -2),
    mkdir: (p, mode, cb) => {
      if (nodes.has(p)) return cb(-17);
      nodes.set(p, { ino: nextIno++, mode: S_IFDIR | (mode & 0o7777), size: 0 });
      cb(0);
    },
    rmdir: (p, cb) => cb(nodes.delete(p) ? 0 : -2),
    getxattr: (_p, _name, _pos, cb) => cb(-61),
    statfs: (_p, cb) => cb(0, { bsize: 4096, frsize: 4096, blocks: 1 << 30, bfree: 1 << 30, bavail: 1 << 30, files: 1 << 30, ffree: 1 << 30, favail: 1 << 30, fsid: 0, flag: 0, namemax: 255 }),
  };
  const calls = new Map<string, number>();
  const fuse: FuseInstance = new Fuse(mountpoint, counted(ops, calls), { ...fuseNativeOptions(), fsname: 'nullfs', subtype: 'cairn-null' });
  await new Promise<void>((resolve, reject) => fuse.mount((err) => (err ? reject(err) : resolve())));
  return {
    unmount: () => new Promise<void>((resolve, reject) => fuse.unmount((err) => (err ? reject(err) : resolve()))),
    calls: () => Object.fromEntries(calls),
  };
}
