// The state one running cairnd shares between its components: configuration,
// logger, object store, local files, node id, credentials, metrics, jobs and
// the lifecycle. Built once per daemon by wiring.ts.

import type { CairnMetrics, JobManager } from '@cairn/mgmt';
import type { ObjectStore } from '@cairn/objstore';
import type { Logger } from 'pino';
import type { CairnConfig } from './config/schema.js';
import { guardFilesystem } from './fs-guard.js';
import type { Lifecycle, ServedVolume } from './lifecycle.js';
import type { LocalState, StoredCredentials } from './local-state.js';
import type { VolumeOwnership } from './ownership.js';

export interface Listeners {
  mgmt?: string;
  rpc?: { host: string; port: number };
  /** The RPC API's Unix-domain socket, when configured. */
  rpcSocket?: string;
  object?: string;
}

export class Runtime {
  ready = false;
  notReadyReason = 'starting';
  shuttingDown = false;
  readonly startedAt = Date.now();
  readonly listeners: Listeners = {};
  lifecycle!: Lifecycle;

  constructor(
    public config: CairnConfig,
    readonly logger: Logger,
    /** The store as configured (its stats() feed the backend metrics). */
    readonly rawStore: ObjectStore,
    /** The metered store every component uses. */
    readonly store: ObjectStore,
    readonly state: LocalState,
    readonly nodeId: string,
    public credentials: StoredCredentials,
    readonly ownership: VolumeOwnership,
    readonly metrics: CairnMetrics,
    readonly jobs: JobManager,
  ) {}

  /** The RPC mount secret of a volume: configured, or generated and kept locally. */
  secretOf(volume: string): string {
    const configured = this.config.volumes.find((v) => v.name === volume)?.secret;
    if (configured) return configured;
    const got = this.credentials.volumeSecrets[volume];
    if (got) return got;
    const s = this.state.volumeSecret(volume);
    this.credentials = { ...this.credentials, volumeSecrets: { ...this.credentials.volumeSecrets, [volume]: s } };
    return s;
  }

  /** The admin token: configured, or generated and kept locally. */
  get adminToken(): string {
    return this.config.mgmt.adminToken || this.credentials.adminToken;
  }

  get objectApiKey(): string {
    return this.config.objectApi.key || this.credentials.objectApiKey;
  }

  /** A new ServedVolume shell for lifecycle.serve(). */
  newServed(name: string, force = false): ServedVolume {
    const meter = this.metrics.meter;
    const v: ServedVolume = {
      name, secret: this.secretOf(name), force, fs: undefined, readOnly: false, deletionsPaused: false, servedAt: Date.now(),
      guarded: (api) => {
        if (!v.fs) throw new Error(`volume ${name} is not mounted`);
        return guardFilesystem(v.fs, api, { volume: name, readOnly: () => v.readOnly }, meter);
      },
    };
    return v;
  }
}
