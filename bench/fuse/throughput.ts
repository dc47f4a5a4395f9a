// FUSE mount throughput: create/stat/unlink ops/s and sequential write/read MB/s
// through a Cairn FUSE mount, next to a null filesystem on fuse-native (the
// FUSE ceiling: same kernel, libfuse 2 and options, nothing behind them) and
// next to the local disk, in one run.
//
//   cairn       mountFuse() over CairnClient -> loopback TCP -> the Cairn RPC
//               server in a child process (memory store, replay-log fsync off)
//   null-fuse   bench/fuse/null-fs.ts: metadata in memory, data discarded
//   local-disk  a temp directory on the machine's disk (reads with O_DIRECT)
//
// The workload (bench/fuse/driver.ts) runs in its own process with plain
// synchronous system calls, one at a time, as a shell tool would; the mounts
// are served by this process. Each target gets a short warm-up run first.
//
// Prints a table and writes bench/results/fuse.json.
// Usage: npx tsx bench/fuse/throughput.ts
//   CAIRN_BENCH_FUSE_FILES   files per metadata phase (default 2000)
//   CAIRN_BENCH_FUSE_MIB     size of the sequential file in MiB (default 256)
//   CAIRN_BENCH_SECONDS      cap per phase in seconds (default 20)

import { execFile, fork, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkFuseAvailable, forceUnmount, mountFuse, type FuseMount } from '@cairn/fuse';
import { CairnClient } from '@cairn/rpc';
import { envNumber, fmt, machine, REPO_ROOT, table, writeResult } from '../lib/report.js';
import { BENCH_SECRET } from '../rpc/server-child.js';
import { mountNullFs, type NullMount } from './null-fs.js';

const FILES = envNumber('CAIRN_BENCH_FUSE_FILES', 2000, 16);
const SEQ_MIB = envNumber('CAIRN_BENCH_FUSE_MIB', 256, 1);
const MAX_SECONDS = envNumber('CAIRN_BENCH_SECONDS', 20, 1);
const DRIVER = fileURLToPath(new URL('./driver.ts', import.meta.url));
const SERVER = fileURLToPath(new URL('../rpc/server-child.ts', import.meta.url));

interface Row {
  readonly create: number;
  readonly stat: number;
  readonly unlink: number;
  readonly files: number;
  readonly writeMBps: number;
  readonly readMBps: number;
  readonly seqMiB: number;
}

function drive(dir: string, files: number, seqMiB: number, directRead: boolean): Promise<Row> {
  const job = JSON.stringify({ dir, files, seqMiB, maxSeconds: MAX_SECONDS, directRead });
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', DRIVER, job], { cwd: REPO_ROOT, timeout: 30 * 60_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`driver on ${dir}: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as Row);
    });
  });
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

async function startServer(): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(SERVER, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [msg] = (await once(child, 'message')) as [{ port: number }];
  child.send({ cmd: 'fresh', id: 1 });
  await once(child, 'message');
  return { child, port: msg.port };
}

async function main(): Promise<void> {
  const reason = fuseReason();
  if (reason) {
    process.stderr.write(`bench/fuse: skipped, FUSE is not usable here: ${reason}\n`);
    return;
  }
  const base = mkdtempSync(join(tmpdir(), 'cairn-bench-fuse-'));
  const dirs = { cairn: join(base, 'cairn'), null: join(base, 'null'), local: join(base, 'local') };
  for (const d of Object.values(dirs)) mkdirSync(d);
  const started = new Date().toISOString();
  let server: { child: ChildProcess; port: number } | undefined;
  let client: CairnClient | undefined;
  let cairn: FuseMount | undefined;
  let nullFs: NullMount | undefined;
  const rows: Array<{ target: string } & Row> = [];
  try {
    server = await startServer();
    client = await CairnClient.connect({ host: '127.0.0.1', port: server.port, volume: 'bench', secret: BENCH_SECRET, cred: { uid: 0, gid: 0, groups: [] } });
    cairn = await mountFuse({ client, mountpoint: dirs.cairn });
    nullFs = await mountNullFs(dirs.null);
    const targets: Array<[string, string, boolean]> = [['cairn', dirs.cairn, false], ['null-fuse', dirs.null, false], ['local-disk', dirs.local, true]];
    for (const [target, dir, direct] of targets) {
      process.stderr.write(`[fuse] ${target}: warm-up\n`);
      await drive(dir, Math.min(200, FILES), Math.min(16, SEQ_MIB), direct);
      process.stderr.write(`[fuse] ${target}: ${FILES} files, ${SEQ_MIB} MiB\n`);
      rows.push({ target, ...(await drive(dir, FILES, SEQ_MIB, direct)) });
    }
  } finally {
    await cairn?.unmount().catch((err: unknown) => process.stderr.write(`unmount: ${String(err)}\n`));
    await nullFs?.unmount().catch((err: unknown) => process.stderr.write(`unmount: ${String(err)}\n`));
    for (const d of [dirs.cairn, dirs.null]) await forceUnmount(d).catch((err: unknown) => process.stderr.write(`${String(err)}\n`));
    await client?.close();
    if (server) {
      const exited = once(server.child, 'exit');
      server.child.send({ cmd: 'exit' });
      await exited;
    }
    rmSync(base, { recursive: true, force: true });
  }

  const header = ['target', 'create/s', 'stat/s', 'unlink/s', 'write MB/s', 'read MB/s'];
  const body = rows.map((r) => [r.target, fmt(r.create), fmt(r.stat), fmt(r.unlink), fmt(r.writeMBps, 1), fmt(r.readMBps, 1)]);
  process.stdout.write(`\n${table(header, body, ['l', 'r', 'r', 'r', 'r', 'r'])}\n`);
  const byTarget = Object.fromEntries(rows.map((r) => [r.target, r]));
  const ratio = (a: number | undefined, b: number | undefined): number | null => (a && b ? Math.round((a / b) * 100) / 100 : null);
  const c = byTarget['cairn'];
  const n = byTarget['null-fuse'];
  const rel = writeResult('fuse', {
    bench: 'fuse',
    started,
    ...machine(),
    settings: {
      files: FILES,
      seqMiB: SEQ_MIB,
      maxSecondsPerPhase: MAX_SECONDS,
      workload: 'one process, synchronous syscalls; create = open(O_CREAT|O_EXCL)+close; sequential = 1 MiB write(2)s + fsync, 1 MiB read(2)s',
      cairn: 'mountFuse defaults (kernel attr timeout 0, entry 1 s, write-behind 64 MiB, read-ahead 1 MiB) over loopback RPC; server in a child process, memory store, replay-log fsync off',
      nullFuse: 'fuse-native, same libfuse options, metadata in memory, data discarded',
      localDisk: 'temp directory; read with dd iflag=direct',
    },
    rows: rows.map((r) => ({ ...r, create: Math.round(r.create), stat: Math.round(r.stat), unlink: Math.round(r.unlink), writeMBps: Math.round(r.writeMBps * 10) / 10, readMBps: Math.round(r.readMBps * 10) / 10 })),
    cairnVsFuseCeiling: c && n ? { create: ratio(c.create, n.create), stat: ratio(c.stat, n.stat), unlink: ratio(c.unlink, n.unlink), write: ratio(c.writeMBps, n.writeMBps), read: ratio(c.readMBps, n.readMBps) } : null,
  });
  process.stdout.write(`\nwrote ${rel}\n`);
}

await main();
