// cairnd's ManagementPort: what the management API does, over the lifecycle,
// the volumes component and the object store.

import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { cairnError, isCairnError } from '@cairn/errors';
import { checkpointObjectName } from '@cairn/headhunter';
import type {
  CacheStats, CheckpointSummary, CreateVolumeRequest, DaemonStatus, ListenerInfo, ManagementPort, SnapshotSummary, VolumeStats,
  VolumeSummary,
} from '@cairn/mgmt';
import { extrasOf, need, type SnapshotEntry } from './apis/filesystem.js';
import type { ServedVolume } from './lifecycle.js';
import { CATALOG_CONTAINER, CATALOG_VOLUME_PREFIX, localPaths } from './paths.js';
import { createVolumePublisher } from './ownership.js';
import type { Runtime } from './runtime.js';
import type { VolumesComponent } from './volumes.js';

export const VERSION = '0.1.0';

/** What the management API shows of a snapshot (the filesystem's SnapshotInfo, or just name and time). */
function snapshotSummary(s: SnapshotEntry & { commitSeq?: number; inodes?: number; liveBytes?: number }): SnapshotSummary {
  return {
    name: s.name, createdAt: new Date(s.createdAt).toISOString(),
    ...(s.commitSeq !== undefined ? { commit: s.commitSeq } : {}),
    ...(s.inodes !== undefined ? { inodes: s.inodes } : {}),
    ...(s.liveBytes !== undefined ? { liveBytes: s.liveBytes } : {}),
  };
}

const cache = (hits: number, misses: number): CacheStats => ({ hits, misses, hitRate: hits + misses > 0 ? hits / (hits + misses) : 0 });

/** Bytes of the files in a replay-log directory. */
async function dirBytes(dir: string): Promise<number> {
  try {
    let n = 0;
    for (const f of await readdir(dir)) n += (await stat(join(dir, f))).size;
    return n;
  } catch {
    return 0;
  }
}

export class DaemonManagementPort implements ManagementPort {
  constructor(private readonly rt: Runtime, private readonly volumes: VolumesComponent) {}

  private served(name: string): ServedVolume & { fs: NonNullable<ServedVolume['fs']> } {
    const v = this.rt.lifecycle.get(name);
    if (!v?.fs) throw cairnError('CAIRN_ERR_MGMT_NOT_SERVED', name);
    return v as ServedVolume & { fs: NonNullable<ServedVolume['fs']> };
  }

  private refuseWhileStopping(): void {
    if (this.rt.shuttingDown) throw cairnError('CAIRN_ERR_MGMT_SHUTTING_DOWN', 'try again on the next start');
  }

  private async summary(name: string): Promise<VolumeSummary> {
    const v = this.rt.lifecycle.get(name);
    const [entry, owner] = await Promise.all([
      this.volumes.catalogEntry(name).catch(() => undefined),
      this.rt.ownership.owner(name).catch(() => undefined),
    ]);
    return {
      name, served: v?.fs !== undefined,
      ...(owner ? { owner: owner.node } : {}),
      ...(v?.fs ? { volumeId: v.fs.volumeId } : entry ? { volumeId: entry.volumeId } : {}),
      ...(entry ? { createdAt: entry.createdAt } : {}),
      readOnly: v?.readOnly ?? false,
      deletionsPaused: v?.deletionsPaused ?? false,
    };
  }

  async knownVolumeNames(): Promise<string[]> {
    const names = new Set<string>(this.rt.lifecycle.served().map((v) => v.name));
    try {
      for await (const e of this.rt.store.container(CATALOG_CONTAINER).listAll({ prefix: CATALOG_VOLUME_PREFIX })) {
        if (e.kind === 'object') names.add(e.name.slice(CATALOG_VOLUME_PREFIX.length));
      }
    } catch (err) {
      if (!isCairnError(err, 'CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND')) throw err;
    }
    return [...names].sort();
  }

  async listVolumes(): Promise<VolumeSummary[]> {
    return Promise.all((await this.knownVolumeNames()).map((n) => this.summary(n)));
  }

  async createVolume(req: CreateVolumeRequest): Promise<VolumeSummary> {
    this.refuseWhileStopping();
    await this.volumes.create(req.name, req.dataContainers ?? []);
    this.rt.secretOf(req.name);
    if (req.serve !== false) return this.serveVolume(req.name);
    this.rt.state.setServed(req.name, false);
    return this.summary(req.name);
  }

  async serveVolume(name: string, options: { force?: boolean } = {}): Promise<VolumeSummary> {
    this.refuseWhileStopping();
    await this.rt.lifecycle.serve(this.rt.newServed(name, options.force === true));
    this.rt.state.setServed(name, true);
    return this.summary(name);
  }

  async unserveVolume(name: string): Promise<VolumeSummary> {
    this.refuseWhileStopping();
    await this.rt.lifecycle.unserve(name);
    this.rt.state.setServed(name, false);
    return this.summary(name);
  }

