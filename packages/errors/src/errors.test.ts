import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRNO, ERROR_CODES, RETIRED_CODES, cairnError, isCairnError, toCairnError, type CairnErrorCode } from './index.js';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
const documented = new Set([...doc.matchAll(/`(CAIRN_ERR_[A-Z0-9_]+)`/g)].map((m) => m[1]!));

describe('error table', () => {
  it('every code is documented in docs/errors.md', () => {
    const missing = Object.keys(ERROR_CODES).filter((c) => !documented.has(c));
    expect(missing).toEqual([]);
  });
  it('docs/errors.md lists no code that is not in the table or retired', () => {
    const extra = [...documented].filter((c) => !(c in ERROR_CODES) && !RETIRED_CODES.includes(c));
    expect(extra).toEqual([]);
  });
  it('no retired code is back in the table', () => {
    expect(RETIRED_CODES.filter((c) => c in ERROR_CODES)).toEqual([]);
  });
  it('every code has a known errno, an HTTP status and an S3 code', () => {
    for (const [code, d] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^CAIRN_ERR_[A-Z0-9_]+$/);
      expect(ERRNO[d.errno], code).toBeGreaterThan(0);
      expect(d.status, code).toBeGreaterThanOrEqual(400);
      expect(d.s3.length, code).toBeGreaterThan(0);
    }
  });
});

describe('cairnError', () => {
  it('fills the template and carries the mapping', () => {
    const e = cairnError('CAIRN_ERR_OBJ_NOT_FOUND', 'c/o');
    expect(e.message).toBe('object not found: c/o');
    expect(e.errno).toBe('ENOENT');
    expect(e.errnoNumber).toBe(2);
    expect(e.status).toBe(404);
    expect(e.s3Code).toBe('NoSuchKey');
    expect(e.retryable).toBe(false);
    expect(isCairnError(e)).toBe(true);
    expect(isCairnError(e, 'CAIRN_ERR_OBJ_NOT_FOUND')).toBe(true);
    expect(isCairnError(e, 'CAIRN_ERR_INTERNAL' as CairnErrorCode)).toBe(false);
  });
  it('keeps cause and details from a trailing options object', () => {
    const cause = new Error('boom');
    const e = cairnError('CAIRN_ERR_OBJ_UNAVAILABLE', 'swift', { cause, details: { status: 503 } });
    expect(e.cause).toBe(cause);
    expect(e.retryable).toBe(true);
    expect(e.toJSON()).toMatchObject({ code: 'CAIRN_ERR_OBJ_UNAVAILABLE', errno: 'EAGAIN', details: { status: 503 } });
  });
  it('an expected error carries no stack frames and is otherwise the same; others keep their stack', () => {
    const limit = Error.stackTraceLimit;
    const quiet = cairnError('CAIRN_ERR_FS_NOT_FOUND', 'x', { expected: true });
    const loud = cairnError('CAIRN_ERR_FS_NOT_FOUND', 'x');
    expect(Error.stackTraceLimit).toBe(limit);
    expect(quiet.stack).toBe(`CairnError: ${quiet.message}`);
    expect(loud.stack).toMatch(/\n\s+at /);
    expect([isCairnError(quiet, 'CAIRN_ERR_FS_NOT_FOUND'), quiet.errno, quiet.message]).toEqual([true, loud.errno, loud.message]);
    expect(isCairnError({ code: 'CAIRN_ERR_FS_NOT_FOUND' })).toBe(false);
    expect(isCairnError(new Error('plain'))).toBe(false);
  });

  it('toCairnError wraps plain errors and passes coded ones through', () => {
    const e = cairnError('CAIRN_ERR_FS_EXISTS', 'x');
    expect(toCairnError(e)).toBe(e);
    const w = toCairnError(new TypeError('bad'));
    expect(w.code).toBe('CAIRN_ERR_INTERNAL');
    expect(isCairnError(new Error('plain'))).toBe(false);
  });
});
