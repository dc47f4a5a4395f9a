// CairnError: the one error class every Cairn layer throws. Built only through
// cairnError(code, ...args) so that the errno, HTTP status and S3 code always
// come from the table in codes.ts.

import { ERROR_CODES, type CairnErrorCode } from './codes.js';
import { ERRNO, type ErrnoName } from './errno.js';

const BRAND = Symbol.for('cairn.error');

export interface CairnErrorOptions {
  /** The underlying error, kept for logs. */
  cause?: unknown;
  /** Structured details for logs and API bodies (never secrets). */
  details?: Record<string, unknown>;
  /**
   * An ordinary outcome rather than a fault (a lookup of a name that is not
   * there): built without capturing a stack trace, which costs more than the
   * rest of such a call. Its `stack` is just the name and message.
   */
  expected?: boolean;
}

export class CairnError extends Error {
  readonly code: CairnErrorCode;
  readonly errno: ErrnoName;
  readonly errnoNumber: number;
  readonly status: number;
  readonly s3Code: string;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: CairnErrorCode, message: string, options: CairnErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const d = ERROR_CODES[code];
    this.name = 'CairnError';
    this.code = code;
    this.errno = d.errno;
    this.errnoNumber = ERRNO[d.errno];
    this.status = d.status;
    this.s3Code = d.s3;
    this.retryable = d.retryable === true;
    this.details = options.details;
  }

  /** A plain object for JSON bodies and logs. */
  toJSON(): Record<string, unknown> {
    return { code: this.code, errno: this.errno, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

// The brand isCairnError looks for, on the prototype (one per package copy, same symbol).
Object.defineProperty(CairnError.prototype, BRAND, { value: true });

function format(template: string, args: readonly unknown[]): string {
  let i = 0;
  return template.replace(/%s/g, () => {
    const v = args[i++];
    return v === undefined ? '' : typeof v === 'string' ? v : String(v);
  });
}

/**
 * Builds a CairnError from the table. Arguments fill the %s slots of the code's
 * message template; a trailing CairnErrorOptions object (cause, details) may follow.
 */
export function cairnError(code: CairnErrorCode, ...args: Array<string | number | bigint | CairnErrorOptions>): CairnError {
  let options: CairnErrorOptions = {};
  const last = args[args.length - 1];
  if (last !== null && typeof last === 'object') {
    options = last;
    args = args.slice(0, -1);
  }
  const message = format(ERROR_CODES[code].message, args);
  if (options.expected !== true) return new CairnError(code, message, options);
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new CairnError(code, message, options);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** True for any CairnError (also across duplicate package copies); with a code, only that code. */
export function isCairnError(err: unknown, code?: CairnErrorCode): err is CairnError {
  if (err === null || typeof err !== 'object' || (err as Record<symbol, unknown>)[BRAND] !== true) return false;
  return code === undefined || (err as CairnError).code === code;
}

/** True when the error says a later retry of the same request may succeed. */
export function isRetryable(err: unknown): boolean {
  return isCairnError(err) && err.retryable;
}

/** Wraps anything thrown into a CairnError (CairnErrors pass through unchanged). */
export function toCairnError(err: unknown, code: CairnErrorCode = 'CAIRN_ERR_INTERNAL'): CairnError {
  if (isCairnError(err)) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return cairnError(code, msg, { cause: err });
}
