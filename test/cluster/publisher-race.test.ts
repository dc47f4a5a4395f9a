// Twenty processes' worth of publishers racing for the same checkpoint number
// on a real Swift, fenced through a real etcd: Swift alone lets every
// create-if-absent PUT of the same name succeed (last writer wins); with the
// etcd compare-and-swap exactly one publication wins, every other one is
// told CAIRN_ERR_META_FENCED, and the record read back is the winner's.

import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { isCairnError } from '../../packages/errors/src/index.js';
import { createEtcdPublisher, parseRecordObjectName, type EtcdPublisher } from '../../packages/cluster/src/index.js';
import { etcdEndpoints, servicesUnavailableReason, swiftSettings } from '../helpers/services.js';
import { dropContainer, dropKeys, openEtcd, openSwift, RUN, testPrefix } from './helpers.js';

const swift = swiftSettings();
const etcd = etcdEndpoints();
const WRITERS = 20;
const ROUNDS = 4;

describe.skipIf(!swift || !etcd)(`etcd-fenced publication on Swift${swift && etcd ? '' : ` (not run: ${servicesUnavailableReason()})`}`, () => {
  const store = openSwift(swift!);
  const prefix = testPrefix('race');
  const containerName = `cairn-cluster-race-${RUN}`;
  const clients = Array.from({ length: WRITERS }, () => openEtcd(etcd!));

  afterAll(async () => {
    await dropKeys(clients[0]!, prefix);
    for (const c of clients) c.close();
    await dropContainer(swift!, containerName);
    await store.close();
  });

  it(`of ${WRITERS} concurrent publishers of one number exactly one wins, the others are fenced`, async () => {
    const container = store.container(containerName);
    await container.create();
    // One publisher per client: as many independent processes would have.
    const pubs: EtcdPublisher[] = clients.map((client) => createEtcdPublisher({ container, client, prefix }));
    await pubs[0]!.publish(1, Buffer.from('format'));
    for (let round = 0; round < ROUNDS; round++) {
      const seq = round + 2;
      const records = pubs.map((_, i) => Buffer.concat([Buffer.from(`w${i} seq ${seq} `), randomBytes(64)]));
      const results = await Promise.allSettled(pubs.map((p, i) => p.publish(seq, records[i]!)));
      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(winners).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected') expect(isCairnError(r.reason, 'CAIRN_ERR_META_FENCED'), String(r.reason)).toBe(true);
      }
      const w = winners[0]!;
      // Every publisher reads the winner's bytes back, and lists the same history.
      for (const p of [pubs[w]!, pubs[(w + 1) % WRITERS]!]) {
        expect((await p.read(seq)).equals(records[w]!)).toBe(true);
        expect(await p.list(100)).toEqual(Array.from({ length: seq }, (_, i) => seq - i));
      }
      // A loser that comes back with the same number is still fenced; the winner repeating itself is not.
      await expect(pubs[(w + 1) % WRITERS]!.publish(seq, records[(w + 1) % WRITERS]!)).rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_META_FENCED'));
      await pubs[w]!.publish(seq, records[w]!);
    }
    // The losers cleaned up after themselves: the only record objects are the winners'.
    const names = [];
    for await (const e of container.listAll({ prefix: 'meta/checkpoints/' })) if (e.kind === 'object') names.push(e.name);
    expect(names.map((n) => parseRecordObjectName(n)?.seq ?? -1).sort((a, b) => a - b)).toEqual(Array.from({ length: ROUNDS + 1 }, (_, i) => i + 1));
  }, 120_000);
});
