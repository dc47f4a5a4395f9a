// The server side of bench/rpc/ops.ts, in its own process (as a frontend and
// the metadata service would be): a Cairn RPC server exporting volume "bench",
// a fresh Filesystem on the memory store per case. Driven over IPC:
//   parent <- { port }                 once listening
//   parent -> { cmd: 'fresh', id }     replace the volume with an empty one; <- { id }
//   parent -> { cmd: 'exit' }          close everything and exit

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatFilesystem, mountFilesystem, type Filesystem } from '@cairn/inode';
import { createMemoryStore } from '@cairn/objstore';
import { createCairnServer, secretsEqual } from '@cairn/rpc';

export const BENCH_SECRET = 'bench-secret';

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
  const server = createCairnServer({
    resolveVolume: (name, secret) => (name === 'bench' && secretsEqual(secret, BENCH_SECRET) ? current?.fs : undefined),
  });
  const { port } = await server.start();
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
        process.exit(0);
      }
    })();
  });
  process.send!({ port });
}

if (process.send) void main();
