// The one place cairnd binds @cairn/rpc: the filesystem RPC server, exporting
// each served volume with its mount secret. Unserving a volume stops new
// mounts of it; calls on old mounts then fail with CAIRN_ERR_CLOSED.

import { createCairnServer, secretsEqual, type RpcServer, type RpcServerStats } from '@cairn/rpc';
import type { Filesystem } from '@cairn/inode';
import type { Logger } from 'pino';
import type { CairnConfig } from '../config/schema.js';
import type { Component, ServedVolume } from '../lifecycle.js';

export class RpcComponent implements Component {
  readonly name = 'rpc';
  private server: RpcServer | undefined;
  private readonly exported = new Map<string, { secret: string; fs: Filesystem }>();
  address: { host: string; port: number } | undefined;

  constructor(private readonly config: CairnConfig, private readonly logger: Logger) {}

  async up(): Promise<void> {
    const c = this.config.rpc;
    if (!c.enabled) return;
    this.server = createCairnServer({
      host: this.config.listen.host,
      port: c.port,
      logger: this.logger,
      ...(c.maxConnections > 0 ? { maxConnections: c.maxConnections } : {}),
      resolveVolume: (volume, secret) => {
        const e = this.exported.get(volume);
        // Compare even when the volume is unknown, so timing tells nothing.
        const ok = secretsEqual(secret, e?.secret ?? '\0unknown volume');
        return ok && e ? e.fs : undefined;
      },
    });
    this.address = await this.server.start();
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
    await s?.close();
  }
}
