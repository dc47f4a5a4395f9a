// Test support (not exported by the package): a volume on the in-memory
// object store and the in-memory replay log, with remount and crash helpers.

import { cairnError } from '@cairn/errors';
import type { Container, ObjectStore } from '@cairn/objstore';
import { createMemoryStore } from '@cairn/objstore';
import type { FormatOptions, Headhunter, HeadhunterOptions } from '../index.js';
import { formatVolume, openVolume } from '../mount.js';
import { NODE_OBJECT_PREFIX } from '../format.js';
import { MemoryLog } from './memory-log.js';

/** Small nodes so that a few hundred entries make a deep tree. */
export const SMALL_SHAPE = { leafMaxEntries: 5, indexMaxEntries: 5, maxNodeBytes: 32 * 1024 } as const;

export interface TestVolume {
  readonly store: ObjectStore;
  readonly container: Container;
  log: MemoryLog;
  db: Headhunter;
  /** Options used for every mount (may be changed between mounts). */
  options: Partial<HeadhunterOptions>;
  /** Clean close and mount again (same log). */
  remount(): Promise<Headhunter>;
  /** Simulated kill -9: the instance is abandoned; the log keeps what was durable (plus `extraPending`). */
  crash(extraPending?: number): Promise<Headhunter>;
}

export async function makeVolume(
  format: Partial<FormatOptions> = {},
  options: Partial<HeadhunterOptions> = {},
): Promise<TestVolume> {
  const store = createMemoryStore();
  const container = store.container('vol-test');
  await formatVolume({ container, trees: ['t'], ...SMALL_SHAPE, ...format });
  const log = new MemoryLog();
  const v: TestVolume = {
    store, container, log, options,
    db: undefined as unknown as Headhunter,
    async remount() {
      await v.db.close();
      v.db = await openVolume({ container: current, log: v.log, checkpointIntervalMs: 3_600_000, ...v.options });
      return v.db;
    },
    async crash(extraPending = 0) {
      kill();
      abandon(v.db);
      v.log = v.log.crash(extraPending);
      ({ container: current, kill } = killable(container));
      v.db = await openVolume({ container: current, log: v.log, checkpointIntervalMs: 3_600_000, ...v.options });
      return v.db;
    },
  };
  let { container: current, kill } = killable(container);
  v.db = await openVolume({ container: current, log, checkpointIntervalMs: 3_600_000, ...options });
  return v;
}

/** A view of a container that refuses every call once kill() was called (a dead process does nothing more). */
export function killable(inner: Container): { container: Container; kill(): void } {
  let dead = false;
  const guard = (): void => {
    if (dead) throw cairnError('CAIRN_ERR_CLOSED', 'process died');
  };
  const container: Container = {
    name: inner.name,
    create: async () => { guard(); await inner.create(); },
    put: async (n, b, o) => { guard(); return inner.put(n, b, o); },
    get: async (n, o) => { guard(); return inner.get(n, o); },
    getBuffer: async (n, o) => { guard(); return inner.getBuffer(n, o); },
    head: async (n, o) => { guard(); return inner.head(n, o); },
    delete: async (n, o) => { guard(); return inner.delete(n, o); },
    list: async (o) => { guard(); return inner.list(o); },
    listAll: (o) => { guard(); return inner.listAll(o); },
    openSegment: (n, o) => { guard(); return inner.openSegment(n, o); },
  };
  return { container, kill: () => { dead = true; } };
}

/** Waits until the reclaimer of `db` has deleted everything it may delete now. */
export async function settleReclaim(db: unknown): Promise<void> {
  await (db as { reclaimer: { settled(): Promise<void> } }).reclaimer.settled();
}

/** Names and sizes of the node objects in the container. */
export async function storedNodeObjects(container: Container): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const e of container.listAll({ prefix: NODE_OBJECT_PREFIX })) if (e.kind === 'object') out.set(e.name, e.size);
  return out;
}

/** Makes an instance inert without any of the work close() does (its process "died"). */
export function abandon(db: unknown): void {
  const d = db as { core: { stop(e: Error, why: string): void }; checkpointer: { stop(): Promise<void> }; reclaimer: { stop(): Promise<void> } };
  d.core.stop(cairnError('CAIRN_ERR_CLOSED', 'process died'), 'test crash');
  void d.checkpointer.stop();
  void d.reclaimer.stop();
}
