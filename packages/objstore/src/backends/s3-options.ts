// Options of the S3 backend, checked up front: a bad option fails store
// creation with CAIRN_ERR_CONFIG_INVALID naming it, never a request later.

import { cairnError } from '@cairn/errors';
import { pino, type Logger } from 'pino';

/** Capped exponential backoff with full jitter, for requests that are safe to repeat. */
export interface S3RetryPolicy {
  /** Attempts in all, the first included (default 6; 1 = never retry). */
  readonly maxAttempts?: number;
  /** Ceiling of the first backoff (default 100 ms); doubles per attempt. */
  readonly baseDelayMs?: number;
  /** Largest backoff ceiling (default 5000 ms). Each wait is uniform in [0, ceiling). */
  readonly maxDelayMs?: number;
}

export interface S3StoreOptions {
  /** Service endpoint, `http(s)://host[:port]` (no path). */
  readonly endpoint: string;
  /** Signing region (e.g. us-east-1). */
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Temporary credentials' session token (sent as X-Amz-Security-Token). */
  readonly sessionToken?: string;
  /**
   * Path-style addressing (`endpoint/bucket/key`) instead of virtual-host style
   * (`bucket.endpoint-host/key`). Default false, as in the AWS SDKs. Virtual-host
   * style needs a host name (not an IP address) in the endpoint; bucket host
   * names are resolved as the endpoint's host, so `<bucket>.localhost` works
   * without DNS. Swift's s3api needs `storage_domain` set to the endpoint host
   * for virtual-host requests.
   */
  readonly forcePathStyle?: boolean;
  /** Connections per origin (default 32). */
  readonly poolSize?: number;
  /** Longest wait for response headers, and for each body chunk (default 30 000 ms). */
  readonly requestTimeoutMs?: number;
  readonly retry?: S3RetryPolicy;
  /**
   * How `put(..., { ifNoneMatch: true })` is done:
   * - 'native' (default): `If-None-Match: *`, atomic where the server supports it
   *   (AWS S3 since 2024, MinIO). Servers that refuse it (Swift's s3api answers
   *   501) make such puts fail with CAIRN_ERR_NOT_SUPPORTED.
   * - 'emulated': HEAD, then PUT if absent. NOT atomic: it fails when the object
   *   existed before the HEAD, but two racing creators can both succeed (the
   *   last PUT wins). Never base fencing or locking on it.
   */
  readonly conditionalPut?: 'native' | 'emulated';
  /**
   * How bodies of unknown length are sent (streamed puts without contentLength,
   * and open segments):
   * - 'chunked' (default): `Transfer-Encoding: chunked` with an UNSIGNED-PAYLOAD
   *   signature; bytes go out as they come. Swift's s3api and most S3 servers
   *   accept it (s3api refuses the `aws-chunked` encoding with 501).
   * - 'buffered': the body is collected in memory and sent with a Content-Length
   *   (AWS S3 refuses chunked PUTs without a length).
   */
  readonly streamingPut?: 'chunked' | 'buffered';
  /** Open segments keep at most this many appended bytes not yet sent before append waits (default 4 MiB). */
  readonly segmentWindowBytes?: number;
  /**
   * Streamed puts keep the first bytes read from the source (default 1 MiB) so a
   * failure early in the upload (missing bucket, 503, reset) can be retried.
   */
  readonly streamReplayBytes?: number;
  /** Compare the ETag S3 returns with the MD5 of what was sent (default true; off for SSE-KMS/SSE-C buckets). */
  readonly checkEtag?: boolean;
  readonly logger?: Logger;
}

export interface ResolvedS3Options {
  readonly endpoint: URL;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  readonly forcePathStyle: boolean;
  readonly poolSize: number;
  readonly requestTimeoutMs: number;
  readonly retry: Required<S3RetryPolicy>;
  readonly conditionalPut: 'native' | 'emulated';
  readonly streamingPut: 'chunked' | 'buffered';
  readonly segmentWindowBytes: number;
  readonly streamReplayBytes: number;
  readonly checkEtag: boolean;
  readonly logger: Logger;
}

function invalid(option: string, why: string): Error {
  return cairnError('CAIRN_ERR_CONFIG_INVALID', `s3 option ${option}: ${why}`);
}

