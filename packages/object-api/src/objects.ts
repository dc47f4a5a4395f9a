// Object operations on a volume, shared by the Swift and S3 routes: look up an
// object's info, stream its bytes, PUT (stream into an upload — or, without
// the filesystem's uploads, a hidden temporary file —, check digests, then one
// filesystem operation makes it visible: a failed or mismatched upload changes
// nothing), directory objects, DELETE, and the commit step that COPY, SLO
// manifests and multipart completion share.

import { createHash } from 'node:crypto';
import { cairnError, isCairnError } from '@cairn/errors';
import type { BodyDigests } from './digests.js';
import { currentEtag, opaqueEtag } from './etag.js';
import type { FsAttr, FsFile, FsUpload, VolumeFs } from './fs-port.js';
import type { ObjectPath } from './names.js';
import {
  DIRECTORY_CONTENT_TYPE, XATTR_DLO, XATTR_SLO, guessContentType, objectMetaXattrs, readObjectMeta, writeObjectMeta, type ObjectMeta,
} from './object-meta.js';
import { containerAttr, createTmpFile, ensureDirs, lookupOrUndefined, pruneImplicitDirs, resolvePath, unlinkQuiet } from './paths.js';

/** Bytes gathered before one filesystem write. */
export const WRITE_CHUNK = 1024 * 1024;
/** Bytes read from the filesystem per step when streaming a GET. */
export const READ_CHUNK = 1024 * 1024;

/** Everything a GET/HEAD answer needs about an object. */
export interface ObjectInfo {
  readonly ino: number;
  readonly isDir: boolean;
  readonly size: number;
  readonly etag: string;
  readonly mtimeMs: number;
  readonly dataVersion: number;
  readonly contentType: string;
  readonly meta: ObjectMeta;
  /** True when the object was joined from an SLO manifest and not modified since. */
  readonly slo: boolean;
  /** A DLO manifest not modified through the filesystem since: its X-Object-Manifest (GET/HEAD join the segments that exist then). */
  readonly dlo?: string;
}

/** The SLO segment list kept with a joined manifest (xattr user.cairn.slo). */
export interface SloRecord {
  readonly dataVersion: number;
  readonly segments: ReadonlyArray<{ readonly name: string; readonly hash: string; readonly bytes: number }>;
}

/** The stored header that makes an object a DLO manifest. */
export const DLO_MANIFEST_HEADER = 'x-object-manifest';

/** The dataVersion a DLO manifest's file was joined at (xattr user.cairn.dlo), if any. */
async function dloJoinedAt(fs: VolumeFs, ino: number): Promise<number | undefined> {
  const raw = await fs.getxattr(ino, XATTR_DLO);
  if (!raw) return undefined;
  try {
    const rec = JSON.parse(raw.toString('utf8')) as { dataVersion?: unknown };
    return typeof rec.dataVersion === 'number' ? rec.dataVersion : undefined;
  } catch {
    return undefined;
  }
}

/** Reads the SLO record of an inode when it is still valid for `dataVersion`. */
export async function readSloRecord(fs: VolumeFs, ino: number, dataVersion: number): Promise<SloRecord | undefined> {
  const raw = await fs.getxattr(ino, XATTR_SLO);
  if (!raw) return undefined;
  try {
    const rec = JSON.parse(raw.toString('utf8')) as SloRecord;
    return rec.dataVersion === dataVersion && Array.isArray(rec.segments) ? rec : undefined;
  } catch {
    return undefined;
  }
}

export interface InfoOptions {
  /** How directories are objects: 'any' (Swift: "a/b" or "a/b/"), 'slash' (S3: only "a/b/"). */
  readonly dirs: 'any' | 'slash';
  /** Current time (ms), for X-Delete-At. */
  readonly now: number;
  /**
   * Files up to this size whose recorded ETag no longer applies get their MD5
   * computed now (and recorded), so that GET/HEAD show a real MD5 instead of
   * the opaque ETag. 0 (the default) never reads.
   */
  readonly healMaxBytes?: number;
}

