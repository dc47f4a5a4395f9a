import { isRetryable } from '@cairn/errors';
import { describe, expect, it } from 'vitest';
import { failedBeforeSending, isRetryableStatus, redact, swiftStatusError, swiftTransportError } from './swift-errors.js';

describe('swift error mapping', () => {
  it('maps statuses once to codes, with retryability from the table', () => {
    const cases: Array<[number, 'object' | 'container', string, boolean]> = [
      [401, 'object', 'CAIRN_ERR_OBJ_UNAUTHORIZED', false],
      [403, 'object', 'CAIRN_ERR_OBJ_FORBIDDEN', false],
      [404, 'object', 'CAIRN_ERR_OBJ_NOT_FOUND', false],
      [404, 'container', 'CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND', false],
      [408, 'object', 'CAIRN_ERR_OBJ_TIMEOUT', true],
      [412, 'object', 'CAIRN_ERR_OBJ_PRECONDITION_FAILED', false],
      [413, 'object', 'CAIRN_ERR_OBJ_TOO_LARGE', false],
      [416, 'object', 'CAIRN_ERR_OBJ_RANGE_NOT_SATISFIABLE', false],
      [422, 'object', 'CAIRN_ERR_OBJ_CORRUPT', false],
      [429, 'object', 'CAIRN_ERR_OBJ_UNAVAILABLE', true],
      [500, 'object', 'CAIRN_ERR_OBJ_UNAVAILABLE', true],
      [501, 'object', 'CAIRN_ERR_NOT_SUPPORTED', false],
      [503, 'container', 'CAIRN_ERR_OBJ_UNAVAILABLE', true],
      [507, 'object', 'CAIRN_ERR_OBJ_UNAVAILABLE', true],
      [409, 'object', 'CAIRN_ERR_OBJ_BACKEND', false],
    ];
    for (const [status, target, code, retryable] of cases) {
      const e = swiftStatusError('PUT c/o', target, { status, transId: 'tx1', body: '<html><h1>Oops</h1></html>' });
      expect([status, e.code, isRetryable(e)]).toEqual([status, code, retryable]);
      expect(e.message).toContain('PUT c/o: HTTP');
      expect(e.message).toContain('Oops');
      expect(e.details).toMatchObject({ status, transId: 'tx1' });
    }
    expect(isRetryableStatus(503)).toBe(true);
    expect(isRetryableStatus(404)).toBe(false);
  });

  it('maps transport failures to retryable resets, timeouts and unavailability', () => {
    const err = (code: string, cause?: unknown) => Object.assign(new Error(`boom ${code}`), { code, ...(cause ? { cause } : {}) });
    expect(swiftTransportError(err('ECONNRESET'), 'GET c/o', false).code).toBe('CAIRN_ERR_OBJ_CONNECTION_RESET');
    expect(swiftTransportError(err('UND_ERR_SOCKET', err('EPIPE')), 'GET c/o', false).code).toBe('CAIRN_ERR_OBJ_CONNECTION_RESET');
    expect(swiftTransportError(err('UND_ERR_HEADERS_TIMEOUT'), 'GET c/o', false).code).toBe('CAIRN_ERR_OBJ_TIMEOUT');
    expect(swiftTransportError(err('UND_ERR_BODY_TIMEOUT'), 'GET c/o', false).code).toBe('CAIRN_ERR_OBJ_TIMEOUT');
    const refused = swiftTransportError(err('X', err('ECONNREFUSED')), 'GET c/o', false);
    expect(refused.code).toBe('CAIRN_ERR_OBJ_UNAVAILABLE');
    expect(failedBeforeSending(refused)).toBe(true);
    expect(failedBeforeSending(swiftTransportError(err('ECONNRESET'), 'x', false))).toBe(false);
    for (const c of ['ECONNRESET', 'UND_ERR_HEADERS_TIMEOUT', 'ECONNREFUSED', 'WEIRD']) {
      expect(isRetryable(swiftTransportError(err(c), 'x', false))).toBe(true);
    }
    expect(swiftTransportError(err('ECONNRESET'), 'GET c/o', true).code).toBe('CAIRN_ERR_CANCELED');
  });

  it('redacts secrets', () => {
    expect(redact('token AUTH_tk123456 and AUTH_tk123456', ['AUTH_tk123456'])).toBe('token <redacted> and <redacted>');
    expect(redact('x', [undefined, ''])).toBe('x');
  });
});
