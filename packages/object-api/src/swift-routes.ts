// The Swift API: `/auth/v1.0` (tempauth), `/info`, and
// `/v1/{account}[/{container}[/{object}]]` dispatched by method. Accounts that
// are not Cairn volumes pass through to the backing Swift when one is
// configured (404 otherwise). Account and container requests are here; object
// requests are in swift-routes-object.ts.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { cairnError } from '@cairn/errors';
import type { ApiContext } from './context.js';
import { createContainer, deleteContainer, listContainers } from './containers.js';
import { containerUsage } from './usage.js';
import { sendSwiftError } from './errors-http.js';
import { currentEtag } from './etag.js';
import type { VolumeFs } from './fs-port.js';
import { header, httpDate, swiftTimestamp, type ParsedUrl } from './http-util.js';
import { listContainer } from './listing.js';
import { checkContainerName } from './names.js';
import {
  checkMetaLimits, guessContentType, metaFromHeaders, readContentType, readObjectMeta, readPrefixed,
  writePrefixed, XATTR_ACCOUNT_META, XATTR_CONTAINER_META, DIRECTORY_CONTENT_TYPE,
} from './object-meta.js';
import { containerAttr } from './paths.js';
import type { SwiftPassThrough } from './proxy.js';
import {
  LISTING_CONTENT_TYPES, listingFormat, renderAccountListing, renderContainerListing, type ContainerListingEntry,
} from './swift-listing.js';
import { handleSwiftObject } from './swift-routes-object.js';

/** Swift's default and largest listing page. */
export const SWIFT_LISTING_LIMIT = 10_000;

export interface SwiftRequest {
  readonly ctx: ApiContext;
  readonly req: FastifyRequest;
  readonly reply: FastifyReply;
  readonly url: ParsedUrl;
  readonly fs: VolumeFs;
  readonly account: string;
}

/** True when a path belongs to the Swift API. */
export function isSwiftPath(path: string): boolean {
  return path === '/info' || path.startsWith('/v1/') || path === '/v1' || path.startsWith('/auth/') || path === '/auth' || path.startsWith('/v1.0');
}

function origin(req: FastifyRequest): string {
  return `${req.protocol}://${req.headers.host ?? 'localhost'}`;
}

/** Handles one Swift request. */
export async function handleSwift(ctx: ApiContext, req: FastifyRequest, reply: FastifyReply, url: ParsedUrl, proxy: SwiftPassThrough | undefined): Promise<FastifyReply> {
  reply.header('x-trans-id', String(req.id)).header('x-openstack-request-id', String(req.id));
  try {
    const auth = ctx.swiftAuth;
    if (!auth) throw cairnError('CAIRN_ERR_HTTP_NO_SUCH_ACCOUNT', 'the Swift API is not enabled');
    const p = url.path;
    if (p === '/info') return await info(ctx, reply);
    if (p === '/auth/v1.0' || p === '/auth/v1.0/' || p === '/v1.0' || p === '/v1.0/') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw cairnError('CAIRN_ERR_HTTP_METHOD_NOT_ALLOWED', req.method);
      const user = header(req, 'x-auth-user') ?? header(req, 'x-storage-user');
      const key = header(req, 'x-auth-key') ?? header(req, 'x-storage-pass');
      if (proxy && user && !auth.knowsUser(user)) return await proxy.forward(req, reply, origin(req));
      const { token, identity } = auth.login(user, key);
      return reply.code(200)
        .header('x-auth-token', token).header('x-storage-token', token)
        .header('x-auth-token-expires', String(Math.max(0, Math.floor((identity.expires - ctx.now()) / 1000))))
        .header('x-storage-url', `${origin(req)}/v1/${encodeURIComponent(identity.account)}`)
        .header('content-length', '0').send();
    }
    if (!p.startsWith('/v1/')) throw cairnError('CAIRN_ERR_HTTP_NO_SUCH_ACCOUNT', p);
    const rest = p.slice(4);
    const s1 = rest.indexOf('/');
    const account = s1 === -1 ? rest : rest.slice(0, s1);
    const afterAccount = s1 === -1 ? '' : rest.slice(s1 + 1);
    const s2 = afterAccount.indexOf('/');
    const container = s2 === -1 ? afterAccount : afterAccount.slice(0, s2);
    const object = s2 === -1 ? '' : afterAccount.slice(s2 + 1);
    if (account === '') throw cairnError('CAIRN_ERR_HTTP_NO_SUCH_ACCOUNT', '(empty)');
    const fs = ctx.volume(account);
    const token = header(req, 'x-auth-token') ?? header(req, 'x-storage-token');
    if (!fs) {
      if (proxy) return await proxy.forward(req, reply);
      auth.authorize(token, account);
      throw cairnError('CAIRN_ERR_HTTP_NO_SUCH_ACCOUNT', account);
    }
    auth.authorize(token, account);
    const sr: SwiftRequest = { ctx, req, reply, url, fs, account };
    if (s2 !== -1 && object !== '') return await handleSwiftObject(sr, checkContainerName(container), object);
    if (container !== '') return await handleContainer(sr, checkContainerName(container));
    return await handleAccount(sr);
  } catch (err) {
    return sendSwiftError(req, reply, err);
  }
}

