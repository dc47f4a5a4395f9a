// One S3 bucket as a Cairn Container: PutObject (from a buffer with a signed
// payload hash, or streamed with UNSIGNED-PAYLOAD), GetObject with Range,
// HeadObject, DeleteObject, ListObjectsV2, and open segments. Puts create the
// bucket when S3 answers NoSuchBucket.

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { cairnError, isCairnError, type CairnError } from '@cairn/errors';
import { ContainerBase, listLimit } from '../container-base.js';
import { checkMeta, checkObjectName, compareNames } from '../names.js';
import { resolveRange } from '../range.js';
import type {
  DeleteOptions, GetOptions, GetResult, ListEntry, ListOptions, ListPage, ObjectInfo,
  OpenSegment, OpenSegmentOptions, PutBody, PutOptions,
} from '../types.js';
import { UploadBody } from './s3-body.js';
import { escapeXml, parseXml, xmlChildren, xmlChildText, type XmlElement } from './s3-xml.js';
import { discard, httpDate, readLimited, unquoteEtag, type BodySource, type S3Client, type S3Response } from './s3-client.js';
import type { ResolvedS3Options } from './s3-options.js';
import { emptyBody, headerInt, infoFromHeaders, parseContentRange, wrapBody } from './s3-read.js';
import { S3Segment } from './s3-segment.js';

/** State shared by every container of one store. */
export interface S3StoreContext {
  readonly client: S3Client;
  /** Buckets this store created or saw answer; cleared for a bucket on NoSuchBucket. */
  readonly knownBuckets: Set<string>;
}

const MD5_RE = /^[0-9a-f]{32}$/;

export class S3Container extends ContainerBase {
  constructor(private readonly ctx: S3StoreContext, name: string) {
    super(name);
  }

  private get client(): S3Client {
    return this.ctx.client;
  }

  get clientOptions(): ResolvedS3Options {
    return this.ctx.client.options;
  }

  private what(method: string, key?: string): string {
    return `${method} ${this.name}${key === undefined ? '' : `/${key}`}`;
  }

  async create(): Promise<void> {
    const region = this.client.options.region;
    const body = region === 'us-east-1'
      ? undefined
      : Buffer.from(`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>${escapeXml(region)}</LocationConstraint></CreateBucketConfiguration>`);
    try {
      const res = await this.client.call({
        method: 'PUT', bucket: this.name, what: this.what('PUT'), idempotent: true,
        ...(body ? { body } : {}),
      });
      await discard(res);
    } catch (e) {
      // Already ours: creation is idempotent.
      if (!(isCairnError(e) && e.details?.['s3Code'] === 'BucketAlreadyOwnedByYou')) throw e;
    }
    this.ctx.knownBuckets.add(this.name);
  }

  async put(name: string, body: PutBody, options: PutOptions = {}): Promise<ObjectInfo> {
    checkObjectName(name);
    checkMeta(options.meta);
    const opts = this.client.options;
    if (options.ifNoneMatch && opts.conditionalPut === 'emulated') {
      // Not atomic (see S3StoreOptions.conditionalPut): a racing creator may still win.
      if (await this.exists(name, options.signal)) throw cairnError('CAIRN_ERR_OBJ_PRECONDITION_FAILED', `${this.name}/${name} exists`);
    }
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream', ...metaHeaders(options.meta) };
    if (options.ifNoneMatch && opts.conditionalPut === 'native') headers['If-None-Match'] = '*';

    let payload: Buffer | UploadBody;
    if (body instanceof Uint8Array) {
      payload = asBuffer(body);
    } else {
      if (options.contentLength !== undefined && (!Number.isSafeInteger(options.contentLength) || options.contentLength < 0)) {
        throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `contentLength ${options.contentLength}`);
      }
      const source = (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
      const buffered = opts.streamingPut === 'buffered' && options.contentLength === undefined;
      payload = new UploadBody(buffered ? Number.POSITIVE_INFINITY : opts.streamReplayBytes, source);
      if (buffered) {
        await payload.drain().catch((e: unknown) => { throw sourceError(e, this.what('PUT', name)); });
        payload = payload.concat();
      } else if (!this.ctx.knownBuckets.has(this.name)) {
        // A streamed body can be replayed only while it is small: make the bucket first.
        await this.create();
      }
    }
    let md5: string | undefined;
    if (Buffer.isBuffer(payload)) {
      const digest = createHash('md5').update(payload).digest();
      headers['Content-MD5'] = digest.toString('base64');
      md5 = digest.toString('hex');
    }

    let res: S3Response;
    try {
      res = await this.putWithCreate(name, headers, payload, options, async () => md5 ?? (payload as UploadBody).md5hex());
    } catch (e) {
      if (!Buffer.isBuffer(payload) && payload.failed) throw sourceError(payload.failed, this.what('PUT', name));
      if (isCairnError(e, 'CAIRN_ERR_NOT_SUPPORTED') && headers['If-None-Match']) {
        throw cairnError('CAIRN_ERR_NOT_SUPPORTED', `${this.what('PUT', name)}: this server refuses If-None-Match on PUT (conditionalPut: 'emulated' is available, but not atomic)`, { cause: e });
      }
      throw e;
    }
    await discard(res);
    const size = Buffer.isBuffer(payload) ? payload.length : payload.total;
    md5 ??= await (payload as UploadBody).md5hex();
    return this.putResult(name, res, size, md5, options.meta);
  }

