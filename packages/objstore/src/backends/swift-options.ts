// Options of the Swift backend, checked once up front: every bad value throws
// CAIRN_ERR_CONFIG_INVALID naming the option, before any connection is made.

import { cairnError } from '@cairn/errors';
import { pino, type Logger } from 'pino';

/** Capped exponential backoff with full jitter: delay_n = random(0, min(max, base * factor^(n-1))). */
export interface SwiftRetryPolicy {
  /** Attempts per request, the first one included (default 8). 1 disables retries. */
  readonly maxAttempts?: number;
  /** Backoff ceiling of the first retry, in ms (default 100). */
  readonly baseDelayMs?: number;
  /** Backoff ceiling of any retry, in ms (default 5000). */
  readonly maxDelayMs?: number;
  /** Growth of the ceiling per retry, 1.5 to 2 (default 2). */
  readonly factor?: number;
}

export interface SwiftStoreOptions {
  /**
   * Auth endpoint. authVersion 1 (tempauth, swauth, Swift's v1 protocol): the URL
   * answering GET with X-Auth-User/X-Auth-Key, e.g. http://127.0.0.1:18080/auth/v1.0.
   * authVersion 3 (Keystone): the identity base URL, e.g. http://keystone:5000/v3.
   */
  readonly authUrl: string;
  /** v1: "account:user" (tempauth). v3: the Keystone user name. */
  readonly user: string;
  /** v1: the key. v3: the password. */
  readonly key: string;
  /** 1 (default) or 3 (Keystone v3 password auth; not tested against a real Keystone). */
  readonly authVersion?: 1 | 3;
  /** v3: project to scope the token to (required for v3). */
  readonly projectName?: string;
  /** v3: domain of the user (default "Default"). */
  readonly userDomainName?: string;
  /** v3: domain of the project (default "Default"). */
  readonly projectDomainName?: string;
  /** v3: catalog region to pick the object-store endpoint from (default: the first). */
  readonly region?: string;
  /** v3: catalog endpoint interface (default "public"). */
  readonly endpointInterface?: 'public' | 'internal' | 'admin';
  /** Storage URL to use instead of the one the auth service returns (e.g. through a proxy). */
  readonly storageUrl?: string;
  /** Keep-alive connections per origin (default 32). */
  readonly poolSize?: number;
  /**
   * Per-attempt time limit in ms (default 30000): connecting, waiting for response
   * headers after the body was sent, a gap between body chunks, and a send that
   * makes no progress because the socket does not drain.
   */
  readonly requestTimeoutMs?: number;
  readonly retry?: SwiftRetryPolicy;
  /** Create a missing container when an object PUT finds none (default true). */
  readonly autoCreateContainers?: boolean;
  /** Default maxSize of openSegment handles, in bytes (default 10 MiB). */
  readonly segmentMaxSize?: number;
  /** Bytes an OpenSegment accepts ahead of what the connection took (default 1 MiB). */
  readonly segmentWindowBytes?: number;
  /** Logger (default: silent). The token is never logged. */
  readonly logger?: Logger;
  /** Random source in [0, 1) for the jitter (tests make it deterministic). */
  readonly random?: () => number;
}

export interface ResolvedRetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly factor: number;
}

export interface ResolvedSwiftOptions {
  readonly authUrl: URL;
  readonly user: string;
  readonly key: string;
  readonly authVersion: 1 | 3;
  readonly projectName: string | undefined;
  readonly userDomainName: string;
  readonly projectDomainName: string;
  readonly region: string | undefined;
  readonly endpointInterface: 'public' | 'internal' | 'admin';
  readonly storageUrl: URL | undefined;
  readonly poolSize: number;
  readonly requestTimeoutMs: number;
  readonly retry: ResolvedRetryPolicy;
  readonly autoCreateContainers: boolean;
  readonly segmentMaxSize: number;
  readonly segmentWindowBytes: number;
  readonly logger: Logger;
  readonly random: () => number;
}

export const SWIFT_DEFAULTS = {
  poolSize: 32,
  requestTimeoutMs: 30_000,
  maxAttempts: 8,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
  factor: 2,
  segmentMaxSize: 10 * 1024 * 1024,
  segmentWindowBytes: 1024 * 1024,
} as const;

function bad(option: string, why: string): never {
  throw cairnError('CAIRN_ERR_CONFIG_INVALID', `swift option ${option}: ${why}`);
}

