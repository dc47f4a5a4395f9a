// Shared parts of the inode benchmarks: a filesystem volume on the fs backend
// in a temporary directory (every sync on, as a daemon runs it), a bulk loader
// that creates files many per transaction (so that a 10^6-file volume loads in
// a minute; the timed creates go through the API one by one), a timed runner
// with N concurrent callers, and memory measurement.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatFilesystem, mountFilesystem, S_IFREG, type Filesystem, type MountOptions } from '@cairn/inode';
import { createFsStore, type ObjectStore } from '@cairn/objstore';
import { volumeOf } from '../../packages/inode/src/fsck.js';
import { Samples } from '../lib/report.js';

export const now = (): number => Number(process.hrtime.bigint()) / 1e6;

export interface BenchFs {
  fs: Filesystem;
  readonly dir: string;
  readonly store: ObjectStore;
  /** The fs backend's root and the replay log's directory (for another process to mount). */
  readonly storeDir: string;
  readonly logDir: string;
  /** Runs fn while the volume is unmounted (another process may mount it), then mounts it again. */
  whileUnmounted<T>(fn: () => Promise<T>): Promise<T>;
  /** Unmounts and mounts again (cold caches), with extra mount options. */
  remount(extra?: Partial<MountOptions>): Promise<Filesystem>;
  destroy(): Promise<void>;
}

/** A fresh volume on the fs backend in a temporary directory. */
export async function makeBenchFs(extra: Partial<MountOptions> = {}): Promise<BenchFs> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-inode-'));
  const storeDir = join(dir, 'store');
  const store = createFsStore({ root: storeDir });
  const logDir = join(dir, 'log');
  await formatFilesystem({ store, volume: 'bench', logDir });
  const mount = (o: Partial<MountOptions>): Promise<Filesystem> =>
    mountFilesystem({ store, volume: 'bench', logDir, journal: { compactIntervalMs: 0 }, segmentReclaimIntervalMs: 0, ...o });
  const b: BenchFs = {
    fs: await mount(extra),
    dir,
    store,
    storeDir,
    logDir,
    async whileUnmounted(fn) {
      await b.fs.unmount();
      try {
        return await fn();
      } finally {
        b.fs = await mount(extra);
      }
    },
    async remount(more = {}) {
      await b.fs.unmount();
      b.fs = await mount({ ...extra, ...more });
      return b.fs;
    },
    async destroy() {
      await b.fs.unmount().catch(() => {});
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return b;
}

/**
 * Creates `count` empty files `${prefix}${i}` in directory `dir`, `per` to a
 * transaction (the records a create writes, without its journal entry).
 * Returns their inode numbers.
 */
export async function bulkCreate(fs: Filesystem, dir: number, prefix: string, count: number, per = 1000): Promise<number[]> {
  const v = volumeOf(fs);
  const out: number[] = [];
  for (let i = 0; i < count; i += per) {
    const n = Math.min(per, count - i);
    const made = await v.tx((t) => {
      let d = t.mustInode(dir);
      const inos: number[] = [];
      for (let k = 0; k < n; k++) {
        const ino = t.allocIno();
        const time = t.now;
        const rec = {
          mode: S_IFREG | 0o644, uid: 0, gid: 0, nlink: 1, size: 0, atime: time, mtime: time, ctime: time, btime: time, change: 1, dataVersion: 0, rdev: 0,
        };
        t.putInodeRaw(ino, rec);
        d = t.addEntry(dir, d, `${prefix}${i + k}`, ino, rec.mode);
        inos.push(ino);
      }
      t.putInodeRaw(dir, d);
      return inos;
    });
    for (const x of made) out.push(x);
  }
  return out;
}

export interface Timed {
  readonly ops: number;
  readonly opsPerSec: number;
  readonly p50: number;
  readonly p99: number;
}

/**
 * Runs `op` from `concurrency` callers for `ms` (or until it returns false,
 * or `limit` operations started). Latencies in ms.
 */
export async function timed(concurrency: number, ms: number, op: (i: number) => Promise<unknown> | unknown, limit = Infinity): Promise<Timed> {
  const lat = new Samples();
  let n = 0;
  let stop = false;
  const t0 = now();
  const end = t0 + ms;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (!stop && now() < end && n < limit) {
      const s = now();
      const r = await op(n++);
      if (r === false) {
        stop = true;
        return;
      }
      lat.add(now() - s);
    }
  }));
  const secs = (now() - t0) / 1000;
  return { ops: lat.length, opsPerSec: lat.length / secs, p50: lat.quantile(0.5), p99: lat.quantile(0.99) };
}

/** Runs a full garbage collection when node runs with --expose-gc. */
export function gc(): boolean {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g === undefined) return false;
  g();
  g();
  return true;
}

export function rssBytes(): number {
  return process.memoryUsage().rss;
}

/** A deterministic pseudo-random index in [0, n) for the i-th operation. */
export function pick(i: number, n: number): number {
  return Number((BigInt(i + 1) * 0x9e3779b97f4a7c15n) % 0xffffffffffc5n % BigInt(n));
}
