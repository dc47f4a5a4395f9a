// What the management API needs from the daemon, in one interface. cairnd
// implements ManagementPort over its volume manager; tests may implement it
// over a model. Every method throws CairnErrors (CAIRN_ERR_MGMT_* and the
// layers' codes); the API maps them to HTTP statuses through the error table.

/** One volume as listings show it. */
export interface VolumeSummary {
  readonly name: string;
  /** Served by this daemon now. */
  readonly served: boolean;
  /** Node id of the daemon that owns it (any daemon), when known. */
  readonly owner?: string;
  readonly volumeId?: string;
  readonly createdAt?: string;
  /** Mutations are refused (EROFS) while set. */
  readonly readOnly: boolean;
  /** Object deletions (dead segments, old metadata) are held back while set. */
  readonly deletionsPaused: boolean;
}

export interface CacheStats {
  readonly hits: number;
  readonly misses: number;
  /** hits / (hits + misses), 0 when unused. */
  readonly hitRate: number;
}

export interface CheckpointSummary {
  /** Checkpoint record number (increases by one per checkpoint of the volume). */
  readonly id: number;
  /** When the record was stored (ISO 8601), when the backend tells. */
  readonly publishedAt?: string;
  /** Bytes of the checkpoint record. */
  readonly bytes?: number;
}

export interface VolumeStats {
  readonly name: string;
  readonly volumeId: string;
  readonly inodes: number;
  /** Bytes referenced by files. */
  readonly liveBytes: number;
  /** Bytes of stored segments (live or dead). */
  readonly storedBytes: number;
  readonly segments: number;
  readonly deadSegments: number;
  /** liveBytes / storedBytes (1 when nothing is stored). */
  readonly liveRatio: number;
  /** Bytes of the local replay log not yet covered by a checkpoint. */
  readonly replayLogBytes: number;
  readonly lastCheckpoint?: CheckpointSummary;
  readonly dirtyFiles: number;
  readonly openHandles: number;
  readonly caches: { readonly metadata?: CacheStats; readonly read?: CacheStats };
}

export interface SnapshotSummary {
  readonly name: string;
  /** ISO 8601. */
  readonly createdAt: string;
  /** Metadata commit number the snapshot shows. */
  readonly commit?: number;
  readonly inodes?: number;
  readonly liveBytes?: number;
}

export interface ListenerInfo {
  readonly api: 'mgmt' | 'rpc' | 'object';
  readonly url: string;
}

export interface DaemonStatus {
  readonly nodeId: string;
  readonly version: string;
  readonly pid: number;
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  readonly backend: string;
  readonly ownership: string;
  readonly listeners: readonly ListenerInfo[];
  readonly volumes: readonly VolumeSummary[];
  readonly jobsRunning: number;
  readonly shuttingDown: boolean;
}

export interface CreateVolumeRequest {
  readonly name: string;
  readonly dataContainers?: readonly string[];
  /** Serve it right away (default true). */
  readonly serve?: boolean;
}

export interface ManagementPort {
  listVolumes(): Promise<VolumeSummary[]>;
  /** Formats a new volume (CAIRN_ERR_MGMT_VOLUME_EXISTS when it exists). */
  createVolume(req: CreateVolumeRequest): Promise<VolumeSummary>;
  /** Takes ownership and mounts; `force` takes over an owner record left by a daemon known to be down. */
  serveVolume(name: string, options?: { force?: boolean }): Promise<VolumeSummary>;
  /** Finishes in-flight operations, flushes, publishes a final checkpoint, releases ownership. */
  unserveVolume(name: string): Promise<VolumeSummary>;
  volumeStats(name: string): Promise<VolumeStats>;
  /** Writes and publishes a checkpoint now; resolves with its id. */
  checkpoint(name: string): Promise<CheckpointSummary>;
  /** Newest first. */
  listCheckpoints(name: string, limit: number): Promise<CheckpointSummary[]>;
  createSnapshot(volume: string, snapshot: string): Promise<SnapshotSummary>;
  listSnapshots(volume: string): Promise<SnapshotSummary[]>;
  deleteSnapshot(volume: string, snapshot: string): Promise<void>;
  setDeletionsPaused(volume: string, paused: boolean): Promise<VolumeSummary>;
  setReadOnly(volume: string, readOnly: boolean): Promise<VolumeSummary>;
  status(): Promise<DaemonStatus>;
  /** Live: the process answers. Ready: started, every volume to serve is served, not shutting down. */
  readiness(): { ready: boolean; reason?: string };
}
