// Segment cleaner throughput on the fs backend, next to a raw copy of the same bytes in the same run:
//
//   large      files of 8 MiB (one segment each), every other MiB overwritten:
//              segments 50% live, long extents;
//   small      4 KiB files packed many to a segment, every other one unlinked:
//              segments 50% live, one extent (and one file to lock) per 4 KiB;
//   throttled  the large case again with bytesPerSecond set: the read rate
//              must stay at the limit.
// For each: live MB copied per second by a cleaner pass (choose, copy, commit
// the new segments, rewrite the extents) and segment MB processed per second
// (the old segments' sizes), next to "raw": ranged GETs of the same live
// ranges streamed into new objects through openSegment, no metadata at all.
// A sample of the files is read back after each pass. Prints a table and
// writes bench/results/segments-cleaner.json.
// Usage: npx tsx bench/segments/cleaner.ts
//   CAIRN_BENCH_CLEAN_MIB     data of the large case (default 256)
//   CAIRN_BENCH_CLEAN_FILES   files of the small case (default 20000)
//   CAIRN_BENCH_CLEAN_RATE    throttle of the throttled case, MB/s (default 20)
//   CAIRN_BENCH_DIR           directory for the store and the replay log (default: the OS temp dir)

import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeKey } from '@cairn/headhunter';
import { formatFilesystem, mountFilesystem, ROOT_CRED as root, type Filesystem } from '@cairn/inode';
import { createFsStore, type ObjectStore } from '@cairn/objstore';
import { segmentName } from '@cairn/segments';
import { cleanSegments, type CleanReport } from '../../packages/inode/src/cleaner.js';
import type { Vol } from '../../packages/inode/src/context.js';
import type { FilesystemImpl } from '../../packages/inode/src/fs.js';
import { TREES } from '../../packages/inode/src/format.js';
import { FsReader } from '../../packages/inode/src/reader.js';
import { extentCodec, segmentCodec } from '../../packages/inode/src/records.js';
import { envNumber, fmt, machine, table, writeResult } from '../lib/report.js';

const MiB = 1024 * 1024;
const LARGE = envNumber('CAIRN_BENCH_CLEAN_MIB', 256, 8) * MiB;
const SMALL_FILES = envNumber('CAIRN_BENCH_CLEAN_FILES', 20_000, 10);
const RATE = envNumber('CAIRN_BENCH_CLEAN_RATE', 20, 1) * 1e6;
const TMPFS_MAGIC = 0x01021994;

interface Row {
  case: string;
  segments: number;
  segmentMiB: number;
  liveMiB: number;
  seconds: number;
  liveMBps: number;
  segmentMBps: number;
  rawLiveMBps: number;
  ratio: number;
  readMBps: number;
  extentsMoved: number;
  transactions: number;
  note: string;
}

const rows: Row[] = [];

interface Setup {
  fs: Filesystem;
  vol: Vol;
  store: ObjectStore;
  check: Array<{ ino: number; sha: string; size: number }>;
  close(): Promise<void>;
}

async function setup(dir: string, name: string): Promise<Setup> {
  const store = createFsStore({ root: join(dir, `${name}-store`) });
  const logDir = join(dir, `${name}-log`);
  await formatFilesystem({ store, volume: 'vol', logDir });
  const fs = await mountFilesystem({ store, volume: 'vol', logDir, segmentReclaimIntervalMs: 0, journal: { compactIntervalMs: 0 } });
  const vol = (fs as unknown as FilesystemImpl).m.vol;
  return {
    fs, vol, store, check: [],
    async close() {
      await fs.unmount();
      await store.close();
    },
  };
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** 8 MiB files, every other MiB overwritten: each file's first segment is half live. */
async function makeLarge(s: Setup, bytes: number): Promise<void> {
  const chunk = randomBytes(MiB);
  const over = randomBytes(MiB);
  for (let f = 0; f * 8 * MiB < bytes; f++) {
    const ino = (await s.fs.create(root, 1, `large-${f}`, 0o644)).attr.ino;
    const model = Buffer.alloc(8 * MiB);
    for (let i = 0; i < 8; i++) {
      await s.fs.write(root, ino, i * MiB, chunk);
      chunk.copy(model, i * MiB);
    }
    await s.fs.fsync(ino);
    for (let i = 0; i < 8; i += 2) {
      await s.fs.write(root, ino, i * MiB, over);
      over.copy(model, i * MiB);
    }
    await s.fs.fsync(ino);
    if (f % 4 === 0) s.check.push({ ino, sha: sha(model), size: model.length });
  }
}

/** 4 KiB files written by 64 writers, flushed by a remount, then every other one unlinked. */
async function makeSmall(s: Setup, files: number): Promise<Setup> {
  const inos: number[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < files) {
      const i = next++;
      const data = Buffer.alloc(4096, i & 0xff);
      data.writeUInt32BE(i, 0);
      const ino = (await s.fs.create(root, 1, `small-${i}`, 0o644)).attr.ino;
      await s.fs.write(root, ino, 0, data);
      inos[i] = ino;
      if (i % 2 === 1 && i % 101 === 1) s.check.push({ ino, sha: sha(data), size: 4096 });
    }
  }));
  for (const ino of inos) await s.fs.fsync(ino);
  let k = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (k < files) {
      const i = k;
      k += 2;
      await s.fs.unlink(root, 1, `small-${i}`);
    }
  }));
  return s;
}

