// Node objects and node records (docs/formats.md "Metadata B+Tree nodes").
//
// A node object = a 32-byte header + node records back to back. A node record
// is addressed by (object nonce, offset, length) and read with one ranged GET,
// so each record carries its own checksum, which also covers the nonce and
// offset it was written at (a misdirected read cannot pass).

import { crc32c } from '@node-rs/crc32';
import { cairnError } from '@cairn/errors';
import {
  NODE_HEADER_BYTES, NODE_KIND_INDEX, NODE_KIND_LEAF, NODE_MAGIC, NODE_OBJECT_HEADER_BYTES,
  NODE_OBJECT_MAGIC, NODE_OBJECT_VERSION, NODE_VERSION,
} from './format.js';
import { fromBigInt, packScratchFast, toBigInt, toSafeInt, unpack } from './msgpack.js';
import { IndexNode, LeafNode, NodeRef, indexBytes, isRef, type Node } from './node.js';

/** The node object header. */
export function encodeNodeObjectHeader(nonce: bigint, nodeCount: number): Buffer {
  const h = Buffer.alloc(NODE_OBJECT_HEADER_BYTES);
  NODE_OBJECT_MAGIC.copy(h, 0);
  h.writeUInt16BE(NODE_OBJECT_VERSION, 8);
  h.writeUInt16BE(0, 10);
  h.writeUInt32BE(nodeCount, 12);
  h.writeBigUInt64BE(nonce, 16);
  h.writeUInt32BE(crc32c(h.subarray(0, 24)), 24);
  return h;
}

/** Checks a node object header; returns its node count. */
export function decodeNodeObjectHeader(h: Uint8Array, nonce: bigint): number {
  const b = Buffer.from(h.buffer, h.byteOffset, h.byteLength);
  const what = `node object ${nonce}`;
  if (b.length < NODE_OBJECT_HEADER_BYTES || !b.subarray(0, 8).equals(NODE_OBJECT_MAGIC)) {
    throw cairnError('CAIRN_ERR_META_BAD_MAGIC', what);
  }
  if (b.readUInt32BE(24) !== crc32c(b.subarray(0, 24))) throw cairnError('CAIRN_ERR_META_BAD_CHECKSUM', `${what} header`);
  const v = b.readUInt16BE(8);
  if (v !== NODE_OBJECT_VERSION) throw cairnError('CAIRN_ERR_META_BAD_VERSION', `${what}: version ${v}`);
  if (b.readBigUInt64BE(16) !== nonce) throw cairnError('CAIRN_ERR_META_CORRUPT', `${what}: header names nonce ${b.readBigUInt64BE(16)}`);
  return b.readUInt32BE(12);
}

/**
 * Encodes one node as the record that will sit at `offset` of object `nonce`.
 * Index nodes must only point at written nodes (refs, or nodes with a ref).
 * `refOf` resolves in-memory children written earlier in the same object.
 */
export function encodeNode(node: Node, nonce: bigint, offset: number, refOf: (n: Node) => NodeRef | undefined): Buffer {
  let body: Buffer;
  let kind: number;
  if (node.kind === 1) {
    kind = NODE_KIND_LEAF;
    body = packScratchFast([node.keys, node.vals]);
  } else {
    kind = NODE_KIND_INDEX;
    const kids = node.kids.map((p) => {
      const r = isRef(p) ? p : (p.ref ?? refOf(p));
      if (!r) throw cairnError('CAIRN_ERR_INTERNAL', 'index node points at an unwritten child');
      return [fromBigInt(r.nonce), r.offset, r.length];
    });
    body = packScratchFast([node.seps, kids, node.counts]);
  }
  const rec = Buffer.allocUnsafe(NODE_HEADER_BYTES + body.length);
  rec.writeUInt16BE(NODE_MAGIC, 0);
  rec[2] = NODE_VERSION;
  rec[3] = kind;
  body.copy(rec, NODE_HEADER_BYTES);
  rec.writeUInt32BE(nodeChecksum(nonce, offset, rec.subarray(NODE_HEADER_BYTES)), 4);
  return rec;
}

function nodeChecksum(nonce: bigint, offset: number, body: Uint8Array): number {
  const where = Buffer.allocUnsafe(12);
  where.writeBigUInt64BE(nonce, 0);
  where.writeUInt32BE(offset, 8);
  return crc32c(body, crc32c(where));
}

