// Object-store layer throughput against the raw backend, in one run:
//
//   put 4KiB / get 4KiB   small-object ops/s with 1 and 16 concurrent callers
//                         (each caller cycles over its own 16 names, so puts
//                         overwrite and gets read objects that exist)
//   put stream            MB/s of one object streamed from an async generator of
//                         fresh 64 KiB chunks (never held whole by the caller;
//                         the length is not announced), through Container.put
//   put openSegment       the same bytes through openSegment: append per chunk, close
//   get stream            MB/s reading that object back chunk by chunk
//
// Each row runs the Cairn backend and a raw baseline with no Cairn code (see
// targets.ts: node:fs for fs, plain undici + a tempauth token for swift, undici +
// aws4 SigV4 for s3 (Swift's s3api), a Map for memory), alternating so that drift
// of this machine's load hits both sides alike: op by op at concurrency 1, slices
// (raw, cairn, cairn, raw, ...) at 16, whole transfers for streams. Rates are total
// work over total time per side; "pairs" are the ratios of adjacent slices (the
// noise). The goal: the layer costs at most 10% of the raw throughput, judged on
// the median pair ratio (>= 0.90). "client CPU" is this process's CPU time per op
// or per GB on each side. The memory rows compare against a Map, which does no
// I/O: they show the layer's per-call cost and are not held to the goal.
// MB = 10^6 bytes.
//
// Prints a table and writes bench/results/objstore-throughput.json.
// Usage: npx tsx bench/objstore/throughput.ts
//   CAIRN_BENCH_BACKENDS       which backends (default fs,memory,swift,s3); swift and s3
//                              need a running Swift (`npm run services -- start swift`)
//   CAIRN_BENCH_SECONDS        seconds per side of each small-op row (default 4)
//   CAIRN_BENCH_ROUNDS         alternating slices per side of a small-op row (default 4)
//   CAIRN_BENCH_STREAM_MIB     size of the streamed object (default 256)
//   CAIRN_BENCH_STREAM_ROUNDS  streamed transfers per side and row (default 2)
//   CAIRN_BENCH_CHUNK_KIB      chunk size of the streamed body (default 64)
//   CAIRN_BENCH_OPS            rows to run: put,get,stream-put,stream-get (default all)
//   CAIRN_BENCH_DIR            directory for the fs backend (default: the OS temp dir;
//                              it must be on the disk you care about, not tmpfs)

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createFsStore, createMemoryStore, createS3Store, type ObjectStore } from '@cairn/objstore';
import { createSwiftStore } from '../../packages/objstore/src/backends/swift.js';
import { envNumber, fmt, machine, Samples, table, writeResult } from '../lib/report.js';
import { serviceSettings, type Services } from './services.js';
import { CairnTarget, RawFs, RawMemory, RawS3, RawSwift, type Target } from './targets.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const SECONDS = envNumber('CAIRN_BENCH_SECONDS', 4, 0.1);
const ROUNDS = Math.max(1, Math.round(envNumber('CAIRN_BENCH_ROUNDS', 8, 1)));
const STREAM_BYTES = Math.round(envNumber('CAIRN_BENCH_STREAM_MIB', 256, 1) * MiB);
const STREAM_ROUNDS = Math.max(1, Math.round(envNumber('CAIRN_BENCH_STREAM_ROUNDS', 3, 1)));
const CHUNK = Math.round(envNumber('CAIRN_BENCH_CHUNK_KIB', 64, 1) * KiB);
const ALL_BACKENDS = ['fs', 'memory', 'swift', 's3'] as const;
type Backend = (typeof ALL_BACKENDS)[number];
const ALL_OPS = ['put', 'get', 'stream-put', 'stream-get'] as const;
type Op = (typeof ALL_OPS)[number];
const SMALL = 4 * KiB;
const CONCURRENCY = [1, 16];
const NAMES_PER_CALLER = 16;
const WARM_MS = 300;
const GOAL = 0.9;
const TMPFS_MAGIC = 0x01021994;
const CONTAINER = 'cairn-bench-objstore';

