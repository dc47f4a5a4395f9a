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

// ---- a direct encoder for record values ------------------------------------------
//
// Writes exactly the bytes packr.pack writes (for its configuration above) for
// the values records hold: plain objects (map16, own enumerable keys in for-in
// order), arrays, strings without surrogates, numbers, bigints, booleans,
// null and byte arrays. Anything else (undefined, other classes, strings with
// surrogates) returns undefined and goes through packr.

let scratch = Buffer.allocUnsafe(16 * 1024);
let view = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);
let pos = 0;
/** Set when the value holds something this encoder leaves to packr. */
let unsupported = false;

function room(n: number): void {
  if (pos + n <= scratch.length) return;
  const next = Buffer.allocUnsafe(Math.max(scratch.length * 2, pos + n));
  scratch.copy(next, 0, 0, pos);
  scratch = next;
  view = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);
}

function writeStr(s: string): void {
  const n = s.length;
  if (n < 0x100) {
    // ASCII in one pass: the header size follows from the length; bail out at the first other char.
    room(n + 2);
    const b = scratch;
    let p = pos + (n < 0x20 ? 1 : 2);
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) break;
      b[p++] = c;
    }
    if (i === n) {
      if (n < 0x20) b[pos] = 0xa0 | n;
      else {
        b[pos] = 0xd9;
        b[pos + 1] = n;
      }
      pos = p;
      return;
    }
  }
  writeStrSlow(s);
}

function writeStrSlow(s: string): void {
  const n = s.length;
  let ascii = true;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) {
      ascii = false;
      if (c >= 0xd800 && c <= 0xdfff) {
        unsupported = true;
        return;
      }
    }
  }
  const len = ascii ? n : Buffer.byteLength(s, 'utf8');
  room(len + 5);
  const b = scratch;
  if (len < 0x20) b[pos++] = 0xa0 | len;
  else if (len < 0x100) {
    b[pos++] = 0xd9;
    b[pos++] = len;
  } else if (len < 0x10000) {
    b[pos++] = 0xda;
    b[pos++] = len >> 8;
    b[pos++] = len & 0xff;
  } else {
    b[pos++] = 0xdb;
    b.writeUInt32BE(len, pos);
    pos += 4;
  }
  if (ascii) {
    for (let i = 0; i < n; i++) b[pos++] = s.charCodeAt(i);
  } else {
    pos += b.write(s, pos, len, 'utf8');
  }
}

function writeNum(v: number): void {
  room(9);
  const b = scratch;
  if (v >>> 0 === v) {
    if (v < 0x80) b[pos++] = v;
    else if (v < 0x100) {
      b[pos++] = 0xcc;
      b[pos++] = v;
    } else if (v < 0x10000) {
      b[pos++] = 0xcd;
      b[pos++] = v >> 8;
      b[pos++] = v & 0xff;
    } else {
      b[pos++] = 0xce;
      b.writeUInt32BE(v, pos);
      pos += 4;
    }
  } else if (v >> 0 === v) {
    if (v >= -0x20) b[pos++] = 0x100 + v;
    else if (v >= -0x80) {
      b[pos++] = 0xd0;
      b[pos++] = v + 0x100;
    } else if (v >= -0x8000) {
      b[pos++] = 0xd1;
      b.writeInt16BE(v, pos);
      pos += 2;
    } else {
      b[pos++] = 0xd2;
      b.writeInt32BE(v, pos);
      pos += 4;
    }
  } else {
    b[pos++] = 0xcb;
    b.writeDoubleBE(v, pos);
    pos += 8;
  }
}

const I64_MIN = -(1n << 63n);
const I64_END = 1n << 63n;
const U64_END = 1n << 64n;

function writeValue(v: unknown): void {
  switch (typeof v) {
    case 'string': return writeStr(v);
    case 'number': return writeNum(v);
    case 'boolean':
      room(1);
      scratch[pos++] = v ? 0xc3 : 0xc2;
      return;
    case 'bigint':
      room(9);
      if (v < I64_END && v >= I64_MIN) {
        scratch[pos++] = 0xd3;
        view.setBigInt64(pos, v);
      } else if (v < U64_END && v > 0n) {
        scratch[pos++] = 0xcf;
        view.setBigUint64(pos, v);
      } else {
        unsupported = true;
        return;
      }
      pos += 8;
      return;
    case 'object': {
      if (v === null) {
        room(1);
        scratch[pos++] = 0xc0;
        return;
      }
      const ctor = (v as object).constructor;
      if (ctor === Object) return writeMap(v as Record<string, unknown>);
      if (ctor === Array) return writeArray(v as unknown[]);
      if (ctor === Buffer || ctor === Uint8Array) return writeBin(v as Uint8Array);
      unsupported = true;
      return;
    }
    default:
      unsupported = true;
  }
}

function writeMap(o: Record<string, unknown>): void {
  room(3);
  scratch[pos++] = 0xde; // packr always writes map16
  const at = pos;
  pos += 2;
  let size = 0;
  for (const k in o) {
    if (!Object.hasOwn(o, k)) continue;
    writeStr(k);
    writeValue(o[k]);
    if (unsupported) return;
    size++;
  }
  if (size > 0xffff) {
    unsupported = true;
    return;
  }
  scratch[at] = size >> 8;
  scratch[at + 1] = size & 0xff;
}

function writeArray(a: unknown[]): void {
  const n = a.length;
  room(5);
  if (n < 0x10) scratch[pos++] = 0x90 | n;
  else if (n < 0x10000) {
    scratch[pos++] = 0xdc;
    scratch[pos++] = n >> 8;
    scratch[pos++] = n & 0xff;
  } else {
    scratch[pos++] = 0xdd;
    scratch.writeUInt32BE(n, pos);
    pos += 4;
  }
  for (let i = 0; i < n && !unsupported; i++) writeValue(a[i]);
}

function writeBin(u: Uint8Array): void {
  const n = u.byteLength;
  room(n + 5);
  if (n < 0x100) {
    scratch[pos++] = 0xc4;
    scratch[pos++] = n;
  } else if (n < 0x10000) {
    scratch[pos++] = 0xc5;
    scratch[pos++] = n >> 8;
    scratch[pos++] = n & 0xff;
  } else {
    scratch[pos++] = 0xc6;
    scratch.writeUInt32BE(n, pos);
    pos += 4;
  }
  scratch.set(u, pos);
  pos += n;
}

/**
 * `header` bytes followed by the msgpack encoding of `value`, as a private
 * Buffer: the same bytes as the header plus pack(value), with one copy.
 */
export function packWithHeader(header: readonly number[], value: unknown): Buffer {
  pos = header.length;
  unsupported = false;
  writeValue(value);
  if (unsupported) {
    const body = packr.pack(value);
    const out = Buffer.allocUnsafe(header.length + body.length);
    for (let i = 0; i < header.length; i++) out[i] = header[i]!;
    body.copy(out, header.length);
    return out;
  }
  const out = Buffer.allocUnsafe(pos);
  for (let i = 0; i < header.length; i++) out[i] = header[i]!;
  // A native copy pays from about 48 bytes on; below, the loop is cheaper.
  if (pos > 48) scratch.copy(out, header.length, header.length, pos);
  else for (let i = header.length; i < pos; i++) out[i] = scratch[i]!;
  return out;
}

/**
 * The msgpack encoding of `value` (the same bytes as packScratch) as a view
 * of a scratch buffer: copy it before the next pack.
 */
export function packScratchFast(value: unknown): Buffer {
  pos = 0;
  unsupported = false;
  writeValue(value);
  if (unsupported) return packr.pack(value);
  return scratch.subarray(0, pos);
}
