// S3 multipart uploads. An upload is a hidden directory
// `.cairn-uploads/<uploadId>` whose xattr `user.cairn.upload` holds the
// target bucket, key, start time and the metadata given at creation; each
// part is a file named by its zero-padded number, written like an object PUT
// (an upload, or a temporary file renamed into place; digests checked) with
// its MD5 recorded as its ETag. Completion checks the list (ascending numbers,
// matching ETags, every part but the last at least minPartBytes), joins the
// parts into one file (COALESCE, see join.ts), commits it with the multipart
// ETag md5(concat(part md5s))-N, and removes the upload. Abort removes it.

import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { cairnError, isCairnError } from '@cairn/errors';
import { multipartEtag } from './etag.js';
import { header, isoDate, readSmallBody } from './http-util.js';
import { joinInto, type JoinSource } from './join.js';
import { UPLOADS_DIR, type ObjectPath } from './names.js';
import { getObjectInfo, readBytes, writeBody } from './objects.js';
import { containerAttr, createTmpFile, ensureDirs, lookupOrUndefined, unlinkQuiet } from './paths.js';
import { parseRange } from './ranges.js';
import type { S3Request } from './s3-routes.js';
import { checkCopySourceConditions, parseCopySource, s3Body, s3Etag } from './s3-routes-object.js';
import { BodyDigests } from './digests.js';
import type { FsFile } from './fs-port.js';
import { childrenNamed, childText, el, MAX_XML_BODY, parseXml, S3_NS, textEl, xmlDocument } from './xml.js';
import { currentEtag } from './etag.js';

export const MAX_PART_NUMBER = 10_000;
const XATTR_UPLOAD = 'user.cairn.upload';

interface UploadRecord {
  readonly bucket: string;
  readonly key: string;
  readonly initiated: number;
  readonly contentType?: string;
  readonly user: Record<string, string>;
  readonly headers: Record<string, string>;
}

function newUploadId(): string {
  return `${Date.now().toString(36)}${randomBytes(12).toString('hex')}`;
}

function partName(n: number): string {
  return String(n).padStart(5, '0');
}

async function uploadsDir(sr: S3Request): Promise<number> {
  return ensureDirs(sr.fs, sr.fs.rootIno, [UPLOADS_DIR], false);
}

/** The upload's directory and record; NoSuchUpload when missing or for another key. */
async function findUpload(sr: S3Request, bucket: string, key: string, uploadId: string): Promise<{ dir: number; rec: UploadRecord }> {
  if (!/^[0-9a-z]{8,40}$/.test(uploadId)) throw cairnError('CAIRN_ERR_S3_NO_SUCH_UPLOAD', uploadId.slice(0, 64));
  const up = await lookupOrUndefined(sr.fs, sr.fs.rootIno, UPLOADS_DIR);
  const d = up ? await lookupOrUndefined(sr.fs, up.ino, uploadId) : undefined;
  if (!d || d.type !== 'dir') throw cairnError('CAIRN_ERR_S3_NO_SUCH_UPLOAD', uploadId);
  const raw = await sr.fs.getxattr(d.ino, XATTR_UPLOAD);
  const rec = raw ? (JSON.parse(raw.toString('utf8')) as UploadRecord) : undefined;
  if (!rec || rec.bucket !== bucket || rec.key !== key) throw cairnError('CAIRN_ERR_S3_NO_SUCH_UPLOAD', uploadId);
  return { dir: d.ino, rec };
}

/** POST ?uploads */
export async function createUpload(
  sr: S3Request, bucket: string, path: ObjectPath, meta: { user: Record<string, string>; headers: Record<string, string>; contentType?: string },
): Promise<FastifyReply> {
  await containerAttr(sr.fs, bucket);
  if (path.trailingSlash) throw cairnError('CAIRN_ERR_HTTP_INVALID_NAME', `${path.name}: a multipart upload cannot target a directory`);
  const parent = await uploadsDir(sr);
  const id = newUploadId();
  const d = await sr.fs.mkdir(parent, id);
  const rec: UploadRecord = { bucket, key: path.name, initiated: sr.ctx.now(), user: meta.user, headers: meta.headers, ...(meta.contentType ? { contentType: meta.contentType } : {}) };
  await sr.fs.setxattr(d.ino, XATTR_UPLOAD, Buffer.from(JSON.stringify(rec), 'utf8'));
  return sr.reply.code(200).type('application/xml').send(xmlDocument('InitiateMultipartUploadResult', [
    textEl('Bucket', bucket), textEl('Key', path.name), textEl('UploadId', id),
  ], S3_NS));
}

