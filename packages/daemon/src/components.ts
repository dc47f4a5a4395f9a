// The small components: the object store (self-check at start, close at
// stop), the jobs (cancelled before a volume is unserved), and the management
// API server (listens first, so that /healthz answers while volumes mount).

import { cairnError } from '@cairn/errors';
import { createMgmtServer, type MgmtServer } from '@cairn/mgmt';
import type { CairnConfig } from './config/schema.js';
import type { Component, ServedVolume } from './lifecycle.js';
import type { DaemonManagementPort } from './mgmt-port.js';
import { VERSION } from './mgmt-port.js';
import type { Runtime } from './runtime.js';
import { runSelfCheck } from './selfcheck.js';

export class StoreComponent implements Component {
  readonly name = 'objstore';
  constructor(private readonly rt: Runtime) {}

  async up(): Promise<void> {
    if (!this.rt.config.backend.selfCheck) return;
    const report = await runSelfCheck(this.rt.rawStore);
    const log = this.rt.logger.child({ component: 'selfcheck' });
    for (const s of report.steps) {
      log[s.ok ? 'debug' : 'error']({ step: s.step, ms: Number(s.ms.toFixed(2)), detail: s.detail }, s.ok ? 'self-check step ok' : 'self-check step FAILED');
    }
    if (!report.ok) {
      const failed = report.steps.filter((s) => !s.ok).map((s) => `${s.step}: ${s.detail ?? 'failed'}`);
      throw cairnError('CAIRN_ERR_OBJ_BACKEND', `self-check of the ${report.backend} backend failed (${failed.join('; ')})`);
    }
    log.info({ backend: report.backend, steps: report.steps.length }, 'object store self-check passed');
  }

  async down(): Promise<void> {
    await this.rt.rawStore.close();
  }
}

export class JobsComponent implements Component {
  readonly name = 'jobs';
  constructor(private readonly rt: Runtime) {}

  async unserveVolume(v: ServedVolume): Promise<void> {
    await this.rt.jobs.cancelVolume(v.name);
  }

  async reload(config: CairnConfig): Promise<void> {
    this.rt.jobs.setMaxConcurrent(config.limits.maxConcurrentJobs);
  }

  async down(): Promise<void> {
    await this.rt.jobs.close();
  }
}

export class MgmtComponent implements Component {
  readonly name = 'mgmt';
  private server: MgmtServer | undefined;

  constructor(private readonly rt: Runtime, private readonly port: DaemonManagementPort) {}

  private tokens(config: CairnConfig): { adminToken: string; readTokens: string[] } {
    return { adminToken: config.mgmt.adminToken || this.rt.credentials.adminToken, readTokens: config.mgmt.readTokens };
  }

  async up(): Promise<void> {
    const c = this.rt.config;
    this.server = await createMgmtServer({
      port: this.port, jobs: this.rt.jobs, metrics: this.rt.metrics, tokens: this.tokens(c),
      logger: this.rt.logger.child({ component: 'mgmt' }), docs: c.mgmt.docs, bodyLimitBytes: c.mgmt.bodyLimitBytes, version: VERSION,
    });
    this.rt.listeners.mgmt = await this.server.listen(c.listen.host, c.mgmt.port);
  }

  /** The OpenAPI document (tests, docs generation). */
  openapi(): Promise<Record<string, unknown>> | undefined {
    return this.server?.openapi();
  }

  async reload(config: CairnConfig): Promise<void> {
    this.server?.setTokens(this.tokens(config));
  }

  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    await s?.close();
  }
}
