// cairnd as a library: createDaemon() builds one daemon's container; start()
// brings every component up, formats the volumes that should exist on first
// start and serves the volumes to serve; stop() takes everything down in
// reverse; reload() applies what can change live.

import { isCairnError } from '@cairn/errors';
import type { Logger } from 'pino';
import type { ObjectApiComponent } from './apis/object-api.js';
import type { RpcComponent } from './apis/rpc.js';
import type { MgmtComponent } from './components.js';
import type { CairnConfig } from './config/schema.js';
import type { Lifecycle } from './lifecycle.js';
import type { DaemonManagementPort } from './mgmt-port.js';
import type { Runtime } from './runtime.js';
import type { VolumesComponent } from './volumes.js';
import { setLogLevel } from './logger.js';
import { TOKENS, buildContainer } from './wiring.js';

export interface DaemonOptions {
  readonly config: CairnConfig;
  readonly logger: Logger;
}

/** What start() reports (the banner prints it). */
export interface StartInfo {
  readonly nodeId: string;
  readonly backend: string;
  readonly dataDir: string;
  readonly mgmtUrl: string;
  readonly rpc?: { host: string; port: number };
  /** The RPC API's Unix-domain socket, when configured. */
  readonly rpcSocket?: string;
  readonly objectApiUrl?: string;
  /** Generated (not configured) secrets, for the local default. */
  readonly adminToken: { value: string; generated: boolean };
  readonly objectApi: { user: string; key: string; generated: boolean };
  readonly volumes: ReadonlyArray<{ name: string; served: boolean; secret: string; secretGenerated: boolean; error?: string }>;
}

export interface Daemon {
  start(): Promise<StartInfo>;
  /** Graceful: stop accepting, finish in-flight work, flush, final checkpoints, release ownership, close. Returns the failures. */
  stop(): Promise<unknown[]>;
  reload(config: CairnConfig): Promise<void>;
  /** The management API's OpenAPI document (after start). */
  openapi(): Promise<Record<string, unknown>>;
  readonly runtime: Runtime;
}

