import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isCairnError } from '@cairn/errors';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointRecord } from './checkpoint-codec.js';
import { createFailpoints } from './failpoints.js';
import { checkpointObjectName, nodeObjectName, parseCheckpointObjectName, parseNodeObjectName } from './names.js';
import { decodeNode, decodeNodeObjectHeader, encodeNode, encodeNodeObjectHeader, writtenForm } from './node-codec.js';
import { IndexNode, LeafNode, NodeRef, leafBytes } from './node.js';
import { OP_DEL, OP_PUT, OP_SNAPSHOT_CREATE, decodeCommit, encodeCommit, encodeCommitPacked, type CommitOp } from './payload-codec.js';
import { defineRecord } from './records.js';
import { pack, packScratchFast, packWithHeader } from './msgpack.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return isCairnError(e) ? e.code : 'not a CairnError';
  }
  return undefined;
};

describe('node records', () => {
  it('round-trip leaves and index nodes; the checksum binds the place they were written', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.uint8Array({ maxLength: 30 }), fc.uint8Array({ maxLength: 200 })), { maxLength: 40 }), fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }), fc.nat(1 << 30), (entries, nonce, offset) => {
      const keys = entries.map(([a]) => Buffer.from(a));
      const vals = entries.map(([, b]) => Buffer.from(b));
      const leaf = new LeafNode(1, keys, vals, leafBytes(keys, vals));
      const rec = encodeNode(leaf, nonce, offset, () => undefined);
      const back = decodeNode(Buffer.from(rec), new NodeRef(nonce, offset, rec.length));
      expect(back.kind).toBe(1);
      expect((back as LeafNode).keys).toEqual(keys);
      expect((back as LeafNode).vals).toEqual(vals);
      expect(code(() => decodeNode(Buffer.from(rec), new NodeRef(nonce, offset + 1, rec.length)))).toBe('CAIRN_ERR_META_BAD_CHECKSUM');
      expect(code(() => decodeNode(Buffer.from(rec), new NodeRef(nonce ^ 1n, offset, rec.length)))).toBe('CAIRN_ERR_META_BAD_CHECKSUM');
    }), { numRuns: 200 });
    const kid = new LeafNode(1, [Buffer.from('a')], [Buffer.from('b')], 2);
    const kidRef = new NodeRef(7n, 32, 20);
    const idx = new IndexNode(1, [Buffer.from('m')], [new NodeRef(2n ** 60n, 5, 9), kid], [3, 1], 4, 1 + 48);
    const rec = encodeNode(idx, 7n, 100, (n) => (n === kid ? kidRef : undefined));
    const back = decodeNode(rec, new NodeRef(7n, 100, rec.length)) as IndexNode;
    expect(back.kids).toEqual([new NodeRef(2n ** 60n, 5, 9), kidRef]);
    expect(back.counts).toEqual([3, 1]);
    expect(back.total).toBe(4);
    const bad = Buffer.from(rec);
    bad[0] = bad[0]! ^ 1;
    expect(code(() => decodeNode(bad, new NodeRef(7n, 100, rec.length)))).toBe('CAIRN_ERR_META_BAD_MAGIC');
    const v2 = Buffer.from(rec);
    v2[2] = 9;
    expect(code(() => decodeNode(v2, new NodeRef(7n, 100, rec.length)))).toBe('CAIRN_ERR_META_BAD_VERSION');
    const flipped = Buffer.from(rec);
    flipped[flipped.length - 1] = flipped[flipped.length - 1]! ^ 0x40;
    expect(code(() => decodeNode(flipped, new NodeRef(7n, 100, rec.length)))).toBe('CAIRN_ERR_META_BAD_CHECKSUM');
  });

  it('a node just written is cached in the form a read of it gives: a packed leaf, an index with packed separators', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a).toString('hex')), { maxLength: 40 }), fc.array(fc.uint8Array({ maxLength: 14 }), { maxLength: 30 }), (hex, probes) => {
      const keys = hex.map((h) => Buffer.from(h, 'hex')).sort(Buffer.compare);
      const vals = keys.map((k, i) => Buffer.from(`v${i}:${k.toString('hex')}`));
      const leaf = new LeafNode(3, keys, vals, leafBytes(keys, vals));
      const ref = new NodeRef(7n, 32, 0);
      const rec = encodeNode(leaf, 7n, 32, () => undefined);
      leaf.ref = ref;
      const cached = writtenForm(leaf, rec);
      expect(cached.kind === 1 && cached.isPacked).toBe(true);
      if (cached.kind !== 1) return;
      expect([cached.keys, cached.vals, cached.bytes, cached.ref]).toEqual([keys, vals, leaf.bytes, ref]);
      // Separators: the keys but the first (an index over kids.length = keys.length children).
      const seps = keys.slice(1);
      const index = new IndexNode(3, seps, keys.map((_, i) => new NodeRef(9n, i, 1)), keys.map(() => 1), keys.length, 0);
      index.ref = ref;
      const loose = probes.map((p) => index.childFor(p));
      expect(writtenForm(index, rec)).toBe(index);
      for (let i = 0; i < probes.length; i++) {
        const want = seps.filter((s) => Buffer.compare(s, Buffer.from(probes[i]!)) <= 0).length;
        expect([loose[i], index.childFor(probes[i]!), cached.lowerBound(probes[i]!)]).toEqual([want, want, keys.filter((k) => Buffer.compare(k, Buffer.from(probes[i]!)) < 0).length]);
      }
      for (const k of seps) expect(index.childFor(k)).toBe(seps.indexOf(k) + 1);
    }), { numRuns: 300 });
  });

  it('node object headers name their nonce', () => {
    const h = encodeNodeObjectHeader(42n, 7);
    expect(decodeNodeObjectHeader(h, 42n)).toBe(7);
    expect(code(() => decodeNodeObjectHeader(h, 43n))).toBe('CAIRN_ERR_META_CORRUPT');
    const b = Buffer.from(h);
    b[13] = b[13]! ^ 1;
    expect(code(() => decodeNodeObjectHeader(b, 42n))).toBe('CAIRN_ERR_META_BAD_CHECKSUM');
  });
});

