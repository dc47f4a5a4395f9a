// Order-preserving tuple keys. One tree holds composite keys such as
// (dir inode, name) or (file inode, file offset); the byte order of two
// encodings (memcmp, shorter-is-smaller) equals the order of the tuples:
// element by element, a tuple that is a prefix of another sorting first.
//
// Element encodings (docs/formats.md "Metadata B+Tree nodes", "Keys"):
//   bytes   0x01, the bytes with 0x00 escaped as 0x00 0xFF, then 0x00
//   string  0x02, the UTF-8 bytes escaped the same way, then 0x00
//   uint    0x14 + n (n = 0..8 significant bytes), then n bytes big-endian
// Across types: bytes < string < uint. Strings order by UTF-8 bytes, which is
// code point order (not JavaScript's UTF-16 order).

import { cairnError } from '@cairn/errors';

/** One element of a tuple key. Integers are unsigned, at most 2^64-1. */
export type KeyPart = number | bigint | string | Uint8Array;

/** An encoded key: what trees store and compare (bytewise). */
export type Key = Uint8Array;

const TAG_BYTES = 0x01;
const TAG_STRING = 0x02;
const TAG_UINT0 = 0x14;
const TAG_UINT8 = 0x1c;
const ESCAPE = 0xff;
const MAX_U64 = (1n << 64n) - 1n;

/** Encodes a tuple into a key whose byte order is the tuple order. */
export function encodeKey(parts: readonly KeyPart[]): Buffer {
  if (!Array.isArray(parts)) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'encodeKey takes an array of key parts');
  const direct = encodeSmallKey(parts);
  if (direct !== undefined) return direct;
  const chunks: Buffer[] = [];
  let size = 0;
  for (const p of parts) {
    const c = encodePart(p);
    chunks.push(c);
    size += c.length;
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

/** Bytes of a safe unsigned integer element (tag included), or -1. */
function safeUintSize(p: unknown): number {
  if (typeof p !== 'number' || !Number.isSafeInteger(p) || p < 0) return -1;
  let n = 0;
  for (let t = p; t > 0; t = Math.floor(t / 256)) n++;
  return 1 + n;
}

/** Bytes of a string element (tag and terminator included) for an ASCII string without NUL, or -1. */
function asciiSize(p: unknown): number {
  if (typeof p !== 'string' || p.length > 1024) return -1;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c === 0 || c > 0x7f) return -1;
  }
  return p.length + 2;
}

function writeSafeUint(out: Buffer, at: number, v: number, size: number): void {
  out[at] = TAG_UINT0 + size - 1;
  let t = v;
  for (let i = at + size - 1; i > at; i--) {
    out[i] = t % 256;
    t = Math.floor(t / 256);
  }
}

function writeAscii(out: Buffer, at: number, s: string): void {
  out[at++] = TAG_STRING;
  for (let i = 0; i < s.length; i++) out[at++] = s.charCodeAt(i);
  out[at] = 0;
}

/**
 * The common keys, (uint), (uint, uint) and (uint, ASCII string without NUL),
 * written straight into one buffer (the same bytes as the general path);
 * undefined for anything else.
 */
function encodeSmallKey(parts: readonly KeyPart[]): Buffer | undefined {
  if (parts.length === 0 || parts.length > 2) return undefined;
  const a = safeUintSize(parts[0]);
  if (a < 0) return undefined;
  if (parts.length === 1) {
    const out = Buffer.allocUnsafe(a);
    writeSafeUint(out, 0, parts[0] as number, a);
    return out;
  }
  const p1 = parts[1];
  if (typeof p1 === 'number') {
    const b = safeUintSize(p1);
    if (b < 0) return undefined;
    const out = Buffer.allocUnsafe(a + b);
    writeSafeUint(out, 0, parts[0] as number, a);
    writeSafeUint(out, a, p1, b);
    return out;
  }
  const b = asciiSize(p1);
  if (b < 0) return undefined;
  const out = Buffer.allocUnsafe(a + b);
  writeSafeUint(out, 0, parts[0] as number, a);
  writeAscii(out, a, p1 as string);
  return out;
}

function encodePart(p: KeyPart): Buffer {
  if (typeof p === 'number') {
    if (!Number.isSafeInteger(p) || p < 0) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `key integer ${p} (unsigned safe integer or bigint)`);
    return encodeSafeUint(p);
  }
  if (typeof p === 'bigint') {
    if (p < 0n || p > MAX_U64) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `key integer ${p} outside 0..2^64-1`);
    return encodeUint(p);
  }
  if (typeof p === 'string') {
    if (!isWellFormed(p)) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'key string has a lone surrogate');
    return encodeEscaped(TAG_STRING, Buffer.from(p, 'utf8'));
  }
  if (p instanceof Uint8Array) return encodeEscaped(TAG_BYTES, p);
  throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `key part of type ${typeof p}`);
}

function isWellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c > 0xdbff) return false;
    const d = s.charCodeAt(i + 1);
    if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
    i++;
  }
  return true;
}

function encodeSafeUint(v: number): Buffer {
  let n = 0;
  for (let t = v; t > 0; t = Math.floor(t / 256)) n++;
  const out = Buffer.allocUnsafe(1 + n);
  out[0] = TAG_UINT0 + n;
  let t = v;
  for (let i = n; i >= 1; i--) {
    out[i] = t % 256;
    t = Math.floor(t / 256);
  }
  return out;
}

function encodeUint(v: bigint): Buffer {
  let n = 0;
  for (let t = v; t > 0n; t >>= 8n) n++;
  const out = Buffer.allocUnsafe(1 + n);
  out[0] = TAG_UINT0 + n;
  let t = v;
  for (let i = n; i >= 1; i--) {
    out[i] = Number(t & 0xffn);
    t >>= 8n;
  }
  return out;
}

function encodeEscaped(tag: number, bytes: Uint8Array): Buffer {
  let zeros = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0) zeros++;
  const out = Buffer.allocUnsafe(bytes.length + zeros + 2);
  out[0] = tag;
  let j = 1;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    out[j++] = b;
    if (b === 0) out[j++] = ESCAPE;
  }
  out[j] = 0;
  return out;
}

/**
 * Decodes a key made by encodeKey. Integers come back as numbers when they are
 * safe integers and as bigints above 2^53-1; strings as strings; byte strings
 * as Buffers. Throws CAIRN_ERR_META_CORRUPT on bytes encodeKey never makes.
 */
export function decodeKey(key: Uint8Array): KeyPart[] {
  const out: KeyPart[] = [];
  let i = 0;
  while (i < key.length) {
    const tag = key[i++]!;
    if (tag === TAG_BYTES || tag === TAG_STRING) {
      const bytes: number[] = [];
      for (;;) {
        if (i >= key.length) throw corrupt('unterminated string element');
        const b = key[i++]!;
        if (b !== 0) {
          bytes.push(b);
          continue;
        }
        if (key[i] === ESCAPE) {
          bytes.push(0);
          i++;
          continue;
        }
        break;
      }
      const buf = Buffer.from(bytes);
      if (tag === TAG_BYTES) {
        out.push(buf);
      } else {
        const s = buf.toString('utf8');
        if (!Buffer.from(s, 'utf8').equals(buf)) throw corrupt('string element is not valid UTF-8');
        out.push(s);
      }
    } else if (tag >= TAG_UINT0 && tag <= TAG_UINT8) {
      const n = tag - TAG_UINT0;
      if (i + n > key.length) throw corrupt('truncated integer element');
      if (n > 0 && key[i] === 0) throw corrupt('integer element with a leading zero byte');
      if (n <= 6) {
        // Below 2^48: exact in a double, no BigInt arithmetic (every inode number, cookie, offset).
        let v = 0;
        for (let k = 0; k < n; k++) v = v * 256 + key[i + k]!;
        i += n;
        out.push(v);
        continue;
      }
      let v = 0n;
      for (let k = 0; k < n; k++) v = (v << 8n) | BigInt(key[i + k]!);
      i += n;
      out.push(v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
    } else {
      throw corrupt(`unknown element tag 0x${tag.toString(16)}`);
    }
  }
  return out;
}

function corrupt(what: string): Error {
  return cairnError('CAIRN_ERR_META_CORRUPT', `key: ${what}`);
}

/** Keys longer than this are compared natively (the call costs more than a short loop). */
const JS_COMPARE_MAX = 48;

/** Bytewise key comparison (negative, zero, positive; a prefix sorts first). */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  if (n > JS_COMPARE_MAX) return Buffer.compare(a, b);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * The range of every key that extends the tuple `parts` (including the tuple
 * itself): pass it to range()/scan()/count(). Element tags never reach 0xFF,
 * so every extension sorts below the prefix followed by 0xFF.
 */
export function keyPrefixRange(parts: readonly KeyPart[]): { gte: Buffer; lt: Buffer } {
  const gte = encodeKey(parts);
  const lt = Buffer.allocUnsafe(gte.length + 1);
  gte.copy(lt);
  lt[gte.length] = 0xff;
  return { gte, lt };
}

/** Index of the first key > `key` (keys.length if none). */
export function upperBound(keys: readonly Buffer[], key: Uint8Array): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(keys[mid]!, key) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
