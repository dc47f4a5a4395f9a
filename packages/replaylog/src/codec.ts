// Encode and decode of the replay log's two structures: the file header and the
// record. The byte layout is in format.ts and docs/formats.md ("Replay log").

import { crc32c } from '@node-rs/crc32';
import {
  FH_COVERED_THROUGH, FH_CRC, FH_FIRST_LSN, FH_MAGIC, FH_VERSION, FILE_HEADER_SIZE, FILE_MAGIC, FORMAT_VERSION,
  RECORD_HEADER_SIZE, RECORD_TYPE_FULL, RECORD_VERSION, RH_CRC, RH_CRC_START, RH_LENGTH, RH_LSN, RH_RESERVED,
  RH_TYPE, RH_VERSION,
} from './format.js';

export interface FileHeader {
  readonly version: number;
  readonly firstLsn: bigint;
  readonly coveredThrough: bigint;
}

/** Why a file header was refused. */
export type FileHeaderProblem =
  | 'short' // fewer than FILE_HEADER_SIZE bytes
  | 'zero' // all header bytes are zero (space allocated, never written)
  | 'magic' // the first eight bytes are not FILE_MAGIC
  | 'version' // a version this code does not read
  | 'checksum'; // the header CRC does not match

export type FileHeaderResult =
  | { readonly ok: true; readonly header: FileHeader }
  | { readonly ok: false; readonly problem: FileHeaderProblem; readonly detail: string };

export function encodeFileHeader(firstLsn: bigint, coveredThrough: bigint): Buffer {
  const b = Buffer.alloc(FILE_HEADER_SIZE);
  b.write(FILE_MAGIC, FH_MAGIC, 'latin1');
  b.writeUInt32BE(FORMAT_VERSION, FH_VERSION);
  b.writeBigUInt64BE(firstLsn, FH_FIRST_LSN);
  b.writeBigUInt64BE(coveredThrough, FH_COVERED_THROUGH);
  b.writeUInt32BE(crc32c(b.subarray(0, FH_CRC)), FH_CRC);
  return b;
}

/**
 * Checks a file header in the order magic, version, checksum (a later version may
 * lay the header out differently, so its checksum is not ours to check).
 */
export function decodeFileHeader(b: Uint8Array): FileHeaderResult {
  if (b.length < FILE_HEADER_SIZE) return { ok: false, problem: 'short', detail: `${b.length} of ${FILE_HEADER_SIZE} header bytes` };
  const buf = Buffer.from(b.buffer, b.byteOffset, FILE_HEADER_SIZE);
  if (buf.every((x) => x === 0)) return { ok: false, problem: 'zero', detail: 'header is all zero bytes' };
  const magic = buf.toString('latin1', FH_MAGIC, FH_MAGIC + FILE_MAGIC.length);
  if (magic !== FILE_MAGIC) return { ok: false, problem: 'magic', detail: `magic ${buf.subarray(0, 8).toString('hex')}` };
  const version = buf.readUInt32BE(FH_VERSION);
  if (version !== FORMAT_VERSION) return { ok: false, problem: 'version', detail: `file format version ${version} (this code reads ${FORMAT_VERSION})` };
  const stored = buf.readUInt32BE(FH_CRC);
  const actual = crc32c(buf.subarray(0, FH_CRC));
  if (stored !== actual) return { ok: false, problem: 'checksum', detail: `header crc ${hex32(stored)} != ${hex32(actual)}` };
  return {
    ok: true,
    header: { version, firstLsn: buf.readBigUInt64BE(FH_FIRST_LSN), coveredThrough: buf.readBigUInt64BE(FH_COVERED_THROUGH) },
  };
}

/** One record, header and payload, ready to be written. Copies the payload. */
export function encodeRecord(lsn: bigint, payload: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(RECORD_HEADER_SIZE + payload.length);
  b.writeUInt32BE(payload.length, RH_LENGTH);
  b.writeBigUInt64BE(lsn, RH_LSN);
  b.writeUInt8(RECORD_VERSION, RH_VERSION);
  b.writeUInt8(RECORD_TYPE_FULL, RH_TYPE);
  b.writeUInt16BE(0, RH_RESERVED);
  b.set(payload, RECORD_HEADER_SIZE);
  b.writeUInt32BE(crc32c(b.subarray(RH_CRC_START)), RH_CRC);
  return b;
}

/** The payload length a record header claims (read before the record is complete). */
export function recordLength(header: Buffer, at: number): number {
  return header.readUInt32BE(at + RH_LENGTH);
}

export type RecordResult =
  | { readonly ok: true; readonly lsn: bigint; readonly length: number }
  | { readonly ok: false; readonly problem: 'checksum' | 'version'; readonly detail: string };

/**
 * Verifies the complete record at `buf[at .. at + RECORD_HEADER_SIZE + length)`.
 * A checksum mismatch means a torn or damaged record. A record whose checksum
 * holds but whose version, type or reserved bytes are unknown was written on
 * purpose by newer code: 'version'.
 */
export function verifyRecord(buf: Buffer, at: number, length: number): RecordResult {
  const end = at + RECORD_HEADER_SIZE + length;
  const stored = buf.readUInt32BE(at + RH_CRC);
  const actual = crc32c(buf.subarray(at + RH_CRC_START, end));
  if (stored !== actual) return { ok: false, problem: 'checksum', detail: `record crc ${hex32(stored)} != ${hex32(actual)}` };
  const version = buf.readUInt8(at + RH_VERSION);
  const type = buf.readUInt8(at + RH_TYPE);
  const reserved = buf.readUInt16BE(at + RH_RESERVED);
  if (version !== RECORD_VERSION || type !== RECORD_TYPE_FULL || reserved !== 0) {
    return { ok: false, problem: 'version', detail: `record version ${version} type ${type} reserved ${reserved}` };
  }
  return { ok: true, lsn: buf.readBigUInt64BE(at + RH_LSN), length };
}

function hex32(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
