// The one msgpackr configuration of headhunter. Only the codec modules
// (node-codec, checkpoint-codec, payload-codec, records) call it: one
// encode/decode pair per record type, nothing else packs or unpacks.

import { cairnError } from '@cairn/errors';
import { Packr } from 'msgpackr';

// Plain msgpack: no record extension (structures would make decoding depend on
// state outside the bytes), bigints as 64-bit integers.
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'bigint' });

/** Encodes a value; the result is a private copy (msgpackr reuses its buffer). */
export function pack(value: unknown): Buffer {
  return Buffer.from(packr.pack(value));
}

/** Encodes a value into a view of msgpackr's scratch buffer: copy it before the next pack(). */
export function packScratch(value: unknown): Buffer {
  return packr.pack(value);
}

/** Decodes one msgpack value; malformed bytes become CAIRN_ERR_META_CORRUPT. */
export function unpack(bytes: Uint8Array, what: string): unknown {
  try {
    return packr.unpack(bytes);
  } catch (err) {
    throw cairnError('CAIRN_ERR_META_CORRUPT', `${what}: undecodable msgpack (${(err as Error).message})`, { cause: err });
  }
}

/** A u64 field that msgpack may hand back as number or bigint. */
export function toBigInt(v: unknown, what: string): bigint {
  if (typeof v === 'bigint' && v >= 0n) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  throw cairnError('CAIRN_ERR_META_CORRUPT', `${what}: expected an unsigned integer`);
}

/** An unsigned safe-integer field. */
export function toSafeInt(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'bigint' && v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  throw cairnError('CAIRN_ERR_META_CORRUPT', `${what}: expected an unsigned integer`);
}

/** A u64 as the most compact msgpack integer (number when safe). */
export function fromBigInt(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}