describe('checkpoint records', () => {
  const rec: CheckpointRecord = {
    volumeId: 'v', seq: 9, epoch: 4, writer: 'w', createdAt: 1700000000000, commitSeq: 77,
    inherit: [{ epoch: 2, through: 80 }], nonceLimit: 1000n, shape: { leafMaxEntries: 128, indexMaxEntries: 64, maxNodeBytes: 262144 },
    trees: [{ name: 'a', root: new NodeRef(5n, 32, 100), count: 3 }, { name: 'b', root: null, count: 0 }],
    snapshots: [{ name: 's', createdAt: 1, commitSeq: 70, trees: [{ name: 'a', root: new NodeRef(4n, 32, 90), count: 2 }] }],
    layout: [{ nonce: 5n, bytes: 100, nodes: 1, birth: 71, stored: 400 }],
    garbage: [{ nonce: 3n, since: 8, birth: 2, death: 60, stored: 300 }, { nonce: 4n, since: 9, birth: 61, death: 75, stored: 250 }],
  };

  it('round-trip, and each kind of damage has its own error', () => {
    const b = encodeCheckpoint(rec);
    expect(decodeCheckpoint(b, 'c')).toEqual(rec);
    const magic = Buffer.from(b);
    magic[0] = magic[0]! ^ 1;
    expect(code(() => decodeCheckpoint(magic, 'c'))).toBe('CAIRN_ERR_META_BAD_MAGIC');
    const version = Buffer.from(b);
    version[9] = 99;
    expect(code(() => decodeCheckpoint(version, 'c'))).toBe('CAIRN_ERR_META_BAD_VERSION');
    const sum = Buffer.from(b);
    sum[sum.length - 1] = sum[sum.length - 1]! ^ 1;
    expect(code(() => decodeCheckpoint(sum, 'c'))).toBe('CAIRN_ERR_META_BAD_CHECKSUM');
    expect(code(() => decodeCheckpoint(b.subarray(0, b.length - 1), 'c'))).toBe('CAIRN_ERR_META_CORRUPT');
  });
});

