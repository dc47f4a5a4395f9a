// The one place cairnd binds @cairn/rpc: the filesystem RPC server, exporting
// each served volume with its mount secret. Unserving a volume stops new
// mounts of it; calls on old mounts then fail with CAIRN_ERR_CLOSED.
//
// It listens on TCP (listen.host, rpc.port) and/or on a Unix-domain socket
// (rpc.socketPath, relative to dataDir) for frontends on the same host; the
// socket is removed at shutdown, and a stale one from a crash is replaced.

import { resolve } from 'node:path';
import { cairnError } from '@cairn/errors';
import { createCairnServer, secretsEqual, type RpcServer, type RpcServerStats } from '@cairn/rpc';
import type { Filesystem } from '@cairn/inode';
import type { Logger } from 'pino';
import type { CairnConfig } from '../config/schema.js';
import type { Component, ServedVolume } from '../lifecycle.js';

export class RpcComponent implements Component {
  readonly name = 'rpc';
  private server: RpcServer | undefined;
  private readonly exported = new Map<string, { secret: string; fs: Filesystem }>();
  /** The TCP listener (undefined without one). */
  address: { host: string; port: number } | undefined;
  /** The Unix-domain socket (undefined without one). */
  socketPath: string | undefined;

  constructor(private readonly config: CairnConfig, private readonly logger: Logger) {}

  async up(): Promise<void> {
    const c = this.config.rpc;
    if (!c.enabled) return;
    const socketPath = c.socketPath === '' ? undefined : resolve(this.config.dataDir, c.socketPath);
    if (!c.tcp && socketPath === undefined) throw cairnError('CAIRN_ERR_CONFIG_INVALID', 'rpc.tcp is false and rpc.socketPath is empty: the RPC API would listen nowhere (set one, or rpc.enabled: false)');
    this.server = createCairnServer({
      host: this.config.listen.host,
      port: c.port,
      tcp: c.tcp,
      ...(socketPath !== undefined ? { socketPath, socketMode: parseInt(c.socketMode, 8) } : {}),
      logger: this.logger,
      ...(c.maxConnections > 0 ? { maxConnections: c.maxConnections } : {}),
      resolveVolume: (volume, secret) => {
        const e = this.exported.get(volume);
        // Compare even when the volume is unknown, so timing tells nothing.
        const ok = secretsEqual(secret, e?.secret ?? '\0unknown volume');
        return ok && e ? e.fs : undefined;
      },
    });
    const bound = await this.server.start();
    this.address = c.tcp ? { host: bound.host, port: bound.port } : undefined;
    this.socketPath = bound.socketPath;
  }

  async serveVolume(v: ServedVolume): Promise<void> {
    this.exported.set(v.name, { secret: v.secret, fs: v.guarded('rpc') });
  }

  async unserveVolume(v: ServedVolume): Promise<void> {
    this.exported.delete(v.name);
  }

  stats(): RpcServerStats | undefined {
    return this.server?.stats();
  }

  /** Stops accepting, closes connections, waits for running calls. */
  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    this.address = undefined;
    this.socketPath = undefined;
    await s?.close(); // also removes the socket file
  }
}
