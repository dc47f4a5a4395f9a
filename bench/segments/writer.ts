// The segment writer against the physical limit of its backend, in one run:
//
//   seq        sequential write MB/s of one file through the writer (1 MiB writes,
//              flush at the end) next to the raw backend in the same run: 10 MiB
//              buffer puts and 10 MiB streamed segments (1 MiB appends).
//   seq read   that file read back with 1 MiB reads (extent map, read plan,
//              readFile through a cold read cache with its defaults), next to
//              one streamed GET after the other of the very segment objects that
//              hold it (same bytes, same store, one reader). Raw and Cairn
//              alternate (raw, Cairn, Cairn, raw; READ_ROUNDS rounds); the goal
//              (>= 90% of raw, fs) is judged on the median ratio of adjacent
//              pairs. The memory backend hands out stored buffers without
//              copying, so its ratio only shows the cache's per-byte cost.
//   small      4 KiB small-file ingest, files/s, with 1 and 64 concurrent writers:
//              each file written then flushed (close-to-durable), and all files
//              written then one flushAll; next to one put per file.
//   memory     peak RSS above the baseline and peak buffered bytes while one
//              1 GiB file is written (fs backend: the data leaves the process).
//   close      how long the final flush of a file takes once its last write
//              returned: 1 GiB file vs 10 MiB file (fs backend).
//
// Backends: fs (fsync on, the embedded default) and memory. Prints a table and
// writes bench/results/segments-writer.json.
// Usage: npx tsx bench/segments/writer.ts
//   CAIRN_BENCH_SEQ_MIB    bytes per sequential case (default 512)
//   CAIRN_BENCH_BIG_MIB    size of the big file for memory/close (default 1024)
//   CAIRN_BENCH_FILES      small files per case (default 3000; each case also stops after 10 s)
//   CAIRN_BENCH_DIR        directory for the fs backend (default: the OS temp dir)

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFsStore, createMemoryStore, type ObjectStore } from '@cairn/objstore';
import {
  applyWrite, createMemoryOrderedMap, createReadCache, createSegmentWriter, lookup, readFile, readPlan, segmentLocator,
  type ExtentValue, type ObjectRef, type SegmentWriter, type SegmentWriterOptions,
} from '@cairn/segments';

const MiB = 1024 * 1024;
const SEQ = Number(process.env['CAIRN_BENCH_SEQ_MIB'] ?? '512') * MiB;
const BIG = Number(process.env['CAIRN_BENCH_BIG_MIB'] ?? '1024') * MiB;
const FILES = Number(process.env['CAIRN_BENCH_FILES'] ?? '3000');
const CASE_SECONDS = 10;
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = join(ROOT, 'bench/results/segments-writer.json');
const TMPFS_MAGIC = 0x01021994;
const CONTAINERS = ['bench-data-0', 'bench-data-1'];

interface Row {
  backend: string;
  case: string;
  value: number;
  unit: string;
  note: string;
}

const rows: Row[] = [];
const chunk = randomBytes(MiB);
const big = randomBytes(10 * MiB);
const small = randomBytes(4096);

function row(backend: string, name: string, value: number, unit: string, note = ''): void {
  rows.push({ backend, case: name, value: Math.round(value * 100) / 100, unit, note });
  process.stderr.write(`  ${backend.padEnd(6)} ${name.padEnd(44)} ${String(Math.round(value * 100) / 100).padStart(10)} ${unit} ${note}\n`);
}

function writerFor(store: ObjectStore, over: Partial<SegmentWriterOptions> = {}): SegmentWriter {
  let nonce = 0n;
  return createSegmentWriter({ store, containers: CONTAINERS, nonces: async () => ++nonce, onDurable: async () => {}, ...over });
}

const REPEAT = 3;
const READ_ROUNDS = 3;

