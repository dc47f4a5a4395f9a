// The one place cairnd binds @cairn/object-api: the Swift/S3 server, with one
// account per volume (AUTH_<volume>) and one user per account
// (<volume>:<objectApi.user>, key objectApi.key). Users are made for every
// volume known (configured, in the catalog, or served) at start, again when a
// volume is served, and on SIGHUP: a changed key or user name takes effect at
// once and ends the tokens issued under the old one.
//
// Each served volume is bound with fromFilesystem() as root (the object API
// checks its own credentials; the filesystem sees uid 0).

import { createObjectApiServer, fromFilesystem, type S3Credential, type SwiftUser, type VolumeFs } from '@cairn/object-api';
import { ROOT_CRED } from '@cairn/inode';
import type { Logger } from 'pino';
import type { CairnConfig } from '../config/schema.js';
import type { Component, ServedVolume } from '../lifecycle.js';

type ObjectApiServer = Awaited<ReturnType<typeof createObjectApiServer>>;

export const accountOf = (volume: string): string => `AUTH_${volume}`;

export class ObjectApiComponent implements Component {
  readonly name = 'object-api';
  private app: ObjectApiServer | undefined;
  /** Which faces the running server has (turning one on or off needs a restart). */
  private faces = { swift: false, s3: false };
  private readonly exported = new Map<string, VolumeFs>();
  url: string | undefined;

  constructor(
    private config: CairnConfig,
    /** The object API key for a configuration (configured, or the generated one). */
    private readonly keyOf: (config: CairnConfig) => string,
    /** Volumes to make users for. */
    private readonly knownVolumes: () => Promise<string[]>,
    private readonly logger: Logger,
  ) {}

  async up(): Promise<void> {
    const c = this.config.objectApi;
    if (!c.enabled) return;
    const { users, credentials } = await this.identities();
    this.faces = { swift: c.swift, s3: c.s3 };
    this.app = await createObjectApiServer({
      volumes: (account) => this.exported.get(account),
      maxObjectBytes: c.maxObjectBytes,
      logger: this.logger,
      ...(c.swift ? { swift: { users } } : {}),
      ...(c.s3 ? { s3: { credentials } } : {}),
    });
    const host = this.config.listen.host;
    await this.app.listen({ host, port: c.port });
    const addr = this.app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : c.port;
    this.url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /** The Swift users and S3 keys of every known volume under the current configuration. */
  private async identities(): Promise<{ users: SwiftUser[]; credentials: S3Credential[] }> {
    const c = this.config.objectApi;
    const key = this.keyOf(this.config);
    const volumes = [...new Set([...(await this.knownVolumes()), ...[...this.exported.keys()].map((a) => a.slice('AUTH_'.length))])].sort();
    return {
      users: volumes.map((v) => ({ account: v, user: c.user, key })),
      credentials: volumes.map((v) => ({ accessKeyId: `${v}:${c.user}`, secretAccessKey: key, account: accountOf(v) })),
    };
  }

  /** Replaces the users and keys of the running server (a new volume, or a reload). */
  private async refreshIdentities(): Promise<void> {
    const app = this.app;
    if (!app) return;
    const { users, credentials } = await this.identities();
    if (this.faces.swift) app.setUsers(users);
    if (this.faces.s3) app.setS3Credentials(credentials);
  }

  async serveVolume(v: ServedVolume): Promise<void> {
    if (!this.app) return;
    this.exported.set(accountOf(v.name), fromFilesystem(v.guarded('object'), { name: v.name, cred: ROOT_CRED }));
    await this.refreshIdentities();
  }

  /** SIGHUP: a changed key or user name applies at once (port and enabled APIs need a restart). */
  async reload(config: CairnConfig): Promise<void> {
    this.config = config;
    await this.refreshIdentities();
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