describe('replay-log payloads', () => {
  it('round-trip commits and reject damage', () => {
    const c = {
      volumeId: 'vol', epoch: 3, seq: 12, ops: [
        { op: OP_PUT, tree: 't', key: Buffer.from([1, 2]), value: Buffer.from('v') },
        { op: OP_DEL, tree: 't', key: Buffer.from([3]) },
        { op: OP_SNAPSHOT_CREATE, name: 'snap', createdAt: 5 },
      ],
    } as const;
    const p = encodeCommit(c);
    expect(decodeCommit(p)).toEqual(c);
    const bad = Buffer.from(p);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 1;
    expect(code(() => decodeCommit(bad))).toBe('CAIRN_ERR_META_BAD_CHECKSUM');
    expect(code(() => decodeCommit(Buffer.from('xx')))).toBe('CAIRN_ERR_META_BAD_MAGIC');
  });

  it('encode put/del commits to exactly the bytes msgpackr writes', () => {
    const same = (c: { volumeId: string; epoch: number; seq: number; ops: CommitOp[] }): void => {
      const p = encodeCommit(c);
      expect(p.equals(encodeCommitPacked(c))).toBe(true);
      expect(decodeCommit(p)).toEqual(c);
    };
    const len = fc.constantFrom(0, 1, 31, 32, 255, 256, 300);
    const bytes = fc.oneof(fc.uint8Array({ maxLength: 40 }), len.map((n) => new Uint8Array(n).fill(7)));
    const str = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('inodes', 'x'.repeat(31), 'y'.repeat(32), 'z'.repeat(255), 'w'.repeat(256), 'é', '\u{1F600}'));
    const uint = fc.oneof(fc.nat(), fc.constantFrom(0, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000, Number.MAX_SAFE_INTEGER));
    const op = fc.oneof(
      fc.record({ tree: str, key: bytes, value: bytes }).map((o): CommitOp => ({ op: OP_PUT, tree: o.tree, key: Buffer.from(o.key), value: Buffer.from(o.value) })),
      fc.record({ tree: str, key: bytes }).map((o): CommitOp => ({ op: OP_DEL, tree: o.tree, key: Buffer.from(o.key) })),
    );
    const ops = fc.oneof(fc.array(op, { maxLength: 20 }), fc.constantFrom(15, 16, 17).chain((n) => fc.array(op, { minLength: n, maxLength: n })));
    fc.assert(fc.property(str, uint, uint, ops, (volumeId, epoch, seq, o) => same({ volumeId, epoch, seq, ops: o })), { numRuns: 300 });
    for (const n of [65535, 65536]) {
      same({ volumeId: 'v', epoch: 1, seq: 2, ops: [{ op: OP_PUT, tree: 't', key: Buffer.from([1]), value: Buffer.alloc(n, 3) }] });
    }
    const many = Array.from({ length: 65536 }, (_, i): CommitOp => ({ op: OP_DEL, tree: 't', key: Buffer.from([i & 0xff]) }));
    same({ volumeId: 'v', epoch: 1, seq: 2, ops: many.slice(0, 65535) });
    same({ volumeId: 'v', epoch: 1, seq: 2, ops: many });
  });
});

describe('record value encoding', () => {
  it('writes exactly the bytes of msgpackr after the header', () => {
    const leaf = fc.oneof(
      fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme', minLength: 20, maxLength: 300 }),
      fc.integer(), fc.nat(), fc.double(), fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }), fc.boolean(), fc.constant(null), fc.constant(undefined),
      fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)), fc.uint8Array({ maxLength: 10 }),
      fc.constantFrom(0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000, -0x20, -0x21, -0x80, -0x81, -0x8000, -0x8001, -0x80000000, -0x80000001,
        -0, 1.5, 'x'.repeat(31), 'x'.repeat(32), 'x'.repeat(255), 'x'.repeat(256), 'x'.repeat(70000), 'é'.repeat(20), 1n << 63n, -(1n << 63n), (1n << 64n) - 1n, 0n),
    );
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('obj'), tie('arr')),
      obj: fc.dictionary(fc.string({ maxLength: 40 }), tie('value'), { maxKeys: 20 }),
      arr: fc.array(tie('value'), { maxLength: 20 }),
    }));
    fc.assert(fc.property(value, (v) => {
      let ref: Buffer;
      try {
        ref = Buffer.concat([Buffer.from([7, 9]), pack(v)]);
      } catch {
        // msgpackr refuses it (a bigint beyond 64 bits): so must the direct encoder.
        expect(() => packWithHeader([7, 9], v)).toThrow();
        return;
      }
      expect(packWithHeader([7, 9], v).equals(ref)).toBe(true);
      expect(packScratchFast(v).equals(ref.subarray(2))).toBe(true);
    }), { numRuns: 2000 });
    const big = { a: Buffer.alloc(70000, 1), b: Array.from({ length: 70000 }, (_, i) => i), c: Buffer.alloc(300, 2) };
    expect(packWithHeader([1], big).equals(Buffer.concat([Buffer.from([1]), pack(big)]))).toBe(true);
  });
});