  /**
   * Sends a PUT; on NoSuchBucket creates the bucket and sends again (when the
   * body can be re-sent). A create-if-absent put that was retried and then
   * answered PreconditionFailed checks whether the object is its own earlier
   * attempt (same MD5) and, if so, succeeds.
   */
  async putWithCreate(
    name: string,
    headers: Record<string, string>,
    payload: Buffer | BodySource,
    options: { signal?: AbortSignal; contentLength?: number },
    md5: () => Promise<string | undefined>,
  ): Promise<S3Response> {
    let retried = false;
    for (let created = false; ; created = true) {
      try {
        return await this.client.call({
          method: 'PUT', bucket: this.name, key: name, headers, body: payload, what: this.what('PUT', name),
          idempotent: true,
          beforeRetry: () => { retried = true; return true; },
          ...(options.signal ? { signal: options.signal } : {}),
          ...(options.contentLength !== undefined ? { contentLength: options.contentLength } : {}),
        });
      } catch (e) {
        const err = e as CairnError;
        const canResend = Buffer.isBuffer(payload) || payload.canReplay;
        if (isCairnError(err, 'CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND') && !created && canResend) {
          this.ctx.knownBuckets.delete(this.name);
          await this.create();
          continue;
        }
        if (isCairnError(err, 'CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND')) this.ctx.knownBuckets.delete(this.name);
        if (isCairnError(err, 'CAIRN_ERR_OBJ_PRECONDITION_FAILED') && retried) {
          const mine = await md5();
          const info = mine === undefined ? undefined : await this.head(name, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
          if (info && info.etag === mine) return syntheticResponse(info);
        }
        throw err;
      }
    }
  }

  /** ObjectInfo of a completed PUT, checking the ETag against the MD5 of what was sent. */
  putResult(name: string, res: S3Response, size: number, md5: string | undefined, meta: Readonly<Record<string, string>> | undefined): ObjectInfo {
    this.ctx.knownBuckets.add(this.name);
    const etag = unquoteEtag(res.headers['etag']);
    if (this.client.options.checkEtag && md5 !== undefined && MD5_RE.test(etag) && etag !== md5) {
      throw cairnError('CAIRN_ERR_OBJ_CORRUPT', `${this.name}/${name}: S3 stored ETag ${etag}, sent MD5 ${md5}`);
    }
    return {
      name,
      size,
      etag: etag || (md5 ?? ''),
      mtime: httpDate(res.headers['last-modified']) || httpDate(res.headers['date']) || Date.now(),
      meta: { ...(meta ?? {}) },
    };
  }

  async get(name: string, options: GetOptions = {}): Promise<GetResult> {
    checkObjectName(name);
    const range = options.range;
    const what = this.what('GET', name);
    if (range !== undefined && range.length === 0) {
      // HTTP cannot ask for zero bytes: check the offset against the size.
      const info = await this.head(name, options.signal ? { signal: options.signal } : {});
      const r = resolveRange(range, info.size, `${this.name}/${name}`);
      return { info, offset: r.offset, length: 0, body: emptyBody() };
    }
    const headers: Record<string, string> = {};
    if (range !== undefined) {
      resolveRange(range, Number.MAX_SAFE_INTEGER, `${this.name}/${name}`); // argument checks only
      const last = range.length === undefined ? '' : String(range.offset + range.length - 1);
      headers['Range'] = `bytes=${range.offset}-${last}`;
    }
    let res: S3Response;
    try {
      res = await this.client.call({
        method: 'GET', bucket: this.name, key: name, headers, what, idempotent: true,
        ...(options.signal ? { signal: options.signal } : {}),
      }).catch(objectNotFound(this.name, name));
    } catch (e) {
      if (range !== undefined && isCairnError(e, 'CAIRN_ERR_OBJ_RANGE_NOT_SATISFIABLE')) {
        // S3 refuses any range of an empty object; our contract allows offset 0 there.
        const info = await this.head(name, options.signal ? { signal: options.signal } : {});
        const r = resolveRange(range, info.size, `${this.name}/${name}`);
        if (info.size === 0) return { info, offset: r.offset, length: 0, body: emptyBody() };
      }
      throw e;
    }
    const contentLength = headerInt(res.headers['content-length']);
    let size: number;
    let offset = 0;
    if (res.status === 206) {
      const cr = parseContentRange(res.headers['content-range']);
      if (!cr || range === undefined || cr.first !== range.offset) {
        res.body.destroy();
        throw cairnError('CAIRN_ERR_OBJ_BACKEND', `${what}: unexpected Content-Range ${res.headers['content-range'] ?? '(none)'}`);
      }
      size = cr.total;
      offset = cr.first;
    } else {
      size = contentLength ?? -1;
      if (size < 0 || (range !== undefined && range.offset !== 0)) {
        res.body.destroy();
        throw cairnError('CAIRN_ERR_OBJ_BACKEND', `${what}: status ${res.status} without a usable length or range`);
      }
    }
    const r = resolveRange(range, size, `${this.name}/${name}`);
    if (r.offset !== offset || (contentLength !== undefined && contentLength !== r.length)) {
      res.body.destroy();
      throw cairnError('CAIRN_ERR_OBJ_BACKEND', `${what}: S3 sent ${contentLength} bytes at ${offset}, expected ${r.length} at ${r.offset}`);
    }
    const info = infoFromHeaders(name, res.headers, size);
    const counters = this.client.counters;
    const body = wrapBody(res.body, r.length, what, options.signal, (n) => { counters.bytesIn += n; });
    return { info, offset: r.offset, length: r.length, body };
  }

  async head(name: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    checkObjectName(name);
    const what = this.what('HEAD', name);
    const res = await this.client.call({
      method: 'HEAD', bucket: this.name, key: name, what, idempotent: true,
      ...(options.signal ? { signal: options.signal } : {}),
    }).catch(objectNotFound(this.name, name));
    await discard(res);
    const size = headerInt(res.headers['content-length']);
    if (size === undefined) throw cairnError('CAIRN_ERR_OBJ_BACKEND', `${what}: no Content-Length`);
    return infoFromHeaders(name, res.headers, size);
  }

  async delete(name: string, options: DeleteOptions = {}): Promise<void> {
    checkObjectName(name);
    const signal = options.signal ? { signal: options.signal } : {};
    // S3 answers 204 whether or not the key existed, so mustExist needs a HEAD.
    if (options.mustExist) await this.head(name, signal);
    try {
      const res = await this.client.call({ method: 'DELETE', bucket: this.name, key: name, what: this.what('DELETE', name), idempotent: true, ...signal });
      await discard(res);
    } catch (e) {
      if (isCairnError(e, 'CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND') && !options.mustExist) return;
      if (isCairnError(e, 'CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND')) throw cairnError('CAIRN_ERR_OBJ_NOT_FOUND', `${this.name}/${name}`);
      throw e;
    }
  }

  async list(options: ListOptions = {}): Promise<ListPage> {
    const limit = listLimit(options.limit);
    if (options.delimiter !== undefined && options.delimiter.length === 0) {
      throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'empty list delimiter');
    }
    const query: Record<string, string> = { 'list-type': '2', 'max-keys': String(limit), 'encoding-type': 'url' };
    if (options.prefix) query['prefix'] = options.prefix;
    if (options.delimiter !== undefined) query['delimiter'] = options.delimiter;
    if (options.marker !== undefined && options.marker !== '') query['start-after'] = options.marker;
    const what = this.what('LIST');
    // A truncated page may come back empty (S3 skipping deleted keys): follow it.
    for (let hop = 0; hop < 100; hop++) {
      const res = await this.client.call({
        method: 'GET', bucket: this.name, query, what, idempotent: true,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const text = await readLimited(res.body, 16 * 1024 * 1024);
      this.client.counters.bytesIn += text.length;
      const root = parseXml(text);
      if (root.name !== 'ListBucketResult') throw cairnError('CAIRN_ERR_OBJ_BACKEND', `${what}: unexpected <${root.name}>`);
      const entries = listedEntries(root, what);
      const truncated = xmlChildText(root, 'IsTruncated') === 'true';
      const last = entries[entries.length - 1];
      if (last) return truncated ? { entries, nextMarker: entryName(last) } : { entries };
      if (!truncated) return { entries };
      const token = xmlChildText(root, 'NextContinuationToken');
      if (!token) throw cairnError('CAIRN_ERR_OBJ_BACKEND', `${what}: empty truncated page without a continuation token`);
      query['continuation-token'] = token;
    }
    throw cairnError('CAIRN_ERR_OBJ_BACKEND', `${what}: too many empty truncated pages`);
  }

  openSegment(name: string, options: OpenSegmentOptions = {}): OpenSegment {
    checkObjectName(name);
    checkMeta(options.meta);
    return new S3Segment(this, name, options);
  }

  /** Used by segments: sends a PUT of a complete or streamed body. */
  sendSegment(name: string, payload: Buffer | BodySource, meta: Readonly<Record<string, string>> | undefined, signal: AbortSignal, md5: () => Promise<string | undefined>): Promise<S3Response> {
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream', ...metaHeaders(meta) };
    if (Buffer.isBuffer(payload)) headers['Content-MD5'] = createHash('md5').update(payload).digest('base64');
    return this.putWithCreate(name, headers, payload, { signal }, md5);
  }

  private async exists(name: string, signal: AbortSignal | undefined): Promise<boolean> {
    try {
      await this.head(name, signal ? { signal } : {});
      return true;
    } catch (e) {
      if (isCairnError(e, 'CAIRN_ERR_OBJ_NOT_FOUND') || isCairnError(e, 'CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND')) return false;
      throw e;
    }
  }
}

/** A read of an object in a missing bucket is a missing object (the caller asked for an object). */
function objectNotFound(bucket: string, key: string): (e: unknown) => never {
  return (e: unknown) => {
    if (isCairnError(e, 'CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND')) throw cairnError('CAIRN_ERR_OBJ_NOT_FOUND', `${bucket}/${key} (no such bucket)`, { cause: e });
    throw e;
  };
}

/** Contents and CommonPrefixes of a ListObjectsV2 result, merged in byte order. */
function listedEntries(root: XmlElement, what: string): ListEntry[] {
  const entries: ListEntry[] = [];
  for (const c of xmlChildren(root, 'Contents')) {
    const key = xmlChildText(c, 'Key');
    const size = headerInt(xmlChildText(c, 'Size'));
    if (key === undefined || size === undefined) throw cairnError('CAIRN_ERR_OBJ_BACKEND', `${what}: entry without Key or Size`);
    entries.push({
      kind: 'object',
      name: decodeListed(key, what),
      size,
      etag: unquoteEtag(xmlChildText(c, 'ETag')),
      mtime: httpDate(xmlChildText(c, 'LastModified')),
    });
  }
  for (const p of xmlChildren(root, 'CommonPrefixes')) {
    const prefix = xmlChildText(p, 'Prefix');
    if (prefix !== undefined) entries.push({ kind: 'prefix', prefix: decodeListed(prefix, what) });
  }
  // S3 groups keys and prefixes apart; callers get one lexical order.
  entries.sort((a, b) => compareNames(entryName(a), entryName(b)));
  return entries;
}

function entryName(e: ListEntry): string {
  return e.kind === 'object' ? e.name : e.prefix;
}

/** Keys in an `encoding-type=url` listing: form-style (AWS writes spaces as '+'). */
function decodeListed(s: string, what: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw cairnError('CAIRN_ERR_OBJ_BACKEND', `${what}: badly encoded key ${JSON.stringify(s)}`);
  }
}

export function metaHeaders(meta: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta ?? {})) h[`x-amz-meta-${k}`] = v;
  return h;
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** The caller's body stream failed: the put is abandoned. */
function sourceError(err: unknown, what: string): CairnError {
  if (isCairnError(err)) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return cairnError('CAIRN_ERR_CANCELED', `${what}: the body stream failed: ${msg}`, { cause: err });
}

function syntheticResponse(info: ObjectInfo): S3Response {
  return {
    status: 200,
    headers: { etag: `"${info.etag}"`, 'last-modified': new Date(info.mtime).toUTCString() },
    body: Readable.from([]) as unknown as S3Response['body'],
    attempts: 2,
  };
}
