// The volumes component: creating (formatting) volumes, and the volume part
// of serve and unserve. Serve: S1 take ownership (lock file, owner record,
// fenced publisher), S2 mount (checkpoint + replay), S3 start the daemon's
// dead-segment deletion timer. Unserve: U1 stop the timer, U2 publish a
// checkpoint, U3 unmount (waits for in-flight operations, flushes segments,
// final checkpoint), U4 release ownership. A failed U2 or final checkpoint
// keeps ownership: the local replay log still holds changes.

import { rm } from 'node:fs/promises';
import { cairnError, isCairnError } from '@cairn/errors';
import type { CheckpointPublisher } from '@cairn/headhunter';
import type { ObjectStore } from '@cairn/objstore';
import type { Logger } from 'pino';
import { formatVolumeFs, mountVolumeFs } from './apis/filesystem.js';
import type { CairnConfig } from './config/schema.js';
import type { Component, ServedVolume } from './lifecycle.js';
import { createVolumePublisher, type OwnershipLease, type VolumeOwnership } from './ownership.js';
import { CATALOG_CONTAINER, catalogVolumeObject, localPaths } from './paths.js';

/** Catalog record of a volume (cairn-catalog/volumes/<name>). */
export interface CatalogEntry {
  readonly name: string;
  readonly volumeId: string;
  readonly createdAt: string;
  readonly dataContainers: readonly string[];
}

/** How often the daemon deletes dead segments of a served volume (unless deletions are paused). */
export const SEGMENT_RECLAIM_INTERVAL_MS = 60_000;

/** Remembers how the last checkpoint publication went (the final one of an unmount is not reported otherwise). */
interface PublishWatch {
  readonly publisher: CheckpointPublisher;
  reset(): void;
  lastOutcome(): 'ok' | 'failed' | undefined;
  lastError(): unknown;
}

function watchPublisher(p: CheckpointPublisher): PublishWatch {
  let outcome: 'ok' | 'failed' | undefined;
  let error: unknown;
  return {
    publisher: {
      kind: p.kind,
      list: (limit) => p.list(limit),
      read: (seq) => p.read(seq),
      remove: (seq) => p.remove(seq),
      async publish(seq, record) {
        try {
          await p.publish(seq, record);
          outcome = 'ok';
        } catch (err) {
          outcome = 'failed';
          error = err;
          throw err;
        }
      },
    },
    reset() {
      outcome = undefined;
      error = undefined;
    },
    lastOutcome: () => outcome,
    lastError: () => error,
  };
}

export class VolumesComponent implements Component {
  readonly name = 'volumes';
  private readonly leases = new Map<string, OwnershipLease>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly watches = new Map<string, PublishWatch>();

  constructor(
    private readonly store: ObjectStore,
    private readonly ownership: VolumeOwnership,
    private config: CairnConfig,
    private readonly logger: Logger,
  ) {}

  /** True when the object store holds a formatted volume `name` (it has a checkpoint record). */
  async isFormatted(name: string): Promise<boolean> {
    const { publisher, close } = createVolumePublisher(this.store, name, this.config.fencing, this.logger);
    try {
      return (await publisher.list(1)).length > 0;
    } catch (err) {
      if (isCairnError(err, 'CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND')) return false;
      throw err;
    } finally {
      await close();
    }
  }

  async catalogEntry(name: string): Promise<CatalogEntry | undefined> {
    try {
      return JSON.parse((await this.store.container(CATALOG_CONTAINER).getBuffer(catalogVolumeObject(name))).toString('utf8')) as CatalogEntry;
    } catch (err) {
      if (isCairnError(err, 'CAIRN_ERR_OBJ_NOT_FOUND') || isCairnError(err, 'CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND')) return undefined;
      throw err;
    }
  }

