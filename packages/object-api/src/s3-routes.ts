// The S3 API: request recognition (SigV4-signed, path-style or virtual-host
// style), authentication, and dispatch by method, bucket, key and
// subresource. Service and bucket operations are here (ListBuckets,
// Create/Delete/HeadBucket, GetBucketLocation, ListObjects V1/V2,
// DeleteObjects); object operations in s3-routes-object.ts; multipart uploads
// in s3-multipart.ts.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { cairnError } from '@cairn/errors';
import type { ApiContext } from './context.js';
import { createContainer, deleteContainer, listContainers } from './containers.js';
import { sendS3Error } from './errors-http.js';
import type { FsAttr, VolumeFs } from './fs-port.js';
import { isoDate, readSmallBody, type ParsedUrl } from './http-util.js';
import { listContainer } from './listing.js';
import { checkContainerName, checkNewBucketName, parseObjectName } from './names.js';
import { deleteObject } from './objects.js';
import { containerAttr } from './paths.js';
import { handleS3Object, s3Etag } from './s3-routes-object.js';
import { listUploads } from './s3-multipart.js';
import { awsUriEncode, sigV4Kind, verifySigV4, type VerifiedAuth } from './sigv4.js';
import { child, childrenNamed, childText, el, MAX_XML_BODY, parseXml, S3_NS, textEl, xmlDocument } from './xml.js';
import { currentEtag } from './etag.js';

/** One authenticated S3 request. */
export interface S3Request {
  readonly ctx: ApiContext;
  readonly req: FastifyRequest;
  readonly reply: FastifyReply;
  readonly url: ParsedUrl;
  readonly auth: VerifiedAuth;
  readonly fs: VolumeFs;
  readonly bucket: string | undefined;
  readonly key: string | undefined;
}

/** Largest number of keys in one listing page or DeleteObjects request. */
export const S3_MAX_KEYS = 1000;

function hostName(host: string | undefined): string {
  return (host ?? '').replace(/:\d+$/, '').toLowerCase();
}

/** The bucket a virtual-host-style Host names, or undefined (path style). */
export function virtualHostBucket(ctx: ApiContext, host: string | undefined): string | undefined {
  const h = hostName(host);
  for (const d of ctx.s3?.virtualHostDomains ?? []) {
    const dom = d.toLowerCase();
    if (h.endsWith(`.${dom}`)) return h.slice(0, -(dom.length + 1));
  }
  return undefined;
}

/** True when a request is for the S3 API. */
export function isS3Request(ctx: ApiContext, rawUrl: string, rawHeaders: readonly string[], host: string | undefined): boolean {
  if (sigV4Kind(rawUrl, rawHeaders) !== undefined) {
    // Swift never sends Authorization; X-Auth-Token requests stay Swift.
    return true;
  }
  const h = hostName(host);
  return (ctx.s3?.virtualHostDomains ?? []).some((d) => h === d.toLowerCase() || h.endsWith(`.${d.toLowerCase()}`));
}

/** Handles one S3 request. */
export async function handleS3(ctx: ApiContext, req: FastifyRequest, reply: FastifyReply, url: ParsedUrl): Promise<FastifyReply> {
  reply.header('x-amz-request-id', String(req.id)).header('x-amz-id-2', String(req.id));
  let resource = url.path;
  try {
    if (!ctx.s3) throw cairnError('CAIRN_ERR_HTTP_FORBIDDEN', 'the S3 API is not enabled');
    const auth = verifySigV4({ method: req.method, rawUrl: req.raw.url ?? '/', rawHeaders: req.raw.rawHeaders }, {
      now: ctx.now(),
      lookup: (k) => ctx.s3Keys.get(k),
      ...(ctx.s3.regions ? { regions: ctx.s3.regions } : {}),
    });
    const fs = ctx.volume(auth.credential.account);
    if (!fs) throw cairnError('CAIRN_ERR_HTTP_FORBIDDEN', `account ${auth.credential.account} is not a Cairn volume`);
    let bucket = virtualHostBucket(ctx, req.headers.host);
    let key: string | undefined;
    const p = url.path;
    if (bucket !== undefined) {
      key = p.length > 1 ? p.slice(1) : undefined;
    } else {
      const rest = p.slice(1);
      const s = rest.indexOf('/');
      bucket = s === -1 ? rest : rest.slice(0, s);
      key = s === -1 || s === rest.length - 1 ? undefined : rest.slice(s + 1);
      if (bucket === '') bucket = undefined;
    }
    resource = bucket === undefined ? '/' : key === undefined ? `/${bucket}` : `/${bucket}/${key}`;
    if (bucket !== undefined) {
      try {
        checkContainerName(bucket);
      } catch (err) {
        throw cairnError('CAIRN_ERR_S3_INVALID_BUCKET_NAME', bucket, { cause: err });
      }
    }
    const sr: S3Request = { ctx, req, reply, url, auth, fs, bucket, key };
    if (bucket === undefined) return await handleService(sr);
    if (key !== undefined) return await handleS3Object(sr, bucket, key);
    return await handleBucket(sr, bucket);
  } catch (err) {
    return sendS3Error(req, reply, err, resource);
  }
}

