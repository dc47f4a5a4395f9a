// FUSE mount throughput: create/stat/unlink ops/s and sequential write/read MB/s
// through a Cairn FUSE mount, next to a null filesystem on fuse-native (the
// FUSE ceiling: same kernel, libfuse 2 and options, nothing behind them) and
// next to the local disk, in one run.
//
//   cairn-tcp   mountFuse() over CairnClient -> loopback TCP -> the Cairn RPC
//               server in a child process (memory store, replay-log fsync off)
//   cairn-unix  the same over the server's Unix-domain socket (its own server
//               child and volume); CAIRN_BENCH_TRANSPORTS picks which run
//   null-fuse   bench/fuse/null-fs.ts: metadata in memory, data discarded,
//               mounted with fuseNativeOptions() (the options of a Cairn mount)
//   local-disk  a temp directory on the machine's disk (reads with O_DIRECT)
//
// The workload (bench/fuse/driver.ts) runs in separate processes with plain
// synchronous system calls, as shell tools would; the mounts are served by
// this process. The metadata phases run with 1 process and again with
// several at once (CAIRN_BENCH_FUSE_PROCS), the files split between them, in
// rounds where Cairn and the null filesystem alternate (the machine is
// shared: rates are medians over the rounds, cairn/null the median of the
// rounds' ratios); the sequential phases once, with one process. Each target
// gets a short warm-up first.
//
// Between phases the counters are read, so the run also tells, per file
// operation, how many calls each FUSE operation got (the kernel's LOOKUP and
// GETATTR both arrive as getattr in libfuse's path API), how many RPCs of
// each method the Cairn mount made, how long the Cairn handlers took in this
// process (RPC round trips included), and the CPU time of the process serving
// the mount (this one: Cairn's client side, or the null filesystem) and of
// the Cairn server.
//
// Prints tables and writes bench/results/fuse.json.
// Usage: npx tsx bench/fuse/throughput.ts
//   CAIRN_BENCH_FUSE_FILES   files per metadata phase (default 2000)
//   CAIRN_BENCH_FUSE_MIB     size of the sequential file in MiB (default 256)
//   CAIRN_BENCH_FUSE_PROCS   processes of the concurrent metadata rows (default 4; 1: none)
//   CAIRN_BENCH_ROUNDS       alternating metadata rounds (default 3)
//   CAIRN_BENCH_SECONDS      cap per phase in seconds (default 20)
//   CAIRN_BENCH_TRANSPORTS   Cairn mounts to measure: tcp, unix or both (default tcp,unix, in one run)
//   CAIRN_BENCH_CPU_PROF     a directory: the Cairn server child writes a V8 CPU profile there
//                            (profile the mount too: node --cpu-prof --import tsx bench/fuse/throughput.ts)

import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkFuseAvailable, forceUnmount, mountFuse, type FuseMount } from '@cairn/fuse';
import { CairnClient } from '@cairn/rpc';
import { envNumber, fmt, machine, REPO_ROOT, table, writeResult } from '../lib/report.js';
import { BENCH_SECRET, benchTransports, type Transport } from '../rpc/server-child.js';
import type { Phase, PhaseResult } from './driver.js';
import { mountNullFs, type NullMount } from './null-fs.js';

const FILES = envNumber('CAIRN_BENCH_FUSE_FILES', 2000, 16);
const SEQ_MIB = envNumber('CAIRN_BENCH_FUSE_MIB', 256, 1);
const PROCS = envNumber('CAIRN_BENCH_FUSE_PROCS', 4, 1);
const MAX_SECONDS = envNumber('CAIRN_BENCH_SECONDS', 20, 1);
const ROUNDS = envNumber('CAIRN_BENCH_ROUNDS', 3, 1);
const DRIVER = fileURLToPath(new URL('./driver.ts', import.meta.url));
const SERVER = fileURLToPath(new URL('../rpc/server-child.ts', import.meta.url));
const META: Phase[] = ['create', 'stat', 'unlink'];
const CPU_PROF_DIR = process.env['CAIRN_BENCH_CPU_PROF'];
const TRANSPORTS = benchTransports();
const CAIRN_TARGETS = TRANSPORTS.map((t) => `cairn-${t}`);