function partNumber(v: string | null): number {
  if (v === null || !/^\d{1,5}$/.test(v) || +v < 1 || +v > MAX_PART_NUMBER) {
    throw cairnError('CAIRN_ERR_S3_INVALID_ARGUMENT', `partNumber must be 1..${MAX_PART_NUMBER}`);
  }
  return +v;
}

/** PUT ?partNumber=N&uploadId=X (and UploadPartCopy with x-amz-copy-source). */
export async function uploadPart(sr: S3Request, bucket: string, path: ObjectPath, uploadId: string): Promise<FastifyReply> {
  const { fs, req } = sr;
  const n = partNumber(sr.url.query.get('partNumber'));
  const { dir } = await findUpload(sr, bucket, path.name, uploadId);
  const source = header(req, 'x-amz-copy-source');
  let got: { md5: string; copied?: { mtimeMs: number } };
  if (fs.beginUpload) {
    // The part's bytes, ETag and name appear in one filesystem operation.
    const up = await fs.beginUpload();
    try {
      got = await partBody(sr, { write: (_at, data) => up.write(data) }, source);
      await up.commit(dir, partName(n), { xattrs: {}, etag: got.md5 });
    } catch (err) {
      await up.abort().catch(() => undefined);
      throw err;
    }
  } else {
    const tmp = await createTmpFile(fs);
    try {
      const f = await fs.open(tmp.attr.ino, { write: true });
      try {
        got = await partBody(sr, f, source);
        await f.sync();
      } finally {
        await f.close();
      }
      const a = await fs.getattr(tmp.attr.ino);
      await fs.setEtag(tmp.attr.ino, { value: got.md5, dataVersion: a.dataVersion });
      await fs.rename(tmp.dir, tmp.name, dir, partName(n));
    } catch (err) {
      await unlinkQuiet(fs, tmp.dir, tmp.name).catch(() => undefined);
      throw err;
    }
  }
  if (got.copied) {
    return sr.reply.code(200).type('application/xml').send(xmlDocument('CopyPartResult', [
      textEl('LastModified', isoDate(sr.ctx.now())), textEl('ETag', s3Etag(got.md5)),
    ], S3_NS));
  }
  return sr.reply.code(200).header('etag', s3Etag(got.md5)).header('content-length', '0').send();
}

/** Writes a part's bytes (the request body, or for UploadPartCopy a range of the source) into `f`; returns its MD5. */
async function partBody(sr: S3Request, f: Pick<FsFile, 'write'>, source: string | undefined): Promise<{ md5: string; copied?: { mtimeMs: number } }> {
  const { fs, req, ctx, auth } = sr;
  if (source !== undefined) {
    // UploadPartCopy: FALLBACK byte copy (the filesystem offers no ranged extent sharing yet).
    const from = parseCopySource(source);
    const src = await getObjectInfo(fs, from.bucket, from.path, { dirs: 'slash', now: ctx.now() });
    checkCopySourceConditions(req, src);
    let start = 0;
    let length = src.size;
    const r = header(req, 'x-amz-copy-source-range');
    if (r !== undefined) {
      const pr = parseRange(r, src.size);
      if (pr.kind !== 'ranges' || pr.ranges.length !== 1) throw cairnError('CAIRN_ERR_S3_INVALID_ARGUMENT', 'x-amz-copy-source-range must be one satisfiable bytes=first-last range');
      start = pr.ranges[0]!.start;
      length = pr.ranges[0]!.end - start + 1;
    }
    const d = new BodyDigests();
    await writeBody(f, readBytes(fs, src.ino, start, length), d, ctx.maxObjectBytes);
    return { md5: (await d.finish()).md5Hex, copied: { mtimeMs: src.mtimeMs } };
  }
  const body = s3Body(req, auth, ctx.maxObjectBytes);
  const got = await writeBody(f, body.body, body.digests, ctx.maxObjectBytes);
  if (body.expectedLength !== undefined && got !== body.expectedLength) {
    throw cairnError('CAIRN_ERR_HTTP_INCOMPLETE_BODY', `got ${got} of ${body.expectedLength} bytes`);
  }
  return { md5: (await body.digests.finish(body.trailers())).md5Hex };
}

