// The object store from the configuration (fs, memory, s3, swift), wrapped so
// that every request's latency and outcome reach the backend histogram.

import * as objstore from '@cairn/objstore';
import type { Container, ObjectStore, OpenSegment } from '@cairn/objstore';
import { isCairnError } from '@cairn/errors';
import type { Meter } from '@cairn/mgmt';
import type { Logger } from 'pino';
import type { CairnConfig } from './config/schema.js';

export function createBackend(cfg: CairnConfig, logger: Logger): ObjectStore {
  const b = cfg.backend;
  const log = logger.child({ component: 'objstore' });
  switch (b.kind) {
    case 'fs':
      return objstore.createFsStore({ root: b.fs.root, fsync: b.fs.fsync, logger: log });
    case 'memory':
      return objstore.createMemoryStore();
    case 's3':
      return objstore.createS3Store({
        endpoint: b.s3.endpoint, region: b.s3.region, accessKeyId: b.s3.accessKeyId, secretAccessKey: b.s3.secretAccessKey,
        forcePathStyle: b.s3.forcePathStyle, requestTimeoutMs: b.s3.requestTimeoutMs, logger: log,
      });
    case 'swift': {
      return objstore.createSwiftStore({
        authUrl: b.swift.authUrl, user: b.swift.user, key: b.swift.key, requestTimeoutMs: b.swift.requestTimeoutMs, logger: log,
        ...(b.swift.storageUrl !== '' ? { storageUrl: b.swift.storageUrl } : {}),
      });
    }
  }
}

const outcomeOf = (err: unknown): string => (isCairnError(err) ? err.errno : 'error');

async function timed<T>(meter: Meter, op: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    const r = await fn();
    meter.backend(op, 'ok', (performance.now() - t0) / 1000);
    return r;
  } catch (err) {
    meter.backend(op, outcomeOf(err), (performance.now() - t0) / 1000);
    throw err;
  }
}

function meteredSegment(seg: OpenSegment, meter: Meter): OpenSegment {
  return {
    get container() { return seg.container; },
    get name() { return seg.name; },
    get bytesAppended() { return seg.bytesAppended; },
    get bytesSent() { return seg.bytesSent; },
    append: (chunk) => seg.append(chunk),
    close: () => timed(meter, 'segment-close', () => seg.close()),
    abort: () => seg.abort(),
  };
}

function meteredContainer(c: Container, meter: Meter): Container {
  return {
    name: c.name,
    create: () => timed(meter, 'create-container', () => c.create()),
    put: (name, body, options) => timed(meter, 'put', () => c.put(name, body, options)),
    get: (name, options) => timed(meter, 'get', () => c.get(name, options)),
    getBuffer: (name, options) => timed(meter, 'get', () => c.getBuffer(name, options)),
    head: (name, options) => timed(meter, 'head', () => c.head(name, options)),
    delete: (name, options) => timed(meter, 'delete', () => c.delete(name, options)),
    list: (options) => timed(meter, 'list', () => c.list(options)),
    listAll: (options) => c.listAll(options),
    openSegment: (name, options) => meteredSegment(c.openSegment(name, options), meter),
  };
}

/** Wraps a store so every request is observed in cairn_backend_request_duration_seconds. */
export function meteredStore(store: ObjectStore, meter: Meter): ObjectStore {
  return {
    kind: store.kind,
    container: (name) => meteredContainer(store.container(name), meter),
    ping: () => timed(meter, 'ping', () => store.ping()),
    stats: () => store.stats(),
    close: () => store.close(),
  };
}