/** Committed segments with their size and live bytes. */
async function segmentsOf(v: Vol): Promise<Array<{ nonce: bigint; container: string; size: number; live: number }>> {
  return FsReader.with(v, async (r) => {
    const out: Array<{ nonce: bigint; container: string; size: number; live: number }> = [];
    for await (const e of r.view.tree(TREES.segments).range()) {
      const rec = segmentCodec.decode(e.value);
      out.push({ nonce: BigInt(decodeKey(e.key)[0] as number), container: rec.container, size: rec.size, live: rec.live });
    }
    return out;
  });
}

/** Live ranges of the partly dead segments, as the cleaner would copy them. */
async function liveRanges(v: Vol, nonces: ReadonlySet<bigint>): Promise<Map<bigint, Array<[number, number]>>> {
  const out = new Map<bigint, Array<[number, number]>>();
  await FsReader.with(v, async (r) => {
    for await (const e of r.view.tree(TREES.extents).range()) {
      const x = extentCodec.decode(e.value);
      if (!nonces.has(x.nonce)) continue;
      let l = out.get(x.nonce);
      if (l === undefined) out.set(x.nonce, (l = []));
      l.push([x.segmentOffset, x.length]);
    }
  });
  return out;
}

/** Raw baseline: the same live ranges read with ranged GETs (1 MiB at most) and streamed into new objects. */
async function rawCopy(store: ObjectStore, container: string, ranges: Map<bigint, Array<[number, number]>>): Promise<{ seconds: number; bytes: number }> {
  const c = store.container(container);
  const t0 = performance.now();
  let bytes = 0;
  let out = c.openSegment('raw-copy-0', { maxSize: 64 * MiB });
  let outBytes = 0;
  let n = 0;
  for (const [nonce, list] of ranges) {
    list.sort((a, b) => a[0] - b[0]);
    // Neighbours within 64 KiB are read together, like the cleaner does.
    let i = 0;
    while (i < list.length) {
      const start = list[i]![0];
      let end = start + list[i]![1];
      const parts: Array<[number, number]> = [list[i]!];
      i++;
      while (i < list.length && list[i]![0] - end <= 64 * 1024 && list[i]![0] + list[i]![1] - start <= MiB) {
        end = list[i]![0] + list[i]![1];
        parts.push(list[i]!);
        i++;
      }
      const buf = await c.getBuffer(segmentName(nonce), { range: { offset: start, length: end - start } });
      for (const [off, len] of parts) {
        await out.append(buf.subarray(off - start, off - start + len));
        bytes += len;
        outBytes += len;
      }
      if (outBytes >= 10 * MiB) {
        await out.close();
        out = c.openSegment(`raw-copy-${++n}`, { maxSize: 64 * MiB });
        outBytes = 0;
      }
    }
  }
  await out.close();
  const seconds = (performance.now() - t0) / 1000;
  for (let k = 0; k <= n; k++) await c.delete(`raw-copy-${k}`);
  return { seconds, bytes };
}

async function verify(s: Setup): Promise<void> {
  for (const f of s.check) {
    const got = await s.fs.read(root, f.ino, 0, f.size + 1);
    if (got.length !== f.size || sha(got) !== f.sha) throw new Error(`inode ${f.ino} reads back wrong after cleaning`);
  }
}

