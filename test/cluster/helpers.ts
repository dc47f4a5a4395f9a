// Shared pieces of the cluster tests: a Swift store and an etcd client for a
// test, unique names per run, and cleanup of the containers and etcd keys a
// test made.

import { randomBytes } from 'node:crypto';
import { createSwiftStore, type ObjectStore } from '../../packages/objstore/src/index.js';
import { connectEtcd, type Etcd3 } from '../../packages/cluster/src/index.js';
import type { SwiftSettings } from '../helpers/services.js';

export const RUN = randomBytes(3).toString('hex');

export function openSwift(s: SwiftSettings): ObjectStore {
  return createSwiftStore({ authUrl: s.authUrl, user: s.user, key: s.key, retry: { baseDelayMs: 20, maxDelayMs: 500 } });
}

export function openEtcd(endpoints: readonly string[]): Etcd3 {
  return connectEtcd({ endpoints, timeoutMs: 10_000 });
}

/** An etcd key prefix of its own for one test. */
export function testPrefix(name: string): string {
  return `/cairn-test/${RUN}/${name}`;
}

/** Deletes every object of a container, then the container (straight through Swift's API). */
export async function dropContainer(s: SwiftSettings, name: string): Promise<void> {
  const auth = await fetch(s.authUrl, { headers: { 'x-auth-user': s.user, 'x-auth-key': s.key } });
  await auth.arrayBuffer();
  const headers = { 'x-auth-token': String(auth.headers.get('x-auth-token')) };
  const base = `${s.storageUrl}/${encodeURIComponent(name)}`;
  for (;;) {
    const r = await fetch(`${base}?format=json&limit=1000`, { headers });
    if (r.status !== 200) {
      await r.arrayBuffer();
      break;
    }
    const items = (await r.json()) as Array<{ name: string }>;
    if (items.length === 0) break;
    for (const it of items) await (await fetch(`${base}/${encodeURIComponent(it.name)}`, { method: 'DELETE', headers })).arrayBuffer();
  }
  await (await fetch(base, { method: 'DELETE', headers })).arrayBuffer();
}

/** Deletes every etcd key under `prefix`. */
export async function dropKeys(client: Etcd3, prefix: string): Promise<void> {
  await client.delete().prefix(prefix).exec();
}
