// The one place Swift failures become CairnErrors: HTTP statuses of Swift's
// answers and transport failures (resets, timeouts, refused connections) from
// undici. Each failure is mapped exactly once; CairnErrors pass through.
// Messages name the request ("PUT container/object") and never carry a token.

import { cairnError, isCairnError, type CairnError, type CairnErrorCode } from '@cairn/errors';

/** What a request was about, so a 404 can say which thing is missing. */
export type SwiftTarget = 'account' | 'container' | 'object';

/** True for statuses a retry of the same (idempotent) request may cure. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status === 498 || (status >= 500 && status !== 501 && status !== 505);
}

function codeForStatus(status: number, target: SwiftTarget): CairnErrorCode {
  switch (status) {
    case 401: return 'CAIRN_ERR_OBJ_UNAUTHORIZED';
    case 403: return 'CAIRN_ERR_OBJ_FORBIDDEN';
    case 404: return target === 'object' ? 'CAIRN_ERR_OBJ_NOT_FOUND' : 'CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND';
    case 408: return 'CAIRN_ERR_OBJ_TIMEOUT';
    case 412: return 'CAIRN_ERR_OBJ_PRECONDITION_FAILED';
    case 413: return 'CAIRN_ERR_OBJ_TOO_LARGE';
    case 416: return 'CAIRN_ERR_OBJ_RANGE_NOT_SATISFIABLE';
    // 422: the body's MD5 differs from the ETag we sent (damaged in transit).
    case 422: return 'CAIRN_ERR_OBJ_CORRUPT';
    case 501: return 'CAIRN_ERR_NOT_SUPPORTED';
    default:
      return isRetryableStatus(status) ? 'CAIRN_ERR_OBJ_UNAVAILABLE' : 'CAIRN_ERR_OBJ_BACKEND';
  }
}

/** Details worth keeping from a failed response (Swift's transaction id, a short body). */
export interface SwiftFailure {
  readonly status: number;
  readonly transId?: string;
  /** The first bytes of the answer's body, already stripped of any token. */
  readonly body?: string;
  /** What a Retry-After header asked for, in ms. */
  readonly retryAfterMs?: number;
}

/** Maps a Swift answer with an unexpected status to a CairnError. */
export function swiftStatusError(what: string, target: SwiftTarget, failure: SwiftFailure): CairnError {
  const { status, transId, body, retryAfterMs } = failure;
  const code = codeForStatus(status, target);
  const snippet = body ? ` (${body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 120)})` : '';
  return cairnError(code, `${what}: HTTP ${status}${snippet}`, {
    details: { status, ...(transId ? { transId } : {}), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) },
  });
}

const RESET_CODES = new Set([
  'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'UND_ERR_ABORTED',
]);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);
/** Failures where the request surely never reached Swift (safe to retry anything). */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENETDOWN', 'UND_ERR_CONNECT_TIMEOUT',
]);

function transportCode(err: unknown): string | undefined {
  // undici wraps socket errors; the system code may sit on a cause.
  let first: string | undefined;
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      first ??= code;
      if (RESET_CODES.has(code) || TIMEOUT_CODES.has(code) || NOT_SENT_CODES.has(code)) return code;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return first;
}

/** True when a transport failure happened before the request could reach Swift. */
export function failedBeforeSending(err: unknown): boolean {
  if (isCairnError(err)) return err.details?.['notSent'] === true;
  const code = transportCode(err);
  return code !== undefined && NOT_SENT_CODES.has(code);
}

/**
 * Maps a transport failure (anything undici or the socket threw) to a retryable
 * CairnError: CONNECTION_RESET, TIMEOUT or UNAVAILABLE. `canceled` says the
 * caller's own signal fired, which makes it CAIRN_ERR_CANCELED instead.
 */
export function swiftTransportError(err: unknown, what: string, canceled: boolean): CairnError {
  if (isCairnError(err)) return err;
  if (canceled) return cairnError('CAIRN_ERR_CANCELED', what, { cause: err });
  const code = transportCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  const details = { ...(code ? { transport: code } : {}), ...(code && NOT_SENT_CODES.has(code) ? { notSent: true } : {}) };
  if (code !== undefined && TIMEOUT_CODES.has(code)) return cairnError('CAIRN_ERR_OBJ_TIMEOUT', `${what}: ${msg}`, { cause: err, details });
  if (code !== undefined && NOT_SENT_CODES.has(code)) return cairnError('CAIRN_ERR_OBJ_UNAVAILABLE', `${what}: ${msg}`, { cause: err, details });
  if (code !== undefined && RESET_CODES.has(code)) return cairnError('CAIRN_ERR_OBJ_CONNECTION_RESET', `${what}: ${msg}`, { cause: err, details });
  if (err instanceof Error && err.name === 'AbortError') return cairnError('CAIRN_ERR_OBJ_CONNECTION_RESET', `${what}: ${msg}`, { cause: err, details });
  // Unknown socket-level failures: treat as a reset (the connection is gone either way).
  return cairnError('CAIRN_ERR_OBJ_CONNECTION_RESET', `${what}: ${msg}`, { cause: err, details });
}

/** Removes every occurrence of secret from text (tokens must never reach logs or errors). */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('<redacted>');
  return out;
}
