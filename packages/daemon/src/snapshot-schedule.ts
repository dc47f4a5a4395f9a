// Scheduled snapshots: while a volume is served, take a snapshot named
// `<prefix><UTC time>` every `intervalMs` and delete the oldest scheduled ones
// beyond `keep`. Only snapshots whose name starts with the prefix are counted
// or deleted; snapshots made by hand are never touched. A failed round is
// logged and retried at the next tick; it never stops serving.
//
// One round, in order:
//   1. create the new snapshot (skipped when the volume is read-only);
//   2. list the volume's snapshots, keep those with the prefix, newest first;
//   3. delete every one after the first `keep`.

import type { Logger } from 'pino';
import type { CairnConfig } from './config/schema.js';
import type { Component, ServedVolume } from './lifecycle.js';

export interface SnapshotSchedule {
  /** Time between scheduled snapshots (ms); 0 turns the schedule off. */
  readonly intervalMs: number;
  /** Scheduled snapshots kept (the newest ones). */
  readonly keep: number;
  /** Name prefix of scheduled snapshots. */
  readonly prefix: string;
}

/** The snapshot operations of a Filesystem (present once the inode layer exposes them). */
interface SnapshotOps {
  createSnapshot(name: string): Promise<unknown>;
  listSnapshots(): Promise<ReadonlyArray<{ name: string; createdAt: number }>> | ReadonlyArray<{ name: string; createdAt: number }>;
  deleteSnapshot(name: string): Promise<void>;
}

function snapshotOps(v: ServedVolume): SnapshotOps | undefined {
  const f = v.fs as unknown as Partial<SnapshotOps> | undefined;
  if (!f || typeof f.createSnapshot !== 'function' || typeof f.listSnapshots !== 'function' || typeof f.deleteSnapshot !== 'function') return undefined;
  return f as SnapshotOps;
}

/** `<prefix>2026-11-22T05-30-00.123Z`: sorts by time, valid as a snapshot name. */
export function scheduledSnapshotName(prefix: string, at: Date): string {
  return prefix + at.toISOString().replace(/:/g, '-');
}

/** Runs one scheduled round on `v`: create, then prune beyond `keep`. Returns what it did. */
export async function runScheduledRound(v: ServedVolume, s: SnapshotSchedule, now = new Date()): Promise<{ created?: string; deleted: string[] }> {
  const ops = snapshotOps(v);
  if (!ops) return { deleted: [] };
  let created: string | undefined;
  if (!v.readOnly) {
    created = scheduledSnapshotName(s.prefix, now);
    await ops.createSnapshot(created);
  }
  const mine = [...(await ops.listSnapshots())]
    .filter((x) => x.name.startsWith(s.prefix))
    .sort((a, b) => b.createdAt - a.createdAt || (a.name < b.name ? 1 : -1));
  const deleted: string[] = [];
  for (const old of mine.slice(Math.max(0, s.keep))) {
    await ops.deleteSnapshot(old.name);
    deleted.push(old.name);
  }
  return { ...(created !== undefined ? { created } : {}), deleted };
}

export class SnapshotScheduleComponent implements Component {
  readonly name = 'snapshot-schedule';
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; running: Promise<void> | undefined }>();
  private readonly volumes = new Map<string, ServedVolume>();

  constructor(private config: CairnConfig, private readonly scheduleOf: (config: CairnConfig, volume: string) => SnapshotSchedule, private readonly logger: Logger) {}

  async serveVolume(v: ServedVolume): Promise<void> {
    this.volumes.set(v.name, v);
    this.arm(v);
  }

  async unserveVolume(v: ServedVolume): Promise<void> {
    this.volumes.delete(v.name);
    await this.disarm(v.name);
  }

  async reload(config: CairnConfig): Promise<void> {
    this.config = config;
    for (const v of this.volumes.values()) {
      await this.disarm(v.name);
      this.arm(v);
    }
  }

  async down(): Promise<void> {
    for (const name of [...this.timers.keys()]) await this.disarm(name);
  }

  private arm(v: ServedVolume): void {
    const s = this.scheduleOf(this.config, v.name);
    if (s.intervalMs <= 0) return;
    const entry = { timer: undefined as unknown as NodeJS.Timeout, running: undefined as Promise<void> | undefined };
    entry.timer = setInterval(() => {
      if (entry.running) return; // the previous round is still going
      entry.running = runScheduledRound(v, s)
        .then((r) => this.logger.info({ volume: v.name, ...r }, 'scheduled snapshot round'))
        .catch((err: unknown) => this.logger.warn({ volume: v.name, err }, 'scheduled snapshot round failed; retrying at the next tick'))
        .finally(() => { entry.running = undefined; });
    }, s.intervalMs);
    entry.timer.unref();
    this.timers.set(v.name, entry);
  }

  private async disarm(name: string): Promise<void> {
    const e = this.timers.get(name);
    if (!e) return;
    clearInterval(e.timer);
    this.timers.delete(name);
    await e.running;
  }
}
