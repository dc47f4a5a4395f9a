// A model test of the etcd-fenced checkpoint publisher on a real Swift and a
// real etcd. fast-check generates sequences of publications (single, and
// several writers racing for one number), repeats, removals, listings, reads,
// stray record objects (a loser that crashed before its compare-and-swap, a
// writer still using the object-store publisher) and tampered records, from
// three writers; each step is checked against a model of the rule "checkpoint
// N is published iff N follows the newest one; exactly one writer wins it".
// Some runs start from a volume whose first records the object-store
// publisher wrote, which the first publication through etcd adopts.

import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { isCairnError, type CairnErrorCode } from '../../packages/errors/src/index.js';
import { checkpointObjectName, createObjectStorePublisher } from '../../packages/headhunter/src/index.js';
import { createEtcdPublisher, parseRecordObjectName, recordObjectName, type EtcdPublisher } from '../../packages/cluster/src/index.js';
import type { Container } from '../../packages/objstore/src/index.js';
import { etcdEndpoints, servicesUnavailableReason, swiftSettings } from '../helpers/services.js';
import { dropContainer, dropKeys, openEtcd, openSwift, RUN, testPrefix } from './helpers.js';

const swift = swiftSettings();
const etcd = etcdEndpoints();
const WRITERS = 3;

type Action =
  | { t: 'publish'; w: number; rel: number }
  | { t: 'race'; ws: number[]; rel: number }
  | { t: 'repeat' }
  | { t: 'remove'; pick: number }
  | { t: 'list'; limit: number }
  | { t: 'read'; rel: number }
  | { t: 'stray'; w: number; rel: number; legacy: boolean }
  | { t: 'tamper'; pick: number };

const writer = fc.integer({ min: 0, max: WRITERS - 1 });
const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('publish' as const), w: writer, rel: fc.integer({ min: -1, max: 2 }) }), weight: 6 },
  { arbitrary: fc.record({ t: fc.constant('race' as const), ws: fc.uniqueArray(writer, { minLength: 2, maxLength: WRITERS }), rel: fc.integer({ min: 0, max: 1 }) }), weight: 3 },
  { arbitrary: fc.constant({ t: 'repeat' as const }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('remove' as const), pick: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('list' as const), limit: fc.integer({ min: 1, max: 6 }) }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('read' as const), rel: fc.integer({ min: -3, max: 1 }) }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constant('stray' as const), w: writer, rel: fc.integer({ min: 0, max: 1 }), legacy: fc.boolean() }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('tamper' as const), pick: fc.nat() }), weight: 1 },
);

/** The model: the newest number, the records kept (and whether their object was tampered with), the last win. */
interface Model {
  newest: number;
  adopted: boolean;
  kept: Map<number, { bytes: Buffer; tampered: boolean }>;
  last: { w: number; seq: number; bytes: Buffer } | undefined;
}

const code = (e: unknown): CairnErrorCode | string => (isCairnError(e) ? e.code : String(e));

async function outcome(p: Promise<unknown>): Promise<'ok' | CairnErrorCode | string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return code(e);
  }
}

async function objectsOf(container: Container, seq: number): Promise<string[]> {
  const out: string[] = [];
  for await (const e of container.listAll({ prefix: checkpointObjectName(seq) })) if (e.kind === 'object') out.push(e.name);
  return out;
}

