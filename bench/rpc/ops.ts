// RPC overhead: filesystem operations through CairnClient -> loopback TCP (and
// a Unix-domain socket) -> the Cairn RPC server (in a child process) next to
// the same operations called in process on a Filesystem, at concurrency 1, 16
// and 256:
//
//   create    create(parent, unique name)                     ops/s
//   getattr   getattr of one of 1000 files                    ops/s
//   readdir   readdir of a 100-entry directory (one page)     ops/s
//   write     128 KiB writes, each worker to its own file     ops/s and MB/s
//   ping      (RPC only) the framework alone: no filesystem   ops/s
//
// Both sides use a fresh volume per case on the memory store with the replay
// log's fsync off: the baseline is the fastest in-process path, so the ratio
// is the RPC overhead at its most visible. Goal: RPC create >= 50% of in-process
// at concurrency 256.
//
// Prints a table and writes bench/results/rpc-ops.json.
// Usage: npx tsx bench/rpc/ops.ts
//   CAIRN_BENCH_SECONDS     seconds per case (default 2)
//   CAIRN_BENCH_WRITE_MIB   each write case also stops after this much data (default 256)
//   CAIRN_BENCH_TRANSPORTS  the RPC transports to measure, in this order: tcp, unix or both
//                           (default tcp,unix: each case runs over both in the same run)

import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { ROOT_CRED, type Filesystem } from '@cairn/inode';
import { CairnClient } from '@cairn/rpc';
import { envNumber, fmt, machine, Samples, table, writeResult } from '../lib/report.js';
import { BENCH_SECRET, benchTransports, dropVolume, freshVolume, type Transport } from './server-child.js';

const SECONDS = envNumber('CAIRN_BENCH_SECONDS', 2, 0.1);
const WRITE_CAP = envNumber('CAIRN_BENCH_WRITE_MIB', 256, 1) * 1024 * 1024;
const CONCURRENCY = [1, 16, 256];
const WRITE_SIZE = 128 * 1024;
const GETATTR_FILES = 1000;
const READDIR_ENTRIES = 100;
const TRANSPORTS = benchTransports();

/** The operations a case needs, in process or over RPC. */
interface Target {
  mkdir(parent: number, name: string): Promise<number>;
  create(parent: number, name: string, open?: boolean): Promise<{ ino: number; fh?: number }>;
  getattr(ino: number): Promise<unknown>;
  readdir(ino: number): Promise<number>;
  write(ino: number, offset: number, data: Buffer, fh?: number): Promise<number>;
  ping?(): Promise<unknown>;
}

function inProcess(fs: Filesystem): Target {
  return {
    mkdir: async (parent, name) => (await fs.mkdir(ROOT_CRED, parent, name, 0o755)).ino,
    create: async (parent, name, open) => {
      const r = await fs.create(ROOT_CRED, parent, name, 0o644, open ? { open: { write: true } } : {});
      return { ino: r.attr.ino, ...(r.fh !== undefined ? { fh: r.fh } : {}) };
    },
    getattr: (ino) => fs.getattr(ROOT_CRED, ino),
    readdir: async (ino) => (await fs.readdir(ROOT_CRED, ino, { limit: 1000 })).entries.length,
    write: (ino, offset, data, fh) => fs.write(ROOT_CRED, ino, offset, data, fh),
  };
}

function overRpc(c: CairnClient): Target {
  return {
    mkdir: async (parent, name) => (await c.mkdir({ parent, name, mode: 0o755 })).ino,
    create: async (parent, name, open) => {
      const r = await c.create({ parent, name, mode: 0o644, ...(open ? { open: { write: true } } : {}) });
      return { ino: r.attr.ino, ...(r.fh !== undefined ? { fh: r.fh } : {}) };
    },
    getattr: (ino) => c.getattr({ ino }),
    readdir: async (ino) => (await c.readdir({ ino, limit: 1000 })).entries.length,
    write: async (ino, offset, data, fh) => (await c.write({ ino, offset, data, ...(fh !== undefined ? { fh } : {}) })).written,
    ping: () => c.rpc.call('ping', {}),
  };
}

interface Result {
  ops: number;
  seconds: number;
  bytes: number;
  p50ms: number;
  p99ms: number;
}

