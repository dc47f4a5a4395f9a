// On-disk formats of the fs backend: the object header and the store marker.
// docs/formats.md, section "fs backend layout", is the reference; keep the two in
// step. All integers are big-endian; checksums are CRC-32 (IEEE 802.3, zlib.crc32).

import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { cairnError } from '@cairn/errors';
import { BodyHasher } from './body-hash.js';

// ---- store marker (<root>/.cairn-objstore) ---------------------------------------

/** Name of the marker file at the store root. */
export const STORE_MARKER_FILE = '.cairn-objstore';
/** Directory (under the root) holding temp files; never a valid container name. */
export const TEMP_DIR = '.tmp';
export const STORE_MAGIC = Buffer.from('CAIRNFSS', 'latin1');
export const STORE_VERSION = 1;
/** Bytes of an object name per directory level of the name trie (see fs-path.ts). */
export const NAME_STRIDE = 2;
/** magic 8 | version u16 | stride u16 | reserved u32 | crc32 u32 */
export const STORE_MARKER_BYTES = 20;

export function encodeStoreMarker(): Buffer {
  const b = Buffer.alloc(STORE_MARKER_BYTES);
  STORE_MAGIC.copy(b, 0);
  b.writeUInt16BE(STORE_VERSION, 8);
  b.writeUInt16BE(NAME_STRIDE, 10);
  b.writeUInt32BE(0, 12);
  b.writeUInt32BE(crc32(b.subarray(0, 16)), 16);
  return b;
}

/** Validates a store marker; each failure has its own message (magic, checksum, version, stride). */
export function checkStoreMarker(b: Buffer, where: string): void {
  if (b.length !== STORE_MARKER_BYTES || !b.subarray(0, 8).equals(STORE_MAGIC)) {
    throw cairnError('CAIRN_ERR_OBJ_CORRUPT', `${where}: not a Cairn fs object store marker (bad magic or size)`);
  }
  if (b.readUInt32BE(16) !== crc32(b.subarray(0, 16))) throw cairnError('CAIRN_ERR_OBJ_CORRUPT', `${where}: marker checksum mismatch`);
  const version = b.readUInt16BE(8);
  if (version !== STORE_VERSION) throw cairnError('CAIRN_ERR_OBJ_BAD_VERSION', `${where}: store version ${version}, this build reads ${STORE_VERSION}`);
  const stride = b.readUInt16BE(10);
  if (stride !== NAME_STRIDE) throw cairnError('CAIRN_ERR_OBJ_BAD_VERSION', `${where}: name stride ${stride}, this build uses ${NAME_STRIDE}`);
}

// ---- object header (first bytes of every object file) -----------------------------

export const OBJECT_MAGIC = Buffer.from('CAIRNOBJ', 'latin1');
/**
 * Version written: 2 adds `bodyCrc` (CRC-32 of the body) after metaCount, so that a
 * whole-object read is verified at CRC speed rather than MD5 speed. Version 1
 * (no bodyCrc; whole reads verified by MD5) is still read.
 */
export const OBJECT_VERSION = 2;
/** Header versions a reader accepts. */
export const OBJECT_VERSIONS_READ: readonly number[] = [1, 2];
/** Bytes before the variable part: magic..metaCount (version 1), ..bodyCrc (version 2). */
export const HEADER_FIXED_BYTES = 56;
const HEADER_FIXED_BYTES_V1 = 52;
/** Largest header a reader accepts (name 1024 + metadata well under this). */
export const MAX_HEADER_BYTES = 64 * 1024;
/** How much a reader fetches first; almost every header fits. */
export const HEADER_PROBE_BYTES = 4096;

