// The server side of bench/rpc/ops.ts, in its own process (as a frontend and
// the metadata service would be): a Cairn RPC server exporting volume "bench",
// a fresh Filesystem on the memory store per case, listening on loopback TCP
// and on a Unix-domain socket in a temp directory. Driven over IPC:
//   parent <- { port, socketPath }     once listening
//   parent -> { cmd: 'fresh', id }     replace the volume with an empty one; <- { id }
//   parent -> { cmd: 'exit' }          close everything and exit

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatFilesystem, mountFilesystem, type Filesystem } from '@cairn/inode';
import { createMemoryStore } from '@cairn/objstore';
import { createCairnServer, secretsEqual } from '@cairn/rpc';

export const BENCH_SECRET = 'bench-secret';

/** How a benchmark client reaches this server. */
export type Transport = 'tcp' | 'unix';

/** The transports to measure: $CAIRN_BENCH_TRANSPORTS, comma-separated (default tcp,unix). */
export function benchTransports(v: string = process.env['CAIRN_BENCH_TRANSPORTS'] ?? 'tcp,unix'): Transport[] {
  const out = v.split(',').map((t) => t.trim()).filter((t) => t !== '');
  for (const t of out) if (t !== 'tcp' && t !== 'unix') throw new Error(`CAIRN_BENCH_TRANSPORTS: ${t} is not tcp or unix`);
  if (out.length === 0) throw new Error('CAIRN_BENCH_TRANSPORTS names no transport');
  return [...new Set(out)] as Transport[];
}

interface Vol {
  fs: Filesystem;
  logDir: string;
}

/** A fresh filesystem on a fresh memory store (no fsync: the benchmark measures the RPC path, not the disk). */
export async function freshVolume(): Promise<Vol> {
  const store = createMemoryStore();
  const logDir = mkdtempSync(join(tmpdir(), 'cairn-bench-rpc-'));
  await formatFilesystem({ store, volume: 'bench', logDir, fsync: false });
  const fs = await mountFilesystem({ store, volume: 'bench', logDir, fsync: false });
  return { fs, logDir };
}

export async function dropVolume(v: Vol | undefined): Promise<void> {
  if (!v) return;
  await v.fs.unmount();
  rmSync(v.logDir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  let current: Vol | undefined;
  const sockDir = mkdtempSync(join(tmpdir(), 'cairn-bench-sock-'));
  const server = createCairnServer({
    socketPath: join(sockDir, 'rpc.sock'),
    resolveVolume: (name, secret) => (name === 'bench' && secretsEqual(secret, BENCH_SECRET) ? current?.fs : undefined),
  });
  const { port, socketPath } = await server.start();
  process.on('message', (msg: { cmd: string; id?: number }) => {
    void (async () => {
      if (msg.cmd === 'fresh') {
        await server.sweep();
        const old = current;
        current = await freshVolume();
        await dropVolume(old);
        process.send!({ id: msg.id });
      } else if (msg.cmd === 'exit') {
        await server.close();
        await dropVolume(current);
        rmSync(sockDir, { recursive: true, force: true });
        process.exit(0);
      }
    })();
  });
  process.send!({ port, socketPath });
}

if (process.send) void main();
