// A real Filesystem (@cairn/inode) on the in-memory object store, served by
// createCairnServer, for end-to-end RPC tests and the benchmark.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatFilesystem, mountFilesystem, type Filesystem } from '../../../packages/inode/src/index.js';
import { createMemoryStore, type ObjectStore } from '../../../packages/objstore/src/index.js';
import { createCairnServer, type CairnServerOptions, type RpcServer } from '../../../packages/rpc/src/index.js';
import { addrOf, listenOn, type Addr, type Transport } from './transport.js';

export const FS_SECRET = 'fs-volume-secret-abcdef';

export interface MemoryFs {
  readonly fs: Filesystem;
  /** The object store under the volume (the direct data path writes segments here itself). */
  readonly store: ObjectStore;
  close(): Promise<void>;
}

/** Formats and mounts a filesystem volume on a fresh memory store (replay log in a temp dir, no fsync). */
export async function memoryFilesystem(volume = 'rpcvol'): Promise<MemoryFs> {
  const store = createMemoryStore();
  const logDir = mkdtempSync(join(tmpdir(), 'cairn-rpc-'));
  await formatFilesystem({ store, volume, logDir, fsync: false });
  const fs = await mountFilesystem({ store, volume, logDir, fsync: false, segments: { maxFlushTimeMs: 50 } });
  return {
    fs,
    store,
    async close() {
      await fs.unmount();
      rmSync(logDir, { recursive: true, force: true });
    },
  };
}

/** A filesystem and a started server exporting it as volume "rpcvol", listening on `transport` only (default TCP). */
export async function startFsServer(
  over: Partial<CairnServerOptions> = {},
  transport: Transport = 'tcp',
): Promise<{ mem: MemoryFs; server: RpcServer; port: number; addr: Addr; close(): Promise<void> }> {
  const mem = await memoryFilesystem();
  const on = listenOn(transport);
  const server = createCairnServer({ volumes: [{ name: 'rpcvol', secret: FS_SECRET, fs: mem.fs }], ...on.options, ...over });
  const bound = await server.start();
  return {
    mem,
    server,
    port: bound.port,
    addr: addrOf(bound),
    async close() {
      await server.close();
      await mem.close();
      on.cleanup();
    },
  };
}