export interface ObjectHeader {
  /** Header version the object was written with (1 or 2). */
  readonly version: number;
  /** Total header bytes, CRC included: the body starts at this file offset. */
  readonly headerLength: number;
  /** Body bytes. */
  readonly size: number;
  /** Publish time, ms since the epoch. */
  readonly mtime: number;
  /** MD5 of the body, 16 raw bytes. */
  readonly md5: Buffer;
  /** CRC-32 of the body (version 2); undefined for version 1 (verify with the MD5). */
  readonly bodyCrc: number | undefined;
  /** The object name (UTF-8), checked against the path it was found at. */
  readonly name: string;
  readonly meta: Readonly<Record<string, string>>;
}

/** What a writer supplies; the header is always written in the current version. */
export interface NewObjectHeader {
  readonly size: number;
  readonly mtime: number;
  readonly md5: Buffer;
  readonly bodyCrc: number;
  readonly name: string;
  readonly meta: Readonly<Record<string, string>>;
}

/**
 * Bytes of the header encodeHeader writes for this name and metadata: it depends
 * only on them, so a writer can reserve the space first and write the header in
 * place once the body is written. Metadata is ASCII (checkMeta), one byte a char.
 */
export function encodedHeaderLength(name: string, meta: Readonly<Record<string, string>>): number {
  let n = HEADER_FIXED_BYTES + Buffer.byteLength(name, 'utf8') + 4;
  for (const k in meta) n += 1 + Buffer.byteLength(k, 'latin1') + 2 + Buffer.byteLength(meta[k]!, 'latin1');
  return n;
}

/** Encodes a header (current version). */
export function encodeHeader(h: NewObjectHeader): Buffer {
  const length = encodedHeaderLength(h.name, h.meta);
  const b = Buffer.allocUnsafe(length);
  OBJECT_MAGIC.copy(b, 0);
  b.writeUInt16BE(OBJECT_VERSION, 8);
  b.writeUInt16BE(0, 10);
  b.writeUInt32BE(length, 12);
  b.writeBigUInt64BE(BigInt(h.size), 16);
  b.writeBigUInt64BE(BigInt(h.mtime), 24);
  h.md5.copy(b, 32, 0, 16);
  let at = HEADER_FIXED_BYTES;
  at += b.write(h.name, at, 'utf8');
  b.writeUInt16BE(at - HEADER_FIXED_BYTES, 48);
  let count = 0;
  for (const k in h.meta) {
    const v = h.meta[k]!;
    const kl = b.write(k, at + 1, 'latin1');
    b.writeUInt8(kl, at);
    at += 1 + kl;
    const vl = b.write(v, at + 2, 'latin1');
    b.writeUInt16BE(vl, at);
    at += 2 + vl;
    count++;
  }
  b.writeUInt16BE(count, 50);
  b.writeUInt32BE(h.bodyCrc >>> 0, 52);
  if (at + 4 !== length) throw cairnError('CAIRN_ERR_INTERNAL', `header of ${JSON.stringify(h.name)}: ${at + 4} bytes, expected ${length}`);
  b.writeUInt32BE(crc32(b.subarray(0, at)), at);
  return b;
}

/**
 * Reads the total header length from the first 16 bytes, checking magic and
 * version. Throws CAIRN_ERR_OBJ_CORRUPT / CAIRN_ERR_OBJ_BAD_VERSION.
 */
export function headerLength(b: Buffer, where: string): number {
  if (b.length < 16 || !b.subarray(0, 8).equals(OBJECT_MAGIC)) throw cairnError('CAIRN_ERR_OBJ_CORRUPT', `${where}: bad object header magic`);
  const version = b.readUInt16BE(8);
  if (!OBJECT_VERSIONS_READ.includes(version)) {
    throw cairnError('CAIRN_ERR_OBJ_BAD_VERSION', `${where}: object header version ${version}, this build reads ${OBJECT_VERSIONS_READ.join(' and ')}`);
  }
  const length = b.readUInt32BE(12);
  if (length < fixedBytes(version) + 4 || length > MAX_HEADER_BYTES) throw cairnError('CAIRN_ERR_OBJ_CORRUPT', `${where}: header length ${length}`);
  return length;
}

