import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { cairnError } from '@cairn/errors';
import { JobManager, type JobContext } from './jobs.js';
import { METRICS } from './metrics-table.js';
import { createMetrics } from './metrics.js';

const logger = pino({ level: 'silent' });

/** A runner that waits until released, reporting progress. */
function gated() {
  const gates: Array<() => void> = [];
  const contexts: JobContext[] = [];
  const runner = (ctx: JobContext) => new Promise<Record<string, unknown>>((resolve, reject) => {
    contexts.push(ctx);
    ctx.progress({ done: 1, total: 4, bytes: 100, unit: 'things' });
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
    gates.push(() => resolve({ ok: true }));
  });
  return { runner, gates, contexts };
}

describe('JobManager', () => {
  it('runs a job to success with progress, rate and ETA', async () => {
    let t = 1_000_000;
    const g = gated();
    const jobs = new JobManager({ runners: { fsck: g.runner }, logger, now: () => t });
    const v = jobs.start('fsck', 'vol1');
    expect(v.state).toBe('running');
    t += 2000;
    const mid = jobs.get(v.id);
    expect(mid.progress).toMatchObject({ done: 1, total: 4, bytes: 100, unit: 'things', fraction: 0.25, rate: 0.5, bytesPerSecond: 50, etaSeconds: 6 });
    g.gates[0]!();
    const done = await jobs.wait(v.id);
    expect(done.state).toBe('succeeded');
    expect(done.result).toEqual({ ok: true });
    expect(done.progress.etaSeconds).toBeUndefined();
  });

  it('allows one job of a kind per volume, queues beyond the concurrency limit', async () => {
    const g = gated();
    const jobs = new JobManager({ runners: { fsck: g.runner, scrub: g.runner }, maxConcurrent: 1, logger });
    const a = jobs.start('fsck', 'vol1');
    expect(() => jobs.start('fsck', 'vol1')).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_MGMT_JOB_RUNNING' }));
    const b = jobs.start('scrub', 'vol1');
    const c = jobs.start('fsck', 'vol2');
    expect(jobs.get(b.id).state).toBe('queued');
    expect(jobs.active).toBe(3);
    g.gates[0]!();
    await jobs.wait(a.id);
    await new Promise((r) => setImmediate(r));
    expect(jobs.get(b.id).state).toBe('running');
    expect(jobs.get(c.id).state).toBe('queued');
    jobs.setMaxConcurrent(2);
    await new Promise((r) => setImmediate(r));
    expect(jobs.get(c.id).state).toBe('running');
    g.gates[1]!();
    g.gates[2]!();
    await jobs.wait(c.id);
    expect(jobs.counts().find((x) => x.kind === 'fsck' && x.state === 'succeeded')?.count).toBe(2);
  });

  it('cancels queued and running jobs, and records failures', async () => {
    const g = gated();
    const jobs = new JobManager({
      runners: { fsck: g.runner, clean: async () => { throw cairnError('CAIRN_ERR_NOT_SUPPORTED', 'clean'); } },
      maxConcurrent: 1, logger,
    });
    const a = jobs.start('fsck', 'vol1');
    const b = jobs.start('clean', 'vol1');
    expect(jobs.cancel(b.id).state).toBe('canceled');
    jobs.cancel(a.id);
    expect((await jobs.wait(a.id)).state).toBe('canceled');
    const c = jobs.start('clean', 'vol1');
    const failed = await jobs.wait(c.id);
    expect(failed.state).toBe('failed');
    expect(failed.error?.code).toBe('CAIRN_ERR_NOT_SUPPORTED');
    expect(() => jobs.get('nope')).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_MGMT_NO_SUCH_JOB' }));
    expect(() => jobs.start('scrub', 'vol1')).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_NOT_SUPPORTED' }));
  });

  it('close() cancels everything and refuses new jobs', async () => {
    const g = gated();
    const jobs = new JobManager({ runners: { fsck: g.runner }, logger });
    const a = jobs.start('fsck', 'vol1');
    await jobs.close();
    expect(jobs.get(a.id).state).toBe('canceled');
    expect(() => jobs.start('fsck', 'vol2')).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_MGMT_SHUTTING_DOWN' }));
  });
});

describe('metrics table', () => {
  it('names are unique, prefixed and typed', () => {
    const names = Object.values(METRICS).map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    for (const m of Object.values(METRICS)) {
      expect(m.name).toMatch(/^cairn_[a-z0-9_]+$/);
      if (m.type === 'counter') expect(m.name).toMatch(/_total$/);
    }
  });
  it('fills series from a snapshot without doubling counters across scrapes', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.setSource(() => ({
      up: true, jobs: [], backend: { kind: 'memory', requests: 7, errors: 1, retries: 2, bytesIn: 10, bytesOut: 20 },
      volumes: [{
        name: 'v', replayLog: { records: 5, batches: 2, maxBatch: 3, fsyncMicrosP50: 250, fsyncMicrosP99: 900 },
        intentLog: { held: 4, heldBytes: 16384, logged: 9, loggedBytes: 36864, resolved: 5, rewritten: 0, recovered: 1 },
      }],
    }));
    await metrics.render();
    const text = await metrics.render();
    expect(text).toContain('cairn_intentlog_held_bytes{volume="v"} 16384');
    expect(text).toContain('cairn_intentlog_logged_total{volume="v"} 9');
    expect(text).toContain('cairn_intentlog_recovered_total{volume="v"} 1');
    expect(text).toContain('cairn_backend_requests_total{backend="memory"} 7');
    expect(text).toContain('cairn_replaylog_fsync_seconds{volume="v",quantile="0.99"} 0.0009');
    expect(text).toContain('cairn_volume_served{volume="v"} 1');
  });
});
