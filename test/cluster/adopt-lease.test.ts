// Switching a volume from the object-store publisher to etcd fencing (the
// first mount adopts the newest record), refusing to go back in history when
// etcd lost the volume's keys, and the ownership lease: one holder at a time,
// and a publisher bound to a lease stops publishing once the lease no longer
// holds the owner key. On a real Swift and a real etcd.

import { afterAll, describe, expect, it } from 'vitest';
import { isCairnError } from '../../packages/errors/src/index.js';
import { encodeKey, formatVolume, openVolume } from '../../packages/headhunter/src/index.js';
import { openReplayLog } from '../../packages/replaylog/src/index.js';
import { acquireOwnerLease, createEtcdPublisher, readOwner, volumeKeys } from '../../packages/cluster/src/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etcdEndpoints, servicesUnavailableReason, swiftSettings } from '../helpers/services.js';
import { dropContainer, dropKeys, openEtcd, openSwift, RUN, testPrefix } from './helpers.js';

const swift = swiftSettings();
const etcd = etcdEndpoints();
const k = (n: number): Buffer => encodeKey([n]);

describe.skipIf(!swift || !etcd)(`etcd fencing: adoption and leases${swift && etcd ? '' : ` (not run: ${servicesUnavailableReason()})`}`, () => {
  const store = openSwift(swift!);
  const client = openEtcd(etcd!);
  const prefix = testPrefix('adopt');
  const containers: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'cairn-cluster-adopt-'));

  afterAll(async () => {
    await dropKeys(client, prefix);
    client.close();
    for (const c of containers) await dropContainer(swift!, c);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a volume checkpointed by the object-store publisher mounts with etcd fencing, and refuses when etcd lost its keys', async () => {
    const name = `cairn-cluster-adopt-${RUN}`;
    containers.push(name);
    const container = store.container(name);
    await formatVolume({ container, trees: ['t'] });
    // Served for a while without etcd.
    const log = await openReplayLog({ dir: join(dir, 'log'), fsync: false });
    let db = await openVolume({ container, log, checkpointIntervalMs: 3_600_000 });
    await db.batch([{ type: 'put', tree: 't', key: k(1), value: Buffer.from('before') }]);
    await db.checkpoint();
    await db.close();
    // Switched to etcd: the first mount adopts the newest record and claims the next number through etcd.
    const publisher = createEtcdPublisher({ container, client, prefix });
    db = await openVolume({ container, log, publisher, checkpointIntervalMs: 3_600_000 });
    expect((await db.tree('t').get(k(1)))?.toString()).toBe('before');
    const keys = volumeKeys(prefix, name);
    const historyNow = async () => Object.values(await client.getAll().prefix(keys.history).strings()).map((v) => JSON.parse(v) as { seq: number; writer: string });
    // The claim vouches for the adopted record (and the ones before it) and is itself the first etcd publication.
    const adopted = await historyNow();
    expect(adopted.filter((h) => h.writer === 'objstore').length).toBeGreaterThan(0);
    expect(adopted.filter((h) => h.writer === publisher.writer).map((h) => h.seq)).toEqual([Math.max(...adopted.map((h) => h.seq))]);
    await db.batch([{ type: 'put', tree: 't', key: k(2), value: Buffer.from('after') }]);
    await db.checkpoint();
    await db.close();
    const pointer = JSON.parse((await client.get(keys.pointer).string())!) as { seq: number; writer: string };
    expect(pointer.writer).toBe(publisher.writer);
    // The publisher lists exactly what the history entries vouch for.
    const history = await historyNow();
    expect(await publisher.list(100)).toEqual(history.map((h) => h.seq).sort((x, y) => y - x));

    // A fresh mount through etcd sees both changes.
    const log2 = await openReplayLog({ dir: join(dir, 'log2'), fsync: false });
    db = await openVolume({ container, log: log2, publisher: createEtcdPublisher({ container, client, prefix }), checkpointIntervalMs: 3_600_000 });
    expect((await db.tree('t').get(k(1)))?.toString()).toBe('before');
    expect((await db.tree('t').get(k(2)))?.toString()).toBe('after');
    await db.close();

    // etcd lost the keys: mounting would go back to the last object-store record; it refuses instead.
    await dropKeys(client, keys.base);
    const log3 = await openReplayLog({ dir: join(dir, 'log3'), fsync: false });
    await expect(openVolume({ container, log: log3, publisher: createEtcdPublisher({ container, client, prefix }) }))
      .rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_META_CORRUPT') && /restore etcd/.test((e as Error).message));
    for (const l of [log, log2, log3]) await l.close();
    await publisher.close();
  }, 120_000);

  it('one owner lease per volume; a publisher bound to a lost lease is fenced', async () => {
    const name = `cairn-cluster-lease-${RUN}`;
    containers.push(name);
    const container = store.container(name);
    await container.create();
    const lease = await acquireOwnerLease({ client, prefix, volume: name, owner: { node: 'n1' }, ttlSeconds: 5 });
    expect(await readOwner(client, name, prefix)).toEqual({ node: 'n1' });
    await expect(acquireOwnerLease({ client, prefix, volume: name, owner: { node: 'n2' } }))
      .rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_MGMT_OWNED_ELSEWHERE') && /n1/.test((e as Error).message));
    const bound = createEtcdPublisher({ container, client, prefix, lease });
    await bound.publish(1, Buffer.from('one'));
    await bound.publish(2, Buffer.from('two'));
    // The owner key goes away (as when the lease expires): the next publication is fenced, and nothing was published.
    await client.delete().key(lease.key).exec();
    await expect(bound.publish(3, Buffer.from('three'))).rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_META_FENCED') && /lease/.test((e as Error).message));
    expect(await bound.list(10)).toEqual([2, 1]);
    await lease.release();
    expect(lease.lost()).toBeDefined();
    // Released: another owner takes it, and its publisher goes on from the newest record.
    const next = await acquireOwnerLease({ client, prefix, volume: name, owner: { node: 'n2' }, ttlSeconds: 5 });
    await createEtcdPublisher({ container, client, prefix, lease: next }).publish(3, Buffer.from('three'));
    expect((await bound.read(3)).toString()).toBe('three');
    await next.release();
    expect(await readOwner(client, name, prefix)).toBeUndefined();
  }, 60_000);
});
