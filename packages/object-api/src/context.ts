// Options of the object API server and the resolved state every route uses.

import type { Logger } from 'pino';
import { cairnError } from '@cairn/errors';
import type { VolumeFs } from './fs-port.js';
import type { S3Credential } from './sigv4.js';
import { SwiftAuth, type SwiftUser } from './swift-auth.js';

/** Default largest object (and largest S3 part), bytes: 5 GiB like Swift and S3. */
export const DEFAULT_MAX_OBJECT_BYTES = 5 * 1024 ** 3;
/** Smallest S3 multipart part (all but the last), bytes: 5 MiB like S3. */
export const DEFAULT_MIN_PART_BYTES = 5 * 1024 * 1024;

export interface SwiftApiOptions {
  /** tempauth users (account names without the reseller prefix). */
  readonly users: readonly SwiftUser[];
  readonly resellerPrefix?: string;
  readonly tokenTtlSeconds?: number;
  /**
   * A backing Swift proxy (e.g. "http://127.0.0.1:8080"): requests for
   * accounts that are not Cairn volumes, and logins of users not configured
   * here, pass through to it unchanged.
   */
  readonly backingUrl?: string;
}

export interface S3ApiOptions {
  readonly credentials: readonly S3Credential[];
  /** Regions accepted in signatures (default: any). The first is reported by GetBucketLocation. */
  readonly regions?: readonly string[];
  /**
   * Domains for virtual-host-style requests: a Host of "<bucket>.<domain>"
   * addresses the bucket. Requests to "<domain>" itself are path-style.
   */
  readonly virtualHostDomains?: readonly string[];
  /** Smallest multipart part but the last (default 5 MiB). */
  readonly minPartBytes?: number;
}

export interface ObjectApiOptions {
  /**
   * The Cairn volumes by account name (with the reseller prefix, e.g.
   * "AUTH_test"), or a function that finds one.
   */
  readonly volumes: Readonly<Record<string, VolumeFs>> | ((account: string) => VolumeFs | undefined);
  /** Swift API (`/auth/v1.0`, `/v1/...`); absent: disabled. */
  readonly swift?: SwiftApiOptions;
  /** S3 API (any SigV4-signed request); absent: disabled. */
  readonly s3?: S3ApiOptions;
  /** Largest object accepted (default 5 GiB). */
  readonly maxObjectBytes?: number;
  /**
   * GET/HEAD of a file modified through the filesystem, up to this size,
   * computes and records its MD5 so clients that verify downloads see a real
   * MD5 (default 16 MiB; 0: always the opaque ETag).
   */
  readonly etagHealMaxBytes?: number;
  /** Temporary upload files older than this are removed at start (default 1 day). */
  readonly tmpMaxAgeMs?: number;
  /** pino logger (a child per request with the request id); default: silent. */
  readonly logger?: Logger;
  /** Clock, ms since the epoch (tests). */
  readonly now?: () => number;
}

/** What routes share. */
export interface ApiContext {
  readonly volume: (account: string) => VolumeFs | undefined;
  readonly accounts: () => string[];
  readonly swiftAuth: SwiftAuth | undefined;
  readonly swift: SwiftApiOptions | undefined;
  readonly s3: S3ApiOptions | undefined;
  readonly s3Keys: ReadonlyMap<string, S3Credential>;
  readonly maxObjectBytes: number;
  readonly s3MinPartBytes: number;
  readonly etagHealMaxBytes: number;
  readonly now: () => number;
}

/** Checks S3 credentials, then makes them the contents of `keys` (by access key id); a bad one changes nothing. */
export function replaceS3Keys(keys: ReadonlyMap<string, S3Credential>, credentials: readonly S3Credential[]): void {
  if (!Array.isArray(credentials)) throw cairnError('CAIRN_ERR_CONFIG_INVALID', 's3 credentials must be a list');
  const next = new Map<string, S3Credential>();
  for (const c of credentials) {
    if (!c?.accessKeyId || !c.secretAccessKey || !c.account) throw cairnError('CAIRN_ERR_CONFIG_INVALID', 's3 credential needs accessKeyId, secretAccessKey and account');
    next.set(c.accessKeyId, c);
  }
  const m = keys as Map<string, S3Credential>;
  m.clear();
  for (const [k, c] of next) m.set(k, c);
}

export function resolveContext(opts: ObjectApiOptions): ApiContext {
  const vols = opts.volumes;
  if (vols === null || (typeof vols !== 'object' && typeof vols !== 'function')) {
    throw cairnError('CAIRN_ERR_CONFIG_INVALID', 'volumes must be a map or a function');
  }
  const volume = typeof vols === 'function' ? vols : (a: string): VolumeFs | undefined => (Object.hasOwn(vols, a) ? vols[a] : undefined);
  const accounts = typeof vols === 'function' ? (): string[] => [] : (): string[] => Object.keys(vols);
  const max = opts.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES;
  if (!Number.isSafeInteger(max) || max <= 0) throw cairnError('CAIRN_ERR_CONFIG_INVALID', `maxObjectBytes ${max}`);
  const s3Keys = new Map<string, S3Credential>();
  replaceS3Keys(s3Keys, opts.s3?.credentials ?? []);
  return {
    volume,
    accounts,
    swiftAuth: opts.swift
      ? new SwiftAuth({
        users: opts.swift.users,
        ...(opts.swift.resellerPrefix !== undefined ? { resellerPrefix: opts.swift.resellerPrefix } : {}),
        ...(opts.swift.tokenTtlSeconds !== undefined ? { tokenTtlSeconds: opts.swift.tokenTtlSeconds } : {}),
        ...(opts.now ? { now: opts.now } : {}),
      })
      : undefined,
    swift: opts.swift,
    s3: opts.s3,
    s3Keys,
    maxObjectBytes: max,
    s3MinPartBytes: opts.s3?.minPartBytes ?? DEFAULT_MIN_PART_BYTES,
    etagHealMaxBytes: opts.etagHealMaxBytes ?? 16 * 1024 * 1024,
    now: opts.now ?? Date.now,
  };
}