describe('object names', () => {
  it('turn nonces and checkpoint numbers into names and back; newest checkpoint lists first', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (n) => {
      expect(parseNodeObjectName(nodeObjectName(n))).toBe(n);
    }));
    fc.assert(fc.property(fc.nat(), fc.nat(), (a, b) => {
      expect(parseCheckpointObjectName(checkpointObjectName(a))).toBe(a);
      if (a < b) expect(checkpointObjectName(b) < checkpointObjectName(a)).toBe(true);
    }));
    expect(parseNodeObjectName('meta/nodes/xyz')).toBeUndefined();
    expect(parseCheckpointObjectName('segments/0000000000000001')).toBeUndefined();
  });
});

describe('record codecs', () => {
  interface Inode { ino: number; mode: number; name?: string }
  const validate = (v: unknown): Inode => {
    const o = v as Inode;
    if (typeof o?.ino !== 'number' || typeof o.mode !== 'number') throw new Error('not an inode');
    return o;
  };

  it('encode, decode, check the tag, version and shape, upgrade old versions', () => {
    const inode = defineRecord<Inode>({ name: 'inode', tag: 1, version: 2, validate, upgrade: (v, raw) => (v === 1 ? { ...(raw as object), mode: 0o644 } : raw) });
    const b = inode.encode({ ino: 5, mode: 0o755, name: 'x' });
    expect(inode.decode(b)).toEqual({ ino: 5, mode: 0o755, name: 'x' });
    const other = defineRecord<Inode>({ name: 'dirent', tag: 2, version: 1, validate });
    expect(code(() => other.decode(b))).toBe('CAIRN_ERR_META_CORRUPT');
    const v1 = defineRecord<{ ino: number }>({ name: 'inode', tag: 1, version: 1, validate: (v) => v as { ino: number } });
    expect(inode.decode(v1.encode({ ino: 9 }))).toEqual({ ino: 9, mode: 0o644 });
    const v3 = defineRecord<Inode>({ name: 'inode', tag: 1, version: 3, validate });
    expect(code(() => inode.decode(v3.encode({ ino: 1, mode: 1 })))).toBe('CAIRN_ERR_META_BAD_VERSION');
    expect(code(() => inode.decode(inode.encode({ ino: 'x' } as unknown as Inode)))).toBe('CAIRN_ERR_META_CORRUPT');
  });
});

describe('failpoints', () => {
  it('parse specs, fire on the n-th hit, refuse unknown names', async () => {
    const fp = createFailpoints('batch.after-durable=throw@2; checkpoint.after-publish=delay:1');
    await fp.hit('batch.after-durable');
    await expect(fp.hit('batch.after-durable')).rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_INTERNAL'));
    await fp.hit('batch.after-durable');
    await fp.hit('checkpoint.after-publish');
    expect(fp.counts()).toEqual({ 'batch.after-durable': 3, 'checkpoint.after-publish': 1 });
    expect(code(() => createFailpoints('no.such-point=kill'))).toBe('CAIRN_ERR_CONFIG_INVALID');
    expect(code(() => createFailpoints('batch.after-durable=explode'))).toBe('CAIRN_ERR_CONFIG_INVALID');
  });
});
