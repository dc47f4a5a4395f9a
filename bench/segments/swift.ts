// The data path (segment writer, read cache, metadata commits) of a filesystem on the real Swift, next to raw Swift in the same run:
//
//   seq write    one file written with 1 MiB writes, fsync at the end, MB/s;
//                raw: 10 MiB objects put one after the other, and streamed
//                through openSegment with 1 MiB appends (goal: >= 90% of the
//                better raw figure);
//   seq read     the same file read back with 1 MiB reads through the read
//                cache after a remount (cold cache), MB/s; raw: one streamed
//                GET after the other of the very segment objects that hold
//                the file (same bytes, same store, one reader). Raw and Cairn
//                alternate (raw, Cairn, Cairn, raw, ...; CAIRN_BENCH_SWIFT_READ_ROUNDS
//                rounds); the goal (>= 90%) is judged on the median ratio of
//                adjacent pairs, which resists bursts of load from elsewhere;
//   small (a)    4 KiB files, create + write + close, one sync of every file at
//                the end, 1 and 64 writers, files/s counted until every file is
//                durable in Swift; raw: one PUT per file at the same
//                concurrency (goal: >= 50x);
//   small (b)    4 KiB files, create + write + fsync + close each, 64 writers
//                (goal: >= 10x one PUT per file at 64); fsync of a small file is
//                durable through the intent log (the replay log), and the count
//                still stops only once every file's segment is stored in Swift;
//   close        fsync latency once the last write of a large sequential file
//                returned, next to a 10 MiB file (goal: within 2x);
//   memory       peak RSS above the baseline and peak bytes the writer held
//                while the large file was written.
// The replay log is on local disk (CAIRN_BENCH_DIR). Needs Swift (`bash
// scripts/services.sh start swift`); skips with a note otherwise. Removes
// its objects at the end. Prints a table and writes bench/results/segments-swift.json.
// Usage: npx tsx bench/segments/swift.ts
//   CAIRN_BENCH_SWIFT_SEQ_MIB   bytes of the sequential cases (default 256)
//   CAIRN_BENCH_SWIFT_BIG_MIB   the large file of the close/memory cases (default 1024)
//   CAIRN_BENCH_SWIFT_FILES     small files per case at most (default 5000; each case also stops after 10 s)
//   CAIRN_BENCH_SWIFT_READ_ROUNDS  rounds of the sequential read (default 3; each reads the file twice each way)
//   CAIRN_BENCH_DIR             directory for the replay logs (default: the OS temp dir)

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatFilesystem, mountFilesystem, ROOT_CRED as root, type Filesystem } from '@cairn/inode';
import { createSwiftStore, type ObjectStore } from '@cairn/objstore';
import type { FilesystemImpl } from '../../packages/inode/src/fs.js';
import { serviceSettings } from '../objstore/services.js';
import { envNumber, fmt, machine, table, writeResult } from '../lib/report.js';

const MiB = 1024 * 1024;
const SEQ = envNumber('CAIRN_BENCH_SWIFT_SEQ_MIB', 256, 10) * MiB;
const BIG = envNumber('CAIRN_BENCH_SWIFT_BIG_MIB', 1024, 20) * MiB;
const FILES = envNumber('CAIRN_BENCH_SWIFT_FILES', 5000, 10);
const READ_ROUNDS = envNumber('CAIRN_BENCH_SWIFT_READ_ROUNDS', 3, 1);
const CASE_SECONDS = 10;

interface Row {
  case: string;
  cairn: number;
  raw: number | undefined;
  unit: string;
  ratio: number | undefined;
  goal: string;
  met: boolean | undefined;
  note: string;
}

const rows: Row[] = [];

function row(name: string, cairn: number, raw: number | undefined, unit: string, goal: string, met: boolean | undefined, note = ''): void {
  const ratio = raw === undefined || raw === 0 ? undefined : cairn / raw;
  rows.push({ case: name, cairn, raw, unit, ratio, goal, met, note });
  process.stderr.write(`  ${name}: ${fmt(cairn, 1)} ${unit}${raw === undefined ? '' : ` (raw ${fmt(raw, 1)}, ${fmt((ratio ?? 0) * 100)}%)`} ${note}\n`);
}

const chunk = randomBytes(MiB);
const big = randomBytes(10 * MiB);
const small = randomBytes(4096);

// ---- raw Swift --------------------------------------------------------------------------

