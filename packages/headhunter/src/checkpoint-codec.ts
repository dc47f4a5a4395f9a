// Checkpoint records (docs/formats.md "Checkpoint records"): what a mount
// needs to find the volume again: every tree root, the nonce reservation,
// retained snapshots, and which node objects hold live node bytes.

import { crc32c } from '@node-rs/crc32';
import { cairnError } from '@cairn/errors';
import { CHECKPOINT_HEADER_BYTES, CHECKPOINT_MAGIC, CHECKPOINT_VERSION } from './format.js';
import { fromBigInt, pack, toBigInt, toSafeInt, unpack } from './msgpack.js';
import { NodeRef, type TreeShapeOptions } from './node.js';

export interface TreeRootRecord {
  readonly name: string;
  readonly root: NodeRef | null;
  readonly count: number;
}

export interface SnapshotRecord {
  readonly name: string;
  /** Creation time, ms since the epoch. */
  readonly createdAt: number;
  /** Last commit the snapshot includes. */
  readonly commitSeq: number;
  readonly trees: readonly TreeRootRecord[];
  /** Every node object the snapshot's trees may reference. */
  readonly objects: readonly bigint[];
}

export interface LayoutEntry {
  readonly nonce: bigint;
  /** Bytes of the object's node records reachable from the live trees. */
  readonly bytes: number;
  readonly nodes: number;
}

export interface GarbageEntry {
  readonly nonce: bigint;
  /** First checkpoint that no longer referenced the object. */
  readonly since: number;
}

export interface CheckpointRecord {
  readonly volumeId: string;
  /** This record's number (its object name); one more than the previous one. */
  readonly seq: number;
  /** Ownership epoch of the writer: the number of the checkpoint its mount published. */
  readonly epoch: number;
  /** Random id of the writing instance. */
  readonly writer: string;
  readonly createdAt: number;
  /** Last commit included in the roots. */
  readonly commitSeq: number;
  /** Log records of these earlier epochs, up to `through`, are part of the history too (set by mounts). */
  readonly inherit: ReadonlyArray<{ readonly epoch: number; readonly through: number }>;
  /** Every nonce below this may have been used; new ones start here once a newer record reserves them. */
  readonly nonceLimit: bigint;
  readonly shape: TreeShapeOptions;
  readonly trees: readonly TreeRootRecord[];
  readonly snapshots: readonly SnapshotRecord[];
  readonly layout: readonly LayoutEntry[];
  readonly garbage: readonly GarbageEntry[];
}

function refOut(r: NodeRef | null): unknown {
  return r === null ? null : [fromBigInt(r.nonce), r.offset, r.length];
}

function treesOut(ts: readonly TreeRootRecord[]): unknown {
  return ts.map((t) => [t.name, refOut(t.root), t.count]);
}

export function encodeCheckpoint(c: CheckpointRecord): Buffer {
  const body = pack({
    volumeId: c.volumeId,
    seq: c.seq,
    epoch: c.epoch,
    writer: c.writer,
    createdAt: c.createdAt,
    commitSeq: c.commitSeq,
    inherit: c.inherit.map((i) => [i.epoch, i.through]),
    nonceLimit: fromBigInt(c.nonceLimit),
    shape: [c.shape.leafMaxEntries, c.shape.indexMaxEntries, c.shape.maxNodeBytes],
    trees: treesOut(c.trees),
    snapshots: c.snapshots.map((s) => [s.name, s.createdAt, s.commitSeq, treesOut(s.trees), s.objects.map(fromBigInt)]),
    layout: c.layout.map((l) => [fromBigInt(l.nonce), l.bytes, l.nodes]),
    garbage: c.garbage.map((g) => [fromBigInt(g.nonce), g.since]),
  });
  const h = Buffer.alloc(CHECKPOINT_HEADER_BYTES);
  CHECKPOINT_MAGIC.copy(h, 0);
  h.writeUInt16BE(CHECKPOINT_VERSION, 8);
  h.writeUInt16BE(0, 10);
  h.writeUInt32BE(body.length, 12);
  h.writeUInt32BE(crc32c(body), 16);
  return Buffer.concat([h, body]);
}

