// Test support (not exported by the package): a filesystem on the in-memory
// object store with its replay log in a temporary directory, with clean
// remounts and simulated crashes (the instance is abandoned: no flush, no
// checkpoint; a new one mounts from the same store and log directory), and a
// memory store whose segment uploads can be counted, slowed and made to fail.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryStore, type Container, type ObjectStore, type OpenSegment } from '@cairn/objstore';
import { FilesystemImpl } from '../fs.js';
import { formatFilesystem, mountFilesystem, type Filesystem, type FormatFilesystemOptions, type MountOptions } from '../index.js';

export interface TestFs {
  readonly store: ObjectStore;
  readonly logDir: string;
  fs: Filesystem;
  /** Options of every mount (may be changed between mounts). */
  mountOptions: Partial<MountOptions>;
  /** unmount() then mount again. */
  remount(): Promise<Filesystem>;
  /** Drops the instance without unmount (what kill -9 leaves), then mounts again. */
  crash(): Promise<Filesystem>;
  /** Unmounts (if mounted) and removes the log directory. */
  cleanup(): Promise<void>;
}

export async function makeFs(
  format: Partial<FormatFilesystemOptions> = {},
  mount: Partial<MountOptions> = {},
  store: ObjectStore = createMemoryStore(),
): Promise<TestFs> {
  const logDir = mkdtempSync(join(tmpdir(), 'cairn-inode-'));
  await formatFilesystem({ store, volume: 'vol', logDir, fsync: false, ...format });
  const open = (o: Partial<MountOptions>): Promise<Filesystem> => mountFilesystem({
    store, volume: 'vol', logDir, fsync: false,
    headhunter: { checkpointIntervalMs: 3_600_000 },
    segments: { maxFlushTimeMs: 60_000 },
    journal: { compactIntervalMs: 0 },
    segmentReclaimIntervalMs: 0,
    ...o,
  });
  let mounted = true;
  const t: TestFs = {
    store, logDir, mountOptions: mount,
    fs: await open(mount),
    async remount() {
      await t.fs.unmount();
      t.fs = await open(t.mountOptions);
      return t.fs;
    },
    async crash() {
      await (t.fs as FilesystemImpl).abandon();
      t.fs = await open(t.mountOptions);
      return t.fs;
    },
    async cleanup() {
      if (mounted) await t.fs.unmount().catch(() => {});
      mounted = false;
      rmSync(logDir, { recursive: true, force: true });
    },
  };
  return t;
}

/** Resolves to the errno name a CairnError carries (fails the test when the promise resolves). */
export async function errnoOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const e = err as { errno?: string; code?: string };
    if (typeof e.code === 'string' && e.code.startsWith('CAIRN_ERR_') && typeof e.errno === 'string') return e.errno;
    throw err;
  }
  throw new Error('expected the operation to fail');
}

/** An unprivileged credential. */
export function user(uid: number, gid = uid, groups: number[] = []): { uid: number; gid: number; groups: number[] } {
  return { uid, gid, groups };
}

/**
 * A memory store that counts segment uploads, can make them fail, and makes
 * each take `putMs` (a real store's latency, during which flushes gather).
 */
export function instrumentedStore(putMs = 0): { store: ObjectStore; segments: () => number; stored: () => number; failSegments: (on: boolean) => void } {
  const inner = createMemoryStore();
  let count = 0;
  let stored = 0;
  let fail = false;
  const wrap = (c: Container): Container => new Proxy(c, {
    get(target, prop, recv) {
      if (prop !== 'openSegment') return Reflect.get(target, prop, recv) as unknown;
      return (name: string, o?: Parameters<Container['openSegment']>[1]): OpenSegment => {
        count++;
        const seg = target.openSegment(name, o);
        return new Proxy(seg, {
          get(s, p, r) {
            if (p === 'close') {
              return async () => {
                if (putMs > 0) await new Promise((res) => setTimeout(res, putMs));
                if (!fail) {
                  const info = await s.close();
                  stored++;
                  return info;
                }
                await s.abort();
                throw Object.assign(new Error('injected segment PUT failure'), { code: 'CAIRN_ERR_OBJ_IO' });
              };
            }
            return Reflect.get(s, p, r) as unknown;
          },
        });
      };
    },
  });
  const store: ObjectStore = new Proxy(inner, {
    get(target, prop, recv) {
      if (prop === 'container') return (name: string) => wrap(target.container(name));
      return Reflect.get(target, prop, recv) as unknown;
    },
  });
  return { store, segments: () => count, stored: () => stored, failSegments: (on) => { fail = on; } };
}