function owner(account: string): string {
  return el('Owner', textEl('ID', account), textEl('DisplayName', account));
}

async function handleService(sr: S3Request): Promise<FastifyReply> {
  const { req, reply, fs, auth } = sr;
  if (req.method !== 'GET') throw cairnError('CAIRN_ERR_HTTP_METHOD_NOT_ALLOWED', `${req.method} on the service`);
  const { entries } = await listContainers(fs, { limit: Number.MAX_SAFE_INTEGER });
  const buckets = entries.map((e) => el('Bucket', textEl('Name', e.name), textEl('CreationDate', isoDate(e.attr.mtimeMs))));
  return reply.code(200).type('application/xml').send(
    xmlDocument('ListAllMyBucketsResult', [owner(auth.credential.account), el('Buckets', ...buckets)], S3_NS),
  );
}

/** Subresources this server answers; any other makes a 501. */
const BUCKET_SUBRESOURCES = new Set(['location', 'versioning', 'uploads', 'delete', 'list-type', 'acl']);
const IGNORED_QUERY = new Set([
  'prefix', 'delimiter', 'marker', 'max-keys', 'encoding-type', 'continuation-token', 'start-after', 'fetch-owner',
  'key-marker', 'upload-id-marker', 'max-uploads', 'x-id', 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date',
  'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature', 'X-Amz-Security-Token', 'x-amz-checksum-mode',
]);

