// Volume ownership: the one interface through which serving a volume takes it
// and unserving gives it back. Single-node mode ('local') combines
//   1. a lock file in the volume's local state dir (one process per data dir),
//   2. an owner record in the object store's catalog container (another
//      daemon on the same object store sees who serves the volume), and
//   3. headhunter's fenced checkpoint publication (create-if-absent records,
//      or an etcd compare-and-swap with fencing.kind etcd): should two
//      daemons still both serve a volume, the one that loses the publish race
//      stops serving instead of corrupting it.
// Cluster mode (etcd leases) implements the same interface.

import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { cairnError, isCairnError } from '@cairn/errors';
import { createEtcdPublisher } from '@cairn/cluster';
import { createObjectStorePublisher, type CheckpointPublisher } from '@cairn/headhunter';
import type { ObjectStore } from '@cairn/objstore';
import type { Logger } from 'pino';
import type { CairnConfig } from './config/schema.js';
import { CATALOG_CONTAINER, localPaths, ownerObject } from './paths.js';

export interface OwnerRecord {
  readonly node: string;
  readonly host: string;
  readonly pid: number;
  readonly since: string;
}

export interface OwnershipLease {
  readonly volume: string;
  /** Publishes checkpoint records only while this daemon owns the volume (fenced). */
  readonly publisher: CheckpointPublisher;
  /** Gives ownership up; call after the final checkpoint was published. */
  release(): Promise<void>;
}

export interface VolumeOwnership {
  /** 'local' (lock file + owner record + fenced publication); 'etcd' later. */
  readonly mode: string;
  /**
   * Takes ownership of `volume` for this daemon. Rejects with
   * CAIRN_ERR_MGMT_OWNED_ELSEWHERE when another live daemon holds it; `force`
   * takes over an owner record of a daemon that is known to be down.
   */
  acquire(volume: string, options?: { force?: boolean }): Promise<OwnershipLease>;
  /** The current owner of `volume`, when any. */
  owner(volume: string): Promise<OwnerRecord | undefined>;
}

export interface LocalOwnershipOptions {
  readonly store: ObjectStore;
  readonly dataDir: string;
  readonly nodeId: string;
  readonly logger: Logger;
  /** How checkpoint publication is fenced (default: create-if-absent records in the object store). */
  readonly fencing?: CairnConfig['fencing'];
}

/** The fenced checkpoint publisher of one volume as `fencing` says; close() releases what it holds (an etcd client). */
export function createVolumePublisher(
  store: ObjectStore, volume: string, fencing: CairnConfig['fencing'] | undefined, logger: Logger,
): { publisher: CheckpointPublisher; close(): Promise<void> } {
  const container = store.container(volume);
  if (fencing?.kind === 'etcd') {
    const publisher = createEtcdPublisher({
      container, endpoints: fencing.etcd.endpoints, prefix: fencing.etcd.prefix, etcdTimeoutMs: fencing.etcd.requestTimeoutMs, logger,
    });
    return { publisher, close: () => publisher.close() };
  }
  return { publisher: createObjectStorePublisher({ container, logger }), close: async () => {} };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function createLocalOwnership(o: LocalOwnershipOptions): VolumeOwnership {
  const catalog = o.store.container(CATALOG_CONTAINER);
  const me = (): OwnerRecord => ({ node: o.nodeId, host: hostname(), pid: process.pid, since: new Date().toISOString() });

  async function owner(volume: string): Promise<OwnerRecord | undefined> {
    try {
      return JSON.parse((await catalog.getBuffer(ownerObject(volume))).toString('utf8')) as OwnerRecord;
    } catch (err) {
      if (isCairnError(err, 'CAIRN_ERR_OBJ_NOT_FOUND') || isCairnError(err, 'CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND')) return undefined;
      throw err;
    }
  }

  /** Takes the lock file; a lock of a dead process on this host is stale and replaced. */
  function lock(volume: string): string {
    const path = localPaths.ownerLock(o.dataDir, volume);
    mkdirSync(localPaths.volumeDir(o.dataDir, volume), { recursive: true });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o644);
        try {
          writeSync(fd, JSON.stringify(me()) + '\n');
        } finally {
          closeSync(fd);
        }
        return path;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        let holder: OwnerRecord | undefined;
        try {
          holder = JSON.parse(readFileSync(path, 'utf8')) as OwnerRecord;
        } catch {
          holder = undefined;
        }
        if (holder && holder.pid !== process.pid && holder.host === hostname() && pidAlive(holder.pid)) {
          throw cairnError('CAIRN_ERR_MGMT_OWNED_ELSEWHERE', `${volume}: locked by process ${holder.pid} (${path})`);
        }
        if (holder?.pid === process.pid) throw cairnError('CAIRN_ERR_MGMT_ALREADY_SERVED', volume);
        o.logger.warn({ volume, path, holder }, 'removing a stale volume lock (its process is gone)');
        rmSync(path, { force: true });
      }
    }
    throw cairnError('CAIRN_ERR_MGMT_VOLUME_BUSY', `${volume}: could not take ${path}`);
  }

  return {
    mode: 'local',
    owner,
    async acquire(volume, options = {}) {
      const lockPath = lock(volume);
      try {
        const current = await owner(volume);
        if (current && current.node !== o.nodeId && options.force !== true) {
          throw cairnError('CAIRN_ERR_MGMT_OWNED_ELSEWHERE',
            `${volume}: served by ${current.node} (host ${current.host}, pid ${current.pid}) since ${current.since}; unserve it there, or serve with force once that daemon is known to be down`);
        }
        if (current && current.node !== o.nodeId) o.logger.warn({ volume, previous: current }, 'taking over a volume (force)');
        await catalog.put(ownerObject(volume), Buffer.from(JSON.stringify(me())), {});
      } catch (err) {
        rmSync(lockPath, { force: true });
        throw err;
      }
      const { publisher, close } = createVolumePublisher(o.store, volume, o.fencing, o.logger);
      let released = false;
      return {
        volume,
        publisher,
        async release() {
          if (released) return;
          released = true;
          const current = await owner(volume).catch(() => undefined);
          if (current?.node === o.nodeId) await catalog.delete(ownerObject(volume));
          rmSync(lockPath, { force: true });
          await close();
        },
      };
    },
  };
}
