// The etcd connection of cluster mode: one client with a deadline on every
// unary call, and the translation of etcd's failures into CairnErrors.
//
// etcd being unreachable or slow is a transient condition: it is reported as
// a retryable error, never as "fenced", so that a caller retries (and a
// checkpoint whose publication ended that way counts as "unknown whether it
// was published", which the publisher's read() settles).

import { cairnError, isCairnError, type CairnError } from '@cairn/errors';
import { Etcd3 } from 'etcd3';

/** Default deadline of one etcd request, ms. */
export const DEFAULT_ETCD_TIMEOUT_MS = 5_000;
/** Default key prefix under which Cairn keeps its etcd keys. */
export const DEFAULT_ETCD_PREFIX = '/cairn';

export interface EtcdConnectOptions {
  /** Client URLs, e.g. ["http://127.0.0.1:2379"]. */
  readonly endpoints: readonly string[];
  /** Deadline of one request (and of connecting), ms. */
  readonly timeoutMs?: number;
}

/** Opens a client (connections are made lazily, on the first request). */
export function connectEtcd(o: EtcdConnectOptions): Etcd3 {
  if (o.endpoints.length === 0) throw cairnError('CAIRN_ERR_CONFIG_INVALID', 'etcd: no endpoints');
  const timeoutMs = o.timeoutMs ?? DEFAULT_ETCD_TIMEOUT_MS;
  return new Etcd3({
    hosts: [...o.endpoints],
    dialTimeout: timeoutMs,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeoutMs }),
  });
}

/** A CairnError for a failed etcd request: retryable unless it already is a CairnError. */
export function etcdFailure(err: unknown, what: string): CairnError {
  if (isCairnError(err)) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return cairnError('CAIRN_ERR_CLUSTER_UNAVAILABLE', `${what}: ${msg}`, { cause: err });
}

/** Runs one etcd request, translating its failure. */
export async function etcdCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw etcdFailure(err, what);
  }
}