async function rawPuts(store: ObjectStore, container: string, bytes: number): Promise<{ mbps: number; names: string[] }> {
  const c = store.container(container);
  await c.create();
  const names: string[] = [];
  const t0 = performance.now();
  for (let i = 0; i * big.length < bytes; i++) {
    names.push(`put-${i}`);
    await c.put(`put-${i}`, big);
  }
  return { mbps: bytes / 1e6 / ((performance.now() - t0) / 1000), names };
}

async function rawSegments(store: ObjectStore, container: string, bytes: number): Promise<{ mbps: number; names: string[] }> {
  const c = store.container(container);
  const names: string[] = [];
  const t0 = performance.now();
  for (let i = 0; i * big.length < bytes; i++) {
    names.push(`seg-raw-${i}`);
    const s = c.openSegment(`seg-raw-${i}`, { maxSize: big.length });
    for (let off = 0; off < big.length; off += MiB) await s.append(big.subarray(off, off + MiB));
    await s.close();
  }
  return { mbps: bytes / 1e6 / ((performance.now() - t0) / 1000), names };
}

/** Streams every object of a container whole, one after the other; MB/s over the bytes read. */
async function rawGets(store: ObjectStore, container: string): Promise<number> {
  const c = store.container(container);
  const names: string[] = [];
  for await (const e of c.listAll()) if (e.kind === 'object') names.push(e.name);
  let n = 0;
  const t0 = performance.now();
  for (const name of names) {
    const r = await c.get(name);
    for await (const b of r.body) n += (b as Buffer).length;
  }
  return n / 1e6 / ((performance.now() - t0) / 1000);
}

function median(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Runs one(i) with `width` workers until FILES or CASE_SECONDS; then `after`; returns files/s over the whole. */
async function pool(width: number, one: (i: number) => Promise<void>, after?: (n: number) => Promise<void>): Promise<{ rate: number; files: number }> {
  let next = 0;
  const t0 = performance.now();
  const deadline = t0 + CASE_SECONDS * 1000;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < FILES && performance.now() < deadline) await one(next++);
  }));
  if (after) await after(next);
  return { rate: next / ((performance.now() - t0) / 1000), files: next };
}

async function rawSmall(store: ObjectStore, container: string, width: number): Promise<{ rate: number; names: string[] }> {
  const c = store.container(container);
  const p = `small-${width}-`;
  const r = await pool(width, (i) => c.put(`${p}${i}`, small).then(() => {}));
  return { rate: r.rate, names: Array.from({ length: r.files }, (_, i) => `${p}${i}`) };
}

// ---- Cairn ---------------------------------------------------------------------------------

interface Volume {
  fs: Filesystem;
  /** Unmount, mount again (cold read cache), optionally with other read-cache settings. */
  remount(readCache?: { lineSize: number; readAheadLines: number }): Promise<void>;
  unmount(): Promise<void>;
}

async function volume(store: ObjectStore, name: string, logDir: string): Promise<Volume> {
  await formatFilesystem({ store, volume: name, logDir });
  const open = (readCache?: { lineSize: number; readAheadLines: number }): Promise<Filesystem> => mountFilesystem({
    store, volume: name, logDir, segmentReclaimIntervalMs: 0, journal: { compactIntervalMs: 0 }, ...(readCache ? { readCache } : {}),
  });
  const v: Volume = {
    fs: await open(),
    async remount(readCache) {
      await v.fs.unmount();
      v.fs = await open(readCache);
    },
    async unmount() {
      await v.fs.unmount();
    },
  };
  return v;
}

/** Writes `bytes` to a new file with 1 MiB writes; returns the time of the writes and of the final fsync, and memory peaks. */
async function writeFile(v: Volume, name: string, bytes: number, sample: boolean): Promise<{ ino: number; writeMs: number; fsyncMs: number; peakRss: number; baseRss: number; peakBuffered: number }> {
  const ino = (await v.fs.create(root, 1, name, 0o644)).attr.ino;
  const writer = (v.fs as unknown as FilesystemImpl).m.vol.writer;
  global.gc?.();
  const baseRss = process.memoryUsage().rss;
  let peakRss = baseRss;
  let peakBuffered = 0;
  const timer = sample ? setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    peakBuffered = Math.max(peakBuffered, writer.stats().bytesBuffered);
  }, 10) : undefined;
  const t0 = performance.now();
  for (let off = 0; off < bytes; off += MiB) await v.fs.write(root, ino, off, chunk);
  const t1 = performance.now();
  await v.fs.fsync(ino);
  const t2 = performance.now();
  clearInterval(timer);
  return { ino, writeMs: t1 - t0, fsyncMs: t2 - t1, peakRss, baseRss, peakBuffered };
}