/** Runs a throughput case REPEAT times; the median and the spread. */
async function median(fn: () => Promise<number>): Promise<{ value: number; note: string }> {
  const v: number[] = [];
  for (let i = 0; i < REPEAT; i++) v.push(await fn());
  v.sort((a, b) => a - b);
  return { value: v[Math.floor(v.length / 2)]!, note: `median of ${REPEAT}, ${v[0]!.toFixed(0)}..${v[v.length - 1]!.toFixed(0)}` };
}

let runId = 0;
function prefix(): string {
  return `r${++runId}-`;
}

// ---- sequential ------------------------------------------------------------------------

async function rawPuts(store: ObjectStore, bytes: number): Promise<number> {
  const c = store.container(CONTAINERS[0]!);
  const p = prefix();
  const t0 = performance.now();
  for (let i = 0; i * big.length < bytes; i++) await c.put(`${p}${i}`, big);
  return bytes / MiB / ((performance.now() - t0) / 1000);
}

async function rawSegments(store: ObjectStore, bytes: number): Promise<number> {
  const c = store.container(CONTAINERS[1]!);
  const p = prefix();
  const t0 = performance.now();
  for (let i = 0; i * big.length < bytes; i++) {
    const s = c.openSegment(`${p}${i}`, { maxSize: big.length });
    for (let off = 0; off < big.length; off += MiB) await s.append(big.subarray(off, off + MiB));
    await s.close();
  }
  return bytes / MiB / ((performance.now() - t0) / 1000);
}

async function writerSeq(store: ObjectStore, bytes: number): Promise<{ mbps: number; flushMs: number }> {
  const w = writerFor(store);
  const t0 = performance.now();
  for (let off = 0; off < bytes; off += MiB) await w.write(1n, chunk, { fileOffset: off });
  const t1 = performance.now();
  await w.flush(1n);
  const t2 = performance.now();
  await w.close();
  return { mbps: bytes / MiB / ((t2 - t0) / 1000), flushMs: t2 - t1 };
}

/** Writes one file through the writer, then reads it back against raw GETs of its segments, alternating. */
async function seqRead(store: ObjectStore, bytes: number): Promise<{ raw: number[]; cairn: number[]; pairs: number[]; segments: number }> {
  const map = createMemoryOrderedMap<ExtentValue>();
  const segments: ObjectRef[] = [];
  const w = writerFor(store, {
    onDurable: async (d) => {
      segments.push({ container: d.segment.container, name: d.segment.name });
      for (const wr of d.writes) await applyWrite(map, wr.fileOffset!, wr.length, { nonce: d.segment.nonce, segmentOffset: wr.segmentOffset });
    },
  });
  for (let off = 0; off < bytes; off += MiB) await w.write(3n, chunk, { fileOffset: off });
  await w.close();
  const locate = segmentLocator(CONTAINERS);
  const raw = async (): Promise<number> => {
    let n = 0;
    const t0 = performance.now();
    for (const s of segments) {
      const r = await store.container(s.container).get(s.name);
      for await (const b of r.body) n += (b as Buffer).length;
    }
    return n / MiB / ((performance.now() - t0) / 1000);
  };
  const cairn = async (): Promise<number> => {
    const cache = createReadCache({ store });
    let n = 0;
    const t0 = performance.now();
    for (let off = 0; off < bytes; off += MiB) {
      const plan = readPlan(await lookup(map, off, MiB), off, MiB, bytes, locate);
      n += (await readFile(plan, cache)).length;
    }
    if (n !== bytes) throw new Error(`read ${n} of ${bytes} bytes`);
    return bytes / MiB / ((performance.now() - t0) / 1000);
  };
  const out = { raw: [] as number[], cairn: [] as number[], pairs: [] as number[], segments: segments.length };
  for (let i = 0; i < READ_ROUNDS; i++) {
    const a = await raw();
    const b = await cairn();
    const c = await cairn();
    const d = await raw();
    out.raw.push(a, d);
    out.cairn.push(b, c);
    out.pairs.push(b / a, c / d);
  }
  return out;
}

