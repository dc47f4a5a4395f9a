// The daemon's transitions, in the style of proxyfs's transitions package:
// every part of cairnd is a Component registered (through tsyringe, see
// wiring.ts) in start order. up() and serveVolume() run in registration order;
// unserveVolume() and down() run in reverse. A failure half-way through a serve
// undoes the components that already took the volume, in reverse.

import { cairnError } from '@cairn/errors';
import type { Filesystem } from '@cairn/inode';
import type { Logger } from 'pino';
import type { CairnConfig } from './config/schema.js';

/** The state of one volume while it is served. */
export interface ServedVolume {
  readonly name: string;
  /** The RPC mount secret. */
  readonly secret: string;
  /** Take over an owner record left by another daemon. */
  readonly force: boolean;
  /** Set by the volumes component once mounted. */
  fs: Filesystem | undefined;
  /** The filesystem as an API sees it: read-only switch and metering applied. */
  guarded(api: string): Filesystem;
  readOnly: boolean;
  deletionsPaused: boolean;
  readonly servedAt: number;
}

export interface Component {
  readonly name: string;
  /** Start: open, connect, listen. */
  up?(): Promise<void>;
  /** A volume is being served (the volumes component mounts it; APIs export it). */
  serveVolume?(v: ServedVolume): Promise<void>;
  /** A volume is being unserved (APIs stop exporting it; the volumes component unmounts it). */
  unserveVolume?(v: ServedVolume): Promise<void>;
  /** SIGHUP: take what can change live from the new configuration. */
  reload?(config: CairnConfig): Promise<void>;
  /** Stop: stop accepting, finish in-flight work, close. */
  down?(): Promise<void>;
}

export class Lifecycle {
  private readonly upDone: Component[] = [];
  private readonly volumes = new Map<string, ServedVolume>();
  private readonly busy = new Map<string, Promise<unknown>>();

  constructor(private readonly components: readonly Component[], private readonly logger: Logger) {}

  get names(): string[] {
    return this.components.map((c) => c.name);
  }

  async up(): Promise<void> {
    for (const c of this.components) {
      const t0 = performance.now();
      await c.up?.();
      this.upDone.push(c);
      this.logger.debug({ component: c.name, ms: Math.round(performance.now() - t0) }, 'component up');
    }
  }

  served(): ServedVolume[] {
    return [...this.volumes.values()];
  }

  get(name: string): ServedVolume | undefined {
    return this.volumes.get(name);
  }

  /** One serve/unserve per volume at a time: a second one waits for the first. */
  private exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const before = this.busy.get(name) ?? Promise.resolve();
    const run = before.catch(() => undefined).then(fn);
    const tail = run.catch(() => undefined);
    this.busy.set(name, tail);
    void tail.then(() => {
      if (this.busy.get(name) === tail) this.busy.delete(name);
    });
    return run;
  }

  serve(v: ServedVolume): Promise<ServedVolume> {
    return this.exclusive(v.name, async () => {
      if (this.volumes.has(v.name)) throw cairnError('CAIRN_ERR_MGMT_ALREADY_SERVED', v.name);
      const done: Component[] = [];
      try {
        for (const c of this.components) {
          if (!this.upDone.includes(c)) continue;
          await c.serveVolume?.(v);
          done.push(c);
        }
      } catch (err) {
        for (const c of done.reverse()) {
          await c.unserveVolume?.(v).catch((e: unknown) => this.logger.error({ err: e, component: c.name, volume: v.name }, 'undoing a failed serve failed'));
        }
        throw err;
      }
      this.volumes.set(v.name, v);
      this.logger.info({ volume: v.name }, 'volume served');
      return v;
    });
  }

  unserve(name: string): Promise<ServedVolume> {
    return this.exclusive(name, async () => {
      const v = this.volumes.get(name);
      if (!v) throw cairnError('CAIRN_ERR_MGMT_NOT_SERVED', name);
      this.volumes.delete(name);
      let first: unknown;
      for (const c of [...this.components].reverse()) {
        try {
          await c.unserveVolume?.(v);
        } catch (err) {
          this.logger.error({ err, component: c.name, volume: name }, 'unserve step failed');
          first ??= err;
        }
      }
      if (first !== undefined) throw first;
      this.logger.info({ volume: name }, 'volume unserved');
      return v;
    });
  }

  async reload(config: CairnConfig): Promise<void> {
    for (const c of this.upDone) await c.reload?.(config);
  }

  /** Unserves every volume, then takes every component down in reverse start order. Never throws; returns the failures. */
  async down(): Promise<unknown[]> {
    const failures: unknown[] = [];
    // APIs stop accepting first (they are registered after the volumes component).
    const order = [...this.upDone].reverse();
    const volumesIdx = order.findIndex((c) => c.name === 'volumes');
    const before = volumesIdx < 0 ? order : order.slice(0, volumesIdx);
    const after = volumesIdx < 0 ? [] : order.slice(volumesIdx);
    const step = async (c: Component): Promise<void> => {
      const t0 = performance.now();
      try {
        await c.down?.();
        this.logger.info({ component: c.name, ms: Math.round(performance.now() - t0) }, 'component down');
      } catch (err) {
        failures.push(err);
        this.logger.error({ err, component: c.name }, 'component failed to stop');
      }
    };
    for (const c of before) await step(c);
    for (const name of [...this.volumes.keys()].reverse()) {
      try {
        await this.unserve(name);
      } catch (err) {
        failures.push(err);
      }
    }
    for (const c of after) await step(c);
    this.upDone.length = 0;
    return failures;
  }
}