function fixedBytes(version: number): number {
  return version === 1 ? HEADER_FIXED_BYTES_V1 : HEADER_FIXED_BYTES;
}

/** Decodes and verifies a whole header (b holds at least headerLength(b) bytes). */
export function decodeHeader(b: Buffer, where: string): ObjectHeader {
  const length = headerLength(b, where);
  if (b.length < length) throw cairnError('CAIRN_ERR_OBJ_CORRUPT', `${where}: header truncated (${b.length} of ${length} bytes)`);
  if (b.readUInt32BE(length - 4) !== crc32(b.subarray(0, length - 4))) throw cairnError('CAIRN_ERR_OBJ_CORRUPT', `${where}: header checksum mismatch`);
  const version = b.readUInt16BE(8);
  const size = b.readBigUInt64BE(16);
  const mtime = b.readBigUInt64BE(24);
  if (size > BigInt(Number.MAX_SAFE_INTEGER) || mtime > BigInt(Number.MAX_SAFE_INTEGER)) throw cairnError('CAIRN_ERR_OBJ_CORRUPT', `${where}: size or mtime out of range`);
  const nameLength = b.readUInt16BE(48);
  const metaCount = b.readUInt16BE(50);
  const bodyCrc = version === 1 ? undefined : b.readUInt32BE(52);
  let at = fixedBytes(version);
  const end = length - 4;
  const need = (n: number): void => {
    if (at + n > end) throw cairnError('CAIRN_ERR_OBJ_CORRUPT', `${where}: header fields overrun`);
  };
  need(nameLength);
  const name = b.toString('utf8', at, at + nameLength);
  at += nameLength;
  const meta: Record<string, string> = {};
  for (let i = 0; i < metaCount; i++) {
    need(1);
    const kl = b.readUInt8(at++);
    need(kl + 2);
    const k = b.toString('latin1', at, at + kl);
    at += kl;
    const vl = b.readUInt16BE(at);
    at += 2;
    need(vl);
    meta[k] = b.toString('latin1', at, at + vl);
    at += vl;
  }
  if (at !== end) throw cairnError('CAIRN_ERR_OBJ_CORRUPT', `${where}: ${end - at} stray header bytes`);
  return { version, headerLength: length, size: Number(size), mtime: Number(mtime), md5: Buffer.from(b.subarray(32, 48)), bodyCrc, name, meta };
}

/**
 * Verifies a whole body as it is read, chunk by chunk: CRC-32 against bodyCrc
 * (version 2), or MD5 against md5 (version 1). The MD5 of a large body is
 * computed on a worker thread (BodyHasher) while the reading goes on.
 */
export class BodyCheck {
  private readonly hasher: BodyHasher;
  private readonly v1: boolean;

  constructor(private readonly h: ObjectHeader) {
    this.v1 = h.bodyCrc === undefined;
    this.hasher = new BodyHasher({ md5: this.v1, crc32: !this.v1 });
  }

  /** Adds bytes (copied); returns a promise when the reader should wait for the hashing to catch up. */
  update(chunk: Buffer): Promise<void> | undefined {
    return this.hasher.update(chunk);
  }

  /** True when the bytes seen are the body the header describes. */
  async ok(): Promise<boolean> {
    const d = await this.hasher.digest();
    return this.v1 ? d.md5.equals(this.h.md5) : d.crc32 === this.h.bodyCrc;
  }

  /** Gives up the check (the read stopped early). */
  discard(): void {
    this.hasher.discard();
  }

  /** What was checked, for messages. */
  get kind(): string {
    return this.v1 ? 'MD5' : 'CRC-32';
  }
}

/** True when `body` is the whole body `h` describes (checked on this thread: the bytes are all here). */
export function bodyMatches(h: ObjectHeader, body: Buffer): boolean {
  return h.bodyCrc === undefined ? createHash('md5').update(body).digest().equals(h.md5) : crc32(body) >>> 0 === h.bodyCrc;
}