async function info(ctx: ApiContext, reply: FastifyReply): Promise<FastifyReply> {
  const body = {
    swift: { version: 'cairn', max_file_size: ctx.maxObjectBytes, max_meta_count: 90, max_object_name_length: 1024, container_listing_limit: SWIFT_LISTING_LIMIT },
    slo: { max_manifest_segments: 1000, max_manifest_size: 2 * 1024 * 1024, min_segment_size: 1 },
    tempauth: {},
    cairn: { read_plans: true },
  };
  return reply.code(200).type('application/json; charset=utf-8').send(JSON.stringify(body));
}

/** limit/marker/end_marker/prefix/reverse from a Swift query. */
function listingParams(q: URLSearchParams): { limit: number; marker?: string; endMarker?: string; prefix?: string; reverse: boolean } {
  const ls = q.get('limit');
  let limit = SWIFT_LISTING_LIMIT;
  if (ls !== null) {
    if (!/^\d{1,9}$/.test(ls)) throw cairnError('CAIRN_ERR_HTTP_BAD_REQUEST', `limit ${JSON.stringify(ls.slice(0, 20))}`);
    limit = Number(ls);
    if (limit > SWIFT_LISTING_LIMIT) throw cairnError('CAIRN_ERR_HTTP_BAD_REQUEST', `limit must be at most ${SWIFT_LISTING_LIMIT}`);
  }
  const marker = q.get('marker');
  const endMarker = q.get('end_marker');
  const prefix = q.get('prefix');
  const reverse = ['true', '1', 'yes', 'on', 't', 'y'].includes((q.get('reverse') ?? '').toLowerCase());
  return {
    limit,
    reverse,
    ...(marker ? { marker } : {}),
    ...(endMarker ? { endMarker } : {}),
    ...(prefix ? { prefix } : {}),
  };
}

/** X-<kind>-Meta-* to set and X-Remove-<kind>-Meta-* to remove. */
function metaUpdates(req: FastifyRequest, kind: 'container' | 'account'): Record<string, string> {
  const set = metaFromHeaders(req.headers, `x-${kind}-meta-`);
  for (const name of Object.keys(req.headers)) {
    if (name.startsWith(`x-remove-${kind}-meta-`)) set[name.slice(`x-remove-${kind}-meta-`.length)] = '';
  }
  checkMetaLimits(set);
  return set;
}

