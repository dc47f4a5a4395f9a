// Swift large objects, joined into one file at manifest time (COALESCE):
//
// - SLO: `PUT ?multipart-manifest=put` with a JSON list of segments
//   [{path: "/container/object", etag?, size_bytes?, range?}]. Every segment
//   must exist (in this account) and match the etag/size given; the object
//   becomes one file holding their bytes in order, with Swift's SLO ETag (md5
//   of the segment ETags) and X-Static-Large-Object: True. The segment list is
//   kept (xattr user.cairn.slo) for `GET ?multipart-manifest=get` and
//   `DELETE ?multipart-manifest=delete` (which removes the segments too).
// - DLO: `PUT` with `X-Object-Manifest: container/prefix` stores a manifest
//   keeping the header; like Swift, every GET/HEAD joins the objects under the
//   prefix at that moment (swift-dlo.ts). Its file holds the segments joined
//   at PUT time, for the filesystem face.
//
// Segments stay as objects (clients delete them); with the filesystem's
// concatFiles the joined SLO file shares their extents.

import type { FastifyReply } from 'fastify';
import { cairnError } from '@cairn/errors';
import { sloEtag } from './etag.js';
import { httpDate, readSmallBody } from './http-util.js';
import { joinInto, type JoinSource } from './join.js';
import { checkContainerName, parseObjectName, type ObjectPath } from './names.js';
import { deleteObject, getObjectInfo, readSloRecord, type ObjectInfo, type SloRecord } from './objects.js';
import { DLO_HEADER, parseDloManifest, resolveDlo } from './swift-dlo.js';
import { containerAttr } from './paths.js';
import { swiftListingDate } from './swift-listing.js';
import type { SwiftRequest } from './swift-routes.js';
import { objectMetaFromRequest } from './swift-routes-object.js';

export const MAX_MANIFEST_SEGMENTS = 1000;
export const MAX_MANIFEST_BYTES = 2 * 1024 * 1024;

interface ManifestSegment {
  readonly container: string;
  readonly path: ObjectPath;
  readonly etag?: string;
  readonly size?: number;
  readonly range?: { start: number; end?: number; suffix?: number };
}

function bad(msg: string): never {
  throw cairnError('CAIRN_ERR_HTTP_BAD_MANIFEST', msg);
}

/** Parses and checks an SLO manifest body. */
export function parseSloManifest(body: Buffer): ManifestSegment[] {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    bad('the body is not JSON');
  }
  if (!Array.isArray(doc) || doc.length === 0) bad('the manifest must be a non-empty JSON list');
  if (doc.length > MAX_MANIFEST_SEGMENTS) bad(`more than ${MAX_MANIFEST_SEGMENTS} segments`);
  return doc.map((s: unknown, i: number): ManifestSegment => {
    if (s === null || typeof s !== 'object' || Array.isArray(s)) bad(`segment ${i} is not an object`);
    const o = s as Record<string, unknown>;
    if ('data' in o) bad(`segment ${i}: inline data segments are not supported`);
    if (typeof o['path'] !== 'string') bad(`segment ${i} has no path`);
    const p = (o['path'] as string).replace(/^\//, '');
    const slash = p.indexOf('/');
    if (slash <= 0) bad(`segment ${i} path must be /container/object`);
    const etag = o['etag'];
    const size = o['size_bytes'];
    if (etag !== undefined && etag !== null && typeof etag !== 'string') bad(`segment ${i} etag`);
    if (size !== undefined && size !== null && !(typeof size === 'number' && Number.isSafeInteger(size) && size >= 0)) bad(`segment ${i} size_bytes`);
    let range: ManifestSegment['range'];
    if (o['range'] !== undefined && o['range'] !== null) {
      const m = typeof o['range'] === 'string' ? /^(\d*)-(\d*)$/.exec(o['range']) : null;
      if (!m || (m[1] === '' && m[2] === '')) bad(`segment ${i} range`);
      range = m[1] === '' ? { start: 0, suffix: Number(m[2]) } : { start: Number(m[1]), ...(m[2] !== '' ? { end: Number(m[2]) } : {}) };
    }
    return {
      container: checkContainerName(p.slice(0, slash)),
      path: parseObjectName(p.slice(slash + 1)),
      ...(typeof etag === 'string' ? { etag: etag.replace(/^"(.*)"$/, '$1') } : {}),
      ...(typeof size === 'number' ? { size } : {}),
      ...(range ? { range } : {}),
    };
  });
}

