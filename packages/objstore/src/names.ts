// Validation of container and object names, shared by every backend so that all
// of them accept and refuse exactly the same names.

import { cairnError } from '@cairn/errors';

/** Longest object name, in UTF-8 bytes (Swift's default limit). */
export const MAX_OBJECT_NAME_BYTES = 1024;
/** Container names: S3-bucket-safe, so every backend can hold them. */
const CONTAINER_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function checkContainerName(name: string): void {
  if (!CONTAINER_RE.test(name) || name.includes('..')) {
    throw cairnError('CAIRN_ERR_OBJ_INVALID_NAME', `container ${JSON.stringify(name)} (3-63 of a-z 0-9 . -)`);
  }
}

export function checkObjectName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw cairnError('CAIRN_ERR_OBJ_INVALID_NAME', 'empty object name');
  }
  if (Buffer.byteLength(name, 'utf8') > MAX_OBJECT_NAME_BYTES) {
    throw cairnError('CAIRN_ERR_OBJ_INVALID_NAME', `object name longer than ${MAX_OBJECT_NAME_BYTES} bytes`);
  }
  // NUL and lone surrogates cannot travel in URLs or file names.
  if (name.includes('\0') || !isWellFormedUtf16(name)) {
    throw cairnError('CAIRN_ERR_OBJ_INVALID_NAME', `object name ${JSON.stringify(name)} has NUL or invalid UTF-16`);
  }
}

function isWellFormedUtf16(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    }
  }
  return true;
}

/** Lexical comparison by UTF-8 bytes (the order Swift and S3 list in). */
export function compareNames(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Checks user metadata keys and values (the subset every backend can carry). */
export function checkMeta(meta: Readonly<Record<string, string>> | undefined): void {
  if (!meta) return;
  let total = 0;
  for (const [k, v] of Object.entries(meta)) {
    if (!/^[a-z0-9][a-z0-9-]{0,127}$/.test(k)) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `metadata key ${JSON.stringify(k)}`);
    if (typeof v !== 'string' || !/^[\x20-\x7e]*$/.test(v)) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `metadata value for ${k} must be printable ASCII`);
    total += k.length + v.length;
  }
  if (total > 2048) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'metadata larger than 2048 bytes');
}
