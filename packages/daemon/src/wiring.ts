// Dependency wiring with tsyringe: explicit injection tokens and factories
// (no decorators, no emitted metadata). Each daemon gets its own child
// container; COMPONENT registrations are resolved with resolveAll in
// registration order, which is the start order (shutdown is the reverse).
// Nothing is registered on import: buildContainer() does it when called.

import 'reflect-metadata';
import { container as rootContainer, instanceCachingFactory, type DependencyContainer, type InjectionToken } from 'tsyringe';
import { JobManager, createMetrics } from '@cairn/mgmt';
import type { Logger } from 'pino';
import { ObjectApiComponent } from './apis/object-api.js';
import { RpcComponent } from './apis/rpc.js';
import { createBackend, meteredStore } from './backend.js';
import { JobsComponent, MgmtComponent, StoreComponent } from './components.js';
import type { CairnConfig } from './config/schema.js';
import { jobRunners } from './jobs/runners.js';
import { Lifecycle, type Component } from './lifecycle.js';
import { SnapshotScheduleComponent } from './snapshot-schedule.js';
import { LocalState } from './local-state.js';
import { metricsSource } from './metrics-source.js';
import { DaemonManagementPort } from './mgmt-port.js';
import { createLocalOwnership } from './ownership.js';
import { Runtime } from './runtime.js';
import { VolumesComponent } from './volumes.js';

export const TOKENS = {
  config: Symbol('cairn.config') as InjectionToken<CairnConfig>,
  logger: Symbol('cairn.logger') as InjectionToken<Logger>,
  runtime: Symbol('cairn.runtime') as InjectionToken<Runtime>,
  volumes: Symbol('cairn.volumes') as InjectionToken<VolumesComponent>,
  mgmtPort: Symbol('cairn.mgmt-port') as InjectionToken<DaemonManagementPort>,
  rpc: Symbol('cairn.rpc') as InjectionToken<RpcComponent>,
  objectApi: Symbol('cairn.object-api') as InjectionToken<ObjectApiComponent>,
  mgmt: Symbol('cairn.mgmt') as InjectionToken<MgmtComponent>,
  /** Every component, in start order. */
  component: Symbol('cairn.component') as InjectionToken<Component>,
  lifecycle: Symbol('cairn.lifecycle') as InjectionToken<Lifecycle>,
} as const;

const cached = <T>(f: (c: DependencyContainer) => T) => ({ useFactory: instanceCachingFactory<T>(f) });

/** Registers one daemon's parts in a new child container. */
export function buildContainer(config: CairnConfig, logger: Logger): DependencyContainer {
  const c = rootContainer.createChildContainer();
  c.register(TOKENS.config, { useValue: config });
  c.register(TOKENS.logger, { useValue: logger });

  c.register(TOKENS.runtime, cached((d) => {
    const cfg = d.resolve(TOKENS.config);
    const log = d.resolve(TOKENS.logger);
    const state = new LocalState(cfg.dataDir);
    state.init();
    const nodeId = state.nodeId(cfg.nodeId);
    const credentials = state.credentials(cfg.volumes.filter((v) => v.secret === '').map((v) => v.name));
    const metrics = createMetrics();
    const raw = createBackend(cfg, log);
    const store = meteredStore(raw, metrics.meter);
    const ownership = createLocalOwnership({ store, dataDir: cfg.dataDir, nodeId, fencing: cfg.fencing, logger: log.child({ component: 'ownership' }) });
    let rt: Runtime | undefined;
    const jobs = new JobManager({
      runners: jobRunners((name) => rt?.lifecycle.get(name)),
      maxConcurrent: cfg.limits.maxConcurrentJobs,
      logger: log.child({ component: 'jobs' }),
    });
    rt = new Runtime(cfg, log, raw, store, state, nodeId, credentials, ownership, metrics, jobs);
    return rt;
  }));

  c.register(TOKENS.volumes, cached((d) => {
    const rt = d.resolve(TOKENS.runtime);
    return new VolumesComponent(rt.store, rt.ownership, rt.config, rt.logger.child({ component: 'volumes' }));
  }));
  c.register(TOKENS.mgmtPort, cached((d) => new DaemonManagementPort(d.resolve(TOKENS.runtime), d.resolve(TOKENS.volumes))));
  c.register(TOKENS.mgmt, cached((d) => new MgmtComponent(d.resolve(TOKENS.runtime), d.resolve(TOKENS.mgmtPort))));
  c.register(TOKENS.rpc, cached((d) => {
    const rt = d.resolve(TOKENS.runtime);
    return new RpcComponent(rt.config, rt.logger.child({ component: 'rpc' }));
  }));
  c.register(TOKENS.objectApi, cached((d) => {
    const rt = d.resolve(TOKENS.runtime);
    const port = d.resolve(TOKENS.mgmtPort);
    const known = async (): Promise<string[]> => [...new Set([...rt.config.volumes.map((v) => v.name), ...(await port.knownVolumeNames())])].sort();
    return new ObjectApiComponent(rt.config, (cfg) => cfg.objectApi.key || rt.credentials.objectApiKey, known, rt.logger.child({ component: 'object-api' }));
  }));

  // Start order. Shutdown runs it backwards: APIs stop accepting and drain,
  // jobs are cancelled, volumes are unserved (flush, final checkpoint,
  // release), the store is closed.
  c.register(TOKENS.component, cached((d) => new StoreComponent(d.resolve(TOKENS.runtime))));
  c.register(TOKENS.component, cached((d) => d.resolve(TOKENS.volumes)));
  c.register(TOKENS.component, cached((d) => new JobsComponent(d.resolve(TOKENS.runtime))));
  c.register(TOKENS.component, cached((d) => {
    const rt = d.resolve(TOKENS.runtime);
    return new SnapshotScheduleComponent(rt.config, (cfg) => cfg.snapshots, rt.logger.child({ component: 'snapshot-schedule' }));
  }));
  c.register(TOKENS.component, cached((d) => d.resolve(TOKENS.mgmt)));
  c.register(TOKENS.component, cached((d) => d.resolve(TOKENS.rpc)));
  c.register(TOKENS.component, cached((d) => d.resolve(TOKENS.objectApi)));

  c.register(TOKENS.lifecycle, cached((d) => {
    const rt = d.resolve(TOKENS.runtime);
    const lc = new Lifecycle(d.resolveAll(TOKENS.component), rt.logger.child({ component: 'lifecycle' }));
    rt.lifecycle = lc;
    rt.metrics.setSource(metricsSource(rt, d.resolve(TOKENS.rpc)));
    return lc;
  }));
  return c;
}
