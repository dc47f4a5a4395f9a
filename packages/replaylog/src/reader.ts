// Reading records out of one log file: a forward scan that checks each record
// (length within the file, CRC, version, consecutive LSN) and stops at the first
// one that fails. Recovery uses the stop to truncate; replay expects none.

import { cairnError } from '@cairn/errors';
import { recordLength, verifyRecord } from './codec.js';
import { RECORD_HEADER_SIZE } from './format.js';
import { readFully, type LogFile } from './io.js';

/** Bytes read from the file at a time (more when one record is larger). */
const CHUNK_BYTES = 1024 * 1024;

export interface ScannedRecord {
  readonly lsn: bigint;
  /** Offset of the record header in the file. */
  readonly offset: number;
  /** Header plus payload bytes. */
  readonly size: number;
  /** The payload; a view of the scan's read buffer, which is never overwritten. */
  readonly payload: Buffer;
}

export interface TornRecord {
  /** Offset of the first byte that is not part of a good record. */
  readonly offset: number;
  readonly reason: string;
}

export interface ScanEnd {
  /** Offset just past the last good record. */
  readonly end: number;
  /** LSN of the last good record (firstLsn - 1 when there was none). */
  readonly lastLsn: bigint;
  /** Set when the scan stopped before `end` of the range: the first bad record. */
  readonly torn?: TornRecord;
}

/**
 * Scans the records of `file` in `[start, end)`; the first must carry
 * `firstLsn`, each next one the following LSN. Yields every good record and
 * returns where the good records end, and why the scan stopped early, if it did.
 * Throws CAIRN_ERR_LOG_BAD_VERSION for a record whose checksum holds but whose
 * version is unknown: newer code wrote it, and it must not be truncated away.
 */
export async function* scanRecords(
  file: LogFile,
  start: number,
  end: number,
  firstLsn: bigint,
): AsyncGenerator<ScannedRecord, ScanEnd, void> {
  let buf = Buffer.alloc(0);
  let bufPos = start; // file offset of buf[0]
  let off = start;
  let expect = firstLsn;

  // Makes buf cover [off, off + need); false when the file ends first.
  const fill = async (need: number): Promise<boolean> => {
    const have = bufPos + buf.length - off;
    if (have >= need) return true;
    const keep = buf.subarray(off - bufPos);
    const readLen = Math.min(Math.max(need, CHUNK_BYTES) - keep.length, end - (off + keep.length));
    const next = Buffer.allocUnsafe(keep.length + Math.max(readLen, 0));
    keep.copy(next);
    const n = readLen > 0 ? await readFully(file, next, keep.length, readLen, off + keep.length) : 0;
    buf = next.subarray(0, keep.length + n);
    bufPos = off;
    return buf.length >= need;
  };
  const stop = (reason: string): ScanEnd => ({ end: off, lastLsn: expect - 1n, torn: { offset: off, reason } });

  while (off < end) {
    if (end - off < RECORD_HEADER_SIZE) return stop(`incomplete record header (${end - off} of ${RECORD_HEADER_SIZE} bytes)`);
    if (!(await fill(RECORD_HEADER_SIZE))) return stop('file ended inside a record header');
    const length = recordLength(buf, off - bufPos);
    if (length > end - off - RECORD_HEADER_SIZE) {
      return stop(`incomplete record (${length} payload bytes claimed, ${end - off - RECORD_HEADER_SIZE} present)`);
    }
    const size = RECORD_HEADER_SIZE + length;
    if (!(await fill(size))) return stop('file ended inside a record');
    const at = off - bufPos;
    const r = verifyRecord(buf, at, length);
    if (!r.ok) {
      if (r.problem === 'version') throw cairnError('CAIRN_ERR_LOG_BAD_VERSION', `${file.path} at ${off}: ${r.detail}`);
      return stop(`checksum mismatch (${r.detail})`);
    }
    if (r.lsn !== expect) return stop(`record has lsn ${r.lsn} where ${expect} was expected`);
    yield { lsn: r.lsn, offset: off, size, payload: buf.subarray(at + RECORD_HEADER_SIZE, at + size) };
    off += size;
    expect += 1n;
  }
  return { end: off, lastLsn: expect - 1n };
}

/**
 * True when every byte of `file` in `[start, end)` is zero: the zeros the
 * writer puts ahead of its records (ReplayLogOptions.preallocateBytes), which
 * end the records cleanly rather than tear them.
 */
export async function isZeroTail(file: LogFile, start: number, end: number): Promise<boolean> {
  const len = Math.min(CHUNK_BYTES, Math.max(end - start, 0));
  const buf = Buffer.allocUnsafe(len);
  const zeros = Buffer.alloc(len);
  for (let off = start; off < end; ) {
    const n = await readFully(file, buf, 0, Math.min(len, end - off), off);
    if (n === 0) return false;
    if (!buf.subarray(0, n).equals(zeros.subarray(0, n))) return false;
    off += n;
  }
  return true;
}