/** Runs `op` from `workers` loops until the time (or byte budget) is up. */
async function drive(workers: number, setup: (w: number) => Promise<(i: number) => Promise<number>>): Promise<Result> {
  const ops = await Promise.all(Array.from({ length: workers }, (_, w) => setup(w)));
  const lat = new Samples();
  let count = 0;
  let bytes = 0;
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  await Promise.all(ops.map(async (op) => {
    for (let i = 0; performance.now() < end && bytes < WRITE_CAP; i++) {
      const s = performance.now();
      const n = await op(i); // not `bytes += await op(i)`: that would read bytes before the await
      bytes += n;
      lat.add(performance.now() - s);
      count++;
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  return { ops: count, seconds, bytes, p50ms: lat.quantile(0.5), p99ms: lat.quantile(0.99) };
}

type CaseName = 'create' | 'getattr' | 'readdir' | 'write' | 'ping';

async function runCase(name: CaseName, t: Target, workers: number): Promise<Result> {
  const tag = `${name}-${workers}-${Math.random().toString(36).slice(2, 8)}`;
  switch (name) {
    case 'create': {
      const dir = await t.mkdir(1, tag);
      return drive(workers, async (w) => async (i) => (await t.create(dir, `w${w}-${i}`), 0));
    }
    case 'getattr': {
      const dir = await t.mkdir(1, tag);
      const inos: number[] = [];
      for (let i = 0; i < GETATTR_FILES; i++) inos.push((await t.create(dir, `f${i}`)).ino);
      return drive(workers, async (w) => async (i) => (await t.getattr(inos[(w * 7919 + i) % inos.length]!), 0));
    }
    case 'readdir': {
      const dir = await t.mkdir(1, tag);
      for (let i = 0; i < READDIR_ENTRIES; i++) await t.create(dir, `entry-${String(i).padStart(4, '0')}`);
      return drive(workers, async () => async () => {
        const n = await t.readdir(dir);
        if (n !== READDIR_ENTRIES + 2) throw new Error(`readdir returned ${n} entries`);
        return 0;
      });
    }
    case 'write': {
      const dir = await t.mkdir(1, tag);
      const data = Buffer.alloc(WRITE_SIZE, 0x5a);
      return drive(workers, async (w) => {
        const f = await t.create(dir, `w${w}`, true);
        return async (i) => t.write(f.ino, i * WRITE_SIZE, data, f.fh);
      });
    }
    case 'ping':
      return drive(workers, async () => async () => (await t.ping!(), 0));
  }
}

/** The server child and the client connected to its current volume. */
class RemoteSide {
  private nextId = 1;
  private client: CairnClient | undefined;
  private constructor(private readonly child: ChildProcess, private readonly port: number, private readonly socketPath: string) {}

  static async start(): Promise<RemoteSide> {
    const child = fork(fileURLToPath(new URL('./server-child.ts', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const [msg] = (await once(child, 'message')) as [{ port: number; socketPath: string }];
    return new RemoteSide(child, msg.port, msg.socketPath);
  }

  /** A fresh volume, and a client connected to it over `transport`. */
  async fresh(transport: Transport): Promise<Target> {
    await this.client?.close();
    const id = this.nextId++;
    this.child.send({ cmd: 'fresh', id });
    for (;;) {
      const [m] = (await once(this.child, 'message')) as [{ id?: number }];
      if (m.id === id) break;
    }
    const where = transport === 'unix' ? { socketPath: this.socketPath } : { host: '127.0.0.1', port: this.port };
    this.client = await CairnClient.connect({ ...where, volume: 'bench', secret: BENCH_SECRET, cred: { uid: 0, gid: 0, groups: [] } });
    return overRpc(this.client);
  }

  async stop(): Promise<void> {
    await this.client?.close();
    this.child.send({ cmd: 'exit' });
    await once(this.child, 'exit');
  }
}

interface Row {
  op: CaseName;
  concurrency: number;
  mode: 'in-process' | 'rpc';
  /** How the rpc rows reached the server (null in process). */
  transport: Transport | null;
  opsPerSec: number;
  mbPerSec: number | null;
  p50ms: number;
  p99ms: number;
  ops: number;
  /** RPC ops/s divided by in-process ops/s (rpc rows). */
  ratio: number | null;
}

async function main(): Promise<void> {
  const started = new Date().toISOString();
  const remote = await RemoteSide.start();
  const rows: Row[] = [];
  const row = (op: CaseName, concurrency: number, mode: Row['mode'], transport: Transport | null, r: Result, base?: Row): Row => {
    const opsPerSec = r.ops / r.seconds;
    const out: Row = {
      op, concurrency, mode, transport,
      opsPerSec: Math.round(opsPerSec),
      mbPerSec: op === 'write' ? Math.round((r.bytes / r.seconds / 1e6) * 10) / 10 : null,
      p50ms: Math.round(r.p50ms * 1000) / 1000,
      p99ms: Math.round(r.p99ms * 1000) / 1000,
      ops: r.ops,
      ratio: base ? Math.round((opsPerSec / base.opsPerSec) * 100) / 100 : null,
    };
    rows.push(out);
    process.stderr.write(`[bench] ${op} c=${concurrency} ${mode}${transport ? `/${transport}` : ''}: ${fmt(opsPerSec)} ops/s${out.ratio !== null ? ` (ratio ${out.ratio})` : ''}\n`);
    return out;
  };
  try {
    for (const op of ['create', 'getattr', 'readdir', 'write'] as const) {
      for (const c of CONCURRENCY) {
        const vol = await freshVolume();
        let base: Row;
        try {
          base = row(op, c, 'in-process', null, await runCase(op, inProcess(vol.fs), c));
        } finally {
          await dropVolume(vol);
        }
        for (const t of TRANSPORTS) row(op, c, 'rpc', t, await runCase(op, await remote.fresh(t), c), base);
      }
    }
    for (const c of CONCURRENCY) for (const t of TRANSPORTS) row('ping', c, 'rpc', t, await runCase('ping', await remote.fresh(t), c));
  } finally {
    await remote.stop();
  }

  const header = ['op', 'concurrency', 'mode', 'ops/s', 'MB/s', 'p50 ms', 'p99 ms', 'rpc / in-process'];
  const body = rows.map((r) => [
    r.op, String(r.concurrency), r.transport ? `${r.mode} ${r.transport}` : r.mode, fmt(r.opsPerSec), r.mbPerSec === null ? '' : fmt(r.mbPerSec, 1), fmt(r.p50ms, 3), fmt(r.p99ms, 3),
    r.ratio === null ? '' : `${Math.round(r.ratio * 100)}%`,
  ]);
  process.stdout.write(`${table(header, body, ['l', 'r', 'l', 'r', 'r', 'r', 'r', 'r'])}\n`);
  // The goal over the first transport (TCP by default); every transport's ratio is listed.
  const create256 = (t: Transport): Row | undefined => rows.find((r) => r.op === 'create' && r.concurrency === 256 && r.mode === 'rpc' && r.transport === t);
  const ratios = Object.fromEntries(TRANSPORTS.map((t) => [t, create256(t)?.ratio ?? null]));
  const first = ratios[TRANSPORTS[0]!] ?? null;
  const goal = { name: 'RPC create >= 50% of in-process at concurrency 256', transport: TRANSPORTS[0]!, ratio: first, met: (first ?? 0) >= 0.5, byTransport: ratios };
  for (const t of TRANSPORTS) {
    const v = ratios[t] ?? null;
    process.stdout.write(`goal (${t}): ${goal.name}: ${v === null ? 'n/a' : `${Math.round(v * 100)}%`} (${(v ?? 0) >= 0.5 ? 'met' : 'NOT met'})\n`);
  }
  const rel = writeResult('rpc-ops', {
    bench: 'rpc-ops',
    started,
    ...machine(),
    settings: {
      caseSeconds: SECONDS, writeCapBytes: WRITE_CAP, writeSize: WRITE_SIZE, getattrFiles: GETATTR_FILES, readdirEntries: READDIR_ENTRIES,
      store: 'memory, replay-log fsync off, fresh volume per case', transports: TRANSPORTS, transport: 'loopback TCP and/or a Unix-domain socket, server in a child process, CairnClient pool of 2',
    },
    goal,
    rows,
  });
  process.stdout.write(`wrote ${rel}\n`);
}

await main();