async function readFile(v: Volume, ino: number, bytes: number): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  for (let off = 0; off < bytes; off += MiB) n += (await v.fs.read(root, ino, off, MiB)).length;
  if (n !== bytes) throw new Error(`read ${n} of ${bytes} bytes`);
  return n / 1e6 / ((performance.now() - t0) / 1000);
}

/** Small files: (a) create + write + close, one sync at the end; (b) fsync each. Files/s until all are durable. */
async function smallFiles(v: Volume, width: number, fsyncEach: boolean, tag: string): Promise<number> {
  const dir = (await v.fs.mkdir(root, 1, tag, 0o755)).ino;
  const inos: number[] = [];
  const r = await pool(width, async (i) => {
    const c = await v.fs.create(root, dir, `f${i}`, 0o644, { open: { write: true } });
    await v.fs.write(root, c.attr.ino, 0, small, c.fh);
    if (fsyncEach) await v.fs.fsync(c.attr.ino);
    await v.fs.release(c.fh!);
    inos[i] = c.attr.ino;
  }, async (n) => {
    // Until every file is durable in Swift: (a) one sync of everything, (b) after each
    // file's fsync (durable then, through the intent log when small) the segments that
    // still hold files are stored. flushFile waits for the segment holding its file
    // (most share one), stored and committed.
    let k = 0;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (k < n) await v.fs.flushFile(inos[k++]!);
    }));
  });
  return r.rate;
}

async function removeAll(store: ObjectStore, containers: readonly string[]): Promise<number> {
  let n = 0;
  for (const name of containers) {
    const c = store.container(name);
    const names: string[] = [];
    try {
      for await (const e of c.listAll()) if (e.kind === 'object') names.push(e.name);
    } catch {
      continue;
    }
    let k = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (k < names.length) {
        await c.delete(names[k++]!).catch(() => {});
        n++;
      }
    }));
  }
  return n;
}

