// Volume handover between two cairnd processes under load: what the clients
// saw and how long the move took.
//
// Usage: npx tsx bench/daemon/handover.ts
//
// Two cairnd children share one fs object store. A serves the volume; RPC
// clients create, write and fsync small files against it. Then, in order:
//   1. A unserves (final checkpoint, ownership released): timed;
//   2. B serves (ownership, mount, replay): timed;
//   3. the clients, which fail over to B on their first error, continue there.
// Printed: time to unserve, time to serve, the longest gap between two
// acknowledged operations any client saw (the pause), and the operation rate
// before and after the move as the same-run baseline. Every acknowledged file
// is then checked on B.
//
// Settings: CAIRN_BENCH_WORKERS (default 8), CAIRN_BENCH_ROUNDS (default 3),
// CAIRN_BENCH_DIR (where the object store and replay logs live; default the
// OS temp directory), CAIRN_BENCH_FSYNC (1 to fsync, default 1).

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CairnClient } from '@cairn/rpc';
import { api, startChild, type ChildDaemon } from '../../test/daemon/helpers.js';
import { envNumber, fmt, machine, table, writeResult } from '../lib/report.js';

const WORKERS = envNumber('CAIRN_BENCH_WORKERS', 8, 1);
const ROUNDS = envNumber('CAIRN_BENCH_ROUNDS', 3, 1);
const FSYNC = envNumber('CAIRN_BENCH_FSYNC', 1) !== 0;
const SECRET = 'handover-bench-secret';
const CRED = { uid: 0, gid: 0, groups: [] as number[] };

interface Side { daemon: ChildDaemon; token: string; rpc: { host: string; port: number } }

function config(objects: string, serve: boolean): string {
  return `
backend: { kind: fs, fs: { root: ${JSON.stringify(objects)}, fsync: ${FSYNC} } }
limits: { fsync: ${FSYNC}, maxFlushTimeMs: 200 }
volumes:
  - { name: vol1, secret: ${SECRET}, serve: ${serve}, format: ${serve} }
`;
}

async function connect(rpc: { host: string; port: number }): Promise<CairnClient> {
  return CairnClient.connect({ host: rpc.host, port: rpc.port, volume: 'vol1', secret: SECRET, cred: CRED, deadlineMs: 5000, connectTimeoutMs: 1000 });
}

/** One client: loops create+write+fsync, failing over to the other daemon on error. Records ack times. */
class Worker {
  readonly acks: number[] = [];
  /** Acknowledgements by the daemon that gave them (0: A, 1: B). */
  readonly acksBy: number[][] = [[], []];
  readonly errors: string[] = [];
  errorCount = 0;
  readonly files = new Map<string, string>();
  private client: CairnClient | undefined;
  constructor(private readonly id: number, private readonly sides: () => Side[], private readonly dirName: string) {}