/** PUT ?multipart-manifest=put: joins the segments into one file. */
export async function putSloManifest(sr: SwiftRequest, container: string, path: ObjectPath): Promise<FastifyReply> {
  const { fs, req, reply, ctx } = sr;
  await containerAttr(fs, container);
  const segs = parseSloManifest(await readSmallBody(req, MAX_MANIFEST_BYTES));
  const sources: JoinSource[] = [];
  const record: Array<{ name: string; hash: string; bytes: number }> = [];
  let total = 0;
  for (const [i, s] of segs.entries()) {
    let info: ObjectInfo;
    try {
      info = await getObjectInfo(fs, s.container, s.path, { dirs: 'slash', now: ctx.now() });
    } catch {
      bad(`segment ${i} (${s.container}/${s.path.name}) does not exist`);
    }
    if (info.isDir) bad(`segment ${i} is a directory`);
    if (s.etag !== undefined && s.etag !== info.etag) bad(`segment ${i} etag ${s.etag} does not match ${info.etag}`);
    if (s.size !== undefined && s.size !== info.size) bad(`segment ${i} size ${s.size} does not match ${info.size}`);
    let start = 0;
    let end = info.size; // exclusive
    if (s.range) {
      if (s.range.suffix !== undefined) start = Math.max(0, info.size - s.range.suffix);
      else {
        start = s.range.start;
        end = s.range.end !== undefined ? Math.min(info.size, s.range.end + 1) : info.size;
      }
      if (start >= end) bad(`segment ${i} range is empty or past the end`);
    }
    sources.push({ ino: info.ino, start, length: end - start, whole: start === 0 && end === info.size });
    record.push({ name: `/${s.container}/${s.path.name}`, hash: info.etag, bytes: end - start });
    total += end - start;
    if (total > ctx.maxObjectBytes) throw cairnError('CAIRN_ERR_HTTP_TOO_LARGE', `joined object over ${ctx.maxObjectBytes} bytes`);
  }
  const m = objectMetaFromRequest(req, ctx.now());
  const etag = sloEtag(record.map((r) => r.hash));
  const info = await joinInto(fs, sources, container, path, {
    etag, slo: record, user: m.user, headers: m.headers,
    ...(m.contentType !== undefined ? { contentType: m.contentType } : {}),
    ...(m.deleteAt !== undefined ? { deleteAt: m.deleteAt } : {}),
  }, { maxBytes: ctx.maxObjectBytes });
  return reply.code(201).header('etag', `"${info.etag}"`).header('last-modified', httpDate(info.mtimeMs)).header('content-length', '0').send();
}

/** GET ?multipart-manifest=get on a joined SLO: its segment list as Swift returns it. */
export async function sloManifestBody(sr: SwiftRequest, info: ObjectInfo): Promise<FastifyReply> {
  const rec = (await readSloRecord(sr.fs, info.ino, info.dataVersion))!;
  const body = rec.segments.map((s) => ({
    name: s.name, hash: s.hash, bytes: s.bytes, content_type: 'application/octet-stream', last_modified: swiftListingDate(info.mtimeMs),
  }));
  return sr.reply.code(200).type('application/json; charset=utf-8').header('x-static-large-object', 'True').send(JSON.stringify(body));
}

/** DELETE ?multipart-manifest=delete: removes the segments, then the object. */
export async function deleteSloManifest(sr: SwiftRequest, container: string, path: ObjectPath): Promise<FastifyReply> {
  const { fs, reply, ctx } = sr;
  const info = await getObjectInfo(fs, container, path, { dirs: 'any', now: ctx.now() });
  const rec: SloRecord | undefined = info.slo ? await readSloRecord(fs, info.ino, info.dataVersion) : undefined;
  let deleted = 0;
  let notFound = 0;
  const errors: string[][] = [];
  for (const s of rec?.segments ?? []) {
    const p = s.name.replace(/^\//, '');
    const i = p.indexOf('/');
    try {
      const ok = await deleteObject(fs, p.slice(0, i), parseObjectName(p.slice(i + 1)), { dirs: 'any', now: ctx.now() });
      if (ok) deleted++;
      else notFound++;
    } catch (err) {
      errors.push([s.name, (err as Error).message]);
    }
  }
  if (await deleteObject(fs, container, path, { dirs: 'any', now: ctx.now() })) deleted++;
  else notFound++;
  const status = errors.length ? '400 Bad Request' : '200 OK';
  const accept = String(sr.req.headers.accept ?? '');
  if (/json/.test(accept)) {
    return reply.code(200).type('application/json; charset=utf-8').send(JSON.stringify({
      'Number Deleted': deleted, 'Number Not Found': notFound, 'Response Body': '', 'Response Status': status, Errors: errors,
    }));
  }
  return reply.code(200).type('text/plain; charset=utf-8').send(
    `Number Deleted: ${deleted}\nNumber Not Found: ${notFound}\nResponse Body: \nResponse Status: ${status}\nErrors:\n${errors.map((e) => `${e[0]}, ${e[1]}\n`).join('')}`,
  );
}

/**
 * PUT with X-Object-Manifest: stores the manifest. GET/HEAD join the segments
 * that exist then (swift-dlo.ts); the file itself holds the segments joined
 * now (extents shared), so the filesystem face sees the content too.
 */
export async function putDloManifest(sr: SwiftRequest, container: string, path: ObjectPath, manifest: string): Promise<FastifyReply> {
  const { fs, req, reply, ctx } = sr;
  await containerAttr(fs, container);
  parseDloManifest(manifest);
  await readSmallBody(req, 0).catch(() => bad('a DLO manifest PUT must have an empty body'));
  const dlo = await resolveDlo(fs, manifest, { container, name: path.name }, ctx.now());
  if (dlo.size > ctx.maxObjectBytes) throw cairnError('CAIRN_ERR_HTTP_TOO_LARGE', `joined object over ${ctx.maxObjectBytes} bytes`);
  const m = objectMetaFromRequest(req, ctx.now());
  const info = await joinInto(fs, dlo.parts.map((p) => ({ ino: p.ino, start: 0, length: p.size, whole: true })), container, path, {
    etag: dlo.etag, dlo: true, user: m.user, headers: { ...m.headers, [DLO_HEADER]: manifest.trim() },
    ...(m.contentType !== undefined ? { contentType: m.contentType } : {}),
    ...(m.deleteAt !== undefined ? { deleteAt: m.deleteAt } : {}),
  }, { maxBytes: ctx.maxObjectBytes });
  return reply.code(201).header('etag', `"${info.etag}"`).header('last-modified', httpDate(info.mtimeMs)).header('content-length', '0').send();
}