async function handleAccount(sr: SwiftRequest): Promise<FastifyReply> {
  const { req, reply, fs, url, account } = sr;
  switch (req.method) {
    case 'HEAD':
    case 'GET': {
      const root = await fs.getattr(fs.rootIno);
      const all = await listContainers(fs, { limit: Number.MAX_SAFE_INTEGER });
      let files = 0;
      let bytes = 0;
      for (const e of all.entries) {
        const u = await containerUsage(fs, e.attr.ino);
        files += u.count;
        bytes += u.bytes;
      }
      const meta = await readPrefixed(fs, fs.rootIno, XATTR_ACCOUNT_META);
      reply.header('x-account-container-count', String(all.entries.length))
        .header('x-account-object-count', String(files))
        .header('x-account-bytes-used', String(bytes))
        .header('x-timestamp', swiftTimestamp(root.mtimeMs))
        .header('x-cairn-volume', 'true')
        .header('x-cairn-volume-name', encodeURIComponent(fs.name));
      for (const [k, v] of Object.entries(meta)) reply.header(`x-account-meta-${k}`, v);
      if (req.method === 'HEAD') return reply.code(204).send();
      const p = listingParams(url.query);
      const page = await listContainers(fs, p);
      const entries = [];
      for (const e of page.entries) {
        const u = await containerUsage(fs, e.attr.ino);
        entries.push({ name: e.name, count: u.count, bytes: u.bytes, lastModifiedMs: e.attr.mtimeMs });
      }
      const format = listingFormat(req, url.query);
      const body = renderAccountListing(account, entries, format);
      if (body === undefined) return reply.code(204).send();
      return reply.code(200).type(LISTING_CONTENT_TYPES[format]).send(body);
    }
    case 'POST': {
      await writePrefixed(fs, fs.rootIno, XATTR_ACCOUNT_META, metaUpdates(req, 'account'));
      return reply.code(204).send();
    }
    default:
      throw cairnError('CAIRN_ERR_HTTP_METHOD_NOT_ALLOWED', `${req.method} on an account`);
  }
}

async function handleContainer(sr: SwiftRequest, container: string): Promise<FastifyReply> {
  const { req, reply, fs, url } = sr;
  switch (req.method) {
    case 'PUT': {
      const meta = metaUpdates(req, 'container');
      const created = await createContainer(fs, container);
      const c = await containerAttr(fs, container);
      await writePrefixed(fs, c.ino, XATTR_CONTAINER_META, meta);
      return reply.code(created ? 201 : 202).header('content-length', '0').send();
    }
    case 'POST': {
      const c = await containerAttr(fs, container);
      const meta = metaUpdates(req, 'container');
      await writePrefixed(fs, c.ino, XATTR_CONTAINER_META, meta);
      return reply.code(204).send();
    }
    case 'DELETE': {
      await deleteContainer(fs, container);
      return reply.code(204).send();
    }
    case 'HEAD':
    case 'GET': {
      const c = await containerAttr(fs, container);
      const usage = await containerUsage(fs, c.ino);
      const meta = await readPrefixed(fs, c.ino, XATTR_CONTAINER_META);
      reply.header('x-container-object-count', String(usage.count))
        .header('x-container-bytes-used', String(usage.bytes))
        .header('x-timestamp', swiftTimestamp(c.mtimeMs))
        .header('last-modified', httpDate(c.mtimeMs));
      for (const [k, v] of Object.entries(meta)) reply.header(`x-container-meta-${k}`, v);
      if (req.method === 'HEAD') return reply.code(204).send();
      const p = listingParams(url.query);
      const delimiter = url.query.get('delimiter') || undefined;
      const path = url.query.get('path');
      const listed = await listContainer(fs, c.ino, {
        ...p,
        // path=x is prefix "x/" with delimiter "/" (Swift's legacy form).
        ...(path !== null ? { prefix: path === '' ? '' : `${path.replace(/\/$/, '')}/`, delimiter: '/' } : delimiter ? { delimiter } : {}),
        style: 'swift',
      });
      const entries: ContainerListingEntry[] = [];
      for (const e of listed.entries) {
        if (e.kind === 'prefix') {
          entries.push({ subdir: e.prefix });
          continue;
        }
        const ct = e.isDir ? DIRECTORY_CONTENT_TYPE : (await readContentType(fs, e.attr.ino)) ?? guessContentType(e.name);
        entries.push({ name: e.name, bytes: e.isDir ? 0 : e.attr.size, hash: await currentEtag(fs, e.attr), lastModifiedMs: e.attr.mtimeMs, contentType: ct });
      }
      const format = listingFormat(req, url.query);
      const body = renderContainerListing(container, entries, format);
      if (body === undefined) return reply.code(204).send();
      return reply.code(200).type(LISTING_CONTENT_TYPES[format]).send(body);
    }
    default:
      throw cairnError('CAIRN_ERR_HTTP_METHOD_NOT_ALLOWED', `${req.method} on a container`);
  }
}