function listEnv<T extends string>(name: string, all: readonly T[]): T[] {
  const v = process.env[name];
  if (v === undefined || v.trim() === '') return [...all];
  const picked = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const p of picked) if (!all.includes(p as T)) throw new Error(`${name}: unknown ${JSON.stringify(p)} (expected ${all.join(', ')})`);
  return picked as T[];
}

const BACKENDS = listEnv<Backend>('CAIRN_BENCH_BACKENDS', ALL_BACKENDS);
const OPS = listEnv<Op>('CAIRN_BENCH_OPS', ALL_OPS);

interface Row {
  backend: Backend;
  op: string;
  concurrency: number;
  unit: 'ops/s' | 'MB/s';
  cairn: number;
  raw: number;
  /** cairn / raw. */
  ratio: number;
  /** Share of the raw throughput the layer costs (1 - medianPairRatio), in percent; negative: faster than raw. */
  costPercent: number;
  goal: 'met' | 'missed' | 'n/a';
  /** cairn / raw of adjacent slices (noise). */
  pairRatios: number[];
  /** Median of pairRatios: what the goal is judged on (robust to bursts of load from elsewhere). */
  medianPairRatio: number;
  /**
   * CPU time of this process per unit of work (all threads): the client-side cost. On a busy
   * virtual machine it also grows with each op's duration, so compare the two sides of one row.
   */
  cpu: { unit: 'µs/op' | 's/GB'; cairn: number; raw: number };
  cairnP50ms?: number;
  cairnP99ms?: number;
  rawP50ms?: number;
  rawP99ms?: number;
}

const rows: Row[] = [];
const log = (s: string): void => {
  process.stderr.write(`${s}\n`);
};

// ---- bodies ----------------------------------------------------------------------

const SMALL_BODY = randomBytes(SMALL);
const PATTERN = randomBytes(CHUNK);

/** `size` bytes as fresh chunks (as a socket or file reader would hand them out). */
async function* generate(size: number): AsyncGenerator<Buffer> {
  for (let off = 0, i = 0; off < size; off += CHUNK, i++) {
    const n = Math.min(CHUNK, size - off);
    const b = Buffer.allocUnsafe(n);
    PATTERN.copy(b, 0, 0, n);
    if (n >= 4) b.writeUInt32LE(i, 0);
    yield b;
  }
}

// ---- measuring --------------------------------------------------------------------

interface Slice {
  ops: number;
  secs: number;
  /** CPU time of this process (all threads) in the slice, µs. */
  cpuUs: number;
  lat: Samples;
}

