// Cairn's Swift API (a volume stored in the real Swift) next to the same
// requests sent straight to that Swift, in the same run, through the same
// HTTP client (node:http, keep-alive):
//
//   small-put   4 KiB objects/s, 1 and 32 clients (each PUT acknowledged = durable)
//   small-get   4 KiB objects/s, 1 and 32 clients
//   big-put     256 MiB objects streamed with chunked transfer, MiB/s over all clients, 1 and 32 clients
//   big-get     the same objects read back, MiB/s
//   list        a full listing of a container of 100,000 objects (pages of 10,000, JSON), seconds
//
// Big rows also give this process's CPU time per MiB moved (process.cpuUsage,
// every thread: the HTTP client on both sides, and on Cairn's side the whole
// server with its hashing threads): Cairn's minus raw's is what Cairn spends per
// MiB, CPU that Swift on the same cores does not get.
//
// Goals (docs/object-api.md "Measured"): small PUTs >= 10x raw Swift (uploads
// share segments and group-commit), big PUT/GET >= 0.85x raw.
//
// The small rows' requests come from a child process (load-child.ts), for
// both sides: a load generator on the event loop of the Cairn server it
// measures would take that loop's time (no real client runs inside the
// server). The big rows and the listings send from this process.
//
// Noise control (2 cores shared with Swift): small rows alternate fixed-time
// slices raw, Cairn, Cairn, raw, ... (CAIRN_BENCH_ROUNDS pairs); `pairs` are the
// Cairn/raw ratios of adjacent slices and `median` their median, which resists
// bursts of load from elsewhere. Big rows alternate whole transfers, listings
// alternate whole listings. The raw side's listing container
// (`cairn-bench-list-<n>`, filled once with Swift's bulk upload) is kept between
// runs; Cairn's container is filled in process through the filesystem.
// Prints a table and writes bench/results/object-api-throughput.json.
// Usage: npx tsx bench/object-api/throughput.ts [--quick]
//   --quick                    2 s slices, 2 rounds, 32 MiB big objects, 10,000 listed objects
//   CAIRN_BENCH_SLICE_SECONDS  length of one small-object slice per side (default 4)
//   CAIRN_BENCH_ROUNDS         slice pairs per small row (default 3)
//   CAIRN_BENCH_BIG_MIB        size of the big object of the 1-client rows (default 256)
//   CAIRN_BENCH_BIG32_MIB      size of each of the 32 objects of the 32-client rows (default 256: 8 GiB per transfer)
//   CAIRN_BENCH_LIST_OBJECTS   objects in the listed container (default 100000)
//   CAIRN_BENCH_OPS            rows to run (default small,big,list)
//   CAIRN_BENCH_CLIENTS        client counts of the small and big rows (default 1,32)
//   CAIRN_BENCH_DIR            directory for Cairn's replay log (default: the OS temp dir)

import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatFilesystem, mountFilesystem, ROOT_CRED, type Filesystem } from '@cairn/inode';
import { createObjectApiServer, fromFilesystem, type ObjectApiServer } from '@cairn/object-api';
import { createSwiftStore, type ObjectStore } from '@cairn/objstore';
import { envNumber, fmt, machine, table, writeResult } from '../lib/report.js';
import { serviceSettings } from '../objstore/services.js';
import { MiB, agent, call, emptyFilesTar, login, ok, stream, type SwiftEndpoint } from './http.js';
import type { SliceAnswer, SliceRequest } from './load-child.js';

const QUICK = process.argv.includes('--quick');
const SLICE_MS = envNumber('CAIRN_BENCH_SLICE_SECONDS', QUICK ? 2 : 4, 0.1) * 1000;
const ROUNDS = envNumber('CAIRN_BENCH_ROUNDS', QUICK ? 2 : 3, 1);
const BIG1 = envNumber('CAIRN_BENCH_BIG_MIB', QUICK ? 32 : 256, 1) * MiB;
/** Size of each object of the 32-client big rows (32 x this per transfer). */
const BIG32 = envNumber('CAIRN_BENCH_BIG32_MIB', QUICK ? 8 : 256, 1) * MiB;
const LIST_N = envNumber('CAIRN_BENCH_LIST_OBJECTS', QUICK ? 10_000 : 100_000, 1);
const OPS = new Set((process.env['CAIRN_BENCH_OPS'] ?? 'small,big,list').split(',').map((s) => s.trim()));
const BASE_DIR = process.env['CAIRN_BENCH_DIR'] ?? tmpdir();
const CLIENTS = (process.env['CAIRN_BENCH_CLIENTS'] ?? '1,32').split(',').map((c) => {
  const n = Number(c.trim());
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`CAIRN_BENCH_CLIENTS=${process.env['CAIRN_BENCH_CLIENTS']}: expected client counts >= 1`);
  return n;
});
const SMALL = 4096;
/** Names each small-object client cycles over (PUTs overwrite). */
const NAMES_PER_CLIENT = 32;