  /** Formats a new volume and records it in the catalog. */
  async create(name: string, dataContainers: readonly string[]): Promise<CatalogEntry> {
    if (await this.isFormatted(name)) throw cairnError('CAIRN_ERR_MGMT_VOLUME_EXISTS', name);
    const logDir = localPaths.replayLog(this.config.dataDir, name);
    // A log left from an earlier volume of the same name must not be replayed into this one.
    await rm(logDir, { recursive: true, force: true });
    const logger = this.logger.child({ volume: name });
    let volumeId: string;
    try {
      ({ volumeId } = await formatVolumeFs({ store: this.store, volume: name, logDir, dataContainers, fsync: this.config.limits.fsync, logger }));
    } catch (err) {
      if (isCairnError(err, 'CAIRN_ERR_META_ALREADY_FORMATTED')) throw cairnError('CAIRN_ERR_MGMT_VOLUME_EXISTS', name, { cause: err });
      throw err;
    }
    const entry: CatalogEntry = {
      name, volumeId, createdAt: new Date().toISOString(), dataContainers: dataContainers.length > 0 ? [...dataContainers] : [`${name}-data`],
    };
    await this.store.container(CATALOG_CONTAINER).put(catalogVolumeObject(name), Buffer.from(JSON.stringify(entry)), {});
    logger.info({ volumeId }, 'volume created');
    return entry;
  }

  async serveVolume(v: ServedVolume): Promise<void> {
    const logger = this.logger.child({ volume: v.name });
    if (!(await this.isFormatted(v.name))) throw cairnError('CAIRN_ERR_MGMT_NO_SUCH_VOLUME', `${v.name} (not formatted in this object store)`);
    logger.debug({ force: v.force, mode: this.ownership.mode }, 'taking ownership');
    const lease = await this.ownership.acquire(v.name, { force: v.force });
    const watch = watchPublisher(lease.publisher);
    try {
      v.fs = await mountVolumeFs({
        store: this.store, volume: v.name, logDir: localPaths.replayLog(this.config.dataDir, v.name), publisher: watch.publisher,
        limits: this.config.limits, logger,
      });
    } catch (err) {
      await lease.release().catch((e: unknown) => logger.warn({ err: e }, 'releasing ownership after a failed mount failed'));
      throw err;
    }
    this.leases.set(v.name, lease);
    this.watches.set(v.name, watch);
    if ((await this.catalogEntry(v.name)) === undefined) {
      const entry: CatalogEntry = { name: v.name, volumeId: v.fs.volumeId, createdAt: new Date().toISOString(), dataContainers: [] };
      await this.store.container(CATALOG_CONTAINER).put(catalogVolumeObject(v.name), Buffer.from(JSON.stringify(entry)), {}).catch(() => undefined);
    }
    const timer = setInterval(() => {
      if (v.deletionsPaused || v.fs === undefined) return;
      v.fs.reclaimSegments().then(
        (r) => r.deleted > 0 && logger.info(r, 'dead segments deleted'),
        (err: unknown) => isCairnError(err, 'CAIRN_ERR_CLOSED') || logger.warn({ err }, 'dead-segment deletion failed'),
      );
    }, SEGMENT_RECLAIM_INTERVAL_MS);
    timer.unref();
    this.timers.set(v.name, timer);
  }

  async unserveVolume(v: ServedVolume): Promise<void> {
    clearInterval(this.timers.get(v.name));
    this.timers.delete(v.name);
    const fs = v.fs;
    const lease = this.leases.get(v.name);
    this.leases.delete(v.name);
    if (!fs) {
      await lease?.release();
      return;
    }
    const logger = this.logger.child({ volume: v.name });
    const watch = this.watches.get(v.name);
    this.watches.delete(v.name);
    // U2: a checkpoint now surfaces an unhealthy object store before anything
    // is closed; the unmount below then only adds what its flush commits.
    let failure: unknown;
    try {
      await fs.checkpoint();
    } catch (err) {
      failure = err;
    }
    // U3: waits for in-flight operations, makes every pending write durable
    // and publishes the final checkpoint (whose failure it only logs: the
    // publisher watch tells).
    watch?.reset();
    await fs.unmount();
    v.fs = undefined;
    if (failure === undefined && watch?.lastOutcome() === 'failed') failure = watch.lastError();
    if (failure !== undefined) {
      logger.error({ err: failure }, 'final checkpoint failed: ownership kept, the local replay log holds the changes; serve the volume here again');
      throw cairnError('CAIRN_ERR_META_CHECKPOINT_FAILED', `final checkpoint of ${v.name}; ownership kept`, { cause: failure });
    }
    // U4
    await lease?.release();
    logger.info('final checkpoint published, ownership released');
  }

  async reload(config: CairnConfig): Promise<void> {
    this.config = { ...config, dataDir: this.config.dataDir };
  }
}
