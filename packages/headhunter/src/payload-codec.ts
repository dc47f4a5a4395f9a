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
  return encodeCommitDirect(c) ?? encodeCommitPacked(c);
}

/**
 * The ops of a commit of puts and dels without the ones a later op on the
 * same key supersedes (replaying either list leaves the same trees). A group
 * commit of many transactions that each update one shared record (a parent
 * directory, the volume's counters) logs that record once. Returns `ops`
 * itself when nothing is superseded or any op is not a put or del.
 */
export function withoutSuperseded(ops: readonly CommitOp[]): readonly CommitOp[] {
  const seen = new Set<string>();
  const superseded: boolean[] = new Array<boolean>(ops.length).fill(false);
  let dropped = 0;
  for (let i = ops.length - 1; i >= 0; i--) {
    const o = ops[i]!;
    if (o.op !== OP_PUT && o.op !== OP_DEL) return ops;
    const id = `${o.tree.length}:${o.tree}${o.key.toString('latin1')}`;
    if (seen.has(id)) {
      superseded[i] = true;
      dropped++;
    } else {
      seen.add(id);
    }
  }
  return dropped === 0 ? ops : ops.filter((_, i) => !superseded[i]);
}

/** Bytes of a msgpack string header + body for a short ASCII string, or -1 (not ASCII or too long). */
function asciiStrBytes(s: string): number {
  const n = s.length;
  if (n >= 0x100) return -1;
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) return -1;
  return n < 0x20 ? 1 + n : 2 + n;
}

function uintBytes(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x100) return 2;
  if (v < 0x10000) return 3;
  if (v <= 0xffffffff) return 5;
  return 9;
}

function binBytes(b: Buffer): number {
  const n = b.length;
  return n < 0x100 ? 2 + n : n < 0x10000 ? 3 + n : 5 + n;
}

function writeAscii(out: Buffer, pos: number, s: string): number {
  const n = s.length;
  if (n < 0x20) out[pos++] = 0xa0 | n;
  else {
    out[pos++] = 0xd9;
    out[pos++] = n;
  }
  for (let i = 0; i < n; i++) out[pos++] = s.charCodeAt(i);
  return pos;
}

function writeUint(out: Buffer, pos: number, v: number): number {
  if (v < 0x80) out[pos++] = v;
  else if (v < 0x100) {
    out[pos++] = 0xcc;
    out[pos++] = v;
  } else if (v < 0x10000) {
    out[pos++] = 0xcd;
    out.writeUInt16BE(v, pos);
    pos += 2;
  } else if (v <= 0xffffffff) {
    out[pos++] = 0xce;
    out.writeUInt32BE(v, pos);
    pos += 4;
  } else {
    out[pos++] = 0xcb; // msgpackr writes integers above 32 bits as float64
    out.writeDoubleBE(v, pos);
    pos += 8;
  }
  return pos;
}

function writeBin(out: Buffer, pos: number, b: Buffer): number {
  const n = b.length;
  if (n < 0x100) {
    out[pos++] = 0xc4;
    out[pos++] = n;
  } else if (n < 0x10000) {
    out[pos++] = 0xc5;
    out.writeUInt16BE(n, pos);
    pos += 2;
  } else {
    out[pos++] = 0xc6;
    out.writeUInt32BE(n, pos);
    pos += 4;
  }
  if (n > 64) b.copy(out, pos);
  else for (let i = 0; i < n; i++) out[pos + i] = b[i]!;
  return pos + n;
}

/**
 * The commit of put and del ops, encoded straight into the payload: the
 * bytes msgpackr would write for the same value (one copy of each key and
 * value, no intermediate arrays). undefined for anything else (snapshot and
 * tree ops, non-ASCII or long strings, odd numbers): encodeCommitPacked does those.
 */
function encodeCommitDirect(c: CommitRecord): Buffer | undefined {
  const { epoch, seq, ops } = c;
  if (!Number.isSafeInteger(epoch) || epoch < 0 || !Number.isSafeInteger(seq) || seq < 0) return undefined;
  const vid = asciiStrBytes(c.volumeId);
  if (vid < 0) return undefined;
  const n = ops.length;
  let size = PAYLOAD_HEADER_BYTES + 1 + vid + uintBytes(epoch) + uintBytes(seq) + (n < 0x10 ? 1 : n < 0x10000 ? 3 : 5);
  for (let i = 0; i < n; i++) {
    const o = ops[i]!;
    if (o.op !== OP_PUT && o.op !== OP_DEL) return undefined;
    const t = asciiStrBytes(o.tree);
    if (t < 0 || !Buffer.isBuffer(o.key)) return undefined;
    size += 2 + t + binBytes(o.key);
    if (o.op === OP_PUT) {
      if (!Buffer.isBuffer(o.value)) return undefined;
      size += binBytes(o.value);
    }
  }
  const out = Buffer.allocUnsafe(size);
  out.writeUInt16BE(PAYLOAD_MAGIC, 0);
  out[2] = PAYLOAD_VERSION;
  out[3] = PAYLOAD_KIND_COMMIT;
  let pos = PAYLOAD_HEADER_BYTES;
  out[pos++] = 0x94;
  pos = writeAscii(out, pos, c.volumeId);
  pos = writeUint(out, pos, epoch);
  pos = writeUint(out, pos, seq);
  if (n < 0x10) out[pos++] = 0x90 | n;
  else if (n < 0x10000) {
    out[pos++] = 0xdc;
    out.writeUInt16BE(n, pos);
    pos += 2;
  } else {
    out[pos++] = 0xdd;
    out.writeUInt32BE(n, pos);
    pos += 4;
  }
  for (let i = 0; i < n; i++) {
    const o = ops[i]!;
    if (o.op === OP_PUT) {
      out[pos++] = 0x94;
      out[pos++] = OP_PUT;
      pos = writeAscii(out, pos, o.tree);
      pos = writeBin(out, pos, o.key);
      pos = writeBin(out, pos, o.value);
    } else if (o.op === OP_DEL) {
      out[pos++] = 0x93;
      out[pos++] = OP_DEL;
      pos = writeAscii(out, pos, o.tree);
      pos = writeBin(out, pos, o.key);
    }
  }
  if (pos !== size) throw cairnError('CAIRN_ERR_INTERNAL', `replay-log payload: wrote ${pos} of ${size} bytes`);
  out.writeUInt32BE(crc32c(out.subarray(PAYLOAD_HEADER_BYTES)), 4);
  return out;
}

/** The general encoder (every op kind), through msgpackr. */
export function encodeCommitPacked(c: CommitRecord): Buffer {
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