type SideName = 'raw' | 'cairn';

interface Side {
  readonly name: SideName;
  readonly ep: SwiftEndpoint;
  readonly container: string;
  /** Small objects written so far, per client count. */
  readonly written: Map<number, string[]>;
}

interface Row {
  readonly case: string;
  readonly clients: number;
  readonly unit: string;
  readonly raw: number;
  readonly cairn: number;
  /** cairn / raw over all the work (for list: raw time / Cairn time, so higher is better too). */
  readonly ratio: number;
  /** Ratios of adjacent slices or transfers. */
  readonly pairs: number[];
  readonly median: number;
  /** Big rows: this process's CPU milliseconds per MiB moved, per side (median over the transfers). */
  readonly cpuMsPerMiB?: Record<SideName, number>;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

const auth = (s: Side): Record<string, string> => ({ 'x-auth-token': s.ep.token });
const url = (s: Side, name: string): string => `${s.ep.storageUrl}/${s.container}/${name}`;

/**
 * The small rows' load generator: a child process (load-child.ts), so that its
 * HTTP client work does not share the event loop of the Cairn server it
 * measures (the server runs in this process). Both sides get the same client.
 */
class LoadChild {
  private readonly child: ChildProcess;
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (a: SliceAnswer) => void; reject: (e: Error) => void }>();

  constructor() {
    this.child = fork(fileURLToPath(new URL('./load-child.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (a: SliceAnswer) => {
      const w = this.waiting.get(a.id);
      this.waiting.delete(a.id);
      if (a.error !== undefined) w?.reject(new Error(`load child: ${a.error}`));
      else w?.resolve(a);
    });
    this.child.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`load child exited (${code})`));
      this.waiting.clear();
    });
  }

  /** Runs one slice of `clients` concurrent requests for SLICE_MS against side `s`. */
  slice(s: Side, method: 'PUT' | 'GET', clients: number, names?: readonly string[]): Promise<SliceAnswer> {
    const id = this.next++;
    const req: SliceRequest = {
      cmd: 'slice', id, method, clients, ms: SLICE_MS, size: SMALL, prefix: `small-${clients}`, perClient: NAMES_PER_CLIENT,
      target: { storageUrl: s.ep.storageUrl, token: s.ep.token, container: s.container }, ...(names ? { names } : {}),
    };
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.send(req);
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.send({ cmd: 'exit' });
    await exited;
  }
}

/** Alternates slices raw, cairn, cairn, raw, ...; a row of ops/s. */
async function alternate(caseName: string, clients: number, sides: Record<SideName, Side>, run: (s: Side) => Promise<number>): Promise<Row> {
  const got: Record<SideName, number[]> = { raw: [], cairn: [] };
  const pairs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const order: SideName[] = r % 2 === 0 ? ['raw', 'cairn'] : ['cairn', 'raw'];
    for (const n of order) got[n].push(await run(sides[n]));
    pairs.push(got.cairn[r]! / got.raw[r]!);
  }
  const raw = got.raw.reduce((a, b) => a + b, 0) / ROUNDS;
  const cairn = got.cairn.reduce((a, b) => a + b, 0) / ROUNDS;
  return { case: caseName, clients, unit: 'objects/s', raw, cairn, ratio: cairn / raw, pairs, median: median(pairs) };
}

