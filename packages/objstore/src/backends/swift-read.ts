// The body of a Swift GET, made robust: it yields exactly the requested byte
// range, and when the connection fails part-way it asks Swift again for the
// rest (Range from the first missing byte, If-Match on the object's ETag so a
// replaced object is never spliced in), with the store's backoff, up to
// retry.maxAttempts times. Bytes are counted into stats().bytesIn.

import { Readable } from 'node:stream';
import { cairnError, isCairnError, type CairnError } from '@cairn/errors';
import { swiftTransportError } from './swift-errors.js';
import type { SwiftHttp } from './swift-http.js';

export interface ResumableRead {
  readonly http: SwiftHttp;
  readonly container: string;
  readonly object: string;
  /** First byte of the range within the object, and its length. */
  readonly offset: number;
  readonly length: number;
  /** The ETag header as Swift sent it (quoted for manifests), for If-Match. */
  readonly etagHeader: string | undefined;
  /** Bytes at the start of `first` to drop (Swift ignored the Range and sent it all). */
  readonly skip: number;
  readonly what: string;
  readonly signal?: AbortSignal;
}

/** Wraps the first response body into a Readable of exactly `length` bytes. */
export function resumableBody(first: Readable, r: ResumableRead): Readable {
  return Readable.from(read(first, r), { objectMode: false, highWaterMark: 64 * 1024 });
}

async function* read(first: Readable, r: ResumableRead): AsyncGenerator<Buffer> {
  const { http, length } = r;
  const counters = http.counters;
  let body = first;
  let skip = r.skip;
  let pos = 0;
  let failures = 0;
  try {
    for (;;) {
      try {
        for await (const c of body) {
          let b = c as Buffer;
          counters.bytesIn += b.length;
          if (skip > 0) {
            if (b.length <= skip) {
              skip -= b.length;
              continue;
            }
            b = b.subarray(skip);
            skip = 0;
          }
          if (pos >= length) {
            // Bytes past the range (Swift ignored the Range header): stop here, cutting the body.
            return;
          }
          if (pos + b.length > length) b = b.subarray(0, length - pos);
          if (b.length > 0) {
            pos += b.length;
            yield b;
          }
          // At the end of the range the loop goes on to see the body end: returning
          // from inside for-await would destroy it with an AbortError (costly stack).
        }
        if (pos >= length) return;
        throw cairnError('CAIRN_ERR_OBJ_CONNECTION_RESET', `${r.what}: body ended after ${pos} of ${length} bytes`);
      } catch (err) {
        body.destroy();
        const e = swiftTransportError(err, r.what, r.signal?.aborted === true);
        failures++;
        if (!e.retryable || failures >= http.options.retry.maxAttempts || r.signal?.aborted) throw e;
        counters.errors++;
        await http.backoff(failures, r.what, `${e.message} (resuming at byte ${pos})`, r.signal);
        const resumed = await resume(r, pos, e);
        body = resumed.body;
        skip = resumed.skip;
      }
    }
  } finally {
    if (!body.destroyed) body.destroy();
  }
}

async function resume(r: ResumableRead, pos: number, cause: CairnError): Promise<{ body: Readable; skip: number }> {
  const from = r.offset + pos;
  const to = r.offset + r.length - 1;
  try {
    const res = await r.http.call({
      method: 'GET',
      container: r.container,
      object: r.object,
      headers: { range: `bytes=${from}-${to}`, ...(r.etagHeader ? { 'if-match': r.etagHeader } : {}) },
      expect: [200, 206],
      idempotent: true,
      ...(r.signal ? { signal: r.signal } : {}),
    });
    return { body: res.body, skip: res.status === 200 ? from : 0 };
  } catch (err) {
    // The object changed or vanished under the reader: report the original failure.
    if (isCairnError(err) && (err.code === 'CAIRN_ERR_OBJ_PRECONDITION_FAILED' || err.code === 'CAIRN_ERR_OBJ_NOT_FOUND')) {
      throw cairnError(cause.code, `${r.what}: the object changed while it was read (${err.message})`, { cause: err });
    }
    throw err;
  }
}
