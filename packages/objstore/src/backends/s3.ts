// The S3 backend: any S3-compatible service over undici, requests signed with
// SigV4 (aws4). A Cairn container is a bucket. Tested against OpenStack Swift's
// s3api middleware; see S3StoreOptions for what differs between servers
// (conditional puts, chunked uploads, virtual-host addressing).
//
// Guarantees worth knowing:
// - Idempotent requests (GET, HEAD, DELETE, list, whole-object PUT) are retried
//   on 5xx, SlowDown, connection resets and timeouts, with capped exponential
//   backoff and full jitter. Streamed puts are retried only while the bytes
//   already read from the caller's stream are still kept (streamReplayBytes);
//   open segments keep everything and are always re-sent.
// - Puts create the bucket when S3 answers NoSuchBucket.
// - ETags are unquoted; for single-part puts they are the MD5 of the bytes, and
//   a put whose ETag differs from the MD5 of what was sent fails with
//   CAIRN_ERR_OBJ_CORRUPT (unless checkEtag is off).
// - put(..., { ifNoneMatch: true }) is atomic only with conditionalPut 'native'
//   on a server that implements If-None-Match on PUT (Swift 2.30's s3api does
//   not: it answers 501). See S3StoreOptions.conditionalPut.

import { cairnError } from '@cairn/errors';
import { checkContainerName } from '../names.js';
import type { BackendStats, Container, ObjectStore } from '../types.js';
import { discard, S3Client } from './s3-client.js';
import { S3Container, type S3StoreContext } from './s3-container.js';
import { resolveS3Options, type S3StoreOptions } from './s3-options.js';

export type { S3RetryPolicy, S3StoreOptions } from './s3-options.js';

class S3Store implements ObjectStore {
  readonly kind = 's3';
  private readonly ctx: S3StoreContext;
  private closed = false;

  constructor(options: S3StoreOptions) {
    this.ctx = { client: new S3Client(resolveS3Options(options)), knownBuckets: new Set() };
  }

  container(name: string): Container {
    if (this.closed) throw cairnError('CAIRN_ERR_CLOSED', 's3 object store');
    checkContainerName(name);
    return new S3Container(this.ctx, name);
  }

  /** Lists the account's buckets: proves the endpoint answers and the credentials sign. */
  async ping(): Promise<void> {
    const res = await this.ctx.client.call({ method: 'GET', what: 'GET / (list buckets)', idempotent: true });
    await discard(res);
  }

  stats(): BackendStats {
    return this.ctx.client.stats();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.ctx.client.close();
  }
}

/**
 * Opens an S3 object store. Options are checked now: a bad one throws
 * CAIRN_ERR_CONFIG_INVALID naming it. No request is made until first use
 * (call ping() to check reachability and credentials).
 */
export function createS3Store(options: S3StoreOptions): ObjectStore {
  return new S3Store(options);
}