interface PartInfo {
  readonly number: number;
  readonly ino: number;
  readonly size: number;
  readonly etag: string;
  readonly mtimeMs: number;
}

async function parts(sr: S3Request, dir: number): Promise<PartInfo[]> {
  const out: PartInfo[] = [];
  for await (const e of sr.fs.readdir(dir)) {
    if (e.type !== 'file' || !/^\d{5}$/.test(e.name)) continue;
    const a = await sr.fs.getattr(e.ino);
    out.push({ number: Number(e.name), ino: e.ino, size: a.size, etag: await currentEtag(sr.fs, a), mtimeMs: a.mtimeMs });
  }
  return out.sort((a, b) => a.number - b.number);
}

/** GET ?uploadId=X */
export async function listParts(sr: S3Request, bucket: string, path: ObjectPath, uploadId: string): Promise<FastifyReply> {
  const { dir } = await findUpload(sr, bucket, path.name, uploadId);
  const q = sr.url.query;
  const marker = Number(q.get('part-number-marker') ?? '0') || 0;
  const maxParts = Math.min(1000, Math.max(0, Number(q.get('max-parts') ?? '1000') || 1000));
  const all = (await parts(sr, dir)).filter((p) => p.number > marker);
  const page = all.slice(0, maxParts);
  const truncated = all.length > page.length;
  return sr.reply.code(200).type('application/xml').send(xmlDocument('ListPartsResult', [
    textEl('Bucket', bucket), textEl('Key', path.name), textEl('UploadId', uploadId),
    textEl('PartNumberMarker', marker), textEl('NextPartNumberMarker', page[page.length - 1]?.number ?? marker),
    textEl('MaxParts', maxParts), textEl('IsTruncated', truncated), textEl('StorageClass', 'STANDARD'),
    ...page.map((p) => el('Part', textEl('PartNumber', p.number), textEl('LastModified', isoDate(p.mtimeMs)), textEl('ETag', s3Etag(p.etag)), textEl('Size', p.size))),
  ], S3_NS));
}

async function removeUpload(sr: S3Request, dir: number, uploadId: string): Promise<void> {
  for await (const e of sr.fs.readdir(dir)) await unlinkQuiet(sr.fs, dir, e.name);
  const up = await lookupOrUndefined(sr.fs, sr.fs.rootIno, UPLOADS_DIR);
  if (!up) return;
  try {
    await sr.fs.rmdir(up.ino, uploadId);
  } catch (err) {
    if (!isCairnError(err, 'CAIRN_ERR_FS_NOT_FOUND')) throw err;
  }
}

/** DELETE ?uploadId=X */
export async function abortUpload(sr: S3Request, bucket: string, path: ObjectPath, uploadId: string): Promise<FastifyReply> {
  const { dir } = await findUpload(sr, bucket, path.name, uploadId);
  await removeUpload(sr, dir, uploadId);
  return sr.reply.code(204).send();
}

