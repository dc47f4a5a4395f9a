// S3 object operations: PutObject (streamed; Content-MD5, x-amz-content-sha256,
// aws-chunked bodies and x-amz-checksum-* checked before the commit),
// GetObject/HeadObject (one range, conditional headers, response-* overrides,
// read plans with ?x-cairn-readplan), DeleteObject and CopyObject; multipart
// subresources go to s3-multipart.ts.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { cairnError } from '@cairn/errors';
import { decodeAwsChunked } from './aws-chunked.js';
import { evaluateConditions, evaluateConditionsMissing, type ConditionalHeaders } from './conditional.js';
import { BodyDigests, CHECKSUM_ALGORITHMS, contentMd5Hex, type ChecksumAlgorithm, type DigestExpectations } from './digests.js';
import { contentLength, header, httpDate, isoDate, sendRanges } from './http-util.js';
import { copyFile } from './join.js';
import { checkContainerName, parseObjectName, type ObjectPath } from './names.js';
import { DIRECTORY_CONTENT_TYPE, STORED_HEADERS, guessContentType, metaFromHeaders, writeObjectMeta } from './object-meta.js';
import { deleteObject, findObject, getObjectInfo, putDirectory, putObject, readBytes, type ObjectInfo } from './objects.js';
import { containerAttr } from './paths.js';
import { parseRange } from './ranges.js';
import { buildReadPlan, wantsReadPlan } from './read-plan.js';
import { abortUpload, completeUpload, createUpload, listParts, uploadPart } from './s3-multipart.js';
import type { S3Request } from './s3-routes.js';
import type { VerifiedAuth } from './sigv4.js';
import { S3_NS, textEl, xmlDocument } from './xml.js';

/** An ETag as S3 sends it: quoted. */
export function s3Etag(etag: string): string {
  return `"${etag}"`;
}

/** A request body as the S3 API receives it: decoded (aws-chunked) and with its digests to check. */
export interface S3Body {
  readonly body: AsyncIterable<Uint8Array>;
  readonly digests: BodyDigests;
  readonly trailers: () => ReadonlyMap<string, string> | undefined;
  readonly expectedLength: number | undefined;
}

