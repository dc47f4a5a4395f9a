// Shared helpers of the headhunter benchmarks: a volume on the fs object store
// with a real replay log in a temp directory, bulk loading, random keys,
// percentiles, and the table/JSON output.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFsStore, type ObjectStore } from '../../packages/objstore/src/index.js';
import { openReplayLog, type ReplayLog } from '../../packages/replaylog/src/index.js';
import { encodeKey, formatVolume, openVolume, type Headhunter, type HeadhunterOptions } from '../../packages/headhunter/src/index.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export const now = (): number => Number(process.hrtime.bigint()) / 1e6;

export interface BenchVolume {
  readonly dir: string;
  store: ObjectStore;
  log: ReplayLog;
  db: Headhunter;
  /** Closes and mounts again with other options; returns the mount time in ms. */
  remount(options?: Partial<HeadhunterOptions>): Promise<number>;
  destroy(): Promise<void>;
}

/** Key i of a benchmark volume: a pseudo-random u64 (so inserts land all over the tree). */
export function benchKey(i: number): Buffer {
  return encodeKey([BigInt.asUintN(64, BigInt(i) * 0x9e3779b97f4a7c15n), 'k']);
}

export const VALUE = Buffer.alloc(64, 0x5a);

export async function makeBenchVolume(options: Partial<HeadhunterOptions> = {}, logFsync = true): Promise<BenchVolume> {
  const dir = mkdtempSync(join(process.env['CAIRN_BENCH_DIR'] ?? tmpdir(), 'cairn-hh-bench-'));
  let store = createFsStore({ root: join(dir, 'store'), fsync: true });
  await formatVolume({ container: store.container('vol'), trees: ['t'] });
  let log = await openReplayLog({ dir: join(dir, 'log'), fsync: logFsync });
  const base: Partial<HeadhunterOptions> = { checkpointIntervalMs: 10_000, ...options };
  const v: BenchVolume = {
    dir, store, log,
    db: await openVolume({ container: store.container('vol'), log, ...base }),
    async remount(more = {}) {
      await v.db.close();
      await v.log.close();
      await v.store.close();
      store = createFsStore({ root: join(dir, 'store'), fsync: true });
      log = await openReplayLog({ dir: join(dir, 'log'), fsync: logFsync });
      v.store = store;
      v.log = log;
      const t0 = now();
      v.db = await openVolume({ container: store.container('vol'), log, ...base, ...more });
      return now() - t0;
    },
    async destroy() {
      await v.db.close().catch(() => undefined);
      await v.log.close().catch(() => undefined);
      await v.store.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return v;
}

/** Inserts keys [from, to) in batches of `per` puts, `parallel` batches at a time. */
export async function bulkLoad(db: Headhunter, from: number, to: number, per = 1000, parallel = 4): Promise<void> {
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) {
      const start = next;
      next = Math.min(to, next + per);
      const ops = [];
      for (let i = start; i < next; i++) ops.push({ type: 'put' as const, tree: 't', key: benchKey(i), value: VALUE });
      await db.batch(ops);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** Runs `worker` from `concurrency` loops for `ms`; returns operations per second and latency percentiles (ms). */
export async function timed(concurrency: number, ms: number, op: (i: number) => Promise<unknown>): Promise<{ opsPerSec: number; ops: number; p50: number; p99: number }> {
  const lat: number[] = [];
  let n = 0;
  const t0 = now();
  const end = t0 + ms;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (now() < end) {
      const s = now();
      await op(n++);
      lat.push(now() - s);
    }
  }));
  const secs = (now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0;
  return { opsPerSec: lat.length / secs, ops: lat.length, p50: q(0.5), p99: q(0.99) };
}

export function rssMiB(): number {
  return process.memoryUsage().rss / (1024 * 1024);
}

/** Prints rows as an aligned table. */
export function printTable(title: string, rows: Array<Record<string, string | number>>): void {
  const cols = Object.keys(rows[0] ?? {});
  const fmt = (v: string | number): string => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 0)) : v);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => fmt(r[c]!).length)));
  process.stdout.write(`\n${title}\n`);
  process.stdout.write(`${cols.map((c, i) => c.padStart(width[i]!)).join('  ')}\n`);
  for (const r of rows) process.stdout.write(`${cols.map((c, i) => fmt(r[c]!).padStart(width[i]!)).join('  ')}\n`);
}

/** Writes bench/results/<name>.json with the machine description. */
export function writeResults(name: string, data: unknown): void {
  const dir = join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `${name}.json`);
  const load = loadavg().map((x) => Number(x.toFixed(2)));
  writeFileSync(out, `${JSON.stringify({ bench: name, date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, loadAverage: load, results: data }, null, 2)}\n`);
  process.stdout.write(`\nload average ${load.join(' ')} (the machine is shared: compare rows of one run)\nwrote ${out.slice(ROOT.length + 1)}\n`);
}
