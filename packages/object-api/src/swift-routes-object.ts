// Swift object requests: PUT (streamed, ETag-checked, If-None-Match: *,
// X-Copy-From, directory objects, SLO/DLO manifests), GET/HEAD (ranges,
// conditional headers, read plans, ?multipart-manifest=get), POST (metadata),
// DELETE (?multipart-manifest=delete) and COPY.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { cairnError } from '@cairn/errors';
import { evaluateConditions, evaluateConditionsMissing } from './conditional.js';
import { BodyDigests } from './digests.js';
import { EMPTY_MD5, isMd5Etag } from './etag.js';
import type { FsPlanStep } from './fs-port.js';
import { contentLength, hasBody, header, httpDate, sendRanges, swiftTimestamp } from './http-util.js';
import { copyFile, joinInto } from './join.js';
import { checkContainerName, parseObjectName, type ObjectPath } from './names.js';
import {
  DIRECTORY_CONTENT_TYPE, STORED_HEADERS, guessContentType, metaFromHeaders, writeObjectMeta,
} from './object-meta.js';
import {
  deleteObject, findObject, getObjectInfo, putDirectory, putObject, readBytes, type ObjectInfo,
} from './objects.js';
import { containerAttr } from './paths.js';
import { parseRange } from './ranges.js';
import { buildReadPlan, wantsReadPlan } from './read-plan.js';
import { DLO_HEADER, dloBytes, dloManifestOf, dloReadPlan, resolveDlo } from './swift-dlo.js';
import { deleteSloManifest, putDloManifest, putSloManifest, sloManifestBody } from './swift-large.js';
import type { SwiftRequest } from './swift-routes.js';

/** Sets the answer headers describing an object. */
export function setObjectHeaders(reply: FastifyReply, info: ObjectInfo): void {
  const quoted = info.slo || !isMd5Etag(info.etag) && !info.etag.startsWith('cairn-');
  reply.header('etag', quoted ? `"${info.etag}"` : info.etag)
    .header('last-modified', httpDate(info.mtimeMs))
    .header('x-timestamp', swiftTimestamp(info.mtimeMs))
    .header('accept-ranges', 'bytes')
    .header('content-type', info.contentType);
  for (const [k, v] of Object.entries(info.meta.user)) reply.header(`x-object-meta-${k}`, v);
  for (const [k, v] of Object.entries(info.meta.headers)) reply.header(k, v);
  if (info.meta.deleteAt !== undefined) reply.header('x-delete-at', String(info.meta.deleteAt));
  if (info.slo) reply.header('x-static-large-object', 'True');
}

/** Content-Type, stored headers, user metadata and X-Delete-At of a PUT/POST. */
export function objectMetaFromRequest(req: FastifyRequest, now: number): {
  contentType?: string; user: Record<string, string>; headers: Record<string, string>; deleteAt?: number;
} {
  const user = metaFromHeaders(req.headers, 'x-object-meta-');
  const headers: Record<string, string> = {};
  for (const h of STORED_HEADERS) {
    const v = header(req, h);
    if (v !== undefined) headers[h] = v;
  }
  const ct = header(req, 'content-type');
  let deleteAt: number | undefined;
  const at = header(req, 'x-delete-at');
  const after = header(req, 'x-delete-after');
  if (at !== undefined) {
    if (!/^\d{1,12}$/.test(at.trim())) throw cairnError('CAIRN_ERR_HTTP_BAD_REQUEST', 'X-Delete-At must be unix seconds');
    deleteAt = Number(at.trim());
    if (deleteAt * 1000 <= now) throw cairnError('CAIRN_ERR_HTTP_BAD_REQUEST', 'X-Delete-At is in the past');
  } else if (after !== undefined) {
    if (!/^\d{1,12}$/.test(after.trim())) throw cairnError('CAIRN_ERR_HTTP_BAD_REQUEST', 'X-Delete-After must be seconds');
    deleteAt = Math.floor(now / 1000) + Number(after.trim());
  }
  return { user, headers, ...(ct !== undefined && ct !== '' ? { contentType: ct } : {}), ...(deleteAt !== undefined ? { deleteAt } : {}) };
}

/** Parses "container/object" (X-Copy-From, Destination), percent-decoded, with an optional leading '/'. */
export function parseCopyPath(v: string, what: string): { container: string; path: ObjectPath } {
  let s: string;
  try {
    s = decodeURIComponent(v.trim());
  } catch {
    throw cairnError('CAIRN_ERR_HTTP_BAD_REQUEST', `${what} has bad percent-encoding`);
  }
  if (s.startsWith('/')) s = s.slice(1);
  const i = s.indexOf('/');
  if (i <= 0 || i === s.length - 1) throw cairnError('CAIRN_ERR_HTTP_BAD_REQUEST', `${what} must be <container>/<object>`);
  return { container: checkContainerName(s.slice(0, i)), path: parseObjectName(s.slice(i + 1)) };
}

