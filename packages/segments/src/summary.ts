// The segment summary trailer: after a segment's data, a list of which file
// bytes it holds and a fixed footer (magic, version, nonce, lengths, CRC). It
// lets the cleaner, fsck and the orphan sweep learn what a segment holds
// without walking every extent map (Sprite LFS's segment summary). Layout:
// docs/formats.md, "Log segments". Big-endian.

import { crc32 } from 'node:zlib';
import { cairnError } from '@cairn/errors';
import type { ObjectStore } from '@cairn/objstore';
import {
  KEY_KIND_STRING, KEY_KIND_UINT64, MAX_NONCE, MAX_STRING_KEY_BYTES, NO_FILE_OFFSET, SUMMARY_FLAG_INCOMPLETE,
  SUMMARY_FOOTER_BYTES, SUMMARY_MAGIC, SUMMARY_VERSION,
} from './format.js';
import type { FileKey, ObjectRef, SegmentWrite } from './types.js';

export interface SegmentSummary {
  readonly nonce: bigint;
  /** Data bytes at the start of the object. */
  readonly dataLength: number;
  /** False when the writer omitted the entries (too many to fit the limit). */
  readonly complete: boolean;
  readonly entries: readonly SegmentWrite[];
}

interface Footer {
  readonly flags: number;
  readonly nonce: bigint;
  readonly dataLength: number;
  readonly entryCount: number;
  readonly entriesLength: number;
  readonly crc: number;
}

/** Throws unless a file key can be written into a summary. */
export function checkFileKey(key: FileKey): void {
  if (typeof key === 'bigint') {
    if (key >= 0n && key <= MAX_NONCE) return;
  } else if (typeof key === 'string') {
    if (Buffer.byteLength(key, 'utf8') <= MAX_STRING_KEY_BYTES) return;
  }
  throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `file key ${String(key).slice(0, 64)} (uint64 bigint or string of at most ${MAX_STRING_KEY_BYTES} bytes)`);
}

function entryBytes(w: SegmentWrite): number {
  return 25 + (typeof w.fileKey === 'bigint' ? 8 : 2 + Buffer.byteLength(w.fileKey, 'utf8'));
}

/**
 * Encodes the trailer (entries then footer) of a segment with `dataLength` data
 * bytes. When the entries would take more than limitBytes, they are omitted
 * and the footer says so (flag INCOMPLETE).
 */
export function encodeSummary(nonce: bigint, dataLength: number, writes: readonly SegmentWrite[], limitBytes: number): Buffer {
  let entriesLength = 0;
  for (const w of writes) entriesLength += entryBytes(w);
  const complete = entriesLength <= limitBytes;
  if (!complete) entriesLength = 0;
  const buf = Buffer.alloc(entriesLength + SUMMARY_FOOTER_BYTES);
  let at = 0;
  if (complete) {
    for (const w of writes) {
      buf.writeBigUInt64BE(BigInt(w.segmentOffset), at);
      buf.writeBigUInt64BE(BigInt(w.length), at + 8);
      buf.writeBigUInt64BE(w.fileOffset === undefined ? NO_FILE_OFFSET : BigInt(w.fileOffset), at + 16);
      at += 24;
      if (typeof w.fileKey === 'bigint') {
        buf.writeUInt8(KEY_KIND_UINT64, at);
        buf.writeBigUInt64BE(w.fileKey, at + 1);
        at += 9;
      } else {
        buf.writeUInt8(KEY_KIND_STRING, at);
        const n = buf.write(w.fileKey, at + 3, 'utf8');
        buf.writeUInt16BE(n, at + 1);
        at += 3 + n;
      }
    }
  }
  buf.writeUInt32BE(SUMMARY_MAGIC, at);
  buf.writeUInt16BE(SUMMARY_VERSION, at + 4);
  buf.writeUInt16BE(complete ? 0 : SUMMARY_FLAG_INCOMPLETE, at + 6);
  buf.writeBigUInt64BE(nonce, at + 8);
  buf.writeBigUInt64BE(BigInt(dataLength), at + 16);
  buf.writeUInt32BE(complete ? writes.length : 0, at + 24);
  buf.writeUInt32BE(entriesLength, at + 28);
  buf.writeUInt32BE(crc32(buf.subarray(0, at + 32)), at + 32);
  return buf;
}

