// @cairn/mgmt — the management HTTP API of cairnd.
//
// createMgmtServer() serves a ManagementPort (implemented by the daemon) over
// fastify: volumes (create/format, serve, unserve, stats), checkpoints,
// snapshots, jobs with progress (JobManager), the read-only switch, pausing
// deletions, /metrics (Prometheus, from the METRICS table), /healthz, /readyz,
// and the OpenAPI document and Swagger UI at /docs. Auth: an admin bearer
// token; read tokens may only GET. Operations: docs/operations.md.

export { createMgmtServer, type MgmtServer, type MgmtServerOptions } from './server.js';
export { TokenAuth, isPublicPath, type Role, type TokenSet } from './auth.js';
export {
  JobManager, JOB_KINDS, type JobContext, type JobCounts, type JobKind, type JobManagerOptions, type JobProgress, type JobRunner,
  type JobState, type JobView,
} from './jobs.js';
export { METRICS, type MetricDef, type MetricKey, type MetricType } from './metrics-table.js';
export {
  createMetrics, type CairnMetrics, type Meter, type MetricsSnapshot, type MetricsSource, type Percentiles, type VolumeMetrics,
} from './metrics.js';
export type {
  CacheStats, CheckpointSummary, CreateVolumeRequest, DaemonStatus, ListenerInfo, ManagementPort, SnapshotSummary, VolumeStats,
  VolumeSummary,
} from './port.js';