async function smallRows(sides: Record<SideName, Side>, rows: Row[]): Promise<void> {
  const load = new LoadChild();
  try {
    for (const clients of CLIENTS) {
      rows.push(await alternate('put 4 KiB', clients, sides, async (s) => {
        const a = await load.slice(s, 'PUT', clients);
        const list = s.written.get(clients) ?? [];
        for (const n of a.written ?? []) if (!list.includes(n)) list.push(n);
        s.written.set(clients, list);
        return a.rate!;
      }));
      report(rows[rows.length - 1]!);
      rows.push(await alternate('get 4 KiB', clients, sides, async (s) => (await load.slice(s, 'GET', clients, s.written.get(clients)!)).rate!));
      report(rows[rows.length - 1]!);
    }
  } finally {
    await load.close();
  }
}

/** One big transfer with `clients` objects at once; MiB/s over all of them, and this process's CPU ms per MiB. */
async function bigTransfer(s: Side, clients: number, method: 'PUT' | 'GET'): Promise<{ mibps: number; cpu: number }> {
  const size = clients === 1 ? BIG1 : BIG32;
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    const name = `big-${clients}-${c}`;
    if (method === 'PUT') {
      await ok(call('PUT', url(s, name), { ...auth(s), 'transfer-encoding': 'chunked' }, stream(size)), `${s.name} big PUT`);
    } else {
      const got = await ok(call('GET', url(s, name), auth(s)), `${s.name} big GET`);
      if (got !== size) throw new Error(`${s.name} big GET returned ${got} bytes`);
    }
  }));
  const mib = (clients * size) / MiB;
  const used = process.cpuUsage(cpu0);
  return { mibps: mib / ((performance.now() - t) / 1000), cpu: (used.user + used.system) / 1000 / mib };
}

async function bigRows(sides: Record<SideName, Side>, rows: Row[], notes: string[]): Promise<void> {
  for (const clients of CLIENTS) {
    const rounds = clients === 1 ? 2 : 1;
    const size = clients === 1 ? BIG1 : BIG32;
    for (const method of ['PUT', 'GET'] as const) {
      const got: Record<SideName, number[]> = { raw: [], cairn: [] };
      const cpu: Record<SideName, number[]> = { raw: [], cairn: [] };
      const pairs: number[] = [];
      try {
        for (let r = 0; r < rounds; r++) {
          const order: SideName[] = r % 2 === 0 ? ['raw', 'cairn'] : ['cairn', 'raw'];
          for (const n of order) {
            const x = await bigTransfer(sides[n], clients, method);
            got[n].push(x.mibps);
            cpu[n].push(x.cpu);
          }
          pairs.push(got.cairn[r]! / got.raw[r]!);
        }
      } catch (err) {
        // A side that drops connections under this load (Swift's timeouts) fails the row, not the run.
        notes.push(`${method} ${size / MiB} MiB x${clients} failed: ${(err as Error).message}`);
        process.stdout.write(`note: ${notes[notes.length - 1]}\n`);
        if (method === 'PUT') break;
        continue;
      }
      const raw = median(got.raw);
      const cairn = median(got.cairn);
      rows.push({
        case: `${method.toLowerCase()} ${size / MiB} MiB`, clients, unit: 'MiB/s', raw, cairn, ratio: cairn / raw, pairs, median: median(pairs),
        cpuMsPerMiB: { raw: median(cpu.raw), cairn: median(cpu.cairn) },
      });
      report(rows[rows.length - 1]!);
    }
    for (const s of Object.values(sides)) {
      await Promise.all(Array.from({ length: clients }, (_, c) => call('DELETE', url(s, `big-${clients}-${c}`), auth(s))));
    }
  }
}

/** A full listing of a container (pages of 10,000, JSON); returns the number of names. */
async function listAll(ep: SwiftEndpoint, container: string): Promise<number> {
  let n = 0;
  let marker = '';
  for (;;) {
    const r = await call('GET', `${ep.storageUrl}/${container}?format=json&limit=10000${marker ? `&marker=${encodeURIComponent(marker)}` : ''}`, { 'x-auth-token': ep.token }, undefined, true);
    if (r.status === 204) return n;
    if (r.status !== 200) throw new Error(`listing ${container}: HTTP ${r.status}`);
    const page = JSON.parse(r.body!.toString('utf8')) as Array<{ name: string }>;
    if (page.length === 0) return n;
    n += page.length;
    marker = page[page.length - 1]!.name;
  }
}

const listName = (i: number): string => `obj-${String(i).padStart(7, '0')}`;