type Counts = Record<string, number>;

/** What a target tells about itself between phases. */
interface Probe {
  /** FUSE operation calls so far. */
  fuseCalls(): Counts;
  /** RPCs per method so far (Cairn only). */
  rpcCalls?(): Counts;
  /** Time spent in the FUSE handlers so far, ms (Cairn only). */
  handlerMs?(): number;
  /** CPU time of the Cairn server process so far, µs (Cairn only). */
  serverCpuUs?(): number;
}

/** CPU time (user + system) of process `pid` so far, µs (Linux /proc; clock ticks of 10 ms). */
function cpuOfPid(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
}

function cpuOfSelf(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

interface PhaseRow {
  readonly target: string;
  readonly procs: number;
  readonly phase: Phase;
  /** Metadata rounds: Cairn and the null filesystem alternate. */
  readonly round?: number;
  readonly ops: number;
  readonly seconds: number;
  /** Files/s, or MB/s for write/read. */
  readonly rate: number;
  /** Per file operation (metadata phases): calls per FUSE operation, RPCs per method, handler µs. */
  readonly fusePerOp?: Counts;
  readonly rpcPerOp?: Counts;
  readonly handlerUsPerOp?: number;
  /** CPU time per file operation (µs) of the process serving the mount, and of the Cairn server. */
  readonly mountCpuUsPerOp?: number;
  readonly serverCpuUsPerOp?: number;
}

interface Driver {
  readonly child: ChildProcess;
  run(phase: Phase): Promise<PhaseResult>;
  stop(): Promise<void>;
}

async function startDriver(dir: string, prefix: string, files: number, seqMiB: number, directRead: boolean): Promise<Driver> {
  const job = JSON.stringify({ dir, prefix, files, seqMiB, maxSeconds: MAX_SECONDS, directRead });
  const child = fork(DRIVER, [job], { execArgv: ['--import', 'tsx'], cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = async (): Promise<{ ready?: boolean; result?: PhaseResult; error?: string }> => {
    const exited = once(child, 'exit').then(([code]) => {
      throw new Error(`driver on ${dir} exited (${String(code)})`);
    });
    const [msg] = (await Promise.race([once(child, 'message'), exited])) as [{ ready?: boolean; result?: PhaseResult; error?: string }];
    return msg;
  };
  await next();
  return {
    child,
    async run(phase) {
      child.send({ phase });
      const msg = await next();
      if (!msg.result) throw new Error(`driver on ${dir}, ${phase}: ${msg.error ?? 'no result'}`);
      return msg.result;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.send({ exit: true });
      await exited;
    },
  };
}

function diff(after: Counts, before: Counts, per: number): Counts {
  const out: Counts = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d > 0) out[k] = Math.round((d / per) * 100) / 100;
  }
  return out;
}

/** Runs `phases` with `procs` drivers at once on `dir` (files split between them). */
async function runPhases(target: string, dir: string, probe: Probe | undefined, procs: number, files: number, seqMiB: number, phases: Phase[], direct: boolean): Promise<PhaseRow[]> {
  const drivers: Driver[] = [];
  const rows: PhaseRow[] = [];
  try {
    for (let p = 0; p < procs; p++) drivers.push(await startDriver(dir, `p${p}-f`, Math.ceil(files / procs), seqMiB, direct));
    for (const phase of phases) {
      const fuse0 = probe?.fuseCalls() ?? {};
      const rpc0 = probe?.rpcCalls?.() ?? {};
      const ms0 = probe?.handlerMs?.() ?? 0;
      const cpu0 = cpuOfSelf();
      const server0 = probe?.serverCpuUs?.() ?? 0;
      const t = process.hrtime.bigint();
      const results = await Promise.all(drivers.map((d) => d.run(phase)));
      const wall = Number(process.hrtime.bigint() - t) / 1e9;
      const ops = results.reduce((s, r) => s + r.ops, 0);
      const bytes = results.reduce((s, r) => s + r.bytes, 0);
      // One driver: its own clock (no IPC in it); several: the wall time of them all.
      const seconds = procs === 1 ? results[0]!.seconds : wall;
      const meta = phase === 'create' || phase === 'stat' || phase === 'unlink';
      const row: PhaseRow = { target, procs, phase, ops, seconds, rate: meta ? ops / seconds : bytes / 1e6 / seconds };
      if (probe && meta && ops > 0) {
        Object.assign(row, { fusePerOp: diff(probe.fuseCalls(), fuse0, ops) });
        if (probe.rpcCalls) Object.assign(row, { rpcPerOp: diff(probe.rpcCalls(), rpc0, ops) });
        if (probe.handlerMs) Object.assign(row, { handlerUsPerOp: Math.round(((probe.handlerMs() - ms0) * 1000) / ops) });
        Object.assign(row, { mountCpuUsPerOp: Math.round((cpuOfSelf() - cpu0) / ops) });
        if (probe.serverCpuUs) Object.assign(row, { serverCpuUsPerOp: Math.round((probe.serverCpuUs() - server0) / ops) });
      }
      rows.push(row);
    }
  } finally {
    await Promise.all(drivers.map((d) => d.stop().catch(() => undefined)));
  }
  return rows;
}

/** FUSE usable here? Installs what is missing when root; the reason when not. */
function fuseReason(): string | undefined {
  try {
    checkFuseAvailable();
    return undefined;
  } catch (err) {
    if (process.getuid?.() === 0 && spawnSync('bash', [join(REPO_ROOT, 'scripts/install-fuse.sh')], { stdio: 'inherit' }).status === 0) {
      try {
        checkFuseAvailable();
        return undefined;
      } catch (again) {
        return again instanceof Error ? again.message : String(again);
      }
    }
    return err instanceof Error ? err.message : String(err);
  }
}

interface ServerChild {
  readonly child: ChildProcess;
  readonly port: number;
  readonly socketPath: string;
}

async function startServer(): Promise<ServerChild> {
  const prof = CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`] : [];
  const child = fork(SERVER, [], { execArgv: ['--import', 'tsx', ...prof], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [msg] = (await once(child, 'message')) as [{ port: number; socketPath: string }];
  child.send({ cmd: 'fresh', id: 1 });
  await once(child, 'message');
  return { child, port: msg.port, socketPath: msg.socketPath };
}

/** One Cairn mount: its own server child (fresh volume), client over `transport`, mount. */
interface CairnSide {
  readonly transport: Transport;
  server?: ServerChild;
  client?: CairnClient;
  mount?: FuseMount;
}

/** Counts the client's RPCs per method (the mount calls every method through call()). */
function countRpcs(client: CairnClient): () => Counts {
  const counts: Counts = {};
  const call = client.call.bind(client);
  Object.defineProperty(client, 'call', {
    value: (method: string, ...rest: unknown[]) => {
      counts[method] = (counts[method] ?? 0) + 1;
      return (call as (...a: unknown[]) => unknown)(method, ...rest);
    },
  });
  return () => ({ ...counts });
}

function perOp(c: Counts | undefined): string {
  if (!c) return '';
  return Object.entries(c)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k} ${fmt(v, 2)}`)
    .join(', ');
}

