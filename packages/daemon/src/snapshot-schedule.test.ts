// Scheduled snapshot rounds against a model: after any sequence of rounds and
// hand-made snapshots, exactly the newest `keep` scheduled snapshots remain and
// no hand-made one is ever deleted.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ServedVolume } from './lifecycle.js';
import { runScheduledRound, scheduledSnapshotName } from './snapshot-schedule.js';

function fakeVolume(readOnly = false): { v: ServedVolume; snaps: Map<string, number>; clock: { now: number } } {
  const snaps = new Map<string, number>();
  const clock = { now: Date.UTC(2026, 0, 1) };
  const fs = {
    async createSnapshot(name: string) {
      if (snaps.has(name)) throw new Error(`exists: ${name}`);
      snaps.set(name, clock.now);
      return { name, createdAt: clock.now };
    },
    async listSnapshots() {
      return [...snaps].map(([name, createdAt]) => ({ name, createdAt }));
    },
    async deleteSnapshot(name: string) {
      if (!snaps.delete(name)) throw new Error(`missing: ${name}`);
    },
  };
  const v = { name: 'vol', secret: 's', force: false, fs, guarded: () => fs, readOnly, deletionsPaused: false, servedAt: 0 } as unknown as ServedVolume;
  return { v, snaps, clock };
}

describe('scheduled snapshots', () => {
  it('names sort by time and are valid snapshot names', () => {
    const a = scheduledSnapshotName('auto-', new Date(Date.UTC(2026, 10, 22, 5, 30, 0, 5)));
    const b = scheduledSnapshotName('auto-', new Date(Date.UTC(2026, 10, 22, 5, 30, 0, 6)));
    expect(a).toBe('auto-2026-11-22T05-30-00.005Z');
    expect(a < b).toBe(true);
    expect(a).toMatch(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/);
  });

  it('keeps the newest `keep` scheduled snapshots and never touches others (property)', async () => {
    const step = fc.oneof(fc.constant({ kind: 'round' as const }), fc.constant({ kind: 'manual' as const }));
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), fc.integer({ min: 0, max: 5 }), async (steps, keep) => {
        const { v, snaps, clock } = fakeVolume();
        const scheduled: string[] = [];
        const manual: string[] = [];
        for (const [i, s] of steps.entries()) {
          clock.now += 1000;
          if (s.kind === 'round') {
            const r = await runScheduledRound(v, { intervalMs: 1000, keep, prefix: 'auto-' }, new Date(clock.now));
            expect(r.created).toBeDefined();
            scheduled.push(r.created!);
          } else {
            const name = `manual-${i}`;
            await (v.fs as unknown as { createSnapshot(n: string): Promise<unknown> }).createSnapshot(name);
            manual.push(name);
          }
        }
        const remaining = [...snaps.keys()];
        const want = scheduled.slice(Math.max(0, scheduled.length - keep));
        expect(remaining.filter((n) => n.startsWith('auto-')).sort()).toEqual(keep === 0 ? [] : want.sort());
        expect(remaining.filter((n) => !n.startsWith('auto-')).sort()).toEqual(manual.sort());
      }),
      { numRuns: 100 },
    );
  });

  it('a read-only volume is pruned but gets no new snapshot', async () => {
    const { v, snaps } = fakeVolume(true);
    snaps.set('auto-a', 1);
    snaps.set('auto-b', 2);
    snaps.set('auto-c', 3);
    const r = await runScheduledRound(v, { intervalMs: 1000, keep: 1, prefix: 'auto-' });
    expect(r).toEqual({ deleted: ['auto-b', 'auto-a'] });
    expect([...snaps.keys()]).toEqual(['auto-c']);
  });
});