  async volumeStats(name: string): Promise<VolumeStats> {
    const v = this.served(name);
    const st = await v.fs.statfs();
    const extra = extrasOf(v.fs).stats?.();
    const [last] = await this.listCheckpoints(name, 1);
    const hh = extra?.headhunter;
    const rc = extra?.readCache;
    return {
      name, volumeId: v.fs.volumeId, inodes: st.inodes, liveBytes: st.liveBytes, storedBytes: st.storedBytes,
      segments: st.segments, deadSegments: st.deadSegments, liveRatio: st.storedBytes > 0 ? st.liveBytes / st.storedBytes : 1,
      replayLogBytes: hh?.logBytes ?? (await dirBytes(localPaths.replayLog(this.rt.config.dataDir, name))),
      ...(last ? { lastCheckpoint: last } : {}),
      dirtyFiles: st.dirtyFiles, openHandles: st.openHandles,
      caches: {
        ...(hh ? { metadata: cache(hh.cache.hits, hh.cache.misses) } : {}),
        ...(rc ? { read: cache(rc.hits, rc.misses) } : {}),
      },
    };
  }

  async checkpoint(name: string): Promise<CheckpointSummary> {
    const v = this.served(name);
    await v.fs.checkpoint();
    const [last] = await this.listCheckpoints(name, 1);
    if (!last) throw cairnError('CAIRN_ERR_INTERNAL', `checkpoint of ${name} published but not listed`);
    return last;
  }

  async listCheckpoints(name: string, limit: number): Promise<CheckpointSummary[]> {
    const container = this.rt.store.container(name);
    const { publisher, close } = createVolumePublisher(this.rt.store, name, this.rt.config.fencing, this.rt.logger);
    try {
      const seqs = await publisher.list(limit).catch((err: unknown) => {
        if (isCairnError(err, 'CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND')) throw cairnError('CAIRN_ERR_MGMT_NO_SUCH_VOLUME', name);
        throw err;
      });
      if (seqs.length === 0 && !(await this.volumes.isFormatted(name))) throw cairnError('CAIRN_ERR_MGMT_NO_SUCH_VOLUME', name);
      return await Promise.all(seqs.map(async (id): Promise<CheckpointSummary> => {
        try {
          // Object-store fencing names the record by its number; etcd fencing keeps the name in etcd.
          const h = await container.head(checkpointObjectName(id));
          return { id, publishedAt: new Date(h.mtime).toISOString(), bytes: h.size };
        } catch {
          try {
            return { id, bytes: (await publisher.read(id)).length };
          } catch {
            return { id }; // deleted meanwhile (retention)
          }
        }
      }));
    } finally {
      await close();
    }
  }

  async createSnapshot(volume: string, snapshot: string): Promise<SnapshotSummary> {
    return snapshotSummary(await need(this.served(volume).fs, 'createSnapshot')(snapshot));
  }

  async listSnapshots(volume: string): Promise<SnapshotSummary[]> {
    const list = await need(this.served(volume).fs, 'listSnapshots')();
    return list.map(snapshotSummary);
  }

  async deleteSnapshot(volume: string, snapshot: string): Promise<void> {
    await need(this.served(volume).fs, 'deleteSnapshot')(snapshot);
  }

  async setDeletionsPaused(volume: string, paused: boolean): Promise<VolumeSummary> {
    const v = this.served(volume);
    v.deletionsPaused = paused;
    const x = extrasOf(v.fs);
    (paused ? x.pauseDeletions : x.resumeDeletions)?.();
    this.rt.logger.info({ volume, paused }, paused ? 'deletions paused' : 'deletions resumed');
    return this.summary(volume);
  }

  async setReadOnly(volume: string, readOnly: boolean): Promise<VolumeSummary> {
    const v = this.served(volume);
    v.readOnly = readOnly;
    this.rt.logger.info({ volume, readOnly }, readOnly ? 'volume switched read-only' : 'volume switched read-write');
    return this.summary(volume);
  }

  listeners(): ListenerInfo[] {
    const l = this.rt.listeners;
    const out: ListenerInfo[] = [];
    if (l.mgmt) out.push({ api: 'mgmt', url: l.mgmt });
    if (l.rpc) out.push({ api: 'rpc', url: `tcp://${l.rpc.host.includes(':') ? `[${l.rpc.host}]` : l.rpc.host}:${l.rpc.port}` });
    if (l.rpcSocket) out.push({ api: 'rpc', url: `unix:${l.rpcSocket}` });
    if (l.object) out.push({ api: 'object', url: l.object });
    return out;
  }

  async status(): Promise<DaemonStatus> {
    return {
      nodeId: this.rt.nodeId, version: VERSION, pid: process.pid, startedAt: new Date(this.rt.startedAt).toISOString(),
      uptimeSeconds: (Date.now() - this.rt.startedAt) / 1000, backend: this.rt.store.kind, ownership: this.rt.ownership.mode,
      listeners: this.listeners(), volumes: await this.listVolumes(), jobsRunning: this.rt.jobs.active, shuttingDown: this.rt.shuttingDown,
    };
  }

  readiness(): { ready: boolean; reason?: string } {
    if (this.rt.shuttingDown) return { ready: false, reason: 'shutting down' };
    return this.rt.ready ? { ready: true } : { ready: false, reason: this.rt.notReadyReason };
  }
}