/** Info of an existing object, or undefined (missing, a symlink, expired, or a directory the protocol does not show). */
export async function findObject(fs: VolumeFs, containerIno: number, path: ObjectPath, opts: InfoOptions): Promise<ObjectInfo | undefined> {
  const a = await resolvePath(fs, containerIno, path.segments);
  if (!a) return undefined;
  if (a.type === 'dir') {
    if (opts.dirs === 'slash' && !path.trailingSlash) return undefined;
  } else if (a.type !== 'file' || path.trailingSlash) {
    return undefined;
  }
  let info = await infoOf(fs, a, path.name);
  if (info.meta.deleteAt !== undefined && info.meta.deleteAt * 1000 <= opts.now) return undefined;
  if (!info.isDir && info.etag === opaqueEtag(a) && info.size <= (opts.healMaxBytes ?? 0)) {
    const md5 = await healEtag(fs, a);
    if (md5 !== undefined) info = { ...info, etag: md5 };
  }
  return info;
}

/**
 * Computes the MD5 of a file modified through the filesystem and records it
 * as its ETag. Returns undefined when the file changed while being read (the
 * opaque ETag then stays).
 */
export async function healEtag(fs: VolumeFs, a: FsAttr): Promise<string | undefined> {
  const h = createHash('md5');
  for await (const b of readBytes(fs, a.ino, 0, a.size)) h.update(b);
  const after = await fs.getattr(a.ino);
  if (after.dataVersion !== a.dataVersion || after.mtimeMs !== a.mtimeMs || after.size !== a.size) return undefined;
  const md5 = h.digest('hex');
  await fs.setEtag(a.ino, { value: md5, dataVersion: a.dataVersion });
  return md5;
}

/** Info of an existing object; 404 (CAIRN_ERR_HTTP_NO_SUCH_OBJECT) when missing. */
export async function getObjectInfo(fs: VolumeFs, container: string, path: ObjectPath, opts: InfoOptions): Promise<ObjectInfo> {
  const c = await containerAttr(fs, container);
  const info = await findObject(fs, c.ino, path, opts);
  if (!info) throw cairnError('CAIRN_ERR_HTTP_NO_SUCH_OBJECT', `${container}/${path.name}`);
  return info;
}

/** Builds ObjectInfo from attributes. */
export async function infoOf(fs: VolumeFs, a: FsAttr, name: string): Promise<ObjectInfo> {
  const meta = await readObjectMeta(fs, a.ino);
  const isDir = a.type === 'dir';
  return {
    ino: a.ino,
    isDir,
    size: isDir ? 0 : a.size,
    etag: await currentEtag(fs, a),
    mtimeMs: a.mtimeMs,
    dataVersion: a.dataVersion,
    contentType: isDir ? DIRECTORY_CONTENT_TYPE : meta.contentType ?? guessContentType(name),
    meta,
    slo: !isDir && (await readSloRecord(fs, a.ino, a.dataVersion)) !== undefined,
    ...(!isDir && meta.headers[DLO_MANIFEST_HEADER] !== undefined && (await dloJoinedAt(fs, a.ino)) === a.dataVersion
      ? { dlo: meta.headers[DLO_MANIFEST_HEADER] } : {}),
  };
}

/**
 * Streams bytes [start, start+length) of a file, one READ_CHUNK read ahead of
 * the consumer. Ends with an error when the file shrank meanwhile.
 */
export async function* readBytes(fs: VolumeFs, ino: number, start: number, length: number): AsyncGenerator<Buffer> {
  if (length <= 0) return;
  const f = await fs.open(ino, { read: true });
  const end = start + length;
  let next: Promise<Buffer> | undefined;
  try {
    let at = start;
    let asked = start;
    const ask = (): Promise<Buffer> | undefined => {
      if (asked >= end) return undefined;
      const n = Math.min(READ_CHUNK, end - asked);
      const p = f.read(asked, n);
      asked += n;
      // Handled when awaited; this keeps an early return from reporting it as unhandled.
      p.catch(() => undefined);
      return p;
    };
    next = ask();
    while (at < end) {
      const b = await next!;
      if (b.length === 0) throw cairnError('CAIRN_ERR_FS_IO', `file ${ino} shrank while being read`);
      if (at + b.length < asked) {
        // A short read: continue right after it, without read-ahead this round.
        asked = at + b.length;
      }
      at += b.length;
      next = ask();
      yield b;
    }
  } finally {
    if (next) await next.catch(() => undefined);
    await f.close();
  }
}

