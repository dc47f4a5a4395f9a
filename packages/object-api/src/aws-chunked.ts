// The aws-chunked request body encoding (Content-Encoding: aws-chunked) that S3
// SDKs use for streaming uploads:
//
//   chunk   = hex-size [";chunk-signature=" 64HEX] CRLF data CRLF
//   last    = "0" [";chunk-signature=" 64HEX] CRLF
//   trailer = *( name ":" value CRLF ) [ "x-amz-trailer-signature:" 64HEX CRLF ] CRLF
//
// With STREAMING-AWS4-HMAC-SHA256-PAYLOAD every chunk signature is checked
// (chained from the request's seed signature) before the stream ends; a bad
// one fails the whole request, and since uploads commit only at the end,
// nothing of it becomes visible. Unsigned-trailer streams carry no chunk
// signatures. Trailers (e.g. x-amz-checksum-crc32) are returned to the caller.

import { createHash, type Hash } from 'node:crypto';
import { cairnError } from '@cairn/errors';
import { chunkStringToSign, sign, signaturesEqual, trailerStringToSign, type VerifiedAuth } from './sigv4.js';

/** Longest chunk header or trailer line accepted. */
const MAX_LINE = 4096;
/** Most trailer lines accepted. */
const MAX_TRAILERS = 16;

export interface AwsChunkedOptions {
  /** Check chunk signatures against this verified request (signed streams only). */
  readonly signed?: VerifiedAuth;
  /** Receives the trailers once the stream ended cleanly. */
  readonly onTrailers?: (trailers: Map<string, string>) => void;
}

function malformed(msg: string): never {
  throw cairnError('CAIRN_ERR_HTTP_BAD_REQUEST', `aws-chunked body: ${msg}`);
}

/** Decodes an aws-chunked body into its payload bytes. */
export async function* decodeAwsChunked(source: AsyncIterable<Uint8Array>, opts: AwsChunkedOptions = {}): AsyncGenerator<Buffer> {
  let buf: Buffer = Buffer.alloc(0);
  const it = source[Symbol.asyncIterator]();
  let ended = false;
  const more = async (): Promise<boolean> => {
    if (ended) return false;
    const r = await it.next();
    if (r.done) {
      ended = true;
      return false;
    }
    buf = buf.length === 0 ? Buffer.from(r.value) : Buffer.concat([buf, r.value]);
    return true;
  };
  const line = async (): Promise<string> => {
    for (;;) {
      const i = buf.indexOf('\r\n');
      if (i !== -1) {
        const s = buf.subarray(0, i).toString('latin1');
        buf = buf.subarray(i + 2);
        return s;
      }
      if (buf.length > MAX_LINE) malformed('line too long');
      if (!(await more())) throw cairnError('CAIRN_ERR_HTTP_INCOMPLETE_BODY', 'aws-chunked body ended inside a chunk header');
    }
  };
  let previous = opts.signed?.seedSignature ?? '';
  for (;;) {
    const header = await line();
    const m = /^([0-9a-fA-F]{1,16})(?:;chunk-signature=([0-9a-f]{64}))?\s*$/.exec(header);
    if (!m) malformed(`bad chunk header ${JSON.stringify(header.slice(0, 80))}`);
    const size = parseInt(m[1]!, 16);
    if (!Number.isSafeInteger(size)) malformed('chunk too large');
    const sig = m[2];
    if (opts.signed && sig === undefined) throw cairnError('CAIRN_ERR_S3_SIGNATURE_MISMATCH', 'chunk without chunk-signature');
    let hash: Hash | undefined = opts.signed ? createHash('sha256') : undefined;
    let left = size;
    while (left > 0) {
      if (buf.length === 0 && !(await more())) throw cairnError('CAIRN_ERR_HTTP_INCOMPLETE_BODY', 'aws-chunked body ended inside a chunk');
      const take = Math.min(left, buf.length);
      const piece = buf.subarray(0, take);
      buf = buf.subarray(take);
      left -= take;
      hash?.update(piece);
      yield piece;
    }
    if (opts.signed) {
      const sts = chunkStringToSignFromHash(opts.signed, previous, hash!);
      const expected = sign(opts.signed.signingKey, sts);
      if (!signaturesEqual(expected, sig!)) throw cairnError('CAIRN_ERR_S3_SIGNATURE_MISMATCH', 'chunk signature');
      previous = sig!;
      hash = undefined;
    }
    if (size === 0) break;
    if ((await line()) !== '') malformed('chunk data not followed by CRLF');
  }
  // Trailers, then the final empty line (some clients omit it when there are none).
  const trailers = new Map<string, string>();
  const trailerLines: string[] = [];
  let trailerSig: string | undefined;
  for (let n = 0; ; n++) {
    if (n > MAX_TRAILERS) malformed('too many trailers');
    if (ended && buf.length === 0) break;
    let l: string;
    try {
      l = await line();
    } catch (err) {
      if (buf.length === 0 && ended) break;
      throw err;
    }
    if (l === '') break;
    const c = l.indexOf(':');
    if (c <= 0) malformed(`bad trailer ${JSON.stringify(l.slice(0, 80))}`);
    const name = l.slice(0, c).trim().toLowerCase();
    const value = l.slice(c + 1).trim();
    if (name === 'x-amz-trailer-signature') trailerSig = value;
    else {
      trailers.set(name, value);
      trailerLines.push(`${name}:${value}\n`);
    }
  }
  if (opts.signed && opts.signed.payload.kind === 'streaming-signed' && opts.signed.payload.trailer) {
    if (trailerSig === undefined) throw cairnError('CAIRN_ERR_S3_SIGNATURE_MISMATCH', 'missing x-amz-trailer-signature');
    const expected = sign(opts.signed.signingKey, trailerStringToSign(opts.signed, previous, trailerLines.join('')));
    if (!signaturesEqual(expected, trailerSig)) throw cairnError('CAIRN_ERR_S3_SIGNATURE_MISMATCH', 'trailer signature');
  }
  while (!ended) {
    // Anything after the final CRLF is ignored but drained.
    if (!(await more())) break;
    buf = Buffer.alloc(0);
  }
  opts.onTrailers?.(trailers);
}

function chunkStringToSignFromHash(auth: VerifiedAuth, previous: string, hash: Hash): string {
  // chunkStringToSign takes the chunk bytes; here the hash was computed while streaming.
  const digest = hash.digest('hex');
  const base = chunkStringToSign(auth, previous, Buffer.alloc(0));
  return `${base.slice(0, base.lastIndexOf('\n') + 1)}${digest}`;
}