/** Fills raw Swift's listing container with Swift's bulk upload (kept between runs). */
async function fillSwiftListing(ep: SwiftEndpoint, container: string): Promise<void> {
  const h = { 'x-auth-token': ep.token };
  await ok(call('PUT', `${ep.storageUrl}/${container}`, { ...h, 'content-length': '0' }), 'listing container PUT');
  const head = await call('HEAD', `${ep.storageUrl}/${container}`, h);
  if (Number(head.headers['x-container-object-count']) === LIST_N) return;
  process.stdout.write(`filling ${container} with ${LIST_N} objects (bulk upload; kept for later runs)...\n`);
  const batch = 2000;
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < LIST_N) {
      const from = next;
      next = Math.min(LIST_N, next + batch);
      const names = Array.from({ length: next - from }, (_, i) => listName(from + i));
      const r = await call('PUT', `${ep.storageUrl}/${container}?extract-archive=tar`, { ...h, accept: 'application/json' }, emptyFilesTar(names), true);
      const out = JSON.parse(r.body!.toString('utf8')) as { 'Number Files Created'?: number; Errors?: unknown[] };
      if (r.status !== 200 || (out.Errors?.length ?? 0) > 0) throw new Error(`bulk upload: HTTP ${r.status} ${r.body!.toString('utf8').slice(0, 300)}`);
    }
  }));
}

/** Fills Cairn's listing container through the filesystem (empty files committed as uploads, 64 at a time). */
async function fillCairnListing(fs: Filesystem, container: string): Promise<void> {
  const dir = (await fs.mkdir(ROOT_CRED, fs.rootIno, container, 0o755)).ino;
  let next = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < LIST_N) {
      const name = listName(next++);
      await fs.commitUpload(ROOT_CRED, dir, name, await fs.beginUpload(ROOT_CRED), { etag: 'd41d8cd98f00b204e9800998ecf8427e' });
    }
  }));
}

async function listRows(sides: Record<SideName, Side>, fs: Filesystem, rows: Row[]): Promise<void> {
  const rawContainer = `cairn-bench-list-${LIST_N}`;
  await fillSwiftListing(sides.raw.ep, rawContainer);
  await fillCairnListing(fs, 'listing');
  const where: Record<SideName, string> = { raw: rawContainer, cairn: 'listing' };
  const got: Record<SideName, number[]> = { raw: [], cairn: [] };
  const pairs: number[] = [];
  for (let r = 0; r < 3; r++) {
    const order: SideName[] = r % 2 === 0 ? ['raw', 'cairn'] : ['cairn', 'raw'];
    for (const n of order) {
      const t = performance.now();
      const count = await listAll(sides[n].ep, where[n]);
      got[n].push((performance.now() - t) / 1000);
      if (count !== LIST_N) throw new Error(`${n} listed ${count} of ${LIST_N} objects`);
    }
    pairs.push(got.raw[r]! / got.cairn[r]!);
  }
  const raw = median(got.raw);
  const cairn = median(got.cairn);
  rows.push({ case: `list ${LIST_N} objects`, clients: 1, unit: 's', raw, cairn, ratio: raw / cairn, pairs, median: median(pairs) });
  report(rows[rows.length - 1]!);
}

function report(r: Row): void {
  const cpu = r.cpuMsPerMiB ? `, CPU ms/MiB raw ${fmt(r.cpuMsPerMiB.raw, 2)} cairn ${fmt(r.cpuMsPerMiB.cairn, 2)}` : '';
  process.stdout.write(`${r.case} x${r.clients}: raw ${fmt(r.raw, 2)} ${r.unit}, cairn ${fmt(r.cairn, 2)} ${r.unit}, ratio ${fmt(r.ratio, 2)} (pairs ${r.pairs.map((p) => fmt(p, 2)).join(' ')})${cpu}\n`);
}