/** What a commit writes with the file. */
export interface CommitMeta {
  readonly contentType?: string;
  readonly user?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
  readonly deleteAt?: number;
  /** The ETag to record (MD5 hex, or a multipart/SLO form); absent: none (the opaque ETag applies). */
  readonly etag?: string;
  /** SLO segment list to keep (manifest PUTs). */
  readonly slo?: SloRecord['segments'];
  /** A DLO manifest: note the dataVersion it was joined at (a later filesystem write makes it a plain file). */
  readonly dlo?: boolean;
}

/** Options of a commit into place. */
export interface CommitOptions {
  /** Fail with 412 when the target exists (If-None-Match: *). */
  readonly ifNoneMatch?: boolean;
}

/**
 * Moves a finished temporary file into place as `container/path`: writes its
 * metadata and ETag, creates missing parent directories, then renames over
 * the target (a file) in one filesystem operation. A directory at the target
 * is a 409 conflict. The temporary file is gone afterwards, whatever happens.
 */
export async function commitTmpFile(
  fs: VolumeFs, tmp: { dir: number; name: string; ino: number }, container: string, path: ObjectPath,
  meta: CommitMeta, opts: CommitOptions = {},
): Promise<ObjectInfo> {
  try {
    if (path.trailingSlash) throw cairnError('CAIRN_ERR_HTTP_INVALID_NAME', `${path.name}: only empty directory objects may end in '/'`);
    const c = await containerAttr(fs, container);
    await writeObjectMeta(fs, tmp.ino, {
      user: meta.user ?? {},
      ...(meta.contentType !== undefined ? { contentType: meta.contentType } : {}),
      headers: meta.headers ?? {},
      ...(meta.deleteAt !== undefined ? { deleteAt: meta.deleteAt } : {}),
    }, false);
    const attr = await fs.getattr(tmp.ino);
    if (meta.etag !== undefined) await fs.setEtag(tmp.ino, { value: meta.etag, dataVersion: attr.dataVersion });
    if (meta.slo) {
      const rec: SloRecord = { dataVersion: attr.dataVersion, segments: meta.slo };
      const json = Buffer.from(JSON.stringify(rec), 'utf8');
      // Too large a list is not kept: the object then is a plain file (no cascade delete).
      if (json.length <= 60 * 1024) await fs.setxattr(tmp.ino, XATTR_SLO, json);
    }
    if (meta.dlo) await fs.setxattr(tmp.ino, XATTR_DLO, Buffer.from(JSON.stringify({ dataVersion: attr.dataVersion }), 'utf8'));
    const leaf = path.segments[path.segments.length - 1]!;
    // A concurrent DELETE may remove an implicit parent between ensureDirs and
    // the rename: then the parents are made again (a few times at most).
    for (let attempt = 1; ; attempt++) {
      const parent = await ensureDirs(fs, c.ino, path.segments.slice(0, -1));
      const existing = await lookupOrUndefined(fs, parent, leaf);
      if (existing) {
        if (opts.ifNoneMatch) throw cairnError('CAIRN_ERR_HTTP_PRECONDITION_FAILED', `${container}/${path.name} exists (If-None-Match: *)`);
        if (existing.type === 'dir') throw cairnError('CAIRN_ERR_HTTP_CONFLICT', `${container}/${path.name} is a directory`);
      }
      try {
        await fs.rename(tmp.dir, tmp.name, parent, leaf, opts.ifNoneMatch ? { noReplace: true } : undefined);
        break;
      } catch (err) {
        if (opts.ifNoneMatch && isCairnError(err, 'CAIRN_ERR_FS_EXISTS')) {
          throw cairnError('CAIRN_ERR_HTTP_PRECONDITION_FAILED', `${container}/${path.name} exists (If-None-Match: *)`);
        }
        const gone = isCairnError(err, 'CAIRN_ERR_FS_NOT_FOUND') || isCairnError(err, 'CAIRN_ERR_FS_STALE');
        if (!gone || attempt >= 3) throw err;
      }
    }
    const placed = await fs.getattr(tmp.ino);
    return await infoOf(fs, placed, path.name);
  } catch (err) {
    await unlinkQuiet(fs, tmp.dir, tmp.name).catch(() => undefined);
    throw err;
  }
}

