// The two transports of the RPC API, for tests that must hold over both: TCP
// on loopback, and a Unix-domain socket in a fresh temp directory (the server
// then listens on nothing else, so a test that passes cannot have used TCP).

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RpcServer, RpcServerAddress } from '../../../packages/rpc/src/index.js';

export type Transport = 'tcp' | 'unix';
export const TRANSPORTS: readonly Transport[] = ['tcp', 'unix'];

/** Where a server listens, in the form RpcClient/CairnClient options and RawPeer take. */
export type Addr = { readonly host: string; readonly port: number } | { readonly socketPath: string };

/** A client's address of a started server: its socket when it has one, else TCP on loopback. */
export function addrOf(a: RpcServerAddress): Addr {
  return a.socketPath !== undefined ? { socketPath: a.socketPath } : { host: '127.0.0.1', port: a.port };
}

/** A fresh temp directory for sockets, removed by the returned function. */
export function socketDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-sock-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Server options to listen on `t` only (the socket in a fresh temp dir), and what removes that dir. */
export function listenOn(t: Transport): { options: { socketPath?: string; tcp?: boolean }; cleanup(): void } {
  if (t === 'tcp') return { options: {}, cleanup: () => undefined };
  const d = socketDir();
  return { options: { socketPath: join(d.dir, 'rpc.sock'), tcp: false }, cleanup: d.remove };
}

/** An address nothing listens on yet, where a server can be started later (listenAt gives its options). */
export async function freeAddr(t: Transport): Promise<{ addr: Addr; listenAt: { port?: number; socketPath?: string; tcp?: boolean }; cleanup(): void }> {
  if (t === 'tcp') {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const { port } = s.address() as AddressInfo;
    await new Promise<void>((r) => s.close(() => r()));
    return { addr: { host: '127.0.0.1', port }, listenAt: { port }, cleanup: () => undefined };
  }
  const d = socketDir();
  const socketPath = join(d.dir, 'rpc.sock');
  return { addr: { socketPath }, listenAt: { socketPath, tcp: false }, cleanup: d.remove };
}

/** `server`, whose close() also runs `cleanup` (the socket's temp dir). */
export function closingWith(server: RpcServer, cleanup: () => void): RpcServer {
  return {
    start: () => server.start(),
    address: () => server.address(),
    stats: () => server.stats(),
    sweep: () => server.sweep(),
    close: async () => {
      await server.close();
      cleanup();
    },
  };
}
