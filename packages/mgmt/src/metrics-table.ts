// Every Prometheus series cairnd exports, in one table: name, type, help and
// labels, grouped by the package whose stats() they come from. metrics.ts
// builds the registry from this table only; docs/operations.md lists it and a
// test checks that /metrics shows every name.
//
// Latency percentiles that the packages compute themselves (replay-log fsync,
// segment PUTs) are exported as gauges with a `quantile` label, like a
// Prometheus summary.

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricDef {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
  /** Histogram buckets, seconds. */
  readonly buckets?: readonly number[];
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const m = (name: string, type: MetricType, help: string, labels: readonly string[] = [], buckets?: readonly number[]): MetricDef => ({
  name, type, help, labels, ...(buckets ? { buckets } : {}),
});

export const METRICS = {
  // ---- APIs (mgmt, rpc, object): requests and filesystem operations -------------
  httpRequests: m('cairn_http_requests_total', 'counter', 'HTTP requests answered, by API, method, route and status', ['api', 'method', 'route', 'status']),
  httpSeconds: m('cairn_http_request_duration_seconds', 'histogram', 'HTTP request latency, by API, method and route', ['api', 'method', 'route'], LATENCY_BUCKETS),
  fsOps: m('cairn_fs_operations_total', 'counter', 'Filesystem operations by the API that called them, the method and the outcome (ok or errno)', ['api', 'volume', 'method', 'outcome']),
  fsSeconds: m('cairn_fs_operation_duration_seconds', 'histogram', 'Filesystem operation latency, by calling API and method', ['api', 'method'], LATENCY_BUCKETS),
  fsBytes: m('cairn_fs_bytes_total', 'counter', 'File bytes read and written through an API', ['api', 'volume', 'direction']),
  fsInFlight: m('cairn_fs_operations_in_flight', 'gauge', 'Filesystem operations running now', ['api', 'volume']),

  // ---- @cairn/rpc ---------------------------------------------------------------
  rpcConnections: m('cairn_rpc_connections', 'gauge', 'Open RPC connections'),
  rpcMounts: m('cairn_rpc_mounts', 'gauge', 'Live RPC mounts'),
  rpcRequests: m('cairn_rpc_requests_total', 'counter', 'RPC requests received'),
  rpcProtocolErrors: m('cairn_rpc_protocol_errors_total', 'counter', 'Malformed RPC frames and requests'),
  rpcAuthFailures: m('cairn_rpc_auth_failures_total', 'counter', 'Refused RPC mounts'),

  // ---- @cairn/inode (statfs) ----------------------------------------------------------
  volumeServed: m('cairn_volume_served', 'gauge', '1 while this daemon serves the volume', ['volume']),
  volumeInodes: m('cairn_volume_inodes', 'gauge', 'Inodes in use', ['volume']),
  volumeLiveBytes: m('cairn_volume_live_bytes', 'gauge', 'Bytes referenced by files', ['volume']),
  volumeStoredBytes: m('cairn_volume_stored_bytes', 'gauge', 'Data bytes of stored segments, live or dead', ['volume']),
  volumeSegments: m('cairn_volume_segments', 'gauge', 'Segments holding live data', ['volume']),
  volumeDeadSegments: m('cairn_volume_dead_segments', 'gauge', 'Dead segments waiting for deletion', ['volume']),
  volumeDirtyFiles: m('cairn_volume_dirty_files', 'gauge', 'Files with writes not yet durable', ['volume']),

  // ---- @cairn/headhunter ------------------------------------------------------------
  commits: m('cairn_meta_commits_total', 'counter', 'Metadata commits', ['volume']),
  checkpoints: m('cairn_checkpoints_total', 'counter', 'Checkpoints, by outcome (published, failed)', ['volume', 'outcome']),
  checkpointSeconds: m('cairn_checkpoint_last_duration_seconds', 'gauge', 'Duration of the last checkpoint', ['volume']),
  checkpointBytes: m('cairn_checkpoint_last_bytes', 'gauge', 'Bytes written by the last checkpoint (node object + record)', ['volume']),
  metaLiveObjects: m('cairn_meta_live_objects', 'gauge', 'Node objects holding live B+Tree nodes', ['volume']),
  metaGarbageObjects: m('cairn_meta_garbage_objects', 'gauge', 'Node objects waiting for deletion', ['volume']),
  metaDeletes: m('cairn_meta_deleted_objects_total', 'counter', 'Node objects deleted by the reclaimer', ['volume']),

  // ---- caches (headhunter node cache, segments read cache) --------------------------------
  cacheHits: m('cairn_cache_hits_total', 'counter', 'Cache hits, by cache (metadata, read)', ['volume', 'cache']),
  cacheMisses: m('cairn_cache_misses_total', 'counter', 'Cache misses, by cache (metadata, read)', ['volume', 'cache']),
  cacheBytes: m('cairn_cache_bytes', 'gauge', 'Bytes held by a cache', ['volume', 'cache']),

  // ---- @cairn/replaylog -------------------------------------------------------------
  logRecords: m('cairn_replaylog_records_total', 'counter', 'Replay-log records made durable', ['volume']),
  logBatches: m('cairn_replaylog_batches_total', 'counter', 'Replay-log group commits (one fdatasync each)', ['volume']),
  logMaxBatch: m('cairn_replaylog_batch_records_max', 'gauge', 'Most records in one group commit', ['volume']),
  logFsyncSeconds: m('cairn_replaylog_fsync_seconds', 'gauge', 'Replay-log fdatasync latency percentiles (quantile 0.5, 0.99)', ['volume', 'quantile']),
  logBytes: m('cairn_replaylog_live_bytes', 'gauge', 'Replay-log bytes not yet covered by a checkpoint', ['volume']),

  // ---- @cairn/inode (intent log: fsync through the replay log) ------------------------------
  intentHeld: m('cairn_intentlog_held', 'gauge', 'Intents whose segment is not stored yet (their bytes are durable in the replay log)', ['volume']),
  intentHeldBytes: m('cairn_intentlog_held_bytes', 'gauge', 'Bytes of those intents', ['volume']),
  intentLogged: m('cairn_intentlog_logged_total', 'counter', 'Intents written (fsyncs and small object PUTs made durable through the replay log)', ['volume']),
  intentLoggedBytes: m('cairn_intentlog_logged_bytes_total', 'counter', 'Bytes of intents written', ['volume']),
  intentResolved: m('cairn_intentlog_resolved_total', 'counter', 'Intents removed by their segment\'s commit', ['volume']),
  intentRewritten: m('cairn_intentlog_rewritten_total', 'counter', 'Intents written again after their segment failed for good', ['volume']),
  intentRecovered: m('cairn_intentlog_recovered_total', 'counter', 'Intents written back at mount (a crash came before their segment\'s commit)', ['volume']),

  // ---- @cairn/segments (writer pool) ------------------------------------------------------
  segOpen: m('cairn_segments_open', 'gauge', 'Segments open for appends', ['volume']),
  segClosing: m('cairn_segments_closing', 'gauge', 'Segments whose PUT is finishing', ['volume']),
  segBuffered: m('cairn_segments_buffered_bytes', 'gauge', 'Bytes held in memory for segments not yet durable', ['volume']),
  segWaiting: m('cairn_segments_waiting_writes', 'gauge', 'Writes waiting for buffer space', ['volume']),
  segBytesWritten: m('cairn_segments_written_bytes_total', 'counter', 'Bytes appended to segments', ['volume']),
  segBytesDurable: m('cairn_segments_durable_bytes_total', 'counter', 'Bytes in segments whose PUT completed', ['volume']),
  segDurable: m('cairn_segments_durable_total', 'counter', 'Segments stored', ['volume']),
  segFailed: m('cairn_segments_failed_total', 'counter', 'Segments that could not be stored', ['volume']),
  segRetries: m('cairn_segments_retries_total', 'counter', 'Whole-segment re-sends', ['volume']),
  segPutSeconds: m('cairn_segments_put_seconds', 'gauge', 'Segment PUT latency percentiles (quantile 0.5, 0.99)', ['volume', 'quantile']),

  // ---- @cairn/objstore (backend) --------------------------------------------------------
  backendRequests: m('cairn_backend_requests_total', 'counter', 'Object-store requests', ['backend']),
  backendErrors: m('cairn_backend_errors_total', 'counter', 'Object-store requests that failed', ['backend']),
  backendRetries: m('cairn_backend_retries_total', 'counter', 'Object-store request retries', ['backend']),
  backendBytes: m('cairn_backend_bytes_total', 'counter', 'Bytes sent to (out) and received from (in) the object store', ['backend', 'direction']),
  backendSeconds: m('cairn_backend_request_duration_seconds', 'histogram', 'Object-store operation latency, by operation and outcome', ['op', 'outcome'], LATENCY_BUCKETS),

  // ---- daemon -----------------------------------------------------------------------------
  jobs: m('cairn_jobs', 'gauge', 'Management jobs by kind and state', ['kind', 'state']),
  up: m('cairn_up', 'gauge', '1 while the daemon runs; 0 once it shuts down'),
} as const satisfies Record<string, MetricDef>;

export type MetricKey = keyof typeof METRICS;