/** Input of putObject. */
export interface PutObjectInput {
  readonly container: string;
  readonly path: ObjectPath;
  readonly body: AsyncIterable<Uint8Array>;
  /** Digests to compute and check (MD5 always). */
  readonly digests: BodyDigests;
  /** Trailers known once the body ended (aws-chunked). */
  readonly trailers?: () => ReadonlyMap<string, string> | undefined;
  /** Content-Length when known: a body that ends short is refused. */
  readonly expectedLength?: number;
  /** Largest body accepted. */
  readonly maxBytes: number;
  readonly contentType?: string;
  readonly user?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
  readonly deleteAt?: number;
  readonly ifNoneMatch?: boolean;
  /** ETag to record instead of the body's MD5 (SLO manifests). */
  readonly etagOverride?: (md5Hex: string) => string;
  readonly slo?: SloRecord['segments'];
}

// Gather buffers of writeBody for sinks that copy what they are given: reused
// from one WRITE_CHUNK to the next and between requests, instead of one fresh
// WRITE_CHUNK buffer per write (a fresh buffer costs more than the copy into it:
// page faults, and external memory that makes V8 collect more often).
const FREE_GATHERS = 8;
const freeGathers: Buffer[] = [];

/** Writes a whole body into an open file sequentially, in WRITE_CHUNK pieces, updating the digests. */
export async function writeBody(
  f: Pick<FsFile, 'write'>, body: AsyncIterable<Uint8Array>, digests: BodyDigests, maxBytes: number, startAt = 0,
  /** True when f.write has copied its data by the time it resolves: one gather buffer then serves every write. */
  sinkCopies = false,
): Promise<number> {
  let at = startAt;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let gather: Buffer | undefined;
  const flush = async (): Promise<void> => {
    if (pendingBytes === 0) return;
    let data: Buffer;
    if (pending.length === 1) data = pending[0]!;
    else if (gather !== undefined) {
      let o = 0;
      for (const p of pending) {
        gather.set(p, o);
        o += p.length;
      }
      data = gather.subarray(0, o);
    } else data = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    await f.write(at, data);
    at += data.length;
  };
  try {
    for await (const chunk of body) {
      if (chunk.length === 0) continue;
      const behind = digests.update(chunk);
      if (digests.length > maxBytes) throw cairnError('CAIRN_ERR_HTTP_TOO_LARGE', `more than ${maxBytes} bytes`);
      const b = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      if (sinkCopies && pendingBytes + b.length > WRITE_CHUNK && pendingBytes > 0) {
        // Fill the gather buffer up to WRITE_CHUNK; the rest starts the next write.
        gather ??= freeGathers.pop() ?? Buffer.allocUnsafeSlow(WRITE_CHUNK);
        const n = WRITE_CHUNK - pendingBytes;
        pending.push(b.subarray(0, n));
        pendingBytes = WRITE_CHUNK;
        await flush();
        pending.push(b.subarray(n));
        pendingBytes = b.length - n;
      } else {
        pending.push(b);
        pendingBytes += b.length;
      }
      if (pendingBytes >= WRITE_CHUNK) {
        if (sinkCopies) gather ??= freeGathers.pop() ?? Buffer.allocUnsafeSlow(WRITE_CHUNK);
        await flush();
      }
      if (behind !== undefined) await behind;
    }
    await flush();
  } catch (err) {
    digests.discard();
    throw err;
  } finally {
    if (gather !== undefined && freeGathers.length < FREE_GATHERS) freeGathers.push(gather);
  }
  return at - startAt;
}

/**
 * Commits a finished upload as `container/path` with `meta`: creates missing
 * parent directories, then the file with its bytes, metadata and ETag appears
 * in one filesystem operation (replacing a file there). A directory at the
 * target is a 409 conflict. The upload is aborted when this fails.
 */