async function cairnOver(store: ObjectStore, logDir: string): Promise<{ fs: Filesystem; app: ObjectApiServer; ep: SwiftEndpoint; volume: string }> {
  // A fresh volume each run (a shared Swift keeps the volumes of earlier runs).
  const volume = `objbench-${Date.now().toString(36)}`;
  await formatFilesystem({ store, volume, logDir });
  const fs = await mountFilesystem({ store, volume, logDir });
  const app = await createObjectApiServer({
    volumes: { AUTH_bench: fromFilesystem(fs, { name: volume }) },
    swift: { users: [{ account: 'bench', user: 'bench', key: 'bench' }] },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  return { fs, app, ep: await login(`http://127.0.0.1:${port}/auth/v1.0`, 'bench:bench', 'bench'), volume };
}

/** Deletes every object of a container (32 at a time), then the container. */
async function dropContainer(ep: SwiftEndpoint, container: string): Promise<void> {
  const h = { 'x-auth-token': ep.token };
  for (;;) {
    const r = await call('GET', `${ep.storageUrl}/${container}?format=json&limit=10000`, h, undefined, true);
    if (r.status !== 200) break;
    const names = (JSON.parse(r.body!.toString('utf8')) as Array<{ name: string }>).map((e) => e.name);
    if (names.length === 0) break;
    let i = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (i < names.length) await call('DELETE', `${ep.storageUrl}/${container}/${encodeURIComponent(names[i++]!)}`, h);
    }));
  }
  await call('DELETE', `${ep.storageUrl}/${container}`, h);
}

async function main(): Promise<void> {
  const svc = serviceSettings();
  if (!svc.swift) {
    process.stdout.write(`skipped: ${svc.why ?? 'no Swift settings'}\n`);
    writeResult('object-api-throughput', { machine: machine(), rows: [], notes: [`skipped: ${svc.why ?? 'no Swift settings'}`], at: new Date().toISOString() });
    return;
  }
  const rows: Row[] = [];
  const notes: string[] = [];
  const dir = mkdtempSync(join(BASE_DIR, 'cairn-objapi-bench-'));
  const store = createSwiftStore({ authUrl: svc.swift.authUrl, user: svc.swift.user, key: svc.swift.key });
  const cairn = await cairnOver(store, join(dir, 'log'));
  const raw = await login(svc.swift.authUrl, svc.swift.user, svc.swift.key);
  const container = `bench-objapi-${Date.now().toString(36)}`;
  const sides: Record<SideName, Side> = {
    raw: { name: 'raw', ep: raw, container, written: new Map() },
    cairn: { name: 'cairn', ep: cairn.ep, container, written: new Map() },
  };
  try {
    for (const s of Object.values(sides)) await ok(call('PUT', `${s.ep.storageUrl}/${container}`, { ...auth(s), 'content-length': '0' }), 'container PUT');
    if (OPS.has('small')) await smallRows(sides, rows);
    if (OPS.has('big')) await bigRows(sides, rows, notes);
    if (OPS.has('list')) await listRows(sides, cairn.fs, rows);
  } finally {
    await dropContainer(raw, container).catch(() => undefined);
    await cairn.app.close();
    await cairn.fs.unmount();
    // Remove what the volume left in Swift (metadata and data containers).
    for (const c of [cairn.volume, `${cairn.volume}-data`]) await dropContainer(raw, c).catch(() => undefined);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    agent.destroy();
  }
  process.stdout.write(`${table(
    ['case', 'clients', 'raw Swift', 'Cairn', 'unit', 'Cairn/raw', 'median pair', 'pairs'],
    rows.map((r) => [r.case, String(r.clients), fmt(r.raw, 2), fmt(r.cairn, 2), r.unit, fmt(r.ratio, 2), fmt(r.median, 2), r.pairs.map((p) => fmt(p, 2)).join(' ')]),
    ['l', 'r', 'r', 'r', 'l', 'r', 'r', 'l'],
  )}\n`);
  process.stdout.write('list rows: seconds per full listing; their Cairn/raw is raw time / Cairn time (higher is better, like the others)\n');
  for (const r of rows) {
    if (r.cpuMsPerMiB) process.stdout.write(`${r.case} x${r.clients}: this process's CPU ms per MiB: raw side ${fmt(r.cpuMsPerMiB.raw, 2)}, Cairn side ${fmt(r.cpuMsPerMiB.cairn, 2)}\n`);
  }
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  const rel = writeResult('object-api-throughput', {
    machine: machine(), quick: QUICK, sliceMs: SLICE_MS, rounds: ROUNDS, smallBytes: SMALL, bigBytes: BIG1, big32Bytes: BIG32, listObjects: LIST_N,
    rows, notes, at: new Date().toISOString(),
  });
  process.stdout.write(`wrote ${rel}\n`);
}

await main();
