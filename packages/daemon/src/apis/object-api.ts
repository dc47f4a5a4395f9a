// The one place cairnd binds @cairn/object-api: the Swift/S3 server, with one
// account per volume (AUTH_<volume>) and one user per account
// (<volume>:<objectApi.user>, key objectApi.key). Users are fixed when the
// server starts: they are made for every volume known then (configured or in
// the catalog); a volume created later gets its user at the next start.
//
// Each served volume is bound with fromFilesystem() as root (the object API
// checks its own credentials; the filesystem sees uid 0).

import { createObjectApiServer, fromFilesystem, type VolumeFs } from '@cairn/object-api';
import { ROOT_CRED } from '@cairn/inode';
import type { Logger } from 'pino';
import type { CairnConfig } from '../config/schema.js';
import type { Component, ServedVolume } from '../lifecycle.js';

type ObjectApiServer = Awaited<ReturnType<typeof createObjectApiServer>>;

export const accountOf = (volume: string): string => `AUTH_${volume}`;

export class ObjectApiComponent implements Component {
  readonly name = 'object-api';
  private app: ObjectApiServer | undefined;
  private readonly exported = new Map<string, VolumeFs>();
  url: string | undefined;

  constructor(
    private readonly config: CairnConfig,
    private readonly key: string,
    /** Volumes to make users for. */
    private readonly knownVolumes: () => Promise<string[]>,
    private readonly logger: Logger,
  ) {}

  async up(): Promise<void> {
    const c = this.config.objectApi;
    if (!c.enabled) return;
    const volumes = await this.knownVolumes();
    this.app = await createObjectApiServer({
      volumes: (account) => this.exported.get(account),
      maxObjectBytes: c.maxObjectBytes,
      logger: this.logger,
      ...(c.swift ? { swift: { users: volumes.map((v) => ({ account: v, user: c.user, key: this.key })) } } : {}),
      ...(c.s3 ? { s3: { credentials: volumes.map((v) => ({ accessKeyId: `${v}:${c.user}`, secretAccessKey: this.key, account: accountOf(v) })) } } : {}),
    });
    const host = this.config.listen.host;
    await this.app.listen({ host, port: c.port });
    const addr = this.app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : c.port;
    this.url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  async serveVolume(v: ServedVolume): Promise<void> {
    if (!this.app) return;
    this.exported.set(accountOf(v.name), fromFilesystem(v.guarded('object'), { name: v.name, cred: ROOT_CRED }));
  }

  async unserveVolume(v: ServedVolume): Promise<void> {
    this.exported.delete(accountOf(v.name));
  }

  /** Stops accepting and waits for in-flight requests. */
  async down(): Promise<void> {
    const app = this.app;
    this.app = undefined;
    await app?.close();
  }
}
