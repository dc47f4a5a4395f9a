// HTTP helpers shared by the Swift and S3 routes: splitting a raw URL into
// decoded path and query, header access, HTTP dates, and streaming a GET body
// (whole, one range, or multipart/byteranges).

import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { cairnError } from '@cairn/errors';
import type { ByteSpan } from './ranges.js';
import { contentRange, spanLength } from './ranges.js';

/** A raw URL split: the path still encoded and decoded, and the query pairs in order. */
export interface ParsedUrl {
  readonly rawPath: string;
  readonly path: string;
  readonly rawQuery: string;
  readonly query: URLSearchParams;
}

/** Splits and decodes a request URL; a path with bad percent-encoding is a 400. */
export function parseUrl(rawUrl: string): ParsedUrl {
  const q = rawUrl.indexOf('?');
  const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const rawQuery = q === -1 ? '' : rawUrl.slice(q + 1);
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    throw cairnError('CAIRN_ERR_HTTP_INVALID_NAME', 'the path has bad percent-encoding or is not UTF-8');
  }
  let query: URLSearchParams;
  try {
    // Validate the encoding first: URLSearchParams silently keeps bad escapes.
    for (const part of rawQuery.split('&')) if (part) decodeURIComponent(part.replace(/\+/g, ' '));
    query = new URLSearchParams(rawQuery);
  } catch {
    throw cairnError('CAIRN_ERR_HTTP_BAD_REQUEST', 'the query string has bad percent-encoding');
  }
  return { rawPath, path, rawQuery, query };
}

/** One header value (the first when repeated), or undefined. */
export function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** RFC 7231 IMF-fixdate of a time in ms. */
export function httpDate(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toUTCString();
}

/** ISO 8601 with milliseconds (S3 listings). */
export function isoDate(ms: number): string {
  return new Date(Math.floor(ms)).toISOString();
}

/** Swift's X-Timestamp form: seconds with 5 decimals. */
export function swiftTimestamp(ms: number): string {
  return (ms / 1000).toFixed(5);
}

/** Parses Content-Length: undefined when absent; 400 when malformed. */
export function contentLength(req: FastifyRequest): number | undefined {
  const v = header(req, 'content-length');
  if (v === undefined) return undefined;
  if (!/^\d{1,16}$/.test(v.trim())) throw cairnError('CAIRN_ERR_HTTP_BAD_REQUEST', `Content-Length ${JSON.stringify(v.slice(0, 40))}`);
  return Number(v.trim());
}

/** True when the request has a body to read (Content-Length > 0 or chunked). */
export function hasBody(req: FastifyRequest): boolean {
  const te = header(req, 'transfer-encoding');
  if (te !== undefined) return true;
  const cl = contentLength(req);
  return cl !== undefined && cl > 0;
}

/** Reads a whole (small) request body, refusing more than `max` bytes. */
export async function readSmallBody(req: FastifyRequest, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of req.raw as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > max) throw cairnError('CAIRN_ERR_HTTP_TOO_LARGE', `request body over ${max} bytes`);
    parts.push(chunk);
  }
  return Buffer.concat(parts, n);
}

/** Produces the bytes of a span of the object. */
export type SpanReader = (start: number, length: number) => AsyncIterable<Buffer>;

/**
 * Sends a GET body: the whole object (200), one range (206, Content-Range) or
 * several (206 multipart/byteranges). Headers already set on `reply` stay.
 */
export function sendRanges(
  reply: FastifyReply, method: string, size: number, contentType: string, spans: readonly ByteSpan[] | undefined, read: SpanReader,
): FastifyReply {
  const head = method === 'HEAD';
  if (!spans) {
    reply.code(200).header('content-length', String(size));
    return reply.send(head || size === 0 ? undefined : Readable.from(read(0, size)));
  }
  if (spans.length === 1) {
    const s = spans[0]!;
    reply.code(206).header('content-length', String(spanLength(s))).header('content-range', contentRange(s, size));
    return reply.send(head ? undefined : Readable.from(read(s.start, spanLength(s))));
  }
  const boundary = randomBytes(16).toString('hex');
  const partHead = (s: ByteSpan): string => `--${boundary}\r\nContent-Type: ${contentType}\r\nContent-Range: ${contentRange(s, size)}\r\n\r\n`;
  const tail = `--${boundary}--\r\n`;
  let total = Buffer.byteLength(tail);
  for (const s of spans) total += Buffer.byteLength(partHead(s)) + spanLength(s) + 2;
  reply.code(206).header('content-type', `multipart/byteranges; boundary=${boundary}`).header('content-length', String(total));
  if (head) return reply.send(undefined);
  async function* body(): AsyncGenerator<Buffer> {
    for (const s of spans!) {
      yield Buffer.from(partHead(s));
      yield* read(s.start, spanLength(s));
      yield Buffer.from('\r\n');
    }
    yield Buffer.from(tail);
  }
  return reply.send(Readable.from(body()));
}