function decodeFooter(b: Buffer, what: string): Footer {
  if (b.length !== SUMMARY_FOOTER_BYTES || b.readUInt32BE(0) !== SUMMARY_MAGIC) {
    throw cairnError('CAIRN_ERR_SEG_BAD_MAGIC', what);
  }
  const version = b.readUInt16BE(4);
  if (version !== SUMMARY_VERSION) throw cairnError('CAIRN_ERR_SEG_BAD_VERSION', `${what}: version ${version}`);
  return {
    flags: b.readUInt16BE(6),
    nonce: b.readBigUInt64BE(8),
    dataLength: Number(b.readBigUInt64BE(16)),
    entryCount: b.readUInt32BE(24),
    entriesLength: b.readUInt32BE(28),
    crc: b.readUInt32BE(32),
  };
}

/** Decodes a whole trailer (entries then footer), checking magic, version, checksum and bounds. */
export function decodeSummary(trailer: Buffer, what = 'segment summary'): SegmentSummary {
  if (trailer.length < SUMMARY_FOOTER_BYTES) throw cairnError('CAIRN_ERR_SEG_BAD_MAGIC', `${what}: ${trailer.length} bytes`);
  const footerAt = trailer.length - SUMMARY_FOOTER_BYTES;
  const f = decodeFooter(trailer.subarray(footerAt), what);
  if (f.entriesLength !== footerAt) {
    throw cairnError('CAIRN_ERR_SEG_BAD_CHECKSUM', `${what}: entries length ${f.entriesLength}, have ${footerAt}`);
  }
  if (crc32(trailer.subarray(0, trailer.length - 4)) !== f.crc) throw cairnError('CAIRN_ERR_SEG_BAD_CHECKSUM', what);
  const entries: SegmentWrite[] = [];
  let at = 0;
  const corrupt = (): never => {
    throw cairnError('CAIRN_ERR_SEG_BAD_CHECKSUM', `${what}: malformed entry at ${at}`);
  };
  for (let i = 0; i < f.entryCount; i++) {
    if (at + 25 > footerAt) corrupt();
    const segmentOffset = Number(trailer.readBigUInt64BE(at));
    const length = Number(trailer.readBigUInt64BE(at + 8));
    const fo = trailer.readBigUInt64BE(at + 16);
    const kind = trailer.readUInt8(at + 24);
    at += 25;
    let fileKey: FileKey;
    if (kind === KEY_KIND_UINT64) {
      if (at + 8 > footerAt) corrupt();
      fileKey = trailer.readBigUInt64BE(at);
      at += 8;
    } else if (kind === KEY_KIND_STRING) {
      if (at + 2 > footerAt) corrupt();
      const n = trailer.readUInt16BE(at);
      if (at + 2 + n > footerAt) corrupt();
      fileKey = trailer.toString('utf8', at + 2, at + 2 + n);
      at += 2 + n;
    } else {
      return corrupt();
    }
    if (segmentOffset + length > f.dataLength) corrupt();
    entries.push({ fileKey, fileOffset: fo === NO_FILE_OFFSET ? undefined : Number(fo), segmentOffset, length });
  }
  if (at !== footerAt) corrupt();
  return { nonce: f.nonce, dataLength: f.dataLength, complete: (f.flags & SUMMARY_FLAG_INCOMPLETE) === 0, entries };
}

/**
 * Reads the summary of a stored segment (two ranged GETs after a HEAD). Throws
 * CAIRN_ERR_SEG_BAD_MAGIC for an object without a summary, _BAD_VERSION for a
 * newer format, _BAD_CHECKSUM when the trailer does not check out.
 */
export async function readSegmentSummary(store: ObjectStore, ref: ObjectRef): Promise<SegmentSummary> {
  const what = `${ref.container}/${ref.name}`;
  const c = store.container(ref.container);
  const size = (await c.head(ref.name)).size;
  if (size < SUMMARY_FOOTER_BYTES) throw cairnError('CAIRN_ERR_SEG_BAD_MAGIC', `${what}: ${size} bytes`);
  const footer = decodeFooter(await c.getBuffer(ref.name, { range: { offset: size - SUMMARY_FOOTER_BYTES, length: SUMMARY_FOOTER_BYTES } }), what);
  if (footer.dataLength + footer.entriesLength + SUMMARY_FOOTER_BYTES !== size) {
    throw cairnError('CAIRN_ERR_SEG_BAD_CHECKSUM', `${what}: lengths do not add up to ${size}`);
  }
  const trailerLength = footer.entriesLength + SUMMARY_FOOTER_BYTES;
  const trailer = await c.getBuffer(ref.name, { range: { offset: size - trailerLength, length: trailerLength } });
  return decodeSummary(trailer, what);
}
