// What /metrics shows, gathered at scrape time from the packages' stats():
// the backend store, the RPC server, each served volume (statfs, and the
// headhunter / replay log / segment writer / read cache stats when the
// filesystem exposes them) and the jobs.

import type { MetricsSnapshot, VolumeMetrics } from '@cairn/mgmt';
import { extrasOf } from './apis/filesystem.js';
import type { RpcComponent } from './apis/rpc.js';
import type { ServedVolume } from './lifecycle.js';
import type { Runtime } from './runtime.js';

async function volumeMetrics(v: ServedVolume): Promise<VolumeMetrics> {
  const fs = v.fs;
  if (!fs) return { name: v.name };
  const st = await fs.statfs().catch(() => undefined);
  const x = extrasOf(fs).stats?.();
  const hh = x?.headhunter;
  return {
    name: v.name,
    ...(st ? { statfs: st } : {}),
    ...(hh ? {
      headhunter: {
        commits: hh.commits, checkpoint: hh.checkpoint, cache: { hits: hh.cache.hits, misses: hh.cache.misses, bytes: hh.cache.bytes },
        liveObjects: hh.liveObjects, garbageObjects: hh.garbageObjects, reclaim: { deleted: hh.reclaim.deleted }, logBytes: hh.logBytes,
      },
    } : {}),
    ...(x?.replayLog ? { replayLog: x.replayLog } : {}),
    ...(x?.segments ? { segments: x.segments } : {}),
    ...(x?.readCache ? { readCache: x.readCache } : {}),
    ...(x?.intentLog ? { intentLog: x.intentLog } : {}),
  };
}

export function metricsSource(rt: Runtime, rpc: RpcComponent): () => Promise<MetricsSnapshot> {
  return async () => {
    const b = rt.rawStore.stats();
    const r = rpc.stats();
    return {
      up: !rt.shuttingDown,
      jobs: rt.jobs.counts(),
      backend: { kind: rt.rawStore.kind, ...b },
      ...(r ? { rpc: { connections: r.connections, mounts: r.mounts, requests: r.requests, protocolErrors: r.protocolErrors, authFailures: r.authFailures } } : {}),
      volumes: await Promise.all(rt.lifecycle.served().map(volumeMetrics)),
    };
  };
}
