// Volume ownership through an etcd lease: the owner key of a volume
// (<prefix>/volumes/<volume>/owner) exists only while its owner's lease is
// kept alive. Taking it is a create-if-absent transaction, so at most one
// process holds a volume at a time; a process that dies or loses its etcd
// connection for longer than the TTL loses the key, and the etcd publisher
// (given the lease) refuses to publish for it from then on.

import { cairnError } from '@cairn/errors';
import type { Etcd3, Lease } from 'etcd3';
import pino, { type Logger } from 'pino';
import { DEFAULT_ETCD_PREFIX, etcdCall } from './etcd.js';
import { volumeKeys } from './layout.js';

/** Default time an owner stays the owner after its last keep-alive, seconds. */
export const DEFAULT_LEASE_TTL_SECONDS = 10;

export interface OwnerLeaseOptions {
  readonly client: Etcd3;
  readonly volume: string;
  /** What the owner key says about its holder (JSON). */
  readonly owner: Readonly<Record<string, unknown>>;
  readonly prefix?: string;
  readonly ttlSeconds?: number;
  readonly logger?: Logger;
}

export interface OwnerLease {
  readonly volume: string;
  /** The owner key. */
  readonly key: string;
  /** The etcd lease id holding it (decimal). */
  readonly id: string;
  /** Why the lease was lost, once it was. */
  lost(): string | undefined;
  /** Calls `fn` once when the lease is lost (at once when it already was). */
  onLost(fn: (why: string) => void): void;
  /** Deletes the owner key and revokes the lease (idempotent). */
  release(): Promise<void>;
}

/** The record in the owner key of `volume`, if anyone holds it. */
export async function readOwner(client: Etcd3, volume: string, prefix = DEFAULT_ETCD_PREFIX): Promise<Record<string, unknown> | undefined> {
  const text = await etcdCall('read the owner key', () => client.get(volumeKeys(prefix, volume).owner).string());
  return text === null ? undefined : (JSON.parse(text) as Record<string, unknown>);
}

/** Takes the owner key of a volume; CAIRN_ERR_MGMT_OWNED_ELSEWHERE when another lease holds it. */
export async function acquireOwnerLease(o: OwnerLeaseOptions): Promise<OwnerLease> {
  const key = volumeKeys(o.prefix ?? DEFAULT_ETCD_PREFIX, o.volume).owner;
  const logger = o.logger ?? pino({ level: 'silent' });
  const lease: Lease = o.client.lease(o.ttlSeconds ?? DEFAULT_LEASE_TTL_SECONDS, { autoKeepAlive: true });
  let lostWhy: string | undefined;
  const waiting: Array<(why: string) => void> = [];
  lease.on('lost', (err) => {
    lostWhy ??= `the etcd lease of ${key} was lost: ${err.message}`;
    logger.error({ err, volume: o.volume }, 'volume ownership lease lost');
    for (const fn of waiting.splice(0)) fn(lostWhy);
  });
  const id = await etcdCall('grant a lease', () => lease.grant());
  let taken = false;
  try {
    const res = await etcdCall('take the owner key', () =>
      o.client.if(key, 'Create', '==', 0).then(o.client.put(key).value(JSON.stringify(o.owner)).lease(id)).else(o.client.get(key)).commit());
    taken = res.succeeded;
    if (!taken) {
      const holder = res.responses[0]?.response_range.kvs[0]?.value.toString('utf8') ?? 'unknown';
      throw cairnError('CAIRN_ERR_MGMT_OWNED_ELSEWHERE', `${o.volume}: held by ${holder}`);
    }
  } finally {
    if (!taken) await lease.revoke().catch(() => undefined);
  }

  let released = false;
  return {
    volume: o.volume,
    key,
    id,
    lost: () => lostWhy,
    onLost(fn) {
      if (lostWhy !== undefined) fn(lostWhy);
      else waiting.push(fn);
    },
    async release() {
      if (released) return;
      released = true;
      lostWhy ??= 'released';
      await etcdCall('release the owner key', () => o.client.if(key, 'Lease', '==', id).then(o.client.delete().key(key)).commit());
      await etcdCall('revoke the lease', () => lease.revoke());
    },
  };
}
