// Checkpoint records (docs/formats.md "Checkpoint records"): what a mount
// needs to find the volume again: every tree root, the nonce reservation,
// retained snapshots, which node objects hold live node bytes, and the life
// (birth and death commits) of every node object not yet deleted. Records of
// version 1 are converted on load (checkpoint-v1.ts).

import { crc32c } from '@node-rs/crc32';
import { cairnError } from '@cairn/errors';
import { upgradeV1 } from './checkpoint-v1.js';
import { CHECKPOINT_HEADER_BYTES, CHECKPOINT_MAGIC, CHECKPOINT_VERSION, CHECKPOINT_VERSION_1 } from './format.js';
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
}

/**
 * When a node object may be referenced, in commits: the state of commit c
 * (live trees, or a snapshot taken at c) may reference its nodes only when
 * birth <= c < death.
 */
export interface ObjectLife {
  /** First commit whose state may reference a node of the object. */
  readonly birth: number;
  /** First commit from which no state references it (undefined while the live trees do). */
  readonly death: number | undefined;
  /** Bytes of the object (0: unknown, from a record of version 1). */
  readonly stored: number;
}

export interface LayoutEntry {
  readonly nonce: bigint;
  /** Bytes of the object's node records reachable from the live trees. */
  readonly bytes: number;
  readonly nodes: number;
  readonly birth: number;
  /** Bytes of the object (0: unknown). */
  readonly stored: number;
}

export interface GarbageEntry {
  readonly nonce: bigint;
  /** First checkpoint whose layout no longer listed the object. */
  readonly since: number;
  readonly birth: number;
  readonly death: number;
  readonly stored: number;
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
    snapshots: c.snapshots.map((s) => [s.name, s.createdAt, s.commitSeq, treesOut(s.trees)]),
    layout: c.layout.map((l) => [fromBigInt(l.nonce), l.bytes, l.nodes, l.birth, l.stored]),
    garbage: c.garbage.map((g) => [fromBigInt(g.nonce), g.since, g.birth, g.death, g.stored]),
  });
  const h = Buffer.alloc(CHECKPOINT_HEADER_BYTES);
  CHECKPOINT_MAGIC.copy(h, 0);
  h.writeUInt16BE(CHECKPOINT_VERSION, 8);
  h.writeUInt16BE(0, 10);
  h.writeUInt32BE(body.length, 12);
  h.writeUInt32BE(crc32c(body), 16);
  return Buffer.concat([h, body]);
}

/** Decodes and verifies a checkpoint record (bad magic, version and checksum each have their own error); converts version 1. */
export function decodeCheckpoint(bytes: Uint8Array, what: string): CheckpointRecord {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < CHECKPOINT_HEADER_BYTES || !b.subarray(0, 8).equals(CHECKPOINT_MAGIC)) throw cairnError('CAIRN_ERR_META_BAD_MAGIC', what);
  const v = b.readUInt16BE(8);
  if (v !== CHECKPOINT_VERSION && v !== CHECKPOINT_VERSION_1) throw cairnError('CAIRN_ERR_META_BAD_VERSION', `${what}: version ${v}`);
  const len = b.readUInt32BE(12);
  if (b.length !== CHECKPOINT_HEADER_BYTES + len) throw cairnError('CAIRN_ERR_META_CORRUPT', `${what}: ${b.length} bytes, header says ${CHECKPOINT_HEADER_BYTES + len}`);
  const body = b.subarray(CHECKPOINT_HEADER_BYTES);
  if (b.readUInt32BE(16) !== crc32c(body)) throw cairnError('CAIRN_ERR_META_BAD_CHECKSUM', what);
  const o = unpack(body, what) as Record<string, unknown>;
  if (o === null || typeof o !== 'object') throw cairnError('CAIRN_ERR_META_CORRUPT', `${what}: field body`);
  const f = new Fields(what);
  if (v === CHECKPOINT_VERSION_1) return upgradeV1(o, f);
  return {
    ...f.common(o),
    snapshots: f.arr(o.snapshots, 'snapshots').map((x) => {
      const a = f.arr(x, 'snapshot');
      return { name: f.str(a[0], 'snapshot name'), createdAt: f.int(a[1]), commitSeq: f.int(a[2]), trees: f.trees(a[3]) };
    }),
    layout: f.arr(o.layout, 'layout').map((x) => {
      const a = f.arr(x, 'layout');
      return { nonce: f.big(a[0]), bytes: f.int(a[1]), nodes: f.int(a[2]), birth: f.int(a[3]), stored: f.int(a[4]) };
    }),
    garbage: f.arr(o.garbage, 'garbage').map((x) => {
      const a = f.arr(x, 'garbage');
      return { nonce: f.big(a[0]), since: f.int(a[1]), birth: f.int(a[2]), death: f.int(a[3]), stored: f.int(a[4]) };
    }),
  };
}

/** Typed field readers of a decoded record body; every mistake is CAIRN_ERR_META_CORRUPT. */
export class Fields {
  constructor(private readonly what: string) {}

  bad(f: string): Error {
    return cairnError('CAIRN_ERR_META_CORRUPT', `${this.what}: field ${f}`);
  }

  arr(x: unknown, f: string): unknown[] {
    if (!Array.isArray(x)) throw this.bad(f);
    return x;
  }

  str(x: unknown, f: string): string {
    if (typeof x !== 'string') throw this.bad(f);
    return x;
  }

  int(x: unknown): number {
    return toSafeInt(x, this.what);
  }

  big(x: unknown): bigint {
    return toBigInt(x, this.what);
  }

  ref(x: unknown): NodeRef | null {
    if (x === null) return null;
    const r = this.arr(x, 'root');
    return new NodeRef(this.big(r[0]), this.int(r[1]), this.int(r[2]));
  }

  trees(x: unknown): TreeRootRecord[] {
    return this.arr(x, 'trees').map((t) => {
      const a = this.arr(t, 'trees');
      return { name: this.str(a[0], 'tree name'), root: this.ref(a[1]), count: this.int(a[2]) };
    });
  }

  /** The fields every version has in common. */
  common(o: Record<string, unknown>): Omit<CheckpointRecord, 'snapshots' | 'layout' | 'garbage'> {
    const shape = this.arr(o.shape, 'shape');
    return {
      volumeId: this.str(o.volumeId, 'volumeId'),
      seq: this.int(o.seq),
      epoch: this.int(o.epoch),
      writer: this.str(o.writer, 'writer'),
      createdAt: this.int(o.createdAt),
      commitSeq: this.int(o.commitSeq),
      inherit: this.arr(o.inherit, 'inherit').map((i) => {
        const a = this.arr(i, 'inherit');
        return { epoch: this.int(a[0]), through: this.int(a[1]) };
      }),
      nonceLimit: this.big(o.nonceLimit),
      shape: { leafMaxEntries: this.int(shape[0]), indexMaxEntries: this.int(shape[1]), maxNodeBytes: this.int(shape[2]) },
      trees: this.trees(o.trees),
    };
  }
}