async function main(): Promise<void> {
  const reason = fuseReason();
  if (reason) {
    process.stderr.write(`bench/fuse: skipped, FUSE is not usable here: ${reason}\n`);
    return;
  }
  const base = mkdtempSync(join(tmpdir(), 'cairn-bench-fuse-'));
  const dirs: Record<string, string> = { null: join(base, 'null'), local: join(base, 'local') };
  for (const t of TRANSPORTS) dirs[`cairn-${t}`] = join(base, `cairn-${t}`);
  for (const d of Object.values(dirs)) mkdirSync(d);
  const started = new Date().toISOString();
  const sides: CairnSide[] = TRANSPORTS.map((transport) => ({ transport }));
  let nullFs: NullMount | undefined;
  const rows: PhaseRow[] = [];
  try {
    const cairnTargets: Array<[string, string, Probe | undefined, boolean]> = [];
    for (const side of sides) {
      const server = (side.server = await startServer());
      const where = side.transport === 'unix' ? { socketPath: server.socketPath } : { host: '127.0.0.1', port: server.port };
      const client = (side.client = await CairnClient.connect({ ...where, volume: 'bench', secret: BENCH_SECRET, cred: { uid: 0, gid: 0, groups: [] } }));
      const rpcCalls = countRpcs(client);
      const target = `cairn-${side.transport}`;
      const c = (side.mount = await mountFuse({ client, mountpoint: dirs[target]! }));
      const serverPid = server.child.pid!;
      const probe: Probe = {
        fuseCalls: () => Object.fromEntries(Object.entries(c.stats().ops).map(([k, v]) => [k, v.calls])),
        rpcCalls,
        handlerMs: () => Object.values(c.stats().ops).reduce((s, v) => s + v.totalMs, 0),
        serverCpuUs: () => cpuOfPid(serverPid),
      };
      cairnTargets.push([target, dirs[target]!, probe, false]);
    }
    nullFs = await mountNullFs(dirs['null']!);
    const n = nullFs;
    const nullTarget: [string, string, Probe | undefined, boolean] = ['null-fuse', dirs['null']!, { fuseCalls: () => n.calls() }, false];
    const localTarget: [string, string, Probe | undefined, boolean] = ['local-disk', dirs['local']!, undefined, true];
    // The FUSE targets alternate in the rounds; the local disk runs once.
    const fuseTargets = [...cairnTargets, nullTarget];
    const targets = [...fuseTargets, localTarget];
    for (const [target, dir, probe, direct] of targets) {
      process.stderr.write(`[fuse] ${target}: warm-up, then ${SEQ_MIB} MiB\n`);
      await runPhases(target, dir, probe, 1, Math.min(200, FILES), Math.min(16, SEQ_MIB), [...META, 'write', 'read'], direct);
      rows.push(...(await runPhases(target, dir, probe, 1, FILES, SEQ_MIB, ['write', 'read'], direct)));
    }
    // Metadata: Cairn and the null filesystem alternate round by round (load
    // from elsewhere hits both); the local disk once.
    for (const procs of PROCS > 1 ? [1, PROCS] : [1]) {
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? [...fuseTargets] : [...fuseTargets].reverse();
        if (round === 0) order.push(localTarget);
        for (const [target, dir, probe, direct] of order) {
          process.stderr.write(`[fuse] ${target}: ${FILES} files, ${procs} process(es), round ${round + 1}\n`);
          rows.push(...(await runPhases(target, dir, probe, procs, FILES, SEQ_MIB, META, direct)).map((r) => ({ ...r, round })));
        }
      }
    }
  } finally {
    for (const side of sides) await side.mount?.unmount().catch((err: unknown) => process.stderr.write(`unmount: ${String(err)}\n`));
    await nullFs?.unmount().catch((err: unknown) => process.stderr.write(`unmount: ${String(err)}\n`));
    for (const d of [...CAIRN_TARGETS.map((t) => dirs[t]!), dirs['null']!]) await forceUnmount(d).catch((err: unknown) => process.stderr.write(`${String(err)}\n`));
    for (const side of sides) {
      await side.client?.close();
      if (side.server) {
        const exited = once(side.server.child, 'exit');
        side.server.child.send({ cmd: 'exit' });
        await exited;
      }
    }
    rmSync(base, { recursive: true, force: true });
  }

  const median = (xs: number[]): number | undefined => {
    if (xs.length === 0) return undefined;
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const of = (target: string, procs: number, phase: Phase): PhaseRow[] => rows.filter((r) => r.target === target && r.procs === procs && r.phase === phase);
  /** The median rate over the rounds. */
  const get = (target: string, procs: number, phase: Phase): { rate: number } | undefined => {
    const m = median(of(target, procs, phase).map((r) => r.rate));
    return m === undefined ? undefined : { rate: m };
  };
  /** Cairn / null: the median of the rounds' ratios (sequential phases: the one ratio). */
  const ceiling = (cairnTarget: string, procs: number, phase: Phase): number | null => {
    const c = of(cairnTarget, procs, phase);
    const n = of('null-fuse', procs, phase);
    const m = median(c.flatMap((r) => n.filter((x) => x.round === r.round).map((x) => r.rate / x.rate)));
    return m === undefined ? null : Math.round(m * 100) / 100;
  };
  const procsList = PROCS > 1 ? [1, PROCS] : [1];

  const header = ['target', 'procs', 'create/s', 'stat/s', 'unlink/s', 'write MB/s', 'read MB/s'];
  const body: string[][] = [];
  for (const procs of procsList) {
    for (const target of [...CAIRN_TARGETS, 'null-fuse', 'local-disk']) {
      const cell = (phase: Phase, digits = 0): string => {
        const r = get(target, procs, phase);
        return r ? fmt(r.rate, digits) : '';
      };
      body.push([target, String(procs), cell('create'), cell('stat'), cell('unlink'), cell('write', 1), cell('read', 1)]);
    }
    for (const ct of CAIRN_TARGETS) {
      const ratioCell = (phase: Phase): string => {
        const v = ceiling(ct, procs, phase);
        return v === null ? '' : `${fmt(v, 2)}`;
      };
      body.push([`${ct} / null-fuse`, String(procs), ratioCell('create'), ratioCell('stat'), ratioCell('unlink'), ratioCell('write'), ratioCell('read')]);
    }
  }
  process.stdout.write(`\n${table(header, body, ['l', 'r', 'r', 'r', 'r', 'r', 'r'])}\n`);

  const costHeader = ['target', 'procs', 'phase', 'FUSE calls per op', 'RPCs per op', 'handler µs/op', 'mount CPU µs/op', 'server CPU µs/op', 'wall µs/op'];
  const us = (v: number | undefined): string => (v === undefined ? '' : fmt(v));
  const costBody = rows
    .filter((r) => r.fusePerOp && r.round === 0) // every round is in the JSON
    .map((r) => [
      r.target, String(r.procs), r.phase, perOp(r.fusePerOp), perOp(r.rpcPerOp), us(r.handlerUsPerOp), us(r.mountCpuUsPerOp), us(r.serverCpuUsPerOp),
      fmt((r.seconds * 1e6 * r.procs) / r.ops),
    ]);
  process.stdout.write(`\n${table(costHeader, costBody, ['l', 'r', 'l', 'l', 'l', 'r', 'r', 'r', 'r'])}\n`);

  const goal = Object.fromEntries(
    CAIRN_TARGETS.map((ct) => [
      ct,
      Object.fromEntries(
        procsList.map((procs) => [
          `procs${procs}`,
          Object.fromEntries((['create', 'stat', 'unlink', 'write', 'read'] as Phase[]).map((phase) => [phase, ceiling(ct, procs, phase)])),
        ]),
      ),
    ]),
  );
  const rel = writeResult('fuse', {
    bench: 'fuse',
    started,
    ...machine(),
    settings: {
      files: FILES,
      seqMiB: SEQ_MIB,
      procs: procsList,
      rounds: ROUNDS,
      maxSecondsPerPhase: MAX_SECONDS,
      workload: 'synchronous syscalls; create = open(O_CREAT|O_EXCL)+close; sequential = 1 MiB write(2)s + fsync, 1 MiB read(2)s; metadata phases with 1 and with N processes (files split)',
      cairn: 'mountFuse defaults over loopback RPC (cairn-tcp) or the server\'s Unix-domain socket (cairn-unix); each its own server in a child process, memory store, replay-log fsync off',
      transports: TRANSPORTS,
      nullFuse: 'fuse-native with fuseNativeOptions() (the options of a Cairn mount), metadata in memory, data discarded',
      localDisk: 'temp directory; read with dd iflag=direct',
    },
    rows: rows.map((r) => ({ ...r, rate: Math.round(r.rate * 10) / 10, seconds: Math.round(r.seconds * 1000) / 1000 })),
    cairnVsFuseCeiling: goal,
    goal: { name: 'FUSE metadata ops >= 50% of the null FUSE filesystem', ratios: goal },
  });
  process.stdout.write(`\nwrote ${rel}\n`);
}

await main();