async function handleBucket(sr: S3Request, bucket: string): Promise<FastifyReply> {
  const { req, reply, fs, url, ctx } = sr;
  for (const k of url.query.keys()) {
    if (!BUCKET_SUBRESOURCES.has(k) && !IGNORED_QUERY.has(k)) throw cairnError('CAIRN_ERR_NOT_SUPPORTED', `bucket subresource ?${k}`);
  }
  const q = url.query;
  switch (req.method) {
    case 'PUT': {
      if (q.has('acl') || q.has('versioning')) throw cairnError('CAIRN_ERR_NOT_SUPPORTED', 'bucket ACLs and versioning');
      checkNewBucketName(bucket);
      const body = await readSmallBody(req, MAX_XML_BODY);
      if (body.length > 0) {
        const doc = parseXml(body.toString('utf8'));
        if (doc.name !== 'CreateBucketConfiguration') throw cairnError('CAIRN_ERR_S3_MALFORMED_XML', `unexpected <${doc.name}>`);
      }
      const created = await createContainer(fs, bucket);
      if (!created) throw cairnError('CAIRN_ERR_HTTP_CONTAINER_EXISTS', bucket);
      return reply.code(200).header('location', `/${bucket}`).header('content-length', '0').send();
    }
    case 'DELETE': {
      await deleteContainer(fs, bucket);
      return reply.code(204).send();
    }
    case 'HEAD': {
      await containerAttr(fs, bucket);
      return reply.code(200).header('x-amz-bucket-region', ctx.s3?.regions?.[0] ?? 'us-east-1').header('content-length', '0').send();
    }
    case 'POST': {
      if (!q.has('delete')) throw cairnError('CAIRN_ERR_NOT_SUPPORTED', 'POST on a bucket without ?delete');
      return deleteObjects(sr, bucket);
    }
    case 'GET': {
      await containerAttr(fs, bucket);
      if (q.has('location')) {
        const region = ctx.s3?.regions?.[0];
        const body = region && region !== 'us-east-1' ? `<LocationConstraint xmlns="${S3_NS}">${region}</LocationConstraint>` : `<LocationConstraint xmlns="${S3_NS}"/>`;
        return reply.code(200).type('application/xml').send(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
      }
      if (q.has('versioning')) return reply.code(200).type('application/xml').send(xmlDocument('VersioningConfiguration', [], S3_NS));
      if (q.has('acl')) {
        const grant = el('Grant', `<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">${textEl('ID', sr.auth.credential.account)}${textEl('DisplayName', sr.auth.credential.account)}</Grantee>`, textEl('Permission', 'FULL_CONTROL'));
        return reply.code(200).type('application/xml').send(xmlDocument('AccessControlPolicy', [owner(sr.auth.credential.account), el('AccessControlList', grant)], S3_NS));
      }
      if (q.has('uploads')) return listUploads(sr, bucket);
      return listObjects(sr, bucket);
    }
    default:
      throw cairnError('CAIRN_ERR_HTTP_METHOD_NOT_ALLOWED', `${req.method} on a bucket`);
  }
}

function maxKeys(q: URLSearchParams): number {
  const v = q.get('max-keys');
  if (v === null) return S3_MAX_KEYS;
  if (!/^\d{1,9}$/.test(v)) throw cairnError('CAIRN_ERR_S3_INVALID_ARGUMENT', 'max-keys must be a non-negative integer');
  return Math.min(Number(v), S3_MAX_KEYS);
}

/** Opaque continuation token of ListObjectsV2: the last key or prefix returned. */
export function encodeToken(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

export function decodeToken(token: string): string {
  const s = Buffer.from(token, 'base64url').toString('utf8');
  if (encodeToken(s) !== token) throw cairnError('CAIRN_ERR_S3_INVALID_ARGUMENT', 'the continuation token is not valid');
  return s;
}

async function listObjects(sr: S3Request, bucket: string): Promise<FastifyReply> {
  const { reply, fs, url } = sr;
  const q = url.query;
  const v2 = q.get('list-type') === '2';
  if (q.has('list-type') && !v2) throw cairnError('CAIRN_ERR_S3_INVALID_ARGUMENT', 'list-type must be 2');
  const urlEncode = q.get('encoding-type') === 'url';
  if (q.has('encoding-type') && !urlEncode) throw cairnError('CAIRN_ERR_S3_INVALID_ARGUMENT', 'encoding-type must be url');
  const enc = (s: string): string => (urlEncode ? awsUriEncode(s, true) : s);
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') || undefined;
  const limit = maxKeys(q);
  const token = v2 ? q.get('continuation-token') ?? undefined : undefined;
  const startAfter = v2 ? q.get('start-after') ?? undefined : undefined;
  const marker = v2 ? (token !== undefined ? decodeToken(token) : startAfter) : q.get('marker') ?? undefined;
  const c = await containerAttr(fs, bucket);
  const listed = limit === 0
    ? { entries: [], truncated: false }
    : await listContainer(fs, c.ino, { prefix, ...(delimiter ? { delimiter } : {}), ...(marker ? { marker } : {}), limit, style: 's3' });
  const contents: string[] = [];
  const prefixes: string[] = [];
  for (const e of listed.entries) {
    if (e.kind === 'prefix') {
      prefixes.push(el('CommonPrefixes', textEl('Prefix', enc(e.prefix))));
      continue;
    }
    contents.push(el('Contents',
      textEl('Key', enc(e.name)),
      textEl('LastModified', isoDate(e.attr.mtimeMs)),
      textEl('ETag', s3Etag(await currentEtag(fs, e.attr as FsAttr))),
      textEl('Size', e.isDir ? 0 : e.attr.size),
      textEl('StorageClass', 'STANDARD'),
      ...(v2 && q.get('fetch-owner') !== 'true' ? [] : [owner(sr.auth.credential.account)]),
    ));
  }
  const last = listed.entries[listed.entries.length - 1];
  const lastName = last === undefined ? undefined : last.kind === 'object' ? last.name : last.prefix;
  const common = [
    textEl('Name', bucket),
    textEl('Prefix', enc(prefix)),
    ...(delimiter ? [textEl('Delimiter', enc(delimiter))] : []),
    textEl('MaxKeys', limit),
    ...(urlEncode ? [textEl('EncodingType', 'url')] : []),
    textEl('IsTruncated', listed.truncated),
  ];
  const paging = v2
    ? [
      textEl('KeyCount', listed.entries.length),
      ...(token !== undefined ? [textEl('ContinuationToken', token)] : []),
      ...(startAfter !== undefined ? [textEl('StartAfter', enc(startAfter))] : []),
      ...(listed.truncated && lastName !== undefined ? [textEl('NextContinuationToken', encodeToken(lastName))] : []),
    ]
    : [
      textEl('Marker', enc(marker ?? '')),
      ...(listed.truncated && lastName !== undefined ? [textEl('NextMarker', enc(lastName))] : []),
    ];
  return reply.code(200).type('application/xml').send(xmlDocument('ListBucketResult', [...common, ...paging, ...contents, ...prefixes], S3_NS));
}

async function deleteObjects(sr: S3Request, bucket: string): Promise<FastifyReply> {
  const { req, reply, fs, ctx } = sr;
  await containerAttr(fs, bucket);
  const doc = parseXml((await readSmallBody(req, MAX_XML_BODY)).toString('utf8'));
  if (doc.name !== 'Delete') throw cairnError('CAIRN_ERR_S3_MALFORMED_XML', `expected <Delete>, got <${doc.name}>`);
  const quiet = (childText(doc, 'Quiet') ?? '').trim().toLowerCase() === 'true';
  const objects = childrenNamed(doc, 'Object');
  if (objects.length === 0 || objects.length > S3_MAX_KEYS) throw cairnError('CAIRN_ERR_S3_MALFORMED_XML', `1 to ${S3_MAX_KEYS} <Object> entries`);
  const out: string[] = [];
  for (const o of objects) {
    const key = child(o, 'Key')?.text;
    if (key === undefined) throw cairnError('CAIRN_ERR_S3_MALFORMED_XML', '<Object> without <Key>');
    try {
      await deleteObject(fs, bucket, parseObjectName(key), { dirs: 'slash', now: ctx.now() });
      if (!quiet) out.push(el('Deleted', textEl('Key', key)));
    } catch (err) {
      const e = err as { s3Code?: string; message?: string };
      out.push(el('Error', textEl('Key', key), textEl('Code', e.s3Code ?? 'InternalError'), textEl('Message', e.message ?? 'error')));
    }
  }
  return reply.code(200).type('application/xml').send(xmlDocument('DeleteResult', out, S3_NS));
}
