// Checkpoint records of version 1 still mount: they are converted on load
// (checkpoint-v1.ts). The fixtures are encoded here, byte by byte as
// docs/formats.md describes version 1, independently of the codec.

import { crc32c } from '@node-rs/crc32';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeCheckpoint } from './checkpoint-codec.js';
import { encodeKey } from './keys.js';
import { checkpointObjectName, parseNodeObjectName } from './names.js';
import { makeVolume, settleReclaim, storedNodeObjects } from './testing/volume.js';

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'bigint' });
const k = (n: number): Buffer => encodeKey([n]);

/** A version 1 record: "CRNHHCKP", u16 1, u16 0, u32 body length, u32 CRC-32C of the body, msgpack body. */
function encodeV1(body: Record<string, unknown>): Buffer {
  const b = Buffer.from(packr.pack(body));
  const h = Buffer.alloc(20);
  h.write('CRNHHCKP', 0, 'ascii');
  h.writeUInt16BE(1, 8);
  h.writeUInt32BE(b.length, 12);
  h.writeUInt32BE(crc32c(b), 16);
  return Buffer.concat([h, b]);
}

const common = {
  volumeId: 'v', seq: 9, epoch: 4, writer: 'w', createdAt: 1700000000000, commitSeq: 77, inherit: [[2, 80]], nonceLimit: 1000,
  shape: [64, 128, 262144], trees: [['t', [5, 32, 100], 3]],
};

describe('checkpoint records of version 1', () => {
  it('decode into the current layout with lives that cover every snapshot listing an object', () => {
    const bytes = encodeV1({
      ...common,
      snapshots: [['s1', 1, 40, [['t', [4, 32, 90], 2]], [4, 5]], ['s2', 2, 60, [['t', [7, 32, 80], 2]], [5, 7]]],
      layout: [[5, 100, 1], [6, 50, 2]],
      garbage: [[3, 8]],
    });
    const rec = decodeCheckpoint(bytes, 'v1');
    expect(rec.commitSeq).toBe(77);
    expect(rec.inherit).toEqual([{ epoch: 2, through: 80 }]);
    expect(rec.snapshots.map((s) => [s.name, s.commitSeq, s.trees[0]!.root!.nonce])).toEqual([['s1', 40, 4n], ['s2', 60, 7n]]);
    expect(rec.layout).toEqual([
      { nonce: 5n, bytes: 100, nodes: 1, birth: 40, stored: 0 }, // listed by s1 (40) and s2 (60): held from 40 on
      { nonce: 6n, bytes: 50, nodes: 2, birth: 77, stored: 0 }, // listed by none: from the record's commit on
    ]);
    expect(rec.garbage).toEqual([
      { nonce: 3n, since: 8, birth: 0, death: 0, stored: 0 }, // held by nothing
      { nonce: 4n, since: 9, birth: 40, death: 41, stored: 0 }, // only s1 holds it
      { nonce: 7n, since: 9, birth: 60, death: 61, stored: 0 }, // only s2 holds it
    ]);
    const bad = Buffer.from(bytes);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 1;
    expect(() => decodeCheckpoint(bad, 'v1')).toThrow(/checksum/i);
  });

  it('a volume whose newest checkpoint is of version 1 mounts, keeps its snapshot, and writes version 2 from then on', async () => {
    const vol = await makeVolume({}, { deletesPerSecond: 5000, cacheBytes: 0, compactBelow: 0 });
    const put = async (tag: string): Promise<void> => {
      const ops = [];
      for (let i = 0; i < 150; i++) ops.push({ type: 'put' as const, tree: 't', key: k(i), value: Buffer.from(`${tag}${i}`) });
      await vol.db.batch(ops);
    };
    await put('a');
    await vol.db.checkpoint();
    await vol.db.createSnapshot('old');
    await put('b');
    const last = await vol.db.checkpoint();

    // What a version 1 writer would have published next: the same state, the snapshot listing every node object.
    const cur = decodeCheckpoint(await vol.container.getBuffer(checkpointObjectName(last.seq)), 'current');
    const everything = [...(await storedNodeObjects(vol.container)).keys()].map((n) => Number(parseNodeObjectName(n)!));
    const listed = new Set(everything.map(BigInt));
    const ref = (r: { nonce: bigint; offset: number; length: number } | null): unknown => (r === null ? null : [Number(r.nonce), r.offset, r.length]);
    const seq = last.seq + 1;
    await vol.container.put(checkpointObjectName(seq), encodeV1({
      volumeId: cur.volumeId, seq, epoch: cur.epoch, writer: 'old-writer', createdAt: Date.now(), commitSeq: cur.commitSeq,
      inherit: [], nonceLimit: Number(cur.nonceLimit),
      shape: [cur.shape.leafMaxEntries, cur.shape.indexMaxEntries, cur.shape.maxNodeBytes],
      trees: cur.trees.map((t) => [t.name, ref(t.root), t.count]),
      snapshots: cur.snapshots.map((s) => [s.name, s.createdAt, s.commitSeq, s.trees.map((t) => [t.name, ref(t.root), t.count]), everything]),
      layout: cur.layout.map((l) => [Number(l.nonce), l.bytes, l.nodes]),
      garbage: cur.garbage.filter((g) => !listed.has(g.nonce)).map((g) => [Number(g.nonce), g.since]),
    }));

    // Nothing else to fall back to: the mount must use the version 1 record.
    for (let n = 1; n < seq; n++) await vol.container.delete(checkpointObjectName(n));
    const db = await vol.crash();
    expect(db.stats().checkpoint.seq).toBeGreaterThan(seq); // claimed with a record of its own
    const claim = await vol.container.getBuffer(checkpointObjectName(db.stats().checkpoint.seq));
    expect(claim.readUInt16BE(8)).toBe(2);
    expect((await db.tree('t').get(k(7)))?.toString()).toBe('b7');
    const view = db.snapshot('old');
    expect((await view.tree('t').scan({ limit: 1000 })).map((e) => e.value.toString())).toEqual(Array.from({ length: 150 }, (_, i) => `a${i}`));
    view.release();
    expect((await db.check()).errors).toEqual([]);

    // New checkpoints and reclamation keep the snapshot's objects...
    await db.batch([{ type: 'put', tree: 't', key: k(1), value: Buffer.from('c1') }]);
    for (let i = 0; i < 3; i++) await db.checkpoint({ force: true });
    await settleReclaim(db);
    const again = db.snapshot('old');
    expect((await again.tree('t').get(k(149)))?.toString()).toBe('a149');
    again.release();
    // ...until it is deleted: then only the live trees' objects stay.
    await db.deleteSnapshot('old');
    for (let i = 0; i < 3; i++) await db.checkpoint({ force: true });
    await settleReclaim(db);
    expect((await storedNodeObjects(vol.container)).size).toBe(db.stats().liveObjects);
    const db2 = await vol.remount();
    expect((await db2.tree('t').get(k(1)))?.toString()).toBe('c1');
    expect((await db2.check()).errors).toEqual([]);
    await db2.close();
  });
});
