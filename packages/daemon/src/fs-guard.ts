// The Filesystem as an API sees it: the volume's read-only switch applied
// (mutations fail with EROFS) and every call metered (count, latency,
// outcome, bytes, in flight) under the calling API's name.

import { cairnError, isCairnError } from '@cairn/errors';
import type { Filesystem, OpenFlags } from '@cairn/inode';
import type { Meter } from '@cairn/mgmt';

/**
 * Methods that change files or names. open() counts when it asks for write or
 * truncate. Snapshots, checkpoints and jobs are administration, allowed on a
 * read-only volume.
 */
export const MUTATING_METHODS: ReadonlySet<string> = new Set([
  'setattr', 'create', 'mkdir', 'mknod', 'symlink', 'link', 'unlink', 'rmdir', 'rename', 'write', 'fallocate', 'setxattr', 'removexattr',
  'concatFiles', 'cloneFile', 'provisionSegment', 'wrote', 'beginUpload', 'commitUpload',
]);

/** Methods that are not operations (lifecycle, long polls, synchronous reports): passed through unmetered and unchanged. */
const PASS_THROUGH: ReadonlySet<string> = new Set(['unmount', 'abandon', 'waitForChanges', 'stats', 'startCleaner']);

export interface GuardState {
  readonly volume: string;
  readonly readOnly: () => boolean;
}

function mutates(method: string, args: readonly unknown[]): boolean {
  if (MUTATING_METHODS.has(method)) return true;
  if (method === 'open') {
    const f = args[2] as OpenFlags | undefined;
    return f?.write === true || f?.truncate === true || f?.append === true;
  }
  return false;
}

export function guardFilesystem(fs: Filesystem, api: string, state: GuardState, meter: Meter): Filesystem {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(fs, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string' || PASS_THROUGH.has(prop)) {
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      }
      const hit = wrapped.get(prop);
      if (hit) return hit;
      const fn = value as (...a: unknown[]) => Promise<unknown>;
      const call = async (...args: unknown[]): Promise<unknown> => {
        if (state.readOnly() && mutates(prop, args)) {
          meter.fsOp(api, state.volume, prop, 'EROFS', 0);
          throw cairnError('CAIRN_ERR_FS_READ_ONLY', `volume ${state.volume} is switched read-only`);
        }
        const t0 = performance.now();
        meter.fsInFlight(api, state.volume, 1);
        try {
          const r = await fn.apply(target, args);
          meter.fsOp(api, state.volume, prop, 'ok', (performance.now() - t0) / 1000);
          if (prop === 'read' && Buffer.isBuffer(r)) meter.fsBytes(api, state.volume, 'read', r.length);
          if (prop === 'write' && args[3] instanceof Uint8Array) meter.fsBytes(api, state.volume, 'write', args[3].length);
          return r;
        } catch (err) {
          meter.fsOp(api, state.volume, prop, isCairnError(err) ? err.errno : 'error', (performance.now() - t0) / 1000);
          throw err;
        } finally {
          meter.fsInFlight(api, state.volume, -1);
        }
      };
      wrapped.set(prop, call);
      return call;
    },
  });
}
