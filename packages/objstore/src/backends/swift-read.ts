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

/**
 * Wraps the first response body into a Readable of exactly `length` bytes.
 * Event-driven (the body's 'data' pushed on, paused while the reader is
 * full), not an async generator: a generator behind Readable.from costs two
 * promises per chunk, which showed next to raw GETs.
 */
export function resumableBody(first: Readable, r: ResumableRead): Readable {
  const counters = r.http.counters;
  const length = r.length;
  let body = first;
  let skip = r.skip;
  let pos = 0;
  let failures = 0;
  let finished = false;
  let resuming = false;

  const out = new Readable({
    highWaterMark: 64 * 1024,
    read() {
      if (!resuming) body.resume();
    },
    destroy(err, cb) {
      finished = true;
      if (!body.destroyed) body.destroy();
      cb(err);
    },
  });

  const end = (): void => {
    if (finished) return;
    finished = true;
    out.push(null);
    // Bytes past the range (Swift ignored the Range header): cut the body here.
    if (!body.destroyed && !body.readableEnded) body.destroy();
  };

  const fail = (err: unknown): void => {
    if (finished || resuming) return;
    body.destroy();
    const e = swiftTransportError(err, r.what, r.signal?.aborted === true);
    failures++;
    if (!e.retryable || failures >= r.http.options.retry.maxAttempts || r.signal?.aborted) {
      out.destroy(e);
      return;
    }
    counters.errors++;
    resuming = true;
    (async () => {
      await r.http.backoff(failures, r.what, `${e.message} (resuming at byte ${pos})`, r.signal);
      return resume(r, pos, e);
    })().then((resumed) => {
      resuming = false;
      if (finished) {
        resumed.body.destroy();
        return;
      }
      skip = resumed.skip;
      attach(resumed.body);
      // Reads asked for while resuming were not passed on: start the new body (it pauses when the reader is full).
      resumed.body.resume();
    }, (err2: unknown) => {
      resuming = false;
      out.destroy(err2 as Error);
    });
  };

  const attach = (b: Readable): void => {
    body = b;
    b.on('data', (c: Buffer) => {
      if (finished || b !== body) return;
      counters.bytesIn += c.length;
      let x = c;
      if (skip > 0) {
        if (x.length <= skip) {
          skip -= x.length;
          return;
        }
        x = x.subarray(skip);
        skip = 0;
      }
      if (pos >= length) {
        end();
        return;
      }
      if (pos + x.length > length) x = x.subarray(0, length - pos);
      pos += x.length;
      // At the end of the range, wait for the body's own end (cutting it would cost an abort).
      if (!out.push(x)) b.pause();
    });
    b.on('end', () => {
      if (b !== body) return;
      if (pos >= length) end();
      else fail(cairnError('CAIRN_ERR_OBJ_CONNECTION_RESET', `${r.what}: body ended after ${pos} of ${length} bytes`));
    });
    b.on('error', (err) => {
      if (b === body) fail(err);
    });
    b.on('close', () => {
      if (b === body && !finished && !b.readableEnded) fail(cairnError('CAIRN_ERR_OBJ_CONNECTION_RESET', `${r.what}: connection closed after ${pos} of ${length} bytes`));
    });
    b.pause();
  };

  attach(first);
  return out;
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