function mid(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

// ---- small files ---------------------------------------------------------------------------

/** Runs `one(i)` for files 0.. with `concurrency` workers until FILES files or CASE_SECONDS; returns files/s. */
async function pool(concurrency: number, one: (i: number) => Promise<void>, after?: () => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  const deadline = t0 + CASE_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < FILES && performance.now() < deadline) await one(next++);
    }),
  );
  if (after) await after();
  return next / ((performance.now() - t0) / 1000);
}

async function smallFiles(backend: string, store: ObjectStore): Promise<void> {
  for (const n of [1, 64]) {
    const c = store.container(CONTAINERS[0]!);
    const p = prefix();
    row(backend, `4 KiB files, one put per file, ${n} writers`, await pool(n, (i) => c.put(`${p}${i}`, small).then(() => {})), 'files/s');
    {
      const w = writerFor(store);
      const rate = await pool(n, async (i) => {
        await w.write(BigInt(i), small, { fileOffset: 0 });
        await w.flush(BigInt(i));
      });
      const s = w.stats();
      await w.close();
      row(backend, `4 KiB files, writer, write+flush each, ${n} writers`, rate, 'files/s', `${(s.bytesWritten / 4096 / Math.max(1, s.segmentsDurable)).toFixed(1)} files/segment`);
    }
    {
      const w = writerFor(store);
      const rate = await pool(n, async (i) => {
        await w.write(BigInt(i), small, { fileOffset: 0 });
      }, () => w.flushAll());
      const s = w.stats();
      await w.close();
      row(backend, `4 KiB files, writer, flushAll at the end, ${n} writers`, rate, 'files/s', `${(s.bytesWritten / 4096 / Math.max(1, s.segmentsDurable)).toFixed(1)} files/segment`);
    }
  }
}

// ---- memory ceiling and close latency ---------------------------------------------------------

async function bigFile(store: ObjectStore, bytes: number, sampleRss: boolean): Promise<{ flushMs: number; writeMs: number; peakRssMiB: number; baseRssMiB: number; peakBufferedMiB: number; segments: number }> {
  global.gc?.();
  const w = writerFor(store);
  const baseRss = process.memoryUsage().rss;
  let peakRss = baseRss;
  let peakBuffered = 0;
  const timer = setInterval(() => {
    if (sampleRss) peakRss = Math.max(peakRss, process.memoryUsage().rss);
    peakBuffered = Math.max(peakBuffered, w.stats().bytesBuffered);
  }, 10);
  const t0 = performance.now();
  for (let off = 0; off < bytes; off += MiB) await w.write(2n, chunk, { fileOffset: off });
  const t1 = performance.now();
  await w.flush(2n);
  const t2 = performance.now();
  clearInterval(timer);
  const segments = w.stats().segmentsDurable;
  await w.close();
  return {
    writeMs: t1 - t0, flushMs: t2 - t1, baseRssMiB: baseRss / MiB, peakRssMiB: peakRss / MiB,
    peakBufferedMiB: peakBuffered / MiB, segments,
  };
}

