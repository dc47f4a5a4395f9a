// Byte-range arithmetic shared by every backend.

import { cairnError } from '@cairn/errors';
import type { ByteRange } from './types.js';

/**
 * Resolves a requested range against an object size into [offset, length].
 * An offset past the end is not satisfiable (except offset 0 on an empty object);
 * a length running past the end is clipped.
 */
export function resolveRange(range: ByteRange | undefined, size: number, what: string): { offset: number; length: number } {
  if (!range) return { offset: 0, length: size };
  const { offset } = range;
  if (!Number.isSafeInteger(offset) || offset < 0) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `range offset ${offset}`);
  if (range.length !== undefined && (!Number.isSafeInteger(range.length) || range.length < 0)) {
    throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `range length ${range.length}`);
  }
  if (offset > size || (offset === size && size > 0 && range.length !== 0)) {
    throw cairnError('CAIRN_ERR_OBJ_RANGE_NOT_SATISFIABLE', `${what}: offset ${offset} of ${size} bytes`);
  }
  const length = Math.min(range.length ?? size - offset, size - offset);
  return { offset, length };
}
