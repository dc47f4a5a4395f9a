// The one place S3 failures become CairnErrors: S3 XML error codes (with the
// HTTP status as a fallback, e.g. for HEAD responses that carry no body) and
// transport failures (resets, timeouts, refused connections) from undici.

import { cairnError, isCairnError, type CairnError, type CairnErrorCode } from '@cairn/errors';
import { parseXml, xmlChildText } from './s3-xml.js';

/** S3 error code -> Cairn code. Codes not listed fall back to the HTTP status. */
const S3_CODES: Readonly<Record<string, CairnErrorCode>> = {
  NoSuchKey: 'CAIRN_ERR_OBJ_NOT_FOUND',
  NoSuchBucket: 'CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND',
  AccessDenied: 'CAIRN_ERR_OBJ_FORBIDDEN',
  AllAccessDisabled: 'CAIRN_ERR_OBJ_FORBIDDEN',
  AccountProblem: 'CAIRN_ERR_OBJ_FORBIDDEN',
  // The bucket name is taken by another account.
  BucketAlreadyExists: 'CAIRN_ERR_OBJ_FORBIDDEN',
  SignatureDoesNotMatch: 'CAIRN_ERR_OBJ_UNAUTHORIZED',
  InvalidAccessKeyId: 'CAIRN_ERR_OBJ_UNAUTHORIZED',
  InvalidToken: 'CAIRN_ERR_OBJ_UNAUTHORIZED',
  ExpiredToken: 'CAIRN_ERR_OBJ_UNAUTHORIZED',
  TokenRefreshRequired: 'CAIRN_ERR_OBJ_UNAUTHORIZED',
  RequestTimeTooSkewed: 'CAIRN_ERR_OBJ_UNAUTHORIZED',
  AuthorizationHeaderMalformed: 'CAIRN_ERR_OBJ_UNAUTHORIZED',
  PreconditionFailed: 'CAIRN_ERR_OBJ_PRECONDITION_FAILED',
  // S3 answers 409 to a conditional PUT that lost a race with another one.
  ConditionalRequestConflict: 'CAIRN_ERR_OBJ_PRECONDITION_FAILED',
  InvalidRange: 'CAIRN_ERR_OBJ_RANGE_NOT_SATISFIABLE',
  SlowDown: 'CAIRN_ERR_OBJ_UNAVAILABLE',
  ServiceUnavailable: 'CAIRN_ERR_OBJ_UNAVAILABLE',
  InternalError: 'CAIRN_ERR_OBJ_UNAVAILABLE',
  RequestTimeout: 'CAIRN_ERR_OBJ_TIMEOUT',
  EntityTooLarge: 'CAIRN_ERR_OBJ_TOO_LARGE',
  KeyTooLongError: 'CAIRN_ERR_OBJ_INVALID_NAME',
  InvalidBucketName: 'CAIRN_ERR_OBJ_INVALID_NAME',
  NotImplemented: 'CAIRN_ERR_NOT_SUPPORTED',
  BadDigest: 'CAIRN_ERR_OBJ_CORRUPT',
  InvalidDigest: 'CAIRN_ERR_OBJ_CORRUPT',
  IncompleteBody: 'CAIRN_ERR_OBJ_CONNECTION_RESET',
};

/** What an S3 error body says (all fields optional: HEAD and some proxies send none). */
export interface S3ErrorBody {
  readonly code?: string;
  readonly message?: string;
  readonly requestId?: string;
}

/** Reads the `<Error>` document of a failed response; never throws. */
export function parseS3ErrorBody(text: string): S3ErrorBody {
  if (!text.trim().startsWith('<')) return {};
  try {
    const root = parseXml(text);
    if (root.name !== 'Error') return {};
    const code = xmlChildText(root, 'Code');
    const message = xmlChildText(root, 'Message');
    const requestId = xmlChildText(root, 'RequestId');
    return { ...(code ? { code } : {}), ...(message ? { message } : {}), ...(requestId ? { requestId } : {}) };
  } catch {
    return {};
  }
}

