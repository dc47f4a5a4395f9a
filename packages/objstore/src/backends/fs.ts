// The fs backend (kind 'fs'): the embedded default object store, a directory on
// local disk. Layout and formats: docs/formats.md, "fs backend layout".
//
// - Objects are files under <root>/<container>/, at a path derived from the name
//   (fs-path.ts), each starting with a checksummed header that holds the name,
//   size, mtime, MD5 etag, the body's CRC-32 and user metadata (fs-format.ts).
//   Whole-object reads verify the body with the CRC-32 (version-1 objects: MD5).
// - Writes go to <root>/.tmp/ first and are published with rename(2) (atomic
//   replace, last writer wins) or link(2) (create-if-absent, atomic even between
//   processes), after fsync of the file and followed by fsync of the directory.
// - Listing walks the name trie in byte order, page by page (fs-list.ts).
// - Opening the store removes temp files whose writer process is gone.

import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { cairnError, isCairnError } from '@cairn/errors';
import { pino, type Logger } from 'pino';
import { ContainerBase, listLimit } from '../container-base.js';
import { checkContainerName, checkMeta, checkObjectName } from '../names.js';
import { resolveRange } from '../range.js';
import type {
  BackendStats, DeleteOptions, GetOptions, GetResult, ListOptions, ListPage, ObjectInfo, ObjectStore,
  OpenSegment, OpenSegmentOptions, PutBody, PutOptions,
} from '../types.js';
import { BodyCheck, STORE_MARKER_FILE, TEMP_DIR, checkStoreMarker, encodeStoreMarker } from './fs-format.js';
import {
  Fd, FileRangeStream, bodyChunks, errnoCode, fsError, fsyncDir, openObject, openObjectFile, readFully, readHeader, readObjectPrefix, verifyBody,
} from './fs-io.js';
import { TrieWalker, listPage, type WalkProbe } from './fs-list.js';
import { MAX_ROOT_BYTES, nameKey, objectPath } from './fs-path.js';
import { FsSegment, type SegmentHost } from './fs-segment.js';
import { DIR_MODE, FILE_MODE, ObjectWriter, TEMP_NAME_RE, publish } from './fs-write.js';

export interface FsStoreOptions {
  /** Directory holding the store (created if missing). */
  readonly root: string;
  /** fsync files and directories before a write returns (default true). Off only for tests and scratch data. */
  readonly fsync?: boolean;
  readonly logger?: Logger;
}

/** First read of getBuffer: a header and a small object's whole body fit. */
const SMALL_READ_BYTES = 16 * 1024;

/** Temp files older than this are removed on open even if their process seems alive (pid reuse). */
const STALE_TEMP_MS = 24 * 60 * 60 * 1000;

/**
 * Creates the fs object store over `options.root`. Opening (creating the root,
 * checking the format marker, removing stale temp files) starts at once; every
 * call waits for it and fails with its error if it failed.
 * stats(): `bytesOut` counts body bytes written into the store, `bytesIn` body
 * bytes read out of it; every failed call counts in `errors`; `retries` is 0.
 */
export function createFsStore(options: FsStoreOptions): ObjectStore {
  if (typeof options?.root !== 'string' || options.root === '') throw cairnError('CAIRN_ERR_CONFIG_INVALID', 'fs store: root must be a directory path');
  const root = resolve(options.root);
  if (Buffer.byteLength(root) > MAX_ROOT_BYTES) {
    throw cairnError('CAIRN_ERR_CONFIG_INVALID', `fs store: root path longer than ${MAX_ROOT_BYTES} bytes leaves no room for long object names`);
  }
  return new FsStore(root, options.fsync ?? true, options.logger ?? pino({ level: 'silent' }));
}

class FsStore implements ObjectStore, SegmentHost {
  readonly kind = 'fs';
  readonly tempDir: string;
  private readonly opening: Promise<void>;
  private readonly segments = new Set<FsSegment>();
  private closed = false;
  private requests = 0;
  private errors = 0;
  private bytesIn = 0;
  private bytesOut = 0;

  constructor(readonly root: string, readonly fsync: boolean, readonly logger: Logger) {
    this.tempDir = join(root, TEMP_DIR);
    this.opening = this.open();
    this.opening.catch(() => undefined); // surfaced by ready()
  }

  container(name: string): FsContainer {
    checkContainerName(name);
    return new FsContainer(this, name, join(this.root, name));
  }

  async ping(): Promise<void> {
    await this.request('ping', async () => {
      await stat(this.root);
    });
  }