describe.skipIf(!swift || !etcd)(`etcd-fenced publisher model${swift && etcd ? '' : ` (not run: ${servicesUnavailableReason()})`}`, () => {
  const store = openSwift(swift!);
  const client = openEtcd(etcd!);
  const containers: string[] = [];
  let runs = 0;

  afterAll(async () => {
    for (const c of containers) await dropContainer(swift!, c);
    await dropKeys(client, testPrefix('model'));
    client.close();
    await store.close();
  });

  it('matches the compare-and-swap model for interleaved writers', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 2 }), fc.array(action, { minLength: 1, maxLength: 24 }), async (legacyCount, actions) => {
      const run = runs++;
      const name = `cairn-cluster-model-${RUN}-${run}`;
      containers.push(name);
      const container = store.container(name);
      await container.create();
      const prefix = `${testPrefix('model')}/${run}`;
      const pubs: EtcdPublisher[] = Array.from({ length: WRITERS }, () => createEtcdPublisher({ container, client, prefix }));
      const m: Model = { newest: 0, adopted: false, kept: new Map(), last: undefined };
      // Records the object-store publisher wrote before the switch to etcd.
      const legacy = createObjectStorePublisher({ container });
      for (let seq = 1; seq <= legacyCount; seq++) {
        const bytes = Buffer.from(`legacy ${seq} ${randomBytes(4).toString('hex')}`);
        await legacy.publish(seq, bytes);
        m.kept.set(seq, { bytes, tampered: false });
        m.newest = seq;
      }
      const record = (w: number, seq: number): Buffer => Buffer.from(`w${w} seq ${seq} ${randomBytes(6).toString('hex')}`);
      const won = (w: number, seq: number, bytes: Buffer): void => {
        m.newest = seq;
        m.adopted = true;
        m.kept.set(seq, { bytes, tampered: false });
        m.last = { w, seq, bytes };
      };

      for (const a of actions) {
        switch (a.t) {
          case 'publish': {
            const seq = Math.max(1, m.newest + a.rel);
            const bytes = record(a.w, seq);
            const got = await outcome(pubs[a.w]!.publish(seq, bytes));
            if (seq === m.newest + 1) {
              expect(got).toBe('ok');
              won(a.w, seq, bytes);
            } else {
              expect(got).toBe('CAIRN_ERR_META_FENCED');
            }
            break;
          }
          case 'race': {
            const seq = Math.max(1, m.newest + a.rel);
            const bytes = a.ws.map((w) => record(w, seq));
            const got = await Promise.all(a.ws.map((w, i) => outcome(pubs[w]!.publish(seq, bytes[i]!))));
            const winners = got.flatMap((g, i) => (g === 'ok' ? [i] : []));
            expect(winners).toHaveLength(seq === m.newest + 1 ? 1 : 0);
            expect(got.filter((g) => g !== 'ok').every((g) => g === 'CAIRN_ERR_META_FENCED')).toBe(true);
            if (winners.length === 1) won(a.ws[winners[0]!]!, seq, bytes[winners[0]!]!);
            break;
          }
          case 'repeat': {
            // The last winner publishing the same bytes again (its answer was lost): accepted while it is the newest.
            if (m.last === undefined) break;
            const got = await outcome(pubs[m.last.w]!.publish(m.last.seq, m.last.bytes));
            expect(got).toBe(m.last.seq === m.newest ? 'ok' : 'CAIRN_ERR_META_FENCED');
            break;
          }
          case 'remove': {
            const seqs = [...m.kept.keys()];
            if (seqs.length === 0) break;
            const seq = seqs[a.pick % seqs.length]!;
            const got = await outcome(pubs[0]!.remove(seq));
            if (seq === m.newest) {
              expect(got).toBe('CAIRN_ERR_INVALID_ARGUMENT');
            } else {
              expect(got).toBe('ok');
              m.kept.delete(seq);
              // Every object of that number is gone: the record and any stray.
              expect(await objectsOf(container, seq)).toEqual([]);
            }
            break;
          }
          case 'list': {
            const want = [...m.kept.keys()].sort((x, y) => y - x).slice(0, a.limit);
            expect(await pubs[1]!.list(a.limit)).toEqual(want);
            break;
          }
          case 'read': {
            const seq = Math.max(1, m.newest + a.rel);
            const k = m.kept.get(seq);
            const p = pubs[2]!.read(seq);
            if (k === undefined) expect(await outcome(p)).toBe('CAIRN_ERR_OBJ_NOT_FOUND');
            else if (k.tampered) expect(await outcome(p)).toBe('CAIRN_ERR_META_BAD_CHECKSUM');
            else expect((await p).equals(k.bytes)).toBe(true);
            break;
          }
          case 'stray': {
            // An object no publication vouches for; before adoption only one that cannot be mistaken for an etcd history.
            const seq = Math.max(1, m.newest + a.rel);
            if (a.legacy && (!m.adopted || m.kept.has(seq))) break;
            const bytes = Buffer.from(`stray ${seq}`);
            const objName = a.legacy ? checkpointObjectName(seq) : recordObjectName(seq, randomBytes(8).toString('hex'), randomBytes(32).toString('hex'));
            await container.put(objName, bytes);
            break;
          }
          case 'tamper': {
            // Swift keeps the last of concurrent PUTs: overwrite a vouched record (once adopted, every kept one is vouched).
            if (!m.adopted) break;
            const seqs = [...m.kept.keys()];
            if (seqs.length === 0) break;
            const seq = seqs[a.pick % seqs.length]!;
            const names = (await objectsOf(container, seq));
            for (const n of names) await container.put(n, Buffer.from(`overwritten ${n}`));
            m.kept.get(seq)!.tampered = true;
            break;
          }
        }
      }
      // In the end every kept record is what the model says, from any writer's point of view.
      const want = [...m.kept.keys()].sort((x, y) => y - x);
      for (const p of pubs) expect(await p.list(100)).toEqual(want);
      for (const seq of want) {
        const k = m.kept.get(seq)!;
        if (k.tampered) await expect(pubs[0]!.read(seq)).rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_META_BAD_CHECKSUM'));
        else expect((await pubs[0]!.read(seq)).equals(k.bytes)).toBe(true);
      }
      // No record object of a number the model does not keep is ever vouched for; strays may stay until removed.
      for await (const e of container.listAll({ prefix: 'meta/checkpoints/' })) if (e.kind === 'object') expect(parseRecordObjectName(e.name)).toBeDefined();
    }), { numRuns: 14 });
  }, 240_000);
});