function codeForStatus(status: number, isObjectRequest: boolean): CairnErrorCode {
  if (status === 404) return isObjectRequest ? 'CAIRN_ERR_OBJ_NOT_FOUND' : 'CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND';
  if (status === 401) return 'CAIRN_ERR_OBJ_UNAUTHORIZED';
  if (status === 403) return 'CAIRN_ERR_OBJ_FORBIDDEN';
  if (status === 412) return 'CAIRN_ERR_OBJ_PRECONDITION_FAILED';
  if (status === 416) return 'CAIRN_ERR_OBJ_RANGE_NOT_SATISFIABLE';
  if (status === 413) return 'CAIRN_ERR_OBJ_TOO_LARGE';
  if (status === 408) return 'CAIRN_ERR_OBJ_TIMEOUT';
  if (status === 501) return 'CAIRN_ERR_NOT_SUPPORTED';
  if (status === 500 || status === 502 || status === 503 || status === 504) return 'CAIRN_ERR_OBJ_UNAVAILABLE';
  return 'CAIRN_ERR_OBJ_BACKEND';
}

/**
 * Maps a non-2xx S3 response to a CairnError. `what` names the request for the
 * message (e.g. "PUT bucket/key"); `isObjectRequest` decides what a bare 404 means.
 */
export function s3ResponseError(status: number, body: S3ErrorBody, what: string, isObjectRequest: boolean): CairnError {
  const code = (body.code !== undefined ? S3_CODES[body.code] : undefined) ?? codeForStatus(status, isObjectRequest);
  const detail = `${what}: ${status}${body.code ? ` ${body.code}` : ''}${body.message ? ` (${body.message})` : ''}`;
  return cairnError(code, detail, {
    details: { status, ...(body.code ? { s3Code: body.code } : {}), ...(body.requestId ? { requestId: body.requestId } : {}) },
  });
}

const RESET_CODES = new Set([
  'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
]);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENETDOWN']);

/**
 * Maps a transport failure (anything thrown by undici or the socket) to a
 * CairnError. CairnErrors pass through unchanged. `aborted` says the caller's
 * own signal fired, which makes it CAIRN_ERR_CANCELED whatever undici reported.
 */
export function s3TransportError(err: unknown, what: string, aborted: boolean): CairnError {
  if (isCairnError(err)) return err;
  if (aborted) return cairnError('CAIRN_ERR_CANCELED', what, { cause: err });
  const code = transportCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  if (code !== undefined && RESET_CODES.has(code)) return cairnError('CAIRN_ERR_OBJ_CONNECTION_RESET', `${what}: ${msg}`, { cause: err });
  if (code !== undefined && TIMEOUT_CODES.has(code)) return cairnError('CAIRN_ERR_OBJ_TIMEOUT', `${what}: ${msg}`, { cause: err });
  if (code !== undefined && UNAVAILABLE_CODES.has(code)) return cairnError('CAIRN_ERR_OBJ_UNAVAILABLE', `${what}: ${msg}`, { cause: err });
  if (err instanceof Error && (err.name === 'AbortError' || code === 'UND_ERR_ABORTED')) {
    return cairnError('CAIRN_ERR_OBJ_CONNECTION_RESET', `${what}: ${msg}`, { cause: err });
  }
  return cairnError('CAIRN_ERR_OBJ_BACKEND', `${what}: ${msg}`, { cause: err });
}

function transportCode(err: unknown): string | undefined {
  // undici wraps socket errors; the system code may sit on the cause.
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (RESET_CODES.has(code) || TIMEOUT_CODES.has(code) || UNAVAILABLE_CODES.has(code))) return code;
    e = (e as { cause?: unknown }).cause;
  }
  const top = (err as { code?: unknown } | null)?.code;
  return typeof top === 'string' ? top : undefined;
}