function ifNoneMatchStar(req: FastifyRequest): boolean {
  const v = header(req, 'if-none-match');
  if (v === undefined) return false;
  if (v.trim() !== '*') throw cairnError('CAIRN_ERR_HTTP_BAD_REQUEST', 'only If-None-Match: * is supported on PUT');
  return true;
}

async function copyTo(sr: SwiftRequest, from: { container: string; path: ObjectPath }, container: string, path: ObjectPath): Promise<FastifyReply> {
  const { fs, req, reply, ctx } = sr;
  const src = await getObjectInfo(fs, from.container, from.path, { dirs: 'any', now: ctx.now() });
  const m = objectMetaFromRequest(req, ctx.now());
  const fresh = /^(true|1|yes)$/i.test(header(req, 'x-fresh-metadata') ?? '');
  const user = fresh ? m.user : { ...src.meta.user, ...m.user };
  const contentType = m.contentType ?? src.contentType;
  const ifNoneMatch = ifNoneMatchStar(req);
  let info: ObjectInfo;
  const manifest = dloManifestOf(src);
  if (src.isDir) {
    info = await putDirectory(fs, container, path, { user }, { ifNoneMatch });
  } else if (manifest !== undefined) {
    // Like Swift, a copy of a DLO is an ordinary object holding the joined segments.
    const dlo = await resolveDlo(fs, manifest, { container: from.container, name: from.path.name }, ctx.now());
    const { [DLO_HEADER]: _dropped, ...headers } = fresh ? m.headers : { ...src.meta.headers, ...m.headers };
    info = await joinInto(fs, dlo.parts.map((p) => ({ ino: p.ino, start: 0, length: p.size, whole: true })), container, path, {
      contentType, user, headers, ...(m.deleteAt !== undefined ? { deleteAt: m.deleteAt } : {}),
    }, { ifNoneMatch, maxBytes: ctx.maxObjectBytes });
  } else {
    info = await copyFile(fs, src, container, path, {
      contentType, user, headers: fresh ? m.headers : { ...src.meta.headers, ...m.headers },
      ...(m.deleteAt !== undefined ? { deleteAt: m.deleteAt } : {}),
    }, { ifNoneMatch, maxBytes: ctx.maxObjectBytes });
  }
  setObjectHeaders(reply, info);
  return reply.code(201).header('x-copied-from', `${from.container}/${encodeURIComponent(from.path.name)}`)
    .header('x-copied-from-last-modified', httpDate(src.mtimeMs)).header('content-length', '0').send();
}