/** Sets up reading an S3 request body: aws-chunked decoding, length and digest checks. */
export function s3Body(req: FastifyRequest, auth: VerifiedAuth, maxBytes: number): S3Body {
  const enc = (header(req, 'content-encoding') ?? '').toLowerCase();
  const chunked = auth.payload.kind === 'streaming-signed' || auth.payload.kind === 'streaming-unsigned-trailer' || enc.split(',').map((s) => s.trim()).includes('aws-chunked');
  const cl = contentLength(req);
  let expectedLength: number | undefined;
  if (chunked) {
    const d = header(req, 'x-amz-decoded-content-length');
    if (d !== undefined) {
      if (!/^\d{1,16}$/.test(d.trim())) throw cairnError('CAIRN_ERR_HTTP_BAD_REQUEST', 'x-amz-decoded-content-length');
      expectedLength = Number(d.trim());
    }
  } else {
    expectedLength = cl;
    if (cl === undefined && header(req, 'transfer-encoding') === undefined) throw cairnError('CAIRN_ERR_HTTP_LENGTH_REQUIRED', 'Content-Length is required');
  }
  if (expectedLength !== undefined && expectedLength > maxBytes) throw cairnError('CAIRN_ERR_HTTP_TOO_LARGE', `${expectedLength} bytes`);
  const md5 = header(req, 'content-md5');
  const checksums = new Map<ChecksumAlgorithm, string>();
  for (const alg of CHECKSUM_ALGORITHMS) {
    const v = header(req, `x-amz-checksum-${alg}`);
    if (v !== undefined) checksums.set(alg, v);
  }
  const trailerChecksums: ChecksumAlgorithm[] = [];
  for (const t of (header(req, 'x-amz-trailer') ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    const alg = t.replace(/^x-amz-checksum-/, '') as ChecksumAlgorithm;
    if (t.startsWith('x-amz-checksum-') && CHECKSUM_ALGORITHMS.includes(alg)) trailerChecksums.push(alg);
  }
  const expect: DigestExpectations = {
    ...(md5 !== undefined ? { md5Hex: contentMd5Hex(md5), md5Code: 'CAIRN_ERR_S3_BAD_DIGEST' as const } : {}),
    ...(auth.payload.kind === 'sha256' ? { sha256Hex: auth.payload.hex } : {}),
    ...(checksums.size ? { checksums } : {}),
    ...(trailerChecksums.length ? { trailerChecksums } : {}),
  };
  let trailers: Map<string, string> | undefined;
  const body: AsyncIterable<Uint8Array> = chunked
    ? decodeAwsChunked(req.raw, {
      ...(auth.payload.kind === 'streaming-signed' ? { signed: auth } : {}),
      onTrailers: (t) => {
        trailers = t;
      },
    })
    : req.raw;
  return { body, digests: new BodyDigests(expect), trailers: () => trailers, expectedLength };
}

/** x-amz-meta-*, Content-Type and stored headers of a PUT/copy. */
function s3Meta(req: FastifyRequest): { user: Record<string, string>; headers: Record<string, string>; contentType?: string } {
  const user = metaFromHeaders(req.headers, 'x-amz-meta-');
  const headers: Record<string, string> = {};
  for (const h of STORED_HEADERS) {
    const v = header(req, h);
    if (v !== undefined && !(h === 'content-encoding' && /aws-chunked/i.test(v))) headers[h] = v;
  }
  // aws-chunked is a transfer detail, not the object's encoding.
  if (headers['content-encoding']) {
    const rest = headers['content-encoding'].split(',').map((s) => s.trim()).filter((s) => s && s.toLowerCase() !== 'aws-chunked').join(', ');
    if (rest) headers['content-encoding'] = rest;
    else delete headers['content-encoding'];
  }
  const ct = header(req, 'content-type');
  return { user, headers, ...(ct ? { contentType: ct } : {}) };
}

function conditions(req: FastifyRequest, prefix = ''): ConditionalHeaders {
  return {
    'if-match': header(req, `${prefix}if-match`),
    'if-none-match': header(req, `${prefix}if-none-match`),
    'if-modified-since': header(req, `${prefix}if-modified-since`),
    'if-unmodified-since': header(req, `${prefix}if-unmodified-since`),
  };
}

/** Sets the answer headers describing an object. */
function setS3Headers(reply: FastifyReply, info: ObjectInfo): void {
  reply.header('etag', s3Etag(info.etag)).header('last-modified', httpDate(info.mtimeMs))
    .header('accept-ranges', 'bytes').header('content-type', info.contentType);
  for (const [k, v] of Object.entries(info.meta.user)) reply.header(`x-amz-meta-${k}`, v);
  for (const [k, v] of Object.entries(info.meta.headers)) reply.header(k, v);
  if (info.meta.deleteAt !== undefined) reply.header('x-amz-expiration', `expiry-date="${httpDate(info.meta.deleteAt * 1000)}"`);
}

const RESPONSE_OVERRIDES: ReadonlyArray<[string, string]> = [
  ['response-content-type', 'content-type'], ['response-content-language', 'content-language'],
  ['response-expires', 'expires'], ['response-cache-control', 'cache-control'],
  ['response-content-disposition', 'content-disposition'], ['response-content-encoding', 'content-encoding'],
];

/** Parses x-amz-copy-source ("/bucket/key" or "bucket/key", URL-encoded; a versionId is refused). */
export function parseCopySource(v: string): { bucket: string; path: ObjectPath } {
  let s = v.trim();
  const q = s.indexOf('?');
  if (q !== -1) {
    if (/versionId=(?!null)/.test(s.slice(q))) throw cairnError('CAIRN_ERR_NOT_SUPPORTED', 'object versions');
    s = s.slice(0, q);
  }
  try {
    s = decodeURIComponent(s);
  } catch {
    throw cairnError('CAIRN_ERR_S3_INVALID_ARGUMENT', 'x-amz-copy-source has bad percent-encoding');
  }
  if (s.startsWith('/')) s = s.slice(1);
  const i = s.indexOf('/');
  if (i <= 0 || i === s.length - 1) throw cairnError('CAIRN_ERR_S3_INVALID_ARGUMENT', 'x-amz-copy-source must be <bucket>/<key>');
  return { bucket: checkContainerName(s.slice(0, i)), path: parseObjectName(s.slice(i + 1)) };
}

/** Evaluates x-amz-copy-source-if-* against the source. */
export function checkCopySourceConditions(req: FastifyRequest, src: ObjectInfo): void {
  const outcome = evaluateConditions(conditions(req, 'x-amz-copy-source-'), src.etag, src.mtimeMs, false);
  if (outcome !== 'proceed') throw cairnError('CAIRN_ERR_HTTP_PRECONDITION_FAILED', 'x-amz-copy-source-if-* condition');
}

async function copyObject(sr: S3Request, bucket: string, path: ObjectPath, source: string): Promise<FastifyReply> {
  const { req, reply, fs, ctx } = sr;
  const from = parseCopySource(source);
  const src = await getObjectInfo(fs, from.bucket, from.path, { dirs: 'slash', now: ctx.now() });
  checkCopySourceConditions(req, src);
  const directive = (header(req, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') throw cairnError('CAIRN_ERR_S3_INVALID_ARGUMENT', 'x-amz-metadata-directive must be COPY or REPLACE');
  const m = s3Meta(req);
  const sameObject = from.bucket === bucket && from.path.name === path.name;
  let info: ObjectInfo;
  if (sameObject) {
    if (directive !== 'REPLACE') throw cairnError('CAIRN_ERR_S3_INVALID_ARGUMENT', 'copying an object onto itself needs x-amz-metadata-directive: REPLACE');
    await writeObjectMeta(fs, src.ino, { user: m.user, headers: m.headers, ...(m.contentType ? { contentType: m.contentType } : {}) }, true);
    info = await getObjectInfo(fs, bucket, path, { dirs: 'slash', now: ctx.now() });
  } else if (src.isDir) {
    info = await putDirectory(fs, bucket, path, { user: directive === 'REPLACE' ? m.user : src.meta.user });
  } else {
    const replace = directive === 'REPLACE';
    info = await copyFile(fs, src, bucket, path, {
      contentType: replace ? m.contentType ?? guessContentType(path.name) : src.contentType,
      user: replace ? m.user : src.meta.user,
      headers: replace ? m.headers : src.meta.headers,
    }, { maxBytes: ctx.maxObjectBytes, ...(header(req, 'if-none-match')?.trim() === '*' ? { ifNoneMatch: true } : {}) });
  }
  return reply.code(200).type('application/xml').send(xmlDocument('CopyObjectResult', [
    textEl('LastModified', isoDate(info.mtimeMs)), textEl('ETag', s3Etag(info.etag)),
  ], S3_NS));
}

/** Handles a request on /{bucket}/{key}. */
export async function handleS3Object(sr: S3Request, bucket: string, key: string): Promise<FastifyReply> {
  const { req, reply, fs, url, ctx, auth } = sr;
  const q = url.query;
  const path = parseObjectName(key);
  for (const k of ['tagging', 'acl', 'retention', 'legal-hold', 'torrent', 'restore', 'select', 'attributes']) {
    if (q.has(k)) throw cairnError('CAIRN_ERR_NOT_SUPPORTED', `object subresource ?${k}`);
  }
  const uploadId = q.get('uploadId');
  switch (req.method) {
    case 'PUT': {
      if (uploadId !== null) return uploadPart(sr, bucket, path, uploadId);
      const source = header(req, 'x-amz-copy-source');
      if (source !== undefined) return copyObject(sr, bucket, path, source);
      const m = s3Meta(req);
      const inm = header(req, 'if-none-match');
      if (inm !== undefined && inm.trim() !== '*') throw cairnError('CAIRN_ERR_NOT_SUPPORTED', 'If-None-Match other than * on PUT');
      const ifNoneMatch = inm !== undefined;
      const ifMatch = header(req, 'if-match');
      if (ifMatch !== undefined) {
        const c = await containerAttr(fs, bucket);
        const cur = await findObject(fs, c.ino, path, { dirs: 'slash', now: ctx.now() });
        if (!cur) throw cairnError('CAIRN_ERR_HTTP_NO_SUCH_OBJECT', `${bucket}/${key}`);
        if (evaluateConditions({ 'if-match': ifMatch }, cur.etag, cur.mtimeMs, false) !== 'proceed') {
          throw cairnError('CAIRN_ERR_HTTP_PRECONDITION_FAILED', 'If-Match');
        }
      }
      const body = s3Body(req, auth, ctx.maxObjectBytes);
      if (path.trailingSlash) {
        // "dir/" with no bytes: a directory (S3 folder marker).
        let n = 0;
        for await (const chunk of body.body) n += chunk.length;
        if (n > 0) throw cairnError('CAIRN_ERR_HTTP_INVALID_NAME', `${key}: a key ending in '/' names a directory and must have no bytes`);
        const info = await putDirectory(fs, bucket, path, { user: m.user }, { ifNoneMatch });
        return reply.code(200).header('etag', s3Etag(info.etag)).header('content-length', '0').send();
      }
      if (m.contentType?.split(';')[0]?.trim().toLowerCase() === DIRECTORY_CONTENT_TYPE && body.expectedLength === 0) {
        const info = await putDirectory(fs, bucket, path, { user: m.user }, { ifNoneMatch });
        return reply.code(200).header('etag', s3Etag(info.etag)).header('content-length', '0').send();
      }
      const info = await putObject(fs, {
        container: bucket, path, body: body.body, digests: body.digests, trailers: body.trailers,
        ...(body.expectedLength !== undefined ? { expectedLength: body.expectedLength } : {}),
        maxBytes: ctx.maxObjectBytes,
        contentType: m.contentType ?? guessContentType(path.name), user: m.user, headers: m.headers, ifNoneMatch,
      });
      return reply.code(200).header('etag', s3Etag(info.etag)).header('content-length', '0').send();
    }
    case 'POST': {
      if (q.has('uploads')) return createUpload(sr, bucket, path, s3Meta(req));
      if (uploadId !== null) return completeUpload(sr, bucket, path, uploadId);
      throw cairnError('CAIRN_ERR_NOT_SUPPORTED', 'POST on an object without ?uploads or ?uploadId');
    }
    case 'DELETE': {
      if (uploadId !== null) return abortUpload(sr, bucket, path, uploadId);
      await deleteObject(fs, bucket, path, { dirs: 'slash', now: ctx.now() });
      return reply.code(204).send();
    }
    case 'GET':
    case 'HEAD': {
      if (uploadId !== null && req.method === 'GET') return listParts(sr, bucket, path, uploadId);
      const c = await containerAttr(fs, bucket);
      const info = await findObject(fs, c.ino, path, { dirs: 'slash', now: ctx.now(), healMaxBytes: ctx.etagHealMaxBytes });
      const cond = conditions(req);
      if (!info) {
        if (evaluateConditionsMissing(cond) === 'precondition-failed') throw cairnError('CAIRN_ERR_HTTP_NO_SUCH_OBJECT', `${bucket}/${key}`);
        throw cairnError('CAIRN_ERR_HTTP_NO_SUCH_OBJECT', `${bucket}/${key}`);
      }
      setS3Headers(reply, info);
      const outcome = evaluateConditions(cond, info.etag, info.mtimeMs, true);
      if (outcome === 'precondition-failed') throw cairnError('CAIRN_ERR_HTTP_PRECONDITION_FAILED', `${bucket}/${key}`);
      if (outcome === 'not-modified') return reply.code(304).send();
      for (const [qn, hn] of RESPONSE_OVERRIDES) {
        const v = q.get(qn);
        if (v !== null) reply.header(hn, v);
      }
      let range = parseRange(header(req, 'range'), info.size);
      // S3 serves one range; several are answered with the whole object.
      if (range.kind === 'ranges' && range.ranges.length > 1) range = { kind: 'full' };
      if (range.kind === 'unsatisfiable') {
        throw cairnError('CAIRN_ERR_OBJ_RANGE_NOT_SATISFIABLE', `${info.size} bytes`, { details: { size: info.size } });
      }
      if (req.method === 'GET' && wantsReadPlan(q, header(req, 'x-cairn-read-plan'))) {
        const span = range.kind === 'ranges' ? range.ranges[0]! : undefined;
        const plan = await buildReadPlan(fs, info, span ? span.start : 0, span ? span.end - span.start + 1 : info.size);
        return reply.code(200).type('application/json; charset=utf-8').header('x-cairn-read-plan', 'true').send(JSON.stringify(plan));
      }
      return sendRanges(reply, req.method, info.size, info.contentType, range.kind === 'ranges' ? range.ranges : undefined,
        (start, length) => readBytes(fs, info.ino, start, length));
    }
    default:
      throw cairnError('CAIRN_ERR_HTTP_METHOD_NOT_ALLOWED', `${req.method} on an object`);
  }
}