export async function commitUploadAs(
  fs: VolumeFs, up: FsUpload, container: string, path: ObjectPath, meta: Omit<CommitMeta, 'slo' | 'dlo'>, opts: CommitOptions = {},
): Promise<ObjectInfo> {
  try {
    if (path.trailingSlash) throw cairnError('CAIRN_ERR_HTTP_INVALID_NAME', `${path.name}: only empty directory objects may end in '/'`);
    const c = await containerAttr(fs, container);
    const stored = {
      user: { ...(meta.user ?? {}) },
      headers: { ...(meta.headers ?? {}) },
      ...(meta.contentType !== undefined ? { contentType: meta.contentType } : {}),
      ...(meta.deleteAt !== undefined ? { deleteAt: meta.deleteAt } : {}),
    };
    const commit = { xattrs: objectMetaXattrs(stored), ...(meta.etag !== undefined ? { etag: meta.etag } : {}), ...(opts.ifNoneMatch ? { noReplace: true } : {}) };
    const leaf = path.segments[path.segments.length - 1]!;
    let a: FsAttr;
    // A concurrent DELETE may remove an implicit parent between ensureDirs and
    // the commit: then the parents are made again (a few times at most).
    for (let attempt = 1; ; attempt++) {
      const parent = await ensureDirs(fs, c.ino, path.segments.slice(0, -1));
      try {
        a = await up.commit(parent, leaf, commit);
        break;
      } catch (err) {
        if (isCairnError(err, 'CAIRN_ERR_FS_EXISTS')) {
          throw cairnError('CAIRN_ERR_HTTP_PRECONDITION_FAILED', `${container}/${path.name} exists (If-None-Match: *)`);
        }
        if (isCairnError(err, 'CAIRN_ERR_FS_IS_DIR')) throw cairnError('CAIRN_ERR_HTTP_CONFLICT', `${container}/${path.name} is a directory`);
        const gone = isCairnError(err, 'CAIRN_ERR_FS_NOT_FOUND') || isCairnError(err, 'CAIRN_ERR_FS_STALE');
        if (!gone || attempt >= 3) throw err;
      }
    }
    return {
      ino: a.ino, isDir: false, size: a.size, etag: meta.etag ?? opaqueEtag(a), mtimeMs: a.mtimeMs, dataVersion: a.dataVersion,
      contentType: stored.contentType ?? guessContentType(path.name), meta: stored, slo: false,
    };
  } catch (err) {
    await up.abort().catch(() => undefined);
    throw err;
  }
}

/** Streams a body into a new upload, checking the length and every digest; returns the MD5. Aborts the upload on failure. */
async function uploadBody(up: FsUpload, input: PutObjectInput): Promise<string> {
  try {
    const n = await writeBody({ write: (_at, data) => up.write(data) }, input.body, input.digests, input.maxBytes, 0, true);
    if (input.expectedLength !== undefined && n !== input.expectedLength) {
      throw cairnError('CAIRN_ERR_HTTP_INCOMPLETE_BODY', `got ${n} of ${input.expectedLength} bytes`);
    }
    return (await input.digests.finish(input.trailers?.())).md5Hex;
  } catch (err) {
    input.digests.discard();
    await up.abort().catch(() => undefined);
    throw err;
  }
}

/**
 * PUT: streams the body into a new file (MD5 on the fly), checks every digest
 * and the length, then makes it visible with its metadata and ETag in one
 * operation — an upload commit when the filesystem offers uploads, else a
 * temporary file made durable and renamed into place. On any failure the
 * namespace is unchanged.
 */
export async function putObject(fs: VolumeFs, input: PutObjectInput): Promise<ObjectInfo> {
  const c = await containerAttr(fs, input.container);
  if (input.ifNoneMatch && (await resolvePath(fs, c.ino, input.path.segments))) {
    throw cairnError('CAIRN_ERR_HTTP_PRECONDITION_FAILED', `${input.container}/${input.path.name} exists (If-None-Match: *)`);
  }
  if (fs.beginUpload && !input.slo) {
    const up = await fs.beginUpload();
    const md5Hex = await uploadBody(up, input);
    return commitUploadAs(fs, up, input.container, input.path, {
      etag: input.etagOverride ? input.etagOverride(md5Hex) : md5Hex,
      ...(input.contentType !== undefined ? { contentType: input.contentType } : {}),
      ...(input.user ? { user: input.user } : {}),
      ...(input.headers ? { headers: input.headers } : {}),
      ...(input.deleteAt !== undefined ? { deleteAt: input.deleteAt } : {}),
    }, { ...(input.ifNoneMatch ? { ifNoneMatch: true } : {}) });
  }
  const tmp = await createTmpFile(fs);
  let md5Hex: string;
  try {
    const f = await fs.open(tmp.attr.ino, { write: true });
    try {
      const n = await writeBody(f, input.body, input.digests, input.maxBytes);
      if (input.expectedLength !== undefined && n !== input.expectedLength) {
        throw cairnError('CAIRN_ERR_HTTP_INCOMPLETE_BODY', `got ${n} of ${input.expectedLength} bytes`);
      }
      md5Hex = (await input.digests.finish(input.trailers?.())).md5Hex;
      await f.sync();
    } finally {
      await f.close();
    }
  } catch (err) {
    input.digests.discard();
    await unlinkQuiet(fs, tmp.dir, tmp.name).catch(() => undefined);
    throw err;
  }
  return commitTmpFile(fs, { dir: tmp.dir, name: tmp.name, ino: tmp.attr.ino }, input.container, input.path, {
    etag: input.etagOverride ? input.etagOverride(md5Hex) : md5Hex,
    ...(input.contentType !== undefined ? { contentType: input.contentType } : {}),
    ...(input.user ? { user: input.user } : {}),
    ...(input.headers ? { headers: input.headers } : {}),
    ...(input.deleteAt !== undefined ? { deleteAt: input.deleteAt } : {}),
    ...(input.slo ? { slo: input.slo } : {}),
  }, { ...(input.ifNoneMatch ? { ifNoneMatch: true } : {}) });
}