function cpuNow(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** `callers` loops calling fn until `ms` have passed; the slice ends when the last call returns. */
async function slice(callers: number, ms: number, fn: (caller: number, i: number) => Promise<void>): Promise<Slice> {
  const lat = new Samples();
  let ops = 0;
  const c0 = cpuNow();
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(Array.from({ length: callers }, async (_, w) => {
    for (let i = 0; performance.now() < end; i++) {
      const s = performance.now();
      await fn(w, i);
      lat.add(performance.now() - s);
      ops++;
    }
  }));
  return { ops, secs: (performance.now() - t0) / 1000, cpuUs: cpuNow() - c0, lat };
}

const smallName = (side: string, caller: number, i: number): string => `${side}/small/c${caller}-${i % NAMES_PER_CALLER}`;

function verdict(backend: Backend, ratio: number): Row['goal'] {
  if (backend === 'memory') return 'n/a';
  return ratio >= GOAL ? 'met' : 'missed';
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function addRow(r: Omit<Row, 'ratio' | 'costPercent' | 'goal' | 'medianPairRatio'>): void {
  const ratio = r.cairn / r.raw;
  const mid = median(r.pairRatios);
  const row: Row = { ...r, ratio, medianPairRatio: mid, costPercent: (1 - mid) * 100, goal: verdict(r.backend, mid) };
  rows.push(row);
  const pairs = r.pairRatios.map((x) => x.toFixed(2)).join(' ');
  log(`  ${r.backend} ${r.op} c${r.concurrency}: cairn ${fmt(r.cairn, 1)} raw ${fmt(r.raw, 1)} ${r.unit}  ratio ${ratio.toFixed(3)} median pair ${mid.toFixed(3)} [${pairs}]` +
    `  cpu ${fmt(r.cpu.cairn, 2)} vs ${fmt(r.cpu.raw, 2)} ${r.cpu.unit}  goal ${row.goal}`);
}

async function smallRow(backend: Backend, op: 'put' | 'get', callers: number, cairn: Target, raw: Target): Promise<void> {
  const fnOf = (t: Target, side: string) => async (w: number, i: number): Promise<void> => {
    if (op === 'put') await t.putSmall(smallName(side, w, i), SMALL_BODY);
    else if ((await t.getSmall(smallName(side, w, i))) !== SMALL) throw new Error(`${backend} ${side} get: wrong length`);
  };
  interface Side { name: 'raw' | 'cairn'; fn: (w: number, i: number) => Promise<void>; ops: number; secs: number; cpuUs: number; lat: Samples }
  const sides: [Side, Side] = [
    { name: 'raw', fn: fnOf(raw, 'raw'), ops: 0, secs: 0, cpuUs: 0, lat: new Samples() },
    { name: 'cairn', fn: fnOf(cairn, 'cairn'), ops: 0, secs: 0, cpuUs: 0, lat: new Samples() },
  ];
  for (const s of sides) await slice(callers, WARM_MS, s.fn);
  const pairRatios: number[] = [];
  const ms = (SECONDS * 1000) / ROUNDS;
  for (let r = 0; r < ROUNDS; r++) {
    const rate = { raw: 0, cairn: 0 };
    if (callers === 1) {
      // One caller: alternate op by op (raw, cairn, cairn, raw, ...); a side's rate
      // is its calls over the time spent in them, as for a caller running alone.
      const x = await interleaved(ms, sides[0].fn, sides[1].fn);
      for (const [k, s] of [['raw', sides[0]], ['cairn', sides[1]]] as const) {
        s.ops += x[k].ops;
        s.secs += x[k].secs;
        s.cpuUs += x[k].cpuUs;
        s.lat.addAll(x[k].lat);
        rate[k] = x[k].ops / x[k].secs;
      }
    } else {
      for (const s of r % 2 === 0 ? sides : [...sides].reverse()) {
        const x = await slice(callers, ms, s.fn);
        s.ops += x.ops;
        s.secs += x.secs;
        s.cpuUs += x.cpuUs;
        s.lat.addAll(x.lat);
        rate[s.name] = x.ops / x.secs;
      }
    }
    pairRatios.push(rate.cairn / rate.raw);
  }
  const [rw, cr] = sides;
  addRow({
    backend, op: `${op} 4KiB`, concurrency: callers, unit: 'ops/s', cairn: cr.ops / cr.secs, raw: rw.ops / rw.secs, pairRatios,
    cpu: { unit: 'µs/op', cairn: cr.cpuUs / cr.ops, raw: rw.cpuUs / rw.ops },
    cairnP50ms: cr.lat.quantile(0.5), cairnP99ms: cr.lat.quantile(0.99), rawP50ms: rw.lat.quantile(0.5), rawP99ms: rw.lat.quantile(0.99),
  });
}

/** One caller alternating between two functions, op by op, for `ms` (both sides' time counts). */
async function interleaved(ms: number, raw: (w: number, i: number) => Promise<void>, cairn: (w: number, i: number) => Promise<void>): Promise<{ raw: Slice; cairn: Slice }> {
  const out = { raw: { ops: 0, secs: 0, cpuUs: 0, lat: new Samples() }, cairn: { ops: 0, secs: 0, cpuUs: 0, lat: new Samples() } };
  const end = performance.now() + ms;
  const one = async (k: 'raw' | 'cairn', fn: (w: number, i: number) => Promise<void>, i: number): Promise<void> => {
    const c = cpuNow();
    const s = performance.now();
    await fn(0, i);
    const d = performance.now() - s;
    out[k].cpuUs += cpuNow() - c;
    out[k].ops++;
    out[k].secs += d / 1000;
    out[k].lat.add(d);
  };
  for (let i = 0; performance.now() < end; i++) {
    if (i % 2 === 0) {
      await one('raw', raw, i);
      await one('cairn', cairn, i);
    } else {
      await one('cairn', cairn, i);
      await one('raw', raw, i);
    }
  }
  return out;
}

/** Puts the names the get rows read, on both sides (not timed). */
async function prepareSmall(cairn: Target, raw: Target): Promise<void> {
  const callers = Math.max(...CONCURRENCY);
  for (const [t, side] of [[raw, 'raw'], [cairn, 'cairn']] as const) {
    await Promise.all(Array.from({ length: callers }, async (_, w) => {
      for (let i = 0; i < NAMES_PER_CALLER; i++) await t.putSmall(smallName(side, w, i), SMALL_BODY);
    }));
  }
}

interface Variant {
  name: string;
  run: (size: number) => Promise<number>;
  bytes: number;
  secs: number;
  cpuUs: number;
  rates: number[];
}

/** Runs the variants in alternating order (reversed every other round); one transfer each per round. */
async function alternate(variants: Variant[], size: number, rounds: number): Promise<void> {
  for (const v of variants) await v.run(Math.min(size, 16 * MiB)); // warm-up: connections, JIT
  for (let r = 0; r < rounds; r++) {
    for (const v of r % 2 === 0 ? variants : [...variants].reverse()) {
      const c0 = cpuNow();
      const t0 = performance.now();
      const n = await v.run(size);
      const secs = (performance.now() - t0) / 1000;
      v.cpuUs += cpuNow() - c0;
      if (n !== size) throw new Error(`${v.name}: moved ${n} of ${size} bytes`);
      v.bytes += n;
      v.secs += secs;
      v.rates.push(n / 1e6 / secs);
    }
  }
}

const variant = (name: string, run: (size: number) => Promise<number>): Variant => ({ name, run, bytes: 0, secs: 0, cpuUs: 0, rates: [] });
const mbps = (v: Variant): number => v.bytes / 1e6 / v.secs;
/** CPU seconds per GB (10^9 bytes). */
const cpuPerGB = (v: Variant): number => v.cpuUs / 1e6 / (v.bytes / 1e9);
const streamCpu = (c: Variant, r: Variant): Row['cpu'] => ({ unit: 's/GB', cairn: cpuPerGB(c), raw: cpuPerGB(r) });

async function streamPutRows(backend: Backend, cairn: CairnTarget, raw: Target): Promise<void> {
  const r = variant('raw', (n) => raw.putStream('raw/stream', generate(n), n));
  const p = variant('put', (n) => cairn.putStream('cairn/stream', generate(n)));
  const s = variant('segment', (n) => cairn.putSegment('cairn/segment', generate(n), n));
  await alternate([r, p, s], STREAM_BYTES, STREAM_ROUNDS);
  const pairs = (v: Variant): number[] => v.rates.map((x, i) => x / r.rates[i]!);
  addRow({ backend, op: 'put stream', concurrency: 1, unit: 'MB/s', cairn: mbps(p), raw: mbps(r), pairRatios: pairs(p), cpu: streamCpu(p, r) });
  addRow({ backend, op: 'put openSegment', concurrency: 1, unit: 'MB/s', cairn: mbps(s), raw: mbps(r), pairRatios: pairs(s), cpu: streamCpu(s, r) });
}

async function streamGetRow(backend: Backend, cairn: CairnTarget, raw: Target): Promise<void> {
  if (!OPS.includes('stream-put')) {
    await raw.putStream('raw/stream', generate(STREAM_BYTES), STREAM_BYTES);
    await cairn.putStream('cairn/stream', generate(STREAM_BYTES));
  }
  // (Reads take the whole object whatever size they are given, the warm-up too.)
  const r = variant('raw', () => raw.getStream('raw/stream'));
  const c = variant('get', () => cairn.getStream('cairn/stream'));
  await alternate([r, c], STREAM_BYTES, STREAM_ROUNDS);
  addRow({ backend, op: 'get stream', concurrency: 1, unit: 'MB/s', cairn: mbps(c), raw: mbps(r), pairRatios: c.rates.map((x, i) => x / r.rates[i]!), cpu: streamCpu(c, r) });
}

// ---- backends ---------------------------------------------------------------------

interface Setup {
  store: ObjectStore;
  cairn: CairnTarget;
  raw: Target;
  cleanup(): Promise<void>;
}

let fsType: string | undefined;

async function setup(backend: Backend, services: Services, workBase: string): Promise<Setup | string> {
  switch (backend) {
    case 'fs': {
      const work = mkdtempSync(join(workBase, 'cairn-bench-objstore-'));
      const type = statfsSync(work).type;
      fsType = `0x${type.toString(16)}`;
      if (type === TMPFS_MAGIC) log(`warning: ${work} is on tmpfs; fsync costs nothing there. Set CAIRN_BENCH_DIR.`);
      const store = createFsStore({ root: join(work, 'cairn') });
      const raw = await RawFs.create(join(work, 'raw'));
      return { store, cairn: new CairnTarget(store.container(CONTAINER)), raw, cleanup: async () => rmSync(work, { recursive: true, force: true }) };
    }
    case 'memory': {
      const store = createMemoryStore();
      const raw = new RawMemory();
      return { store, cairn: new CairnTarget(store.container(CONTAINER)), raw, cleanup: () => raw.close() };
    }
    case 'swift': {
      if (!services.swift) return services.why ?? 'no Swift settings';
      const store = createSwiftStore({ authUrl: services.swift.authUrl, user: services.swift.user, key: services.swift.key });
      const c = store.container(CONTAINER);
      await c.create();
      const raw = await RawSwift.create(services.swift, CONTAINER);
      return { store, cairn: new CairnTarget(c), raw, cleanup: () => dropRemote(c, raw, () => raw.dropContainer()) };
    }
    case 's3': {
      if (!services.s3) return services.why ?? 'no S3 settings';
      const s = services.s3;
      const bucket = `${CONTAINER}-s3`;
      const store = createS3Store({ endpoint: s.endpoint, region: s.region, accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey, forcePathStyle: true });
      const c = store.container(bucket);
      await c.create();
      const raw = new RawS3(s, bucket);
      // The bucket is a Swift container: the Swift client (if configured) removes it once empty.
      const drop = async (): Promise<void> => {
        if (!services.swift) return;
        const sw = await RawSwift.create(services.swift, bucket);
        await sw.dropContainer();
        await sw.close();
      };
      return { store, cairn: new CairnTarget(c), raw, cleanup: () => dropRemote(c, raw, drop) };
    }
  }
}

/** Removes every object a run may have made in a remote container, then the container. */
async function dropRemote(c: import('@cairn/objstore').Container, raw: Target, dropContainer: () => Promise<void>): Promise<void> {
  const names: string[] = [];
  for await (const e of c.listAll()) if (e.kind === 'object') names.push(e.name);
  await raw.remove(names);
  await dropContainer();
  await raw.close();
}

async function runBackend(backend: Backend, services: Services, workBase: string): Promise<{ skipped?: string; stats?: object }> {
  const s = await setup(backend, services, workBase);
  if (typeof s === 'string') return { skipped: s };
  log(`${backend}:`);
  try {
    await s.store.ping();
    if (OPS.includes('put')) for (const c of CONCURRENCY) await smallRow(backend, 'put', c, s.cairn, s.raw);
    if (OPS.includes('get')) {
      await prepareSmall(s.cairn, s.raw);
      for (const c of CONCURRENCY) await smallRow(backend, 'get', c, s.cairn, s.raw);
    }
    if (OPS.includes('stream-put')) await streamPutRows(backend, s.cairn, s.raw);
    if (OPS.includes('stream-get')) await streamGetRow(backend, s.cairn, s.raw);
    const stats = s.store.stats();
    if (stats.retries > 0 || stats.errors > 0) log(`  warning: ${backend} store saw ${stats.retries} retries and ${stats.errors} errors during the run`);
    return { stats };
  } finally {
    await s.cleanup().catch((err: unknown) => log(`  cleanup of ${backend} failed: ${String(err)}`));
    await s.store.close();
  }
}

async function main(): Promise<void> {
  const started = new Date().toISOString();
  const workBase = process.env['CAIRN_BENCH_DIR'] ?? tmpdir();
  mkdirSync(workBase, { recursive: true });
  const needsSwift = BACKENDS.includes('swift') || BACKENDS.includes('s3');
  const services: Services = needsSwift ? serviceSettings() : {};
  const skipped: Record<string, string> = {};
  const stats: Record<string, object> = {};
  log(`objstore throughput: ${BACKENDS.join(', ')}; ${SECONDS} s per side of each small-op row in ${ROUNDS} slices; ` +
    `${STREAM_BYTES / MiB} MiB streams in ${CHUNK / KiB} KiB chunks, ${STREAM_ROUNDS} per side`);
  for (const b of BACKENDS) {
    const r = await runBackend(b, services, workBase);
    if (r.skipped) {
      skipped[b] = r.skipped;
      log(`${b}: skipped: ${r.skipped}`);
    }
    if (r.stats) stats[b] = r.stats;
  }

  const goalText = (r: Row): string => (r.goal === 'met' ? 'yes' : r.goal === 'missed' ? 'NO' : 'n/a (Map)');
  const digits = (r: Row, v: number): string => fmt(v, r.unit === 'MB/s' || v < 100 ? 1 : 0);
  process.stdout.write(`${table(
    ['backend', 'op', 'conc', 'Cairn', 'raw', 'unit', 'Cairn/raw', 'pairs: median', 'min-max', 'cost', 'goal: cost <= 10%', 'client CPU Cairn / raw'],
    rows.map((r) => [
      r.backend, r.op, String(r.concurrency), digits(r, r.cairn), digits(r, r.raw), r.unit, r.ratio.toFixed(2), r.medianPairRatio.toFixed(2),
      `${Math.min(...r.pairRatios).toFixed(2)}-${Math.max(...r.pairRatios).toFixed(2)}`, `${r.costPercent.toFixed(0)}%`, goalText(r),
      `${fmt(r.cpu.cairn, r.cpu.unit === 's/GB' ? 2 : 0)} / ${fmt(r.cpu.raw, r.cpu.unit === 's/GB' ? 2 : 0)} ${r.cpu.unit}`,
    ]),
    ['l', 'l', 'r', 'r', 'r', 'l', 'r', 'r', 'r', 'r', 'l', 'r'],
  )}\n`);
  const judged = rows.filter((r) => r.goal !== 'n/a');
  const missed = judged.filter((r) => r.goal === 'missed');
  process.stdout.write(`goal (the layer costs at most 10% of raw throughput): met in ${judged.length - missed.length} of ${judged.length} rows` +
    `${missed.length ? `; missed: ${missed.map((r) => `${r.backend} ${r.op} c${r.concurrency} (${r.medianPairRatio.toFixed(2)})`).join(', ')}` : ''}\n`);
  if (rows.some((r) => r.backend === 'memory')) process.stdout.write('memory rows compare with a Map (no I/O): they show the per-call cost of the layer and are not held to the goal\n');
  for (const [b, why] of Object.entries(skipped)) process.stdout.write(`${b}: skipped: ${why}\n`);

  const out = writeResult('objstore-throughput', {
    benchmark: 'objstore-throughput',
    started,
    finished: new Date().toISOString(),
    ...machine(),
    fsType,
    settings: {
      backends: BACKENDS, ops: OPS, secondsPerSide: SECONDS, rounds: ROUNDS, smallBytes: SMALL, concurrency: CONCURRENCY,
      namesPerCaller: NAMES_PER_CALLER, streamBytes: STREAM_BYTES, streamRounds: STREAM_ROUNDS, chunkBytes: CHUNK, goalRatio: GOAL,
    },
    rows,
    skipped,
    storeStats: stats,
  });
  process.stdout.write(`wrote ${out}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