async function runCase(name: string, s: Setup, o: { bytesPerSecond?: number; note?: string } = {}): Promise<CleanReport> {
  await s.fs.checkpoint();
  const segs = await segmentsOf(s.vol);
  const dirty = segs.filter((x) => x.live > 0 && x.live / x.size < 0.8);
  const ranges = await liveRanges(s.vol, new Set(dirty.map((x) => x.nonce)));
  const raw = await rawCopy(s.store, dirty[0]?.container ?? 'vol-data', ranges);
  process.stderr.write(`  ${name}: ${dirty.length} segments to clean, raw copy ${fmt(raw.bytes / 1e6 / raw.seconds, 1)} MB/s\n`);
  const t0 = performance.now();
  const r = await cleanSegments(s.vol, { minAgeMs: 0, bytesPerSecond: o.bytesPerSecond ?? Infinity });
  const seconds = (performance.now() - t0) / 1000;
  await verify(s);
  const segMiB = dirty.reduce((a, x) => a + x.size, 0) / MiB;
  const liveMBps = r.bytesCopied / 1e6 / seconds;
  const rawMBps = raw.bytes / 1e6 / raw.seconds;
  rows.push({
    case: name, segments: r.segmentsCompacted, segmentMiB: segMiB, liveMiB: r.bytesCopied / MiB, seconds,
    liveMBps, segmentMBps: (segMiB * MiB) / 1e6 / seconds, rawLiveMBps: rawMBps, ratio: liveMBps / rawMBps,
    readMBps: r.bytesRead / 1e6 / seconds, extentsMoved: r.extentsMoved, transactions: r.transactions, note: o.note ?? '',
  });
  process.stderr.write(`  ${name}: ${fmt(liveMBps, 1)} MB/s live copied in ${fmt(seconds, 2)} s (${r.segmentsCompacted} segments, ${r.extentsMoved} extents)\n`);
  return r;
}

async function main(): Promise<void> {
  const base = process.env['CAIRN_BENCH_DIR'] ?? tmpdir();
  const dir = mkdtempSync(join(base, 'cairn-clean-bench-'));
  const onTmpfs = statfsSync(dir).type === TMPFS_MAGIC;
  if (onTmpfs) process.stderr.write(`warning: ${dir} is on tmpfs; fsync costs nothing there. Set CAIRN_BENCH_DIR.\n`);
  const started = new Date().toISOString();
  try {
    process.stderr.write(`large: ${LARGE / MiB} MiB in 8 MiB files\n`);
    let s = await setup(dir, 'large');
    await makeLarge(s, LARGE);
    await runCase('large (8 MiB files, 50% live)', s);
    await s.close();

    process.stderr.write(`small: ${SMALL_FILES} files of 4 KiB\n`);
    s = await makeSmall(await setup(dir, 'small'), SMALL_FILES);
    await runCase('small (4 KiB files, 50% live)', s);
    await s.close();

    const tb = Math.min(LARGE, 64 * MiB);
    process.stderr.write(`throttled: ${tb / MiB} MiB at ${RATE / 1e6} MB/s\n`);
    s = await setup(dir, 'throttled');
    await makeLarge(s, tb);
    await runCase(`throttled large (${tb / MiB} MiB)`, s, { bytesPerSecond: RATE, note: `limit ${RATE / 1e6} MB/s of reads` });
    await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const out = table(
    ['case', 'segments', 'segment MiB', 'live MiB', 's', 'live MB/s', 'segment MB/s', 'raw live MB/s', 'vs raw', 'read MB/s', 'extents', 'txns', 'note'],
    rows.map((r) => [
      r.case, String(r.segments), fmt(r.segmentMiB, 1), fmt(r.liveMiB, 1), fmt(r.seconds, 2), fmt(r.liveMBps, 1), fmt(r.segmentMBps, 1),
      fmt(r.rawLiveMBps, 1), `${fmt(r.ratio * 100)}%`, fmt(r.readMBps, 1), String(r.extentsMoved), String(r.transactions), r.note,
    ]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
  process.stdout.write(`${out}\n`);
  const rel = writeResult('segments-cleaner', {
    bench: 'segments-cleaner', started, machine: machine(), onTmpfs,
    settings: { largeBytes: LARGE, smallFiles: SMALL_FILES, throttleBytesPerSecond: RATE, cleaner: 'minAgeMs 0, maxUtilization 0.8, 10 MiB segments' },
    rows,
  });
  process.stdout.write(`wrote ${rel}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