function int(options: object, key: string, dflt: number, min: number, max: number, prefix = ''): number {
  const v = (options as Record<string, unknown>)[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw invalid(prefix + key, `must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return v;
}

function str(options: object, key: string, required: boolean): string | undefined {
  const v = (options as Record<string, unknown>)[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.length === 0 || /[\r\n]/.test(v)) throw invalid(key, 'must be a non-empty single-line string');
  return v;
}

function oneOf<T extends string>(options: object, key: string, values: readonly T[], dflt: T): T {
  const v = (options as Record<string, unknown>)[key];
  if (v === undefined) return dflt;
  if (!values.includes(v as T)) throw invalid(key, `must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

function bool(options: object, key: string, dflt: boolean): boolean {
  const v = (options as Record<string, unknown>)[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw invalid(key, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** Checks every option and fills in defaults. Throws CAIRN_ERR_CONFIG_INVALID naming the bad option. */
export function resolveS3Options(options: S3StoreOptions): ResolvedS3Options {
  if (options === null || typeof options !== 'object') throw invalid('options', 'must be an object');
  const endpointText = str(options, 'endpoint', true)!;
  let endpoint: URL;
  try {
    endpoint = new URL(endpointText);
  } catch {
    throw invalid('endpoint', `not a URL: ${JSON.stringify(endpointText)}`);
  }
  if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') throw invalid('endpoint', 'must be http: or https:');
  if (endpoint.username || endpoint.password) throw invalid('endpoint', 'must not carry credentials');
  if ((endpoint.pathname !== '/' && endpoint.pathname !== '') || endpoint.search || endpoint.hash) {
    throw invalid('endpoint', 'must be scheme://host[:port] without a path, query or fragment');
  }
  const region = str(options, 'region', true)!;
  if (!/^[a-z0-9-]{1,64}$/.test(region)) throw invalid('region', `${JSON.stringify(region)} is not a region name`);
  const accessKeyId = str(options, 'accessKeyId', true)!;
  const secretAccessKey = str(options, 'secretAccessKey', true)!;
  const sessionToken = str(options, 'sessionToken', false);
  const forcePathStyle = bool(options, 'forcePathStyle', false);
  if (!forcePathStyle && (/^[\d.]+$/.test(endpoint.hostname) || endpoint.hostname.startsWith('['))) {
    throw invalid('forcePathStyle', `virtual-host style needs a host name endpoint, not ${endpoint.hostname} (set forcePathStyle: true)`);
  }
  const retryIn = options.retry ?? {};
  if (retryIn === null || typeof retryIn !== 'object') throw invalid('retry', 'must be an object');
  const retry = {
    maxAttempts: int(retryIn, 'maxAttempts', 6, 1, 100, 'retry.'),
    baseDelayMs: int(retryIn, 'baseDelayMs', 100, 0, 60_000, 'retry.'),
    maxDelayMs: int(retryIn, 'maxDelayMs', 5_000, 0, 600_000, 'retry.'),
  };
  if (retry.maxDelayMs < retry.baseDelayMs) throw invalid('retry.maxDelayMs', 'must be >= retry.baseDelayMs');
  const logger = options.logger ?? pino({ level: 'silent' });
  if (typeof logger !== 'object' || typeof logger.warn !== 'function') throw invalid('logger', 'must be a pino Logger');
  return {
    endpoint,
    region,
    credentials: { accessKeyId, secretAccessKey, ...(sessionToken !== undefined ? { sessionToken } : {}) },
    forcePathStyle,
    poolSize: int(options, 'poolSize', 32, 1, 4096),
    requestTimeoutMs: int(options, 'requestTimeoutMs', 30_000, 1, 3_600_000),
    retry,
    conditionalPut: oneOf(options, 'conditionalPut', ['native', 'emulated'] as const, 'native'),
    streamingPut: oneOf(options, 'streamingPut', ['chunked', 'buffered'] as const, 'chunked'),
    segmentWindowBytes: int(options, 'segmentWindowBytes', 4 * 1024 * 1024, 1, 1024 * 1024 * 1024),
    streamReplayBytes: int(options, 'streamReplayBytes', 1024 * 1024, 0, 1024 * 1024 * 1024),
    checkEtag: bool(options, 'checkEtag', true),
    logger,
  };
}