// ---- main --------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const base = process.env['CAIRN_BENCH_DIR'] ?? tmpdir();
  const dir = mkdtempSync(join(base, 'cairn-seg-bench-'));
  if (statfsSync(dir).type === TMPFS_MAGIC) process.stderr.write(`warning: ${dir} is on tmpfs; fsync costs nothing there. Set CAIRN_BENCH_DIR.\n`);
  const started = new Date().toISOString();
  try {
    const backends: Array<[string, () => ObjectStore]> = [
      ['memory', () => createMemoryStore()],
      ['fs', () => createFsStore({ root: join(dir, `store-${++runId}`) })],
    ];
    // The big-file cases run first, while the heap is small, so that RSS shows the writer's own memory.
    process.stderr.write('fs: big file\n');
    let bigStore = createFsStore({ root: join(dir, 'store-big') });
    const b = await bigFile(bigStore, BIG, true);
    await bigStore.close();
    rmSync(join(dir, 'store-big'), { recursive: true, force: true });
    bigStore = createFsStore({ root: join(dir, 'store-small') });
    const s = await bigFile(bigStore, 10 * MiB, false);
    await bigStore.close();
    row('fs', `${BIG / MiB} MiB file: write MB/s`, BIG / MiB / ((b.writeMs + b.flushMs) / 1000), 'MB/s', `${b.segments} segments`);
    row('fs', `${BIG / MiB} MiB file: peak RSS above baseline`, b.peakRssMiB - b.baseRssMiB, 'MiB', `baseline ${b.baseRssMiB.toFixed(0)} MiB`);
    row('fs', `${BIG / MiB} MiB file: peak bytes buffered`, b.peakBufferedMiB, 'MiB', 'maxBufferedBytes 40 MiB');
    row('fs', `${BIG / MiB} MiB file: close (final flush) latency`, b.flushMs, 'ms');
    row('fs', '10 MiB file: close (final flush) latency', s.flushMs, 'ms');
    for (const [name, make] of backends) {
      process.stderr.write(`${name}: sequential\n`);
      // A fresh store per run so that the memory backend does not accumulate gigabytes.
      const fresh = async (fn: (s: ObjectStore) => Promise<number>): Promise<number> => {
        const s = make();
        try {
          return await fn(s);
        } finally {
          await s.close();
        }
      };
      const put = await median(() => fresh((s) => rawPuts(s, SEQ)));
      row(name, 'raw put, 10 MiB objects', put.value, 'MB/s', put.note);
      const streamed = await median(() => fresh((s) => rawSegments(s, SEQ)));
      row(name, 'raw streamed segment, 10 MiB, 1 MiB appends', streamed.value, 'MB/s', streamed.note);
      let flushMs = 0;
      const seq = await median(() => fresh(async (s) => {
        const r = await writerSeq(s, SEQ);
        flushMs = Math.max(flushMs, r.flushMs);
        return r.mbps;
      }));
      row(name, 'writer, one file, 1 MiB writes, flush at end', seq.value, 'MB/s', `${seq.note}; final flush <= ${flushMs.toFixed(1)} ms`);
      process.stderr.write(`${name}: sequential read\n`);
      const rd = await fresh(async (s) => {
        const r = await seqRead(s, SEQ);
        row(name, `raw streamed GETs of the file's ${r.segments} segments`, mid(r.raw), 'MB/s', `median of ${r.raw.length}, ${Math.min(...r.raw).toFixed(0)}..${Math.max(...r.raw).toFixed(0)}`);
        row(name, 'read cache, one file, 1 MiB reads, cold cache', mid(r.cairn), 'MB/s',
          `median of ${r.cairn.length}, ${Math.min(...r.cairn).toFixed(0)}..${Math.max(...r.cairn).toFixed(0)}; pairs ${r.pairs.map((p) => p.toFixed(2)).join(' ')}`);
        return mid(r.pairs);
      });
      row(name, 'read cache / raw, median pair', rd, 'x', name === 'memory' ? 'info (no I/O: stored buffers are handed out)' : 'goal >= 0.90');
      process.stderr.write(`${name}: small files\n`);
      const store = make();
      await smallFiles(name, store);
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const table = [
    '| backend | case | value | unit | note |',
    '|---|---|---:|---|---|',
    ...rows.map((r) => `| ${r.backend} | ${r.case} | ${r.value} | ${r.unit} | ${r.note} |`),
  ];
  process.stdout.write(`${table.join('\n')}\n`);
  const result = {
    bench: 'segments-writer',
    started,
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    settings: { seqBytes: SEQ, bigBytes: BIG, files: FILES, caseSeconds: CASE_SECONDS, writer: 'defaults (10 MiB segments, 8 open, 40 MiB buffered)' },
    rows,
  };
  writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`wrote ${join('bench/results', 'segments-writer.json')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