async function main(): Promise<void> {
  const svc = serviceSettings();
  if (!svc.swift) {
    process.stdout.write(`skipped: ${svc.why ?? 'no Swift settings'}\n`);
    return;
  }
  const store = createSwiftStore({ authUrl: svc.swift.authUrl, user: svc.swift.user, key: svc.swift.key });
  await store.ping();
  const base = process.env['CAIRN_BENCH_DIR'] ?? tmpdir();
  const dir = mkdtempSync(join(base, 'cairn-swift-bench-'));
  const id = randomBytes(4).toString('hex');
  const rawC = `bench-raw-${id}`;
  const volumes: string[] = [];
  const started = new Date().toISOString();
  const t0 = performance.now();
  try {
    // Close latency and memory first, while the heap is small.
    process.stderr.write(`close and memory: ${BIG / MiB} MiB file vs 10 MiB file\n`);
    let name = `bench-seg-${id}-a`;
    volumes.push(name);
    let v = await volume(store, name, join(dir, 'log-a'));
    const bigRun = await writeFile(v, 'big', BIG, true);
    const tenRun = await writeFile(v, 'ten', 10 * MiB, false);
    row(`close: fsync after the last write, ${BIG / MiB} MiB file`, bigRun.fsyncMs, tenRun.fsyncMs, 'ms', '<= 2x the 10 MiB file', bigRun.fsyncMs <= 2 * Math.max(tenRun.fsyncMs, 1), 'raw column: the 10 MiB file');
    row(`memory: peak RSS above baseline, ${BIG / MiB} MiB write`, (bigRun.peakRss - bigRun.baseRss) / MiB, undefined, 'MiB', 'bounded', undefined, `baseline ${fmt(bigRun.baseRss / MiB)} MiB`);
    row('memory: peak bytes held by the writer', bigRun.peakBuffered / MiB, undefined, 'MiB', '<= maxBufferedBytes (40 MiB)', bigRun.peakBuffered <= 40 * MiB);
    row(`large file write through the filesystem`, BIG / 1e6 / ((bigRun.writeMs + bigRun.fsyncMs) / 1000), undefined, 'MB/s', 'info', undefined);
    await v.unmount();

    process.stderr.write(`sequential: ${SEQ / MiB} MiB\n`);
    const puts = await rawPuts(store, rawC, SEQ);
    const segs = await rawSegments(store, rawC, SEQ);
    name = `bench-seg-${id}-b`;
    volumes.push(name);
    v = await volume(store, name, join(dir, 'log-b'));
    const w = await writeFile(v, 'seq', SEQ, false);
    const writeMBps = SEQ / 1e6 / ((w.writeMs + w.fsyncMs) / 1000);
    const rawWrite = Math.max(puts.mbps, segs.mbps);
    row('seq write: 1 MiB writes + fsync', writeMBps, rawWrite, 'MB/s', '>= 90% of raw', writeMBps >= 0.9 * rawWrite,
      `raw: put ${fmt(puts.mbps)} MB/s, streamed ${fmt(segs.mbps)} MB/s`);
    // The file is the only one of this volume so far: its data container holds exactly its segments.
    const raws: number[] = [];
    const cairns: number[] = [];
    const pairs: number[] = [];
    for (let round = 0; round < READ_ROUNDS; round++) {
      const a = await rawGets(store, `${name}-data`);
      await v.remount();
      const b = await readFile(v, w.ino, SEQ);
      await v.remount();
      const c = await readFile(v, w.ino, SEQ);
      const d = await rawGets(store, `${name}-data`);
      raws.push(a, d);
      cairns.push(b, c);
      pairs.push(b / a, c / d);
      process.stderr.write(`  round ${round + 1}: raw ${fmt(a)} / ${fmt(d)}, cairn ${fmt(b)} / ${fmt(c)} MB/s\n`);
    }
    const readRatio = median(pairs);
    const readMBps = median(cairns);
    row('seq read: 1 MiB reads, cold cache', readMBps, median(raws), 'MB/s', '>= 90% of raw (median pair)', readRatio >= 0.9,
      `median of ${pairs.length}; pairs ${pairs.map((r) => fmt(r, 2)).join(' ')}; median pair ${fmt(readRatio, 2)}; raw: streamed GETs of the file's segments`);
    await v.remount();

    process.stderr.write('small files\n');
    const raw1 = await rawSmall(store, rawC, 1);
    const raw64 = await rawSmall(store, rawC, 64);
    const a1 = await smallFiles(v, 1, false, 'a1');
    row('small (a): create+write+close, sync at end, 1 writer', a1, raw1.rate, 'files/s', '>= 50x one PUT per file', a1 >= 50 * raw1.rate);
    const a64 = await smallFiles(v, 64, false, 'a64');
    row('small (a): create+write+close, sync at end, 64 writers', a64, raw64.rate, 'files/s', '>= 50x one PUT per file', a64 >= 50 * raw64.rate);
    const b64 = await smallFiles(v, 64, true, 'b64');
    row('small (b): create+write+fsync+close, 64 writers', b64, raw64.rate, 'files/s', '>= 10x one PUT per file', b64 >= 10 * raw64.rate);
    const ws = (v.fs as unknown as FilesystemImpl).m.vol.writer.stats();
    await v.unmount();
    process.stderr.write(`  writer: ${ws.segmentsDurable} segments, ${fmt(ws.bytesWritten / 4096 / Math.max(1, ws.segmentsDurable), 1)} files per segment\n`);
  } finally {
    process.stderr.write('removing the objects\n');
    const removed = await removeAll(store, [rawC, ...volumes.flatMap((n) => [n, `${n}-data`])]);
    process.stderr.write(`  ${removed} objects removed\n`);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const out = table(
    ['case', 'cairn', 'raw', 'unit', 'cairn/raw', 'goal', 'met', 'note'],
    rows.map((r) => [
      r.case, fmt(r.cairn, 1), r.raw === undefined ? '' : fmt(r.raw, 1), r.unit, r.ratio === undefined ? '' : `${fmt(r.ratio, 2)}x`,
      r.goal, r.met === undefined ? '' : r.met ? 'yes' : 'no', r.note,
    ]),
    ['l', 'r', 'r', 'l', 'r', 'l', 'l', 'l'],
  );
  process.stdout.write(`${out}\n`);
  const rel = writeResult('segments-swift', {
    bench: 'segments-swift', started, seconds: Math.round((performance.now() - t0) / 1000), machine: machine(),
    settings: { seqBytes: SEQ, bigBytes: BIG, files: FILES, caseSeconds: CASE_SECONDS, filesystem: 'defaults (10 MiB segments, 10 s flush time, replay log fsync on)' },
    rows,
  });
  process.stdout.write(`wrote ${rel}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