/** POST ?uploadId=X with <CompleteMultipartUpload>. */
export async function completeUpload(sr: S3Request, bucket: string, path: ObjectPath, uploadId: string): Promise<FastifyReply> {
  const { fs, req, reply, ctx } = sr;
  const { dir, rec } = await findUpload(sr, bucket, path.name, uploadId);
  const doc = parseXml((await readSmallBody(req, MAX_XML_BODY)).toString('utf8'));
  if (doc.name !== 'CompleteMultipartUpload') throw cairnError('CAIRN_ERR_S3_MALFORMED_XML', `expected <CompleteMultipartUpload>, got <${doc.name}>`);
  const listed = childrenNamed(doc, 'Part').map((p) => ({
    number: Number((childText(p, 'PartNumber') ?? '').trim()),
    etag: (childText(p, 'ETag') ?? '').trim().replace(/^"(.*)"$/, '$1').replace(/^&quot;(.*)&quot;$/, '$1'),
  }));
  if (listed.length === 0) throw cairnError('CAIRN_ERR_S3_MALFORMED_XML', 'no <Part>');
  const have = new Map((await parts(sr, dir)).map((p) => [p.number, p] as const));
  const chosen: PartInfo[] = [];
  let prev = 0;
  for (const l of listed) {
    if (!Number.isInteger(l.number) || l.number <= prev) throw cairnError('CAIRN_ERR_S3_INVALID_PART_ORDER', `part ${l.number} after ${prev}`);
    prev = l.number;
  }
  for (const [i, l] of listed.entries()) {
    const p = have.get(l.number);
    if (!p || p.etag !== l.etag) throw cairnError('CAIRN_ERR_S3_INVALID_PART', `part ${l.number}${p ? ` has ETag ${p.etag}, not ${l.etag}` : ' was not uploaded'}`);
    if (i < listed.length - 1 && p.size < sr.ctx.s3MinPartBytes) throw cairnError('CAIRN_ERR_S3_ENTITY_TOO_SMALL', `part ${l.number} has ${p.size} bytes`);
    chosen.push(p);
  }
  const total = chosen.reduce((n, p) => n + p.size, 0);
  if (total > ctx.maxObjectBytes) throw cairnError('CAIRN_ERR_HTTP_TOO_LARGE', `${total} bytes`);
  const sources: JoinSource[] = chosen.map((p) => ({ ino: p.ino, start: 0, length: p.size, whole: true }));
  const etag = multipartEtag(chosen.map((p) => p.etag));
  const info = await joinInto(fs, sources, bucket, path, {
    etag, user: rec.user, headers: rec.headers, ...(rec.contentType ? { contentType: rec.contentType } : {}),
  }, { maxBytes: ctx.maxObjectBytes });
  await removeUpload(sr, dir, uploadId);
  return reply.code(200).type('application/xml').send(xmlDocument('CompleteMultipartUploadResult', [
    textEl('Location', `/${bucket}/${encodeURIComponent(path.name)}`), textEl('Bucket', bucket), textEl('Key', path.name), textEl('ETag', s3Etag(info.etag)),
  ], S3_NS));
}

/** GET bucket?uploads: the uploads in progress for a bucket. */
export async function listUploads(sr: S3Request, bucket: string): Promise<FastifyReply> {
  const up = await lookupOrUndefined(sr.fs, sr.fs.rootIno, UPLOADS_DIR);
  const items: Array<{ key: string; id: string; initiated: number }> = [];
  if (up) {
    for await (const e of sr.fs.readdir(up.ino)) {
      if (e.type !== 'dir') continue;
      const raw = await sr.fs.getxattr(e.ino, XATTR_UPLOAD);
      if (!raw) continue;
      const rec = JSON.parse(raw.toString('utf8')) as UploadRecord;
      if (rec.bucket === bucket) items.push({ key: rec.key, id: e.name, initiated: rec.initiated });
    }
  }
  const prefix = sr.url.query.get('prefix') ?? '';
  const sel = items.filter((i) => i.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.initiated - b.initiated)).slice(0, 1000);
  return sr.reply.code(200).type('application/xml').send(xmlDocument('ListMultipartUploadsResult', [
    textEl('Bucket', bucket), textEl('Prefix', prefix), textEl('MaxUploads', 1000), textEl('IsTruncated', false),
    ...sel.map((i) => el('Upload', textEl('Key', i.key), textEl('UploadId', i.id), textEl('StorageClass', 'STANDARD'), textEl('Initiated', isoDate(i.initiated)))),
  ], S3_NS));
}