/** Decodes and verifies a checkpoint record (bad magic, version and checksum each have their own error). */
export function decodeCheckpoint(bytes: Uint8Array, what: string): CheckpointRecord {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < CHECKPOINT_HEADER_BYTES || !b.subarray(0, 8).equals(CHECKPOINT_MAGIC)) throw cairnError('CAIRN_ERR_META_BAD_MAGIC', what);
  const v = b.readUInt16BE(8);
  if (v !== CHECKPOINT_VERSION) throw cairnError('CAIRN_ERR_META_BAD_VERSION', `${what}: version ${v}`);
  const len = b.readUInt32BE(12);
  if (b.length !== CHECKPOINT_HEADER_BYTES + len) throw cairnError('CAIRN_ERR_META_CORRUPT', `${what}: ${b.length} bytes, header says ${CHECKPOINT_HEADER_BYTES + len}`);
  const body = b.subarray(CHECKPOINT_HEADER_BYTES);
  if (b.readUInt32BE(16) !== crc32c(body)) throw cairnError('CAIRN_ERR_META_BAD_CHECKSUM', what);
  const o = unpack(body, what) as Record<string, unknown>;
  const bad = (f: string): Error => cairnError('CAIRN_ERR_META_CORRUPT', `${what}: field ${f}`);
  const arr = (x: unknown, f: string): unknown[] => {
    if (!Array.isArray(x)) throw bad(f);
    return x;
  };
  const str = (x: unknown, f: string): string => {
    if (typeof x !== 'string') throw bad(f);
    return x;
  };
  const refIn = (x: unknown): NodeRef | null => {
    if (x === null) return null;
    const r = arr(x, 'root');
    return new NodeRef(toBigInt(r[0], what), toSafeInt(r[1], what), toSafeInt(r[2], what));
  };
  const treesIn = (x: unknown): TreeRootRecord[] => arr(x, 'trees').map((t) => {
    const a = arr(t, 'trees');
    return { name: str(a[0], 'tree name'), root: refIn(a[1]), count: toSafeInt(a[2], what) };
  });
  if (o === null || typeof o !== 'object') throw bad('body');
  const shape = arr(o.shape, 'shape');
  return {
    volumeId: str(o.volumeId, 'volumeId'),
    seq: toSafeInt(o.seq, what),
    epoch: toSafeInt(o.epoch, what),
    writer: str(o.writer, 'writer'),
    createdAt: toSafeInt(o.createdAt, what),
    commitSeq: toSafeInt(o.commitSeq, what),
    inherit: arr(o.inherit, 'inherit').map((i) => {
      const a = arr(i, 'inherit');
      return { epoch: toSafeInt(a[0], what), through: toSafeInt(a[1], what) };
    }),
    nonceLimit: toBigInt(o.nonceLimit, what),
    shape: { leafMaxEntries: toSafeInt(shape[0], what), indexMaxEntries: toSafeInt(shape[1], what), maxNodeBytes: toSafeInt(shape[2], what) },
    trees: treesIn(o.trees),
    snapshots: arr(o.snapshots, 'snapshots').map((s) => {
      const a = arr(s, 'snapshot');
      return {
        name: str(a[0], 'snapshot name'),
        createdAt: toSafeInt(a[1], what),
        commitSeq: toSafeInt(a[2], what),
        trees: treesIn(a[3]),
        objects: arr(a[4], 'snapshot objects').map((n) => toBigInt(n, what)),
      };
    }),
    layout: arr(o.layout, 'layout').map((l) => {
      const a = arr(l, 'layout');
      return { nonce: toBigInt(a[0], what), bytes: toSafeInt(a[1], what), nodes: toSafeInt(a[2], what) };
    }),
    garbage: arr(o.garbage, 'garbage').map((g) => {
      const a = arr(g, 'garbage');
      return { nonce: toBigInt(a[0], what), since: toSafeInt(a[1], what) };
    }),
  };
}
