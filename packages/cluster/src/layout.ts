// Where the etcd-fenced publisher keeps things.
//
// etcd, per volume, under <prefix>/volumes/<volume>/:
//   checkpoint                the pointer: the newest published checkpoint
//   checkpoints/<seq, 16 decimal digits>
//                             one entry per published checkpoint still kept
//                             (the pointer's included), written in the same
//                             transaction as the pointer
//   owner                     the ownership lease key (lease.ts)
// Each checkpoint value is JSON: { seq, object, sha256, bytes, writer }.
//
// Object store, in the volume's container:
//   meta/checkpoints/<2^64-1 - seq, 16 hex>-<writer, 16 hex>-<sha256 prefix, 16 hex>
// The writer token and content hash make the name unique to one writer and
// one record: two writers never overwrite each other's record, whichever
// object store holds it. Records of the object-store publisher
// (meta/checkpoints/<16 hex>, no suffix) sort right before the records of the
// same number, so one prefix listing finds every object of one number.

import { createHash } from 'node:crypto';
import { cairnError } from '@cairn/errors';
import { CHECKPOINT_OBJECT_PREFIX, checkpointObjectName, parseCheckpointObjectName } from '@cairn/headhunter';

/** What etcd vouches for about one published checkpoint record. */
export interface RecordRef {
  readonly seq: number;
  /** Object name of the record in the volume's container. */
  readonly object: string;
  /** sha256 of the record bytes, lower-case hex. */
  readonly sha256: string;
  readonly bytes: number;
  /** Token of the publisher that wrote it ("objstore" for an adopted record of the object-store publisher). */
  readonly writer: string;
}

const HEX16 = /^[0-9a-f]{16}$/;
const SUFFIXED = /^([0-9a-f]{16})-([0-9a-f]{16})-([0-9a-f]{16})$/;

export function volumeKeys(prefix: string, volume: string): { base: string; pointer: string; history: string; owner: string } {
  const base = `${prefix.replace(/\/+$/, '')}/volumes/${volume}/`;
  return { base, pointer: `${base}checkpoint`, history: `${base}checkpoints/`, owner: `${base}owner` };
}

export function historyKey(historyPrefix: string, seq: number): string {
  return historyPrefix + String(seq).padStart(16, '0');
}

export function seqOfHistoryKey(historyPrefix: string, key: string): number | undefined {
  const s = key.slice(historyPrefix.length);
  return /^\d{16}$/.test(s) ? Number(s) : undefined;
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Object name of record `seq` written by `writer` with content hash `sha`. */
export function recordObjectName(seq: number, writer: string, sha: string): string {
  return `${checkpointObjectName(seq)}-${writer}-${sha.slice(0, 16)}`;
}

/** The prefix every object of checkpoint number `seq` starts with (both kinds of names). */
export function recordObjectPrefix(seq: number): string {
  return checkpointObjectName(seq);
}

/** Parses a name in meta/checkpoints/: an object-store publisher record, a record of this publisher, or neither. */
export function parseRecordObjectName(name: string): { seq: number; kind: 'objstore' | 'etcd' } | undefined {
  if (!name.startsWith(CHECKPOINT_OBJECT_PREFIX)) return undefined;
  const rest = name.slice(CHECKPOINT_OBJECT_PREFIX.length);
  if (HEX16.test(rest)) {
    const seq = parseCheckpointObjectName(name);
    return seq === undefined ? undefined : { seq, kind: 'objstore' };
  }
  const m = SUFFIXED.exec(rest);
  if (m === null) return undefined;
  const seq = parseCheckpointObjectName(CHECKPOINT_OBJECT_PREFIX + m[1]!);
  return seq === undefined ? undefined : { seq, kind: 'etcd' };
}

export function encodeRef(r: RecordRef): string {
  return JSON.stringify({ seq: r.seq, object: r.object, sha256: r.sha256, bytes: r.bytes, writer: r.writer });
}

export function decodeRef(text: string, where: string): RecordRef {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw cairnError('CAIRN_ERR_META_CORRUPT', `${where}: not JSON`);
  }
  const r = v as Partial<RecordRef> | null;
  if (r === null || typeof r !== 'object' || !Number.isSafeInteger(r.seq) || typeof r.object !== 'string' ||
    typeof r.sha256 !== 'string' || !Number.isSafeInteger(r.bytes) || typeof r.writer !== 'string') {
    throw cairnError('CAIRN_ERR_META_CORRUPT', `${where}: not a checkpoint pointer`);
  }
  return { seq: r.seq!, object: r.object, sha256: r.sha256, bytes: r.bytes!, writer: r.writer };
}
