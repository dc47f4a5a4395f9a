// Replay-log payloads (docs/formats.md "Replay-log payloads (headhunter
// batches)"). Every durable change of a volume is one commit record: the
// changes of one batch, or one snapshot or tree operation, with the commit's
// sequence number. Replaying the records after a checkpoint, in order,
// rebuilds exactly the state that was acknowledged.

import { crc32c } from '@node-rs/crc32';
import { cairnError } from '@cairn/errors';
import { PAYLOAD_HEADER_BYTES, PAYLOAD_KIND_COMMIT, PAYLOAD_MAGIC, PAYLOAD_VERSION } from './format.js';
import { packScratch, toSafeInt, unpack } from './msgpack.js';

export const OP_PUT = 0;
export const OP_DEL = 1;
export const OP_SNAPSHOT_CREATE = 2;
export const OP_SNAPSHOT_DELETE = 3;
export const OP_TREE_CREATE = 4;

export type CommitOp =
  | { readonly op: typeof OP_PUT; readonly tree: string; readonly key: Buffer; readonly value: Buffer }
  | { readonly op: typeof OP_DEL; readonly tree: string; readonly key: Buffer }
  | { readonly op: typeof OP_SNAPSHOT_CREATE; readonly name: string; readonly createdAt: number }
  | { readonly op: typeof OP_SNAPSHOT_DELETE; readonly name: string }
  | { readonly op: typeof OP_TREE_CREATE; readonly tree: string };

export interface CommitRecord {
  /** Volume the record belongs to. */
  readonly volumeId: string;
  /** Ownership epoch of the writer (the checkpoint number its mount published). */
  readonly epoch: number;
  /** Commit sequence number: one more than the previous commit of the volume. */
  readonly seq: number;
  readonly ops: readonly CommitOp[];
}

export function encodeCommit(c: CommitRecord): Buffer {
  const ops = c.ops.map((o) => {
    switch (o.op) {
      case OP_PUT: return [OP_PUT, o.tree, o.key, o.value];
      case OP_DEL: return [OP_DEL, o.tree, o.key];
      case OP_SNAPSHOT_CREATE: return [OP_SNAPSHOT_CREATE, o.name, o.createdAt];
      case OP_SNAPSHOT_DELETE: return [OP_SNAPSHOT_DELETE, o.name];
      case OP_TREE_CREATE: return [OP_TREE_CREATE, o.tree];
    }
  });
  const body = packScratch([c.volumeId, c.epoch, c.seq, ops]);
  const out = Buffer.allocUnsafe(PAYLOAD_HEADER_BYTES + body.length);
  out.writeUInt16BE(PAYLOAD_MAGIC, 0);
  out[2] = PAYLOAD_VERSION;
  out[3] = PAYLOAD_KIND_COMMIT;
  body.copy(out, PAYLOAD_HEADER_BYTES);
  out.writeUInt32BE(crc32c(out.subarray(PAYLOAD_HEADER_BYTES)), 4);
  return out;
}

/** Decodes a payload; throws META_BAD_MAGIC / _BAD_VERSION / _BAD_CHECKSUM / _CORRUPT. */
export function decodeCommit(p: Uint8Array): CommitRecord {
  const b = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  if (b.length < PAYLOAD_HEADER_BYTES || b.readUInt16BE(0) !== PAYLOAD_MAGIC) throw cairnError('CAIRN_ERR_META_BAD_MAGIC', 'replay-log payload');
  if (b[2] !== PAYLOAD_VERSION) throw cairnError('CAIRN_ERR_META_BAD_VERSION', `replay-log payload version ${b[2]}`);
  if (b[3] !== PAYLOAD_KIND_COMMIT) throw cairnError('CAIRN_ERR_META_CORRUPT', `replay-log payload kind ${b[3]}`);
  const body = b.subarray(PAYLOAD_HEADER_BYTES);
  if (b.readUInt32BE(4) !== crc32c(body)) throw cairnError('CAIRN_ERR_META_BAD_CHECKSUM', 'replay-log payload');
  const v = unpack(body, 'replay-log payload');
  const bad = (what: string): Error => cairnError('CAIRN_ERR_META_CORRUPT', `replay-log payload: ${what}`);
  if (!Array.isArray(v) || v.length !== 4 || typeof v[0] !== 'string' || !Array.isArray(v[3])) throw bad('malformed commit');
  const ops: CommitOp[] = (v[3] as unknown[]).map((o) => {
    if (!Array.isArray(o)) throw bad('malformed op');
    switch (o[0]) {
      case OP_PUT:
        if (typeof o[1] !== 'string' || !Buffer.isBuffer(o[2]) || !Buffer.isBuffer(o[3])) throw bad('malformed put');
        return { op: OP_PUT, tree: o[1], key: o[2], value: o[3] };
      case OP_DEL:
        if (typeof o[1] !== 'string' || !Buffer.isBuffer(o[2])) throw bad('malformed del');
        return { op: OP_DEL, tree: o[1], key: o[2] };
      case OP_SNAPSHOT_CREATE:
        if (typeof o[1] !== 'string') throw bad('malformed snapshot op');
        return { op: OP_SNAPSHOT_CREATE, name: o[1], createdAt: toSafeInt(o[2], 'snapshot time') };
      case OP_SNAPSHOT_DELETE:
        if (typeof o[1] !== 'string') throw bad('malformed snapshot op');
        return { op: OP_SNAPSHOT_DELETE, name: o[1] };
      case OP_TREE_CREATE:
        if (typeof o[1] !== 'string') throw bad('malformed tree op');
        return { op: OP_TREE_CREATE, tree: o[1] };
      default:
        throw bad(`unknown op ${String(o[0])}`);
    }
  });
  return { volumeId: v[0], epoch: toSafeInt(v[1], 'epoch'), seq: toSafeInt(v[2], 'seq'), ops };
}