  stats(): BackendStats {
    return { requests: this.requests, errors: this.errors, retries: 0, bytesIn: this.bytesIn, bytesOut: this.bytesOut };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.segments].map((s) => s.abort()));
    await this.opening.catch(() => undefined);
  }

  ready(): Promise<void> {
    return this.opening;
  }

  async request<T>(what: string, fn: () => Promise<T>): Promise<T> {
    this.requests++;
    try {
      if (this.closed) throw cairnError('CAIRN_ERR_CLOSED', `object store fs:${this.root}`);
      await this.opening;
      return await fn();
    } catch (err) {
      this.errors++;
      throw fsError(err, what);
    }
  }

  countBytesOut(n: number): void {
    this.bytesOut += n;
  }

  countBytesIn(n: number): void {
    this.bytesIn += n;
  }

  segmentFinished(seg: FsSegment): void {
    this.segments.delete(seg);
  }

  segmentStarted(seg: FsSegment): void {
    if (this.closed) throw cairnError('CAIRN_ERR_CLOSED', `object store fs:${this.root}`);
    this.segments.add(seg);
  }

  /** Opening, in order: 1. root, 2. temp dir, 3. format marker, 4. stale temp files. */
  private async open(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: DIR_MODE });
    await mkdir(this.tempDir, { recursive: true, mode: DIR_MODE });
    await this.checkMarker();
    const removed = await this.removeStaleTemps();
    this.logger.info({ root: this.root, staleTempFilesRemoved: removed }, 'fs object store open');
  }

  private async checkMarker(): Promise<void> {
    const path = join(this.root, STORE_MARKER_FILE);
    try {
      checkStoreMarker(await readFile(path), path);
      return;
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    const temp = join(this.tempDir, `${process.pid}-${randomBytes(8).toString('hex')}.tmp`);
    await writeFile(temp, encodeStoreMarker(), { mode: FILE_MODE, flag: 'wx' });
    try {
      if (this.fsync) {
        const fh = await open(temp, 'r+');
        await fh.sync().finally(() => fh.close());
      }
      await publish(temp, path, this.root, true, this.fsync, path);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      if (!isCairnError(err, 'CAIRN_ERR_OBJ_PRECONDITION_FAILED')) throw err;
      checkStoreMarker(await readFile(path), path); // another process created it first
    }
  }

  /** Removes temp files of processes that are gone (or older than a day). Returns how many. */
  private async removeStaleTemps(): Promise<number> {
    let removed = 0;
    const now = Date.now();
    for (const n of await readdir(this.tempDir)) {
      const m = TEMP_NAME_RE.exec(n);
      if (!m) continue;
      const pid = Number(m[1]);
      const path = join(this.tempDir, n);
      let stale = pid !== process.pid && !processAlive(pid);
      if (!stale && pid !== process.pid) {
        const st = await stat(path).catch(() => undefined);
        stale = st !== undefined && now - st.mtimeMs > STALE_TEMP_MS;
      }
      if (stale) {
        await unlink(path).then(() => removed++, () => undefined);
      }
    }
    return removed;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

class FsContainer extends ContainerBase {
  constructor(private readonly store: FsStore, name: string, private readonly dir: string) {
    super(name);
  }

  private what(name: string): string {
    return `${this.name}/${name}`;
  }

  async create(): Promise<void> {
    await this.store.request(this.name, async () => {
      const created = await mkdir(this.dir, { recursive: true, mode: DIR_MODE });
      if (created !== undefined && this.store.fsync) await fsyncDir(this.store.root);
    });
  }

  async put(name: string, body: PutBody, options: PutOptions = {}): Promise<ObjectInfo> {
    checkObjectName(name);
    checkMeta(options.meta);
    const what = this.what(name);
    return this.store.request(what, async () => {
      checkAborted(options.signal, what);
      const w = await ObjectWriter.create(this.store.tempDir, name, options.meta, this.store.fsync);
      try {
        if (body instanceof Uint8Array) {
          await w.write(Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
        } else {
          for await (const chunk of bodyChunks(body, what)) {
            checkAborted(options.signal, what);
            await w.write(chunk);
          }
        }
        if (options.contentLength !== undefined && options.contentLength !== w.size) {
          throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `${what}: body has ${w.size} bytes, contentLength says ${options.contentLength}`);
        }
        checkAborted(options.signal, what);
        const h = await w.finish();
        await publish(w.tempPath, objectPath(this.dir, name), this.store.root, options.ifNoneMatch === true, this.store.fsync, what);
        w.published();
        this.store.countBytesOut(h.size);
        return { name, size: h.size, etag: h.md5.toString('hex'), mtime: h.mtime, meta: { ...h.meta } };
      } finally {
        await w.discard();
      }
    });
  }

  async get(name: string, options: GetOptions = {}): Promise<GetResult> {
    checkObjectName(name);
    const what = this.what(name);
    return this.store.request(what, async () => {
      checkAborted(options.signal, what);
      const { fh, header } = await openObject(objectPath(this.dir, name), name, what);
      try {
        const { offset, length } = resolveRange(options.range, header.size, what);
        const whole = offset === 0 && length === header.size;
        const body = new FileRangeStream(fh, header.headerLength + offset, length, whole ? new BodyCheck(header) : undefined, what, (n) => this.store.countBytesIn(n));
        return { info: infoOf(name, header), offset, length, body };
      } catch (err) {
        await fh.close().catch(() => undefined);
        throw err;
      }
    });
  }

  /**
   * Reads straight into a buffer, without a stream: the first read takes the
   * header and, for small objects, the whole body (and its short count proves the
   * file's length); larger bodies take one more read into a buffer of their size.
   * A whole-object read is verified like get()'s stream.
   */
  override async getBuffer(name: string, options: GetOptions = {}): Promise<Buffer> {
    checkObjectName(name);
    const what = this.what(name);
    return this.store.request(what, async () => {
      checkAborted(options.signal, what);
      const fh = await openObjectFile(objectPath(this.dir, name), what);
      try {
        const { header, prefix } = await readObjectPrefix(fh, name, what, SMALL_READ_BYTES);
        const { offset, length } = resolveRange(options.range, header.size, what);
        const start = header.headerLength + offset;
        let out: Buffer;
        if (start + length <= prefix.length) {
          const inPrefix = prefix.subarray(start, start + length);
          // Do not pin the whole probe buffer for a small answer the caller may keep.
          out = length * 2 < prefix.length ? Buffer.from(inPrefix) : inPrefix;
        } else {
          out = Buffer.allocUnsafe(length);
          const have = Math.max(0, Math.min(prefix.length - start, length));
          if (have > 0) prefix.copy(out, 0, start, start + have);
          await readFully(fh, out, have, start, what);
        }
        if (offset === 0 && length === header.size) verifyBody(header, out, what);
        this.store.countBytesIn(length);
        return out;
      } finally {
        await fh.close().catch(() => undefined);
      }
    });
  }

  async head(name: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    checkObjectName(name);
    const what = this.what(name);
    return this.store.request(what, async () => {
      checkAborted(options.signal, what);
      const fd = await openObjectFile(objectPath(this.dir, name), what);
      try {
        return infoOf(name, await readHeader(fd, name, what));
      } finally {
        await fd.close().catch(() => undefined);
      }
    });
  }

  async delete(name: string, options: DeleteOptions = {}): Promise<void> {
    checkObjectName(name);
    const what = this.what(name);
    await this.store.request(what, async () => {
      checkAborted(options.signal, what);
      const path = objectPath(this.dir, name);
      try {
        await unlink(path);
      } catch (err) {
        const code = errnoCode(err);
        if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
        if (options.mustExist) throw cairnError('CAIRN_ERR_OBJ_NOT_FOUND', what);
        return;
      }
      if (this.store.fsync) await fsyncDir(dirname(path));
      await this.prune(dirname(path));
    });
  }

  async list(options: ListOptions = {}): Promise<ListPage> {
    return this.listWithProbe(options);
  }

  /** list() with optional walk instrumentation (tests check memory stays bounded). */
  async listWithProbe(options: ListOptions, probe?: WalkProbe): Promise<ListPage> {
    const limit = listLimit(options.limit);
    if (options.delimiter === '') throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'empty list delimiter');
    return this.store.request(this.name, async () => {
      checkAborted(options.signal, this.name);
      const walker = new TrieWalker(
        this.dir, this.name, nameKey(options.prefix ?? ''),
        options.marker === undefined ? undefined : nameKey(options.marker),
        options.delimiter === undefined ? undefined : nameKey(options.delimiter),
        probe,
      );
      return listPage(walker, limit, (path, name) => this.listEntry(path, name), options.signal);
    });
  }

  openSegment(name: string, options: OpenSegmentOptions = {}): OpenSegment {
    checkObjectName(name);
    checkMeta(options.meta);
    const maxSize = options.maxSize ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(maxSize) || maxSize < 0) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `segment maxSize ${maxSize}`);
    const seg = new FsSegment(this.store, this.name, name, objectPath(this.dir, name), maxSize, options.meta);
    this.store.segmentStarted(seg);
    return seg;
  }

  private async listEntry(path: string, name: string) {
    let fh;
    try {
      fh = await Fd.open(path, 'r');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined; // deleted since the directory was read
      throw err;
    }
    try {
      const h = await readHeader(fh, name, this.what(name));
      return { kind: 'object' as const, name, size: h.size, etag: h.md5.toString('hex'), mtime: h.mtime };
    } finally {
      await fh.close();
    }
  }

  /** Removes directories left empty by a delete, up to (not including) the container directory. */
  private async prune(dir: string): Promise<void> {
    for (let d = dir; d.length > this.dir.length && d.startsWith(this.dir); d = dirname(d)) {
      try {
        await rmdir(d);
      } catch {
        return; // not empty (or already gone): stop
      }
    }
  }
}

function infoOf(name: string, h: { size: number; md5: Buffer; mtime: number; meta: Readonly<Record<string, string>> }): ObjectInfo {
  return { name, size: h.size, etag: h.md5.toString('hex'), mtime: h.mtime, meta: { ...h.meta } };
}

function checkAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw cairnError('CAIRN_ERR_CANCELED', what);
}
