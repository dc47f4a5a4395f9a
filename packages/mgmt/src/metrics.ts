// The Prometheus registry: built from METRICS only, filled at scrape time
// from the packages' stats() snapshots (MetricsSource) and, for the
// histograms, observed as operations run (Meter).

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { JobCounts } from './jobs.js';
import { METRICS, type MetricKey } from './metrics-table.js';

/** Percentile latencies a package computed, milliseconds. */
export interface Percentiles {
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** Per-volume stats snapshots; each part is absent when its package does not expose it. */
export interface VolumeMetrics {
  readonly name: string;
  readonly statfs?: { inodes: number; liveBytes: number; storedBytes: number; segments: number; deadSegments: number; dirtyFiles: number };
  readonly headhunter?: {
    commits: number;
    checkpoint: { published: number; failed: number; last?: { durationMs: number; nodeBytes: number; recordBytes: number } | undefined };
    cache: { hits: number; misses: number; bytes: number };
    liveObjects: number;
    garbageObjects: number;
    reclaim: { deleted: number };
    logBytes: number;
  };
  readonly replayLog?: { records: number; batches: number; maxBatch: number; fsyncMicrosP50: number; fsyncMicrosP99: number };
  readonly segments?: {
    openSegments: number; closingSegments: number; bytesBuffered: number; waitingWrites: number; bytesWritten: number;
    bytesDurable: number; segmentsDurable: number; segmentsFailed: number; segmentRetries: number; putLatency: Percentiles;
  };
  readonly readCache?: { hits: number; misses: number; bytesCached: number };
  readonly intentLog?: { held: number; heldBytes: number; logged: number; loggedBytes: number; resolved: number; rewritten: number; recovered: number };
}

export interface MetricsSnapshot {
  readonly volumes: readonly VolumeMetrics[];
  readonly backend?: { kind: string; requests: number; errors: number; retries: number; bytesIn: number; bytesOut: number };
  readonly rpc?: { connections: number; mounts: number; requests: number; protocolErrors: number; authFailures: number };
  readonly jobs: readonly JobCounts[];
  readonly up: boolean;
}

/** Called at every scrape. */
export type MetricsSource = () => Promise<MetricsSnapshot> | MetricsSnapshot;

type Labels = Record<string, string>;

/** Observations made as things happen (HTTP requests, filesystem calls, backend requests). */
export interface Meter {
  http(api: string, method: string, route: string, status: number, seconds: number): void;
  fsOp(api: string, volume: string, method: string, outcome: string, seconds: number): void;
  fsBytes(api: string, volume: string, direction: 'read' | 'write', bytes: number): void;
  fsInFlight(api: string, volume: string, delta: number): void;
  backend(op: string, outcome: string, seconds: number): void;
}

export interface CairnMetrics {
  readonly registry: Registry;
  readonly meter: Meter;
  /** Sets the snapshot source (the daemon wires it once its parts exist). */
  setSource(source: MetricsSource): void;
  /** The exposition text (runs the source). */
  render(): Promise<string>;
  readonly contentType: string;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): CairnMetrics {
  const registry = new Registry();
  const metrics = new Map<MetricKey, Metric>();
  for (const [key, def] of Object.entries(METRICS) as Array<[MetricKey, (typeof METRICS)[MetricKey]]>) {
    const common = { name: def.name, help: def.help, labelNames: [...def.labels], registers: [registry] };
    const metric = def.type === 'counter' ? new Counter(common)
      : def.type === 'gauge' ? new Gauge(common)
        : new Histogram({ ...common, buckets: [...(('buckets' in def ? def.buckets : undefined) ?? [])] });
    metrics.set(key, metric);
  }
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'cairn_process_' });

  const gauge = (k: MetricKey): Gauge => metrics.get(k) as Gauge;
  const counter = (k: MetricKey): Counter => metrics.get(k) as Counter;
  const hist = (k: MetricKey): Histogram => metrics.get(k) as Histogram;
  /** Counters mirrored from stats() totals: reset and set at each scrape. */
  const total = (k: MetricKey, labels: Labels, v: number): void => {
    if (Number.isFinite(v) && v > 0) counter(k).inc(labels, v);
  };
  const set = (k: MetricKey, labels: Labels, v: number): void => {
    if (Number.isFinite(v)) gauge(k).set(labels, v);
  };

  const snapshotKeys = (Object.keys(METRICS) as MetricKey[]).filter((k) => !['httpRequests', 'httpSeconds', 'fsOps', 'fsSeconds', 'fsBytes', 'fsInFlight', 'backendSeconds'].includes(k));
  let source: MetricsSource = () => ({ volumes: [], jobs: [], up: true });
  let scrapes: Promise<void> = Promise.resolve();

  async function refresh(): Promise<void> {
    const s = await source();
    for (const k of snapshotKeys) (metrics.get(k) as Counter | Gauge).reset();
    set('up', {}, s.up ? 1 : 0);
    for (const j of s.jobs) set('jobs', { kind: j.kind, state: j.state }, j.count);
    if (s.backend) {
      const b = { backend: s.backend.kind };
      total('backendRequests', b, s.backend.requests);
      total('backendErrors', b, s.backend.errors);
      total('backendRetries', b, s.backend.retries);
      total('backendBytes', { ...b, direction: 'in' }, s.backend.bytesIn);
      total('backendBytes', { ...b, direction: 'out' }, s.backend.bytesOut);
    }
    if (s.rpc) {
      set('rpcConnections', {}, s.rpc.connections);
      set('rpcMounts', {}, s.rpc.mounts);
      total('rpcRequests', {}, s.rpc.requests);
      total('rpcProtocolErrors', {}, s.rpc.protocolErrors);
      total('rpcAuthFailures', {}, s.rpc.authFailures);
    }
    for (const v of s.volumes) {
      const l = { volume: v.name };
      set('volumeServed', l, 1);
      if (v.statfs) {
        set('volumeInodes', l, v.statfs.inodes);
        set('volumeLiveBytes', l, v.statfs.liveBytes);
        set('volumeStoredBytes', l, v.statfs.storedBytes);
        set('volumeSegments', l, v.statfs.segments);
        set('volumeDeadSegments', l, v.statfs.deadSegments);
        set('volumeDirtyFiles', l, v.statfs.dirtyFiles);
      }
      const h = v.headhunter;
      if (h) {
        total('commits', l, h.commits);
        total('checkpoints', { ...l, outcome: 'published' }, h.checkpoint.published);
        total('checkpoints', { ...l, outcome: 'failed' }, h.checkpoint.failed);
        if (h.checkpoint.last) {
          set('checkpointSeconds', l, h.checkpoint.last.durationMs / 1000);
          set('checkpointBytes', l, h.checkpoint.last.nodeBytes + h.checkpoint.last.recordBytes);
        }
        total('cacheHits', { ...l, cache: 'metadata' }, h.cache.hits);
        total('cacheMisses', { ...l, cache: 'metadata' }, h.cache.misses);
        set('cacheBytes', { ...l, cache: 'metadata' }, h.cache.bytes);
        set('metaLiveObjects', l, h.liveObjects);
        set('metaGarbageObjects', l, h.garbageObjects);
        total('metaDeletes', l, h.reclaim.deleted);
        set('logBytes', l, h.logBytes);
      }
      const r = v.replayLog;
      if (r) {
        total('logRecords', l, r.records);
        total('logBatches', l, r.batches);
        set('logMaxBatch', l, r.maxBatch);
        set('logFsyncSeconds', { ...l, quantile: '0.5' }, r.fsyncMicrosP50 / 1e6);
        set('logFsyncSeconds', { ...l, quantile: '0.99' }, r.fsyncMicrosP99 / 1e6);
      }
      const g = v.segments;
      if (g) {
        set('segOpen', l, g.openSegments);
        set('segClosing', l, g.closingSegments);
        set('segBuffered', l, g.bytesBuffered);
        set('segWaiting', l, g.waitingWrites);
        total('segBytesWritten', l, g.bytesWritten);
        total('segBytesDurable', l, g.bytesDurable);
        total('segDurable', l, g.segmentsDurable);
        total('segFailed', l, g.segmentsFailed);
        total('segRetries', l, g.segmentRetries);
        set('segPutSeconds', { ...l, quantile: '0.5' }, g.putLatency.p50Ms / 1000);
        set('segPutSeconds', { ...l, quantile: '0.99' }, g.putLatency.p99Ms / 1000);
      }
      const il = v.intentLog;
      if (il) {
        set('intentHeld', l, il.held);
        set('intentHeldBytes', l, il.heldBytes);
        total('intentLogged', l, il.logged);
        total('intentLoggedBytes', l, il.loggedBytes);
        total('intentResolved', l, il.resolved);
        total('intentRewritten', l, il.rewritten);
        total('intentRecovered', l, il.recovered);
      }
      if (v.readCache) {
        total('cacheHits', { ...l, cache: 'read' }, v.readCache.hits);
        total('cacheMisses', { ...l, cache: 'read' }, v.readCache.misses);
        set('cacheBytes', { ...l, cache: 'read' }, v.readCache.bytesCached);
      }
    }
  }

  const meter: Meter = {
    http(api, method, route, status, seconds) {
      counter('httpRequests').inc({ api, method, route, status: String(status) });
      hist('httpSeconds').observe({ api, method, route }, seconds);
    },
    fsOp(api, volume, method, outcome, seconds) {
      counter('fsOps').inc({ api, volume, method, outcome });
      hist('fsSeconds').observe({ api, method }, seconds);
    },
    fsBytes(api, volume, direction, bytes) {
      if (bytes > 0) counter('fsBytes').inc({ api, volume, direction }, bytes);
    },
    fsInFlight(api, volume, delta) {
      gauge('fsInFlight').inc({ api, volume }, delta);
    },
    backend(op, outcome, seconds) {
      hist('backendSeconds').observe({ op, outcome }, seconds);
    },
  };

  return {
    registry,
    meter,
    contentType: registry.contentType,
    setSource(s) {
      source = s;
    },
    render() {
      // One scrape at a time: refresh() resets and refills the mirrored series.
      const next = scrapes.then(async () => {
        await refresh();
        return registry.metrics();
      });
      scrapes = next.then(() => undefined, () => undefined);
      return next;
    },
  };
}