function httpUrl(option: string, v: unknown): URL {
  if (typeof v !== 'string' || v.length === 0) bad(option, 'must be a non-empty URL string');
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    bad(option, 'is not a valid URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') bad(option, 'must be an http: or https: URL');
  if (u.username || u.password) bad(option, 'must not carry credentials');
  if (u.search || u.hash) bad(option, 'must not have a query or fragment');
  return u;
}

function nonEmpty(option: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) bad(option, 'must be a non-empty string');
  if (/[\r\n\0]/.test(v)) bad(option, 'must not contain CR, LF or NUL');
  return v;
}

function optString(option: string, v: unknown): string | undefined {
  return v === undefined ? undefined : nonEmpty(option, v);
}

function int(option: string, v: unknown, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) bad(option, `must be an integer in ${min}..${max}`);
  return v;
}

/** Checks every option and fills in the defaults. */
export function resolveSwiftOptions(options: SwiftStoreOptions): ResolvedSwiftOptions {
  if (options === null || typeof options !== 'object') bad('options', 'must be an object');
  const o = options as SwiftStoreOptions & Record<string, unknown>;
  const authVersion = o.authVersion ?? 1;
  if (authVersion !== 1 && authVersion !== 3) bad('authVersion', 'must be 1 or 3');
  const authUrl = httpUrl('authUrl', o.authUrl);
  const user = nonEmpty('user', o.user);
  const key = nonEmpty('key', o.key);
  const projectName = optString('projectName', o.projectName);
  if (authVersion === 3 && projectName === undefined) bad('projectName', 'is required with authVersion 3');
  const endpointInterface = o.endpointInterface ?? 'public';
  if (!['public', 'internal', 'admin'].includes(endpointInterface)) bad('endpointInterface', 'must be public, internal or admin');
  const storageUrl = o.storageUrl === undefined ? undefined : httpUrl('storageUrl', o.storageUrl);

  const r = o.retry ?? {};
  if (r === null || typeof r !== 'object') bad('retry', 'must be an object');
  const retry: ResolvedRetryPolicy = {
    maxAttempts: int('retry.maxAttempts', r.maxAttempts, SWIFT_DEFAULTS.maxAttempts, 1, 100),
    baseDelayMs: int('retry.baseDelayMs', r.baseDelayMs, SWIFT_DEFAULTS.baseDelayMs, 0, 60_000),
    maxDelayMs: int('retry.maxDelayMs', r.maxDelayMs, SWIFT_DEFAULTS.maxDelayMs, 0, 600_000),
    factor: r.factor ?? SWIFT_DEFAULTS.factor,
  };
  if (typeof retry.factor !== 'number' || !(retry.factor >= 1 && retry.factor <= 4)) bad('retry.factor', 'must be a number in 1..4');
  if (retry.maxDelayMs < retry.baseDelayMs) bad('retry.maxDelayMs', 'must be >= retry.baseDelayMs');

  const logger = o.logger ?? pino({ level: 'silent' });
  if (typeof logger !== 'object' || typeof logger.warn !== 'function' || typeof logger.debug !== 'function') {
    bad('logger', 'must be a pino Logger');
  }
  const random = o.random ?? Math.random;
  if (typeof random !== 'function') bad('random', 'must be a function');
  if (o.autoCreateContainers !== undefined && typeof o.autoCreateContainers !== 'boolean') bad('autoCreateContainers', 'must be a boolean');

  return {
    authUrl,
    user,
    key,
    authVersion,
    projectName,
    userDomainName: optString('userDomainName', o.userDomainName) ?? 'Default',
    projectDomainName: optString('projectDomainName', o.projectDomainName) ?? 'Default',
    region: optString('region', o.region),
    endpointInterface,
    storageUrl,
    poolSize: int('poolSize', o.poolSize, SWIFT_DEFAULTS.poolSize, 1, 4096),
    requestTimeoutMs: int('requestTimeoutMs', o.requestTimeoutMs, SWIFT_DEFAULTS.requestTimeoutMs, 1, 3_600_000),
    retry,
    autoCreateContainers: o.autoCreateContainers ?? true,
    segmentMaxSize: int('segmentMaxSize', o.segmentMaxSize, SWIFT_DEFAULTS.segmentMaxSize, 1, 5 * 1024 ** 3),
    segmentWindowBytes: int('segmentWindowBytes', o.segmentWindowBytes, SWIFT_DEFAULTS.segmentWindowBytes, 1, 1024 ** 3),
    logger,
    random,
  };
}