  async run(stop: AbortSignal): Promise<void> {
    let i = 0;
    let target = 0;
    while (!stop.aborted) {
      try {
        this.client ??= await connect(this.sides()[target]!.rpc);
        const c = this.client;
        const dir = await c.lookup({ parent: 1, name: this.dirName });
        const name = `w${this.id}-${i++}`;
        const made = await c.create({ parent: dir.ino, name, mode: 0o644 });
        const data = Buffer.from(`${name} `.repeat(64));
        await c.write({ ino: made.attr.ino, offset: 0, data });
        await c.fsync({ ino: made.attr.ino });
        this.files.set(name, data.toString());
        const now = performance.now();
        this.acks.push(now);
        this.acksBy[target]!.push(now);
      } catch (err) {
        this.errorCount++;
        if (this.errors.length < 20) this.errors.push(`${target}: ${(err as Error).message}`);
        await this.client?.close().catch(() => undefined);
        this.client = undefined;
        target = (target + 1) % this.sides().length;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    await this.client?.close().catch(() => undefined);
  }
}

function rate(acks: number[], from: number, to: number): number {
  const n = acks.filter((t) => t >= from && t < to).length;
  return to > from ? n / ((to - from) / 1000) : 0;
}

function longestGap(acks: number[], from: number, to: number): number {
  const inside = acks.filter((t) => t >= from && t <= to).sort((a, b) => a - b);
  let gap = 0;
  let prev = from;
  for (const t of inside) {
    gap = Math.max(gap, t - prev);
    prev = t;
  }
  return Math.max(gap, to - prev);
}

async function round(n: number, base: string): Promise<Record<string, number>> {
  const dir = join(base, `round-${n}`);
  const objects = join(dir, 'objects');
  mkdirSync(join(dir, 'a'), { recursive: true });
  mkdirSync(join(dir, 'b'), { recursive: true });
  const daemons: ChildDaemon[] = [];
  try {
    const a = await startChild({ cwd: join(dir, 'a'), config: config(objects, true) });
    daemons.push(a);
    const b = await startChild({ cwd: join(dir, 'b'), config: config(objects, false) });
    daemons.push(b);
    const sides: Side[] = [a, b].map((d) => ({ daemon: d, token: d.creds.adminToken, rpc: d.runtime.rpc! }));
    const setup = await connect(sides[0]!.rpc);
    await setup.mkdir({ parent: 1, name: 'load', mode: 0o755 });
    await setup.close();

    const stop = new AbortController();
    const workers = Array.from({ length: WORKERS }, (_, i) => new Worker(i, () => sides, 'load'));
    const running = workers.map((w) => w.run(stop.signal));
    await new Promise((r) => setTimeout(r, 3000));

    const t0 = performance.now();
    const un = await api(sides[0]!.daemon.runtime.mgmtUrl, 'POST', '/v1/volumes/vol1/unserve', sides[0]!.token);
    if (un.status !== 200) throw new Error(`unserve: ${un.status} ${JSON.stringify(un.body)}`);
    const t1 = performance.now();
    const sv = await api(sides[1]!.daemon.runtime.mgmtUrl, 'POST', '/v1/volumes/vol1/serve', sides[1]!.token, {});
    if (sv.status !== 200) throw new Error(`serve: ${sv.status} ${JSON.stringify(sv.body)}`);
    const t2 = performance.now();
    await new Promise((r) => setTimeout(r, 3000));
    stop.abort();
    await Promise.all(running);
    const t3 = performance.now();

    const acks = workers.flatMap((w) => w.acks);
    const lastOnA = Math.max(...workers.flatMap((w) => w.acksBy[0]!));
    const firstOnB = Math.min(...workers.flatMap((w) => w.acksBy[1]!));
    const errors = workers.flatMap((w) => w.errors);
    if (process.env['CAIRN_BENCH_VERBOSE']) process.stderr.write(`${errors.join('\n')}\n`);
    // Every acknowledged file must be on B.
    const check = await connect(sides[1]!.rpc);
    let missing = 0;
    try {
      const d = await check.lookup({ parent: 1, name: 'load' });
      for (const w of workers) {
        for (const [name, want] of w.files) {
          try {
            const f = await check.lookup({ parent: d.ino, name });
            const got = await check.read({ ino: f.ino, offset: 0, length: want.length + 1 });
            if (Buffer.from(got.data).toString() !== want) missing++;
          } catch {
            missing++;
          }
        }
      }
    } finally {
      await check.close();
    }
    return {
      unserveMs: t1 - t0,
      serveMs: t2 - t1,
      pauseMs: firstOnB - lastOnA,
      longestGapMs: longestGap(acks, t0 - 1000, t2 + 1000),
      errors: workers.reduce((n, w) => n + w.errorCount, 0),
      clientsOnB: workers.filter((w) => w.acksBy[1]!.length > 0).length,
      opsBefore: rate(acks, t0 - 2500, t0),
      opsAfter: rate(acks, t2 + 500, t3),
      acknowledged: acks.length,
      missing,
    };
  } finally {
    for (const d of daemons.reverse()) await d.stop('SIGTERM');
  }
}

async function main(): Promise<void> {
  const base = mkdtempSync(join(process.env['CAIRN_BENCH_DIR'] ?? tmpdir(), 'cairn-bench-handover-'));
  const rows: Record<string, number>[] = [];
  try {
    for (let i = 0; i < ROUNDS; i++) rows.push(await round(i, base));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  const printed = rows.map((r, i) => [
    String(i + 1), fmt(r['unserveMs']!), fmt(r['serveMs']!), fmt(r['pauseMs']!), fmt(r['longestGapMs']!),
    fmt(r['opsBefore']!), fmt(r['opsAfter']!), fmt(r['opsAfter']! / Math.max(1, r['opsBefore']!), 2), fmt(r['acknowledged']!), fmt(r['missing']!),
  ]);
  process.stdout.write(`\n## daemon/handover: ${WORKERS} RPC clients (create + write + fsync), fsync ${FSYNC ? 'on' : 'off'}\n\n`);
  process.stdout.write(table(
    ['round', 'unserve ms', 'serve ms', 'pause ms (last ack on A to first on B)', 'longest gap between acks ms', 'ops/s before', 'ops/s after', 'after/before', 'acknowledged', 'missing'],
    printed, ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  ));
  const file = writeResult('daemon-handover', { machine: machine(), settings: { workers: WORKERS, rounds: ROUNDS, fsync: FSYNC }, rows });
  process.stdout.write(`\nwritten ${file}\n`);
  if (rows.some((r) => r['missing']! > 0)) {
    process.stderr.write('acknowledged files are missing after the handover\n');
    process.exitCode = 1;
  }
}

await main();