/** Handles a request on `/v1/{account}/{container}/{object}`. */
export async function handleSwiftObject(sr: SwiftRequest, container: string, objectName: string): Promise<FastifyReply> {
  const { req, reply, fs, url, ctx } = sr;
  const path = parseObjectName(objectName);
  const mm = url.query.get('multipart-manifest');
  switch (req.method) {
    case 'PUT': {
      const copyFrom = header(req, 'x-copy-from');
      if (copyFrom !== undefined) return copyTo(sr, parseCopyPath(copyFrom, 'X-Copy-From'), container, path);
      if (mm === 'put') return putSloManifest(sr, container, path);
      const dlo = header(req, 'x-object-manifest');
      if (dlo !== undefined) return putDloManifest(sr, container, path, dlo);
      const cl = contentLength(req);
      const chunked = header(req, 'transfer-encoding') !== undefined;
      if (cl === undefined && !chunked) throw cairnError('CAIRN_ERR_HTTP_LENGTH_REQUIRED', 'PUT needs Content-Length or chunked transfer encoding');
      const m = objectMetaFromRequest(req, ctx.now());
      const ifNoneMatch = ifNoneMatchStar(req);
      if (m.contentType?.split(';')[0]?.trim().toLowerCase() === DIRECTORY_CONTENT_TYPE && !hasBody(req)) {
        await containerAttr(fs, container);
        const info = await putDirectory(fs, container, path, { user: m.user }, { ifNoneMatch });
        setObjectHeaders(reply, info);
        return reply.code(201).header('content-length', '0').send();
      }
      const etag = header(req, 'etag');
      const expect = etag?.trim().replace(/^"(.*)"$/, '$1').toLowerCase();
      if (expect !== undefined && !/^[0-9a-f]{32}$/.test(expect)) throw cairnError('CAIRN_ERR_HTTP_ETAG_MISMATCH', `ETag ${JSON.stringify(etag!.slice(0, 40))} is not an MD5`);
      if (cl !== undefined && cl > ctx.maxObjectBytes) throw cairnError('CAIRN_ERR_HTTP_TOO_LARGE', `${cl} bytes`);
      const info = await putObject(fs, {
        container, path,
        body: req.raw,
        digests: new BodyDigests(expect !== undefined ? { md5Hex: expect } : {}),
        ...(cl !== undefined && !chunked ? { expectedLength: cl } : {}),
        maxBytes: ctx.maxObjectBytes,
        contentType: m.contentType ?? guessContentType(path.name),
        user: m.user, headers: m.headers,
        ...(m.deleteAt !== undefined ? { deleteAt: m.deleteAt } : {}),
        ifNoneMatch,
      });
      return reply.code(201).header('etag', info.etag).header('last-modified', httpDate(info.mtimeMs)).header('content-length', '0').send();
    }
    case 'COPY': {
      const dest = header(req, 'destination');
      if (dest === undefined) throw cairnError('CAIRN_ERR_HTTP_BAD_REQUEST', 'COPY needs a Destination header');
      const da = header(req, 'destination-account');
      if (da !== undefined && da !== sr.account) throw cairnError('CAIRN_ERR_NOT_SUPPORTED', 'copies to another account');
      const to = parseCopyPath(dest, 'Destination');
      return copyTo(sr, { container, path }, to.container, to.path);
    }
    case 'GET':
    case 'HEAD': {
      const c = await containerAttr(fs, container);
      let info = await findObject(fs, c.ino, path, { dirs: 'any', now: ctx.now(), healMaxBytes: ctx.etagHealMaxBytes });
      const cond = {
        'if-match': header(req, 'if-match'), 'if-none-match': header(req, 'if-none-match'),
        'if-modified-since': header(req, 'if-modified-since'), 'if-unmodified-since': header(req, 'if-unmodified-since'),
      };
      if (!info) {
        if (evaluateConditionsMissing(cond) === 'precondition-failed') throw cairnError('CAIRN_ERR_HTTP_PRECONDITION_FAILED', 'If-Match on a missing object');
        throw cairnError('CAIRN_ERR_HTTP_NO_SUCH_OBJECT', `${container}/${path.name}`);
      }
      if (req.method === 'GET' && mm === 'get' && info.slo) return sloManifestBody(sr, info);
      // A DLO manifest joins the segments that exist now; ?multipart-manifest=get answers the manifest itself (no bytes).
      const manifest = dloManifestOf(info);
      const file = info;
      let read = (start: number, length: number): AsyncGenerator<Buffer> => readBytes(fs, file.ino, start, length);
      let plan: ((offset: number, length: number) => Promise<FsPlanStep[]>) | undefined;
      if (manifest !== undefined) {
        const dlo = mm === 'get' ? { parts: [], size: 0, etag: EMPTY_MD5 } : await resolveDlo(fs, manifest, { container, name: path.name }, ctx.now());
        info = { ...info, size: dlo.size, etag: dlo.etag };
        read = (start, length) => dloBytes(fs, dlo.parts, start, length);
        plan = (offset, length) => dloReadPlan(fs, dlo.parts, offset, length);
      }
      setObjectHeaders(reply, info);
      if (manifest !== undefined && mm !== 'get') reply.header('etag', `"${info.etag}"`);
      const outcome = evaluateConditions(cond, info.etag, info.mtimeMs, true);
      if (outcome === 'precondition-failed') throw cairnError('CAIRN_ERR_HTTP_PRECONDITION_FAILED', `${container}/${path.name}`);
      if (outcome === 'not-modified') return reply.code(304).send();
      const range = info.isDir ? { kind: 'full' as const } : parseRange(header(req, 'range'), info.size);
      if (range.kind === 'unsatisfiable') {
        throw cairnError('CAIRN_ERR_OBJ_RANGE_NOT_SATISFIABLE', `${info.size} bytes`, { details: { size: info.size } });
      }
      if (req.method === 'GET' && wantsReadPlan(url.query, header(req, 'x-cairn-read-plan'))) {
        const span = range.kind === 'ranges' ? range.ranges[0]! : undefined;
        const offset = span ? span.start : 0;
        const length = span ? span.end - span.start + 1 : info.size;
        const body = await buildReadPlan(fs, info, offset, length, plan);
        return reply.code(200).type('application/json; charset=utf-8').header('x-cairn-read-plan', 'true').send(JSON.stringify(body));
      }
      return sendRanges(reply, req.method, info.size, info.contentType, range.kind === 'ranges' ? range.ranges : undefined, read);
    }
    case 'POST': {
      const info = await getObjectInfo(fs, container, path, { dirs: 'any', now: ctx.now() });
      const m = objectMetaFromRequest(req, ctx.now());
      const removeDeleteAt = header(req, 'x-remove-delete-at') !== undefined;
      await writeObjectMeta(fs, info.ino, {
        user: m.user, headers: m.headers,
        ...(m.contentType !== undefined && !info.isDir ? { contentType: m.contentType } : {}),
        ...(m.deleteAt !== undefined ? { deleteAt: m.deleteAt } : removeDeleteAt ? { deleteAt: null } : {}),
      }, true);
      return reply.code(202).header('content-length', '0').send();
    }
    case 'DELETE': {
      if (mm === 'delete') return deleteSloManifest(sr, container, path);
      const existed = await deleteObject(fs, container, path, { dirs: 'any', now: ctx.now() });
      if (!existed) throw cairnError('CAIRN_ERR_HTTP_NO_SUCH_OBJECT', `${container}/${path.name}`);
      return reply.code(204).send();
    }
    default:
      throw cairnError('CAIRN_ERR_HTTP_METHOD_NOT_ALLOWED', `${req.method} on an object`);
  }
}