export function createDaemon(o: DaemonOptions): Daemon {
  const c = buildContainer(o.config, o.logger);
  const rt = c.resolve(TOKENS.runtime);
  const lifecycle: Lifecycle = c.resolve(TOKENS.lifecycle);
  const volumes: VolumesComponent = c.resolve(TOKENS.volumes);
  const port: DaemonManagementPort = c.resolve(TOKENS.mgmtPort);
  const rpc: RpcComponent = c.resolve(TOKENS.rpc);
  const objectApi: ObjectApiComponent = c.resolve(TOKENS.objectApi);
  const mgmt: MgmtComponent = c.resolve(TOKENS.mgmt);
  const log = rt.logger;
  let stopping: Promise<unknown[]> | undefined;

  /** Whether `name` should be served now: a run-time decision wins over the configuration. */
  const wanted = (name: string, configured: boolean | undefined): boolean => rt.state.servedOverrides()[name] ?? configured ?? false;

  async function serveOne(name: string, format: boolean): Promise<string | undefined> {
    try {
      if (format && !(await volumes.isFormatted(name))) {
        const entry = rt.config.volumes.find((v) => v.name === name);
        await volumes.create(name, entry?.dataContainers ?? []);
      }
      await lifecycle.serve(rt.newServed(name));
      return undefined;
    } catch (err) {
      log.error({ err, volume: name }, 'could not serve volume');
      return isCairnError(err) ? `${err.code}: ${err.message}` : String(err);
    }
  }

  return {
    runtime: rt,
    async start() {
      log.info({ dataDir: rt.config.dataDir, backend: rt.config.backend.kind, node: rt.nodeId, components: lifecycle.names }, 'cairnd starting');
      rt.notReadyReason = 'starting components';
      try {
        await lifecycle.up();
      } catch (err) {
        log.error({ err }, 'start failed; stopping what started');
        await lifecycle.down();
        throw err;
      }
      rt.listeners.rpc = rpc.address;
      rt.listeners.rpcSocket = rpc.socketPath;
      rt.listeners.object = objectApi.url;
      rt.notReadyReason = 'serving volumes';
      const errors = new Map<string, string>();
      const configured = new Set(rt.config.volumes.map((v) => v.name));
      for (const v of rt.config.volumes) {
        if (!wanted(v.name, v.serve)) continue;
        const e = await serveOne(v.name, v.format);
        if (e) errors.set(v.name, e);
      }
      for (const [name, serve] of Object.entries(rt.state.servedOverrides())) {
        if (!serve || configured.has(name)) continue;
        const e = await serveOne(name, false);
        if (e) errors.set(name, e);
      }
      rt.ready = errors.size === 0;
      rt.notReadyReason = errors.size === 0 ? '' : `volumes failed to serve: ${[...errors.keys()].join(', ')}`;
      rt.state.writeRuntime({
        pid: process.pid, nodeId: rt.nodeId, startedAt: new Date(rt.startedAt).toISOString(), mgmtUrl: rt.listeners.mgmt!,
        ...(rt.listeners.rpc ? { rpc: rt.listeners.rpc } : {}), ...(rt.listeners.object ? { objectApiUrl: rt.listeners.object } : {}),
      });
      const names = [...new Set([...rt.config.volumes.map((v) => v.name), ...lifecycle.served().map((v) => v.name)])];
      const info: StartInfo = {
        nodeId: rt.nodeId, backend: rt.rawStore.kind, dataDir: rt.config.dataDir, mgmtUrl: rt.listeners.mgmt!,
        ...(rt.listeners.rpc ? { rpc: rt.listeners.rpc } : {}), ...(rt.listeners.object ? { objectApiUrl: rt.listeners.object } : {}),
        ...(rt.listeners.rpcSocket ? { rpcSocket: rt.listeners.rpcSocket } : {}),
        adminToken: { value: rt.adminToken, generated: rt.config.mgmt.adminToken === '' },
        objectApi: { user: rt.config.objectApi.user, key: rt.objectApiKey, generated: rt.config.objectApi.key === '' },
        volumes: names.map((name) => {
          const cfgSecret = rt.config.volumes.find((v) => v.name === name)?.secret ?? '';
          const e = errors.get(name);
          return { name, served: lifecycle.get(name) !== undefined, secret: rt.secretOf(name), secretGenerated: cfgSecret === '', ...(e ? { error: e } : {}) };
        }),
      };
      log.info({ listeners: port.listeners(), served: lifecycle.served().map((v) => v.name), ready: rt.ready }, 'cairnd started');
      return info;
    },
    stop() {
      stopping ??= (async () => {
        rt.shuttingDown = true;
        rt.ready = false;
        log.info('cairnd stopping');
        const failures = await lifecycle.down();
        rt.state.removeRuntime();
        log.info({ failures: failures.length }, 'cairnd stopped');
        return failures;
      })();
      return stopping;
    },
    async reload(config) {
      const next: CairnConfig = { ...config, dataDir: rt.config.dataDir };
      if (config.dataDir !== rt.config.dataDir) log.warn('dataDir cannot change without a restart; keeping the old one');
      setLogLevel(rt.logger, next.log.level);
      rt.config = next;
      await lifecycle.reload(next);
      for (const v of next.volumes) {
        const serve = wanted(v.name, v.serve);
        const served = lifecycle.get(v.name) !== undefined;
        if (serve && !served) await serveOne(v.name, v.format);
        if (!serve && served) await lifecycle.unserve(v.name).catch((err: unknown) => log.error({ err, volume: v.name }, 'unserve on reload failed'));
      }
      log.info({ level: next.log.level }, 'configuration reloaded');
    },
    async openapi() {
      const doc = await mgmt.openapi();
      if (!doc) throw new Error('the management API is not running');
      return doc;
    },
  };
}
