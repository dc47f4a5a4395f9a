// Reading side of the S3 backend: object information from response headers, and
// the GET body handed to callers, which maps transport errors to CairnErrors and
// never ends cleanly short of the length S3 announced.

import { Readable } from 'node:stream';
import { cairnError } from '@cairn/errors';
import type { Dispatcher } from 'undici';
import type { ObjectInfo } from '../types.js';
import { s3TransportError } from './s3-errors.js';
import { httpDate, unquoteEtag } from './s3-client.js';

const META_PREFIX = 'x-amz-meta-';

/** ObjectInfo from the headers of a HEAD or GET (size given separately for ranged GETs). */
export function infoFromHeaders(name: string, headers: Readonly<Record<string, string>>, size: number): ObjectInfo {
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (k.startsWith(META_PREFIX) && k.length > META_PREFIX.length) meta[k.slice(META_PREFIX.length)] = v;
  }
  return {
    name,
    size,
    etag: unquoteEtag(headers['etag']),
    mtime: httpDate(headers['last-modified']) || httpDate(headers['date']),
    meta,
  };
}

/** Parses a non-negative decimal header (Content-Length); undefined when absent or bad. */
export function headerInt(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,16}$/.test(value.trim())) return undefined;
  const n = Number(value.trim());
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Parses `Content-Range: bytes first-last/total`. */
export function parseContentRange(value: string | undefined): { first: number; last: number; total: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(value?.trim() ?? '');
  if (!m) return undefined;
  const [first, last, total] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (!Number.isSafeInteger(total) || first > last || last >= total) return undefined;
  return { first, last, total };
}

/**
 * Wraps an undici response body: yields exactly `length` bytes, errors with a
 * CairnError (CAIRN_ERR_OBJ_CONNECTION_RESET when it breaks off short,
 * CAIRN_ERR_OBJ_CORRUPT when it runs long), counts bytes, and destroys the
 * underlying body when the caller destroys the wrapper.
 */
export function wrapBody(
  body: Dispatcher.ResponseData['body'],
  length: number,
  what: string,
  signal: AbortSignal | undefined,
  countIn: (n: number) => void,
): Readable {
  let seen = 0;
  const out = new Readable({
    highWaterMark: 64 * 1024,
    read() {
      body.resume();
    },
    destroy(err, cb) {
      if (!body.destroyed) body.destroy();
      cb(err);
    },
  });
  body.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    countIn(chunk.length);
    if (seen > length) {
      out.destroy(cairnError('CAIRN_ERR_OBJ_CORRUPT', `${what}: more than the ${length} bytes announced`));
      return;
    }
    if (!out.push(chunk)) body.pause();
  });
  body.on('end', () => {
    if (seen < length) {
      out.destroy(cairnError('CAIRN_ERR_OBJ_CONNECTION_RESET', `${what}: body ended after ${seen} of ${length} bytes`));
    } else out.push(null);
  });
  body.on('error', (err) => out.destroy(s3TransportError(err, what, signal?.aborted === true)));
  body.on('close', () => {
    if (!out.readableEnded && !out.destroyed && seen < length) {
      out.destroy(cairnError('CAIRN_ERR_OBJ_CONNECTION_RESET', `${what}: connection closed after ${seen} of ${length} bytes`));
    }
  });
  body.pause();
  return out;
}

/** An empty body (zero-length ranges and empty objects). */
export function emptyBody(): Readable {
  return Readable.from([]);
}