/** Decodes and verifies the node record read from `ref`. */
export function decodeNode(rec: Buffer, ref: NodeRef): Node {
  const what = `node ${ref.nonce}@${ref.offset}+${ref.length}`;
  if (rec.length !== ref.length || rec.length < NODE_HEADER_BYTES) throw cairnError('CAIRN_ERR_META_CORRUPT', `${what}: read ${rec.length} bytes`);
  if (rec.readUInt16BE(0) !== NODE_MAGIC) throw cairnError('CAIRN_ERR_META_BAD_MAGIC', what);
  if (rec[2] !== NODE_VERSION) throw cairnError('CAIRN_ERR_META_BAD_VERSION', `${what}: version ${rec[2]}`);
  const body = rec.subarray(NODE_HEADER_BYTES);
  if (rec.readUInt32BE(4) !== nodeChecksum(ref.nonce, ref.offset, body)) throw cairnError('CAIRN_ERR_META_BAD_CHECKSUM', what);
  let node: Node;
  if (rec[3] === NODE_KIND_LEAF) {
    const packed = parseLeafBody(rec, NODE_HEADER_BYTES);
    if (packed === undefined) throw cairnError('CAIRN_ERR_META_CORRUPT', `${what}: malformed leaf`);
    node = LeafNode.packed(rec, packed.offs, packed.bytes);
  } else if (rec[3] === NODE_KIND_INDEX) {
    const v = unpack(body, what);
    if (!Array.isArray(v)) throw cairnError('CAIRN_ERR_META_CORRUPT', `${what}: body is not an array`);
    const [seps, rawKids, rawCounts] = v as unknown[];
    if (!isBufferArray(seps) || !Array.isArray(rawKids) || !Array.isArray(rawCounts) ||
        rawKids.length !== seps.length + 1 || rawCounts.length !== rawKids.length) {
      throw cairnError('CAIRN_ERR_META_CORRUPT', `${what}: malformed index node`);
    }
    const kids = rawKids.map((k: unknown) => {
      if (!Array.isArray(k) || k.length !== 3) throw cairnError('CAIRN_ERR_META_CORRUPT', `${what}: malformed child`);
      return new NodeRef(toBigInt(k[0], what), toSafeInt(k[1], what), toSafeInt(k[2], what));
    });
    const counts = rawCounts.map((c: unknown) => toSafeInt(c, what));
    let total = 0;
    for (const c of counts) total += c;
    const index = new IndexNode(0, seps, kids, counts, total, indexBytes(seps, kids.length));
    index.freeze();
    node = index;
  } else {
    throw cairnError('CAIRN_ERR_META_CORRUPT', `${what}: unknown node kind ${rec[3]}`);
  }
  node.ref = ref;
  return node;
}

/**
 * The form a node just written as `rec` is cached in: a leaf becomes a packed
 * leaf over its own record (the bytes it was written as, so lookups compare
 * within one buffer and it costs about its stored size, as a leaf read back
 * would); an index node packs its separators for lookups (IndexNode.freeze).
 */
export function writtenForm(node: Node, rec: Buffer): Node {
  if (node.ref === undefined) return node;
  if (node.kind === 2) {
    node.freeze();
    return node;
  }
  const packed = parseLeafBody(rec, NODE_HEADER_BYTES);
  if (packed === undefined) throw cairnError('CAIRN_ERR_INTERNAL', 'a leaf just encoded does not parse');
  const leaf = LeafNode.packed(rec, packed.offs, packed.bytes);
  leaf.ref = node.ref;
  return leaf;
}

/**
 * Reads a leaf body — msgpack [[bin...], [bin...]] — into entry offsets
 * without materializing anything; undefined when it is anything else.
 */
function parseLeafBody(b: Buffer, start: number): { offs: Uint32Array; bytes: number } | undefined {
  let p = start;
  const arrayLen = (): number => {
    const t = b[p++];
    if (t === undefined) return -1;
    if (t >= 0x90 && t <= 0x9f) return t & 0x0f;
    if (t === 0xdc && p + 2 <= b.length) {
      p += 2;
      return b.readUInt16BE(p - 2);
    }
    if (t === 0xdd && p + 4 <= b.length) {
      p += 4;
      return b.readUInt32BE(p - 4);
    }
    return -1;
  };
  const bin = (): number => {
    const t = b[p++];
    let len = -1;
    if (t === 0xc4 && p + 1 <= b.length) len = b[p++]!;
    else if (t === 0xc5 && p + 2 <= b.length) {
      len = b.readUInt16BE(p);
      p += 2;
    } else if (t === 0xc6 && p + 4 <= b.length) {
      len = b.readUInt32BE(p);
      p += 4;
    }
    if (len < 0 || p + len > b.length) return -1;
    p += len;
    return len;
  };
  if (arrayLen() !== 2) return undefined;
  const n = arrayLen();
  if (n < 0 || n * 2 > b.length) return undefined;
  const offs = new Uint32Array(4 * n);
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const len = bin();
    if (len < 0) return undefined;
    offs[4 * i] = p - len;
    offs[4 * i + 1] = p;
    bytes += len;
  }
  if (arrayLen() !== n) return undefined;
  for (let i = 0; i < n; i++) {
    const len = bin();
    if (len < 0) return undefined;
    offs[4 * i + 2] = p - len;
    offs[4 * i + 3] = p;
    bytes += len;
  }
  return p === b.length ? { offs, bytes } : undefined;
}

function isBufferArray(v: unknown): v is Buffer[] {
  if (!Array.isArray(v)) return false;
  for (const x of v) if (!Buffer.isBuffer(x)) return false;
  return true;
}