/**
 * A zero-byte PUT that names a directory (Content-Type application/directory,
 * or an S3 key ending in '/'): creates the directory and its parents (the
 * directory itself is explicit, so it stays when emptied). An existing
 * directory keeps its contents and gets the new metadata; a file there is a
 * 409 conflict.
 */
export async function putDirectory(
  fs: VolumeFs, container: string, path: ObjectPath, meta: { user?: Readonly<Record<string, string>> }, opts: CommitOptions = {},
): Promise<ObjectInfo> {
  const c = await containerAttr(fs, container);
  const parent = await ensureDirs(fs, c.ino, path.segments.slice(0, -1));
  const leaf = path.segments[path.segments.length - 1]!;
  let a = await lookupOrUndefined(fs, parent, leaf);
  if (a && opts.ifNoneMatch) throw cairnError('CAIRN_ERR_HTTP_PRECONDITION_FAILED', `${container}/${path.name} exists (If-None-Match: *)`);
  if (a && a.type !== 'dir') throw cairnError('CAIRN_ERR_HTTP_CONFLICT', `${container}/${path.name} exists and is not a directory`);
  if (!a) {
    try {
      a = await fs.mkdir(parent, leaf);
    } catch (err) {
      if (!isCairnError(err, 'CAIRN_ERR_FS_EXISTS')) throw err;
      a = await fs.lookup(parent, leaf);
      if (a.type !== 'dir') throw cairnError('CAIRN_ERR_HTTP_CONFLICT', `${container}/${path.name} exists and is not a directory`);
    }
  } else {
    // Made explicit by the client now: it stays when emptied.
    await fs.removexattr(a.ino, 'user.cairn.implicit').catch(() => undefined);
  }
  await writeObjectMeta(fs, a.ino, { user: meta.user ?? {} }, true);
  return infoOf(fs, await fs.getattr(a.ino), path.name);
}

/**
 * DELETE of an object (a file, or an empty directory). Returns false when
 * nothing was there. A non-empty directory is a 409 conflict. Implicit parent
 * directories left empty are removed.
 */
export async function deleteObject(fs: VolumeFs, container: string, path: ObjectPath, opts: InfoOptions): Promise<boolean> {
  const c = await containerAttr(fs, container);
  // Expired objects (X-Delete-At) are still removed here.
  const info = await findObject(fs, c.ino, path, { ...opts, now: Number.NEGATIVE_INFINITY });
  if (!info) return false;
  const parentSegs = path.segments.slice(0, -1);
  const parent = parentSegs.length === 0 ? c : await resolvePath(fs, c.ino, parentSegs);
  if (!parent) return false;
  const leaf = path.segments[path.segments.length - 1]!;
  try {
    if (info.isDir) await fs.rmdir(parent.ino, leaf);
    else await fs.unlink(parent.ino, leaf);
  } catch (err) {
    if (isCairnError(err, 'CAIRN_ERR_FS_NOT_EMPTY')) throw cairnError('CAIRN_ERR_HTTP_CONFLICT', `${container}/${path.name} is a directory that is not empty`);
    if (isCairnError(err, 'CAIRN_ERR_FS_NOT_FOUND')) return false;
    throw err;
  }
  await pruneImplicitDirs(fs, c.ino, parentSegs);
  return true;
}
