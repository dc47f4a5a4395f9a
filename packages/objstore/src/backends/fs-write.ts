// Writing objects for the fs backend: stream the body into a temp file (header
// space reserved, MD5 computed on the way), write the real header, fsync, then
// publish atomically under the object's path. A crash at any point leaves either
// the old object or the new one, plus at most a temp file that the next open
// removes.

import { randomBytes } from 'node:crypto';
import { link, mkdir, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cairnError } from '@cairn/errors';
import { BodyHasher } from './body-hash.js';
import { OBJECT_VERSION, encodeHeader, encodedHeaderLength, type ObjectHeader } from './fs-format.js';
import { Fd, errnoCode, fsError, fsyncDir } from './fs-io.js';

/** File mode of object and temp files, and of directories (owner only). */
export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

/** Temp file names: `<pid>-<16 hex>.tmp`, so a later open can tell whose they are. */
export const TEMP_NAME_RE = /^(\d+)-[0-9a-f]{16}\.tmp$/;

/** Temp names of this process: a random 8-hex prefix (drawn once) and an 8-hex counter. */
let tempPrefix = '';
let tempSeq = 0;

export function tempName(): string {
  if (tempPrefix === '' || tempSeq >= 0xffffffff) {
    tempPrefix = randomBytes(4).toString('hex');
    tempSeq = 0;
  }
  return `${process.pid}-${tempPrefix}${(tempSeq++).toString(16).padStart(8, '0')}.tmp`;
}

/** Coalesce small body chunks into writes of about this many bytes. */
const WRITE_BATCH = 1024 * 1024;
/**
 * With fsync, a large body is flushed as it goes: an fdatasync starts (in the
 * background, one at a time) each time this many more bytes reached the file,
 * and once more for the rest while the digest is still being computed, so that
 * the fdatasync after the header write (the one durability rests on) has little
 * left to do instead of the whole body.
 */
const EARLY_SYNC_BYTES = 32 * 1024 * 1024;

/**
 * A new object being written into a temp file. Not safe for concurrent write()
 * calls: callers serialize them (the segment keeps a queue).
 *
 * Body bytes are hashed (MD5 for the etag, CRC-32 for read verification) by a
 * BodyHasher, which hashes large bodies on a worker thread, and batched into
 * writes of about 1 MiB, at most one write in flight: hashing overlaps the I/O
 * instead of alternating with it on the event loop. See EARLY_SYNC_BYTES for
 * how a large body's fdatasync overlaps the writing and hashing too.
 */
export class ObjectWriter {
  private readonly hasher = new BodyHasher({ md5: true, crc32: true });
  private pos: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Called once the pending chunks reached the file (see write()). */
  private pendingWritten: Array<() => void> = [];
  /** The batch being written, if any (its failure surfaces at the next write, flush or finish). */
  private inFlight: Promise<void> | undefined;
  private closed = false;
  /** The close started by finish(), awaited by discard(). */
  private closing: Promise<void> | undefined;
  private gone = false;
  /** An early fdatasync in flight (its failure surfaces at finish), and the bytes written when the last one started. */
  private syncing: Promise<void> | undefined;
  private syncedAt = 0;
  /** Body bytes accepted so far. */
  size = 0;
  /** Body bytes handed to the file so far. */
  written = 0;

  private constructor(
    readonly tempPath: string,
    private readonly fh: Fd,
    private readonly name: string,
    private readonly meta: Readonly<Record<string, string>>,
    private readonly headerBytes: number,
    private readonly fsync: boolean,
  ) {
    this.pos = headerBytes;
  }

  /**
   * Creates the temp file in `tempDir` (recreating the directory if someone removed
   * it). With `fsync`, finish() makes the file durable before it returns.
   */
  static async create(tempDir: string, name: string, meta: Readonly<Record<string, string>> | undefined, fsync: boolean): Promise<ObjectWriter> {
    const m = { ...(meta ?? {}) };
    const headerBytes = encodedHeaderLength(name, m);
    for (let attempt = 0; ; attempt++) {
      const path = join(tempDir, tempName());
      try {
        const fh = await Fd.open(path, 'wx', FILE_MODE);
        return new ObjectWriter(path, fh, name, m, headerBytes, fsync);
      } catch (err) {
        const code = errnoCode(err);
        if (attempt > 2 || (code !== 'ENOENT' && code !== 'EEXIST')) throw fsError(err, `temp file for ${name}`);
        if (code === 'EEXIST') tempPrefix = ''; // another process with our pid left this name: draw a new prefix
        else await mkdir(tempDir, { recursive: true, mode: DIR_MODE });
      }
    }
  }

  /**
   * Accepts body bytes (kept by reference until written: the caller must not
   * change them before `onWritten` is called, once they reached the file; it is
   * not called when the write fails or the writer is discarded); small chunks are batched. Resolves at once unless a full batch
   * must wait for the previous one to reach the file, or the hashing thread is
   * several batches behind.
   */
  async write(chunk: Buffer, onWritten?: () => void): Promise<void> {
    if (chunk.length === 0) {
      onWritten?.();
      return;
    }
    const hashing = this.hasher.update(chunk);
    this.size += chunk.length;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (onWritten !== undefined) this.pendingWritten.push(onWritten);
    if (this.pendingBytes >= WRITE_BATCH) await this.startFlush();
    if (hashing !== undefined) await hashing;
  }

  /** Writes everything accepted so far; resolves once it reached the file. */
  async flush(): Promise<void> {
    await this.startFlush();
    await this.settle();
  }

  /** Waits for the batch in flight (rethrowing its failure). */
  private async settle(): Promise<void> {
    const f = this.inFlight;
    if (f === undefined) return;
    try {
      await f;
    } finally {
      if (this.inFlight === f) this.inFlight = undefined;
    }
  }

  /** Waits for the previous batch, then starts writing the pending one without waiting for it. */
  private async startFlush(): Promise<void> {
    await this.settle();
    if (this.pendingBytes === 0) return;
    const chunks = this.pending;
    const n = this.pendingBytes;
    const written = this.takeWritten();
    this.pending = [];
    this.pendingBytes = 0;
    const p = this.writeAt(chunks, n, written);
    p.catch(() => undefined); // observed by settle()
    this.inFlight = p;
  }

  private takeWritten(): Array<() => void> {
    const w = this.pendingWritten;
    this.pendingWritten = [];
    return w;
  }

  private async writeAt(chunks: Buffer[], n: number, written: ReadonlyArray<() => void> = []): Promise<void> {
    let done = 0;
    while (done < n) {
      const r = chunks.length === 1 && done === 0
        ? await this.fh.write(chunks[0]!, 0, n, this.pos)
        : await this.fh.writev(done === 0 ? chunks : remainder(chunks, done), this.pos);
      if (r.bytesWritten === 0) throw cairnError('CAIRN_ERR_OBJ_BACKEND', `${this.name}: write made no progress`);
      done += r.bytesWritten;
      this.pos += r.bytesWritten;
    }
    this.written += n;
    for (const f of written) f();
    if (this.written - this.syncedAt >= EARLY_SYNC_BYTES) this.startEarlySync();
  }

  /** Starts a background fdatasync of what was written so far, unless one is running. */
  private startEarlySync(): void {
    if (!this.fsync || this.syncing !== undefined || this.closed) return;
    this.syncedAt = this.written;
    const p = this.fh.datasync();
    p.catch(() => undefined); // observed by finish()
    this.syncing = p;
    void p.then(() => {
      if (this.syncing === p) this.syncing = undefined;
    }, () => undefined);
  }

  /** Waits for an early fdatasync, rethrowing its failure. */
  private async settleSync(): Promise<void> {
    const s = this.syncing;
    this.syncing = undefined;
    if (s !== undefined) await s;
  }

  /** Writes the header, makes the file durable (when fsync) and closes it. */
  async finish(): Promise<ObjectHeader> {
    await this.settle();
    if (this.written > 0) await this.flush(); // the rest of a body that did not fit one batch
    // A large body: flush its pages while the digest is being finished.
    if (this.written >= EARLY_SYNC_BYTES) {
      await this.settleSync();
      this.startEarlySync();
    }
    const sums = await this.hasher.digest();
    const h = { name: this.name, size: this.size, mtime: Date.now(), md5: sums.md5, bodyCrc: sums.crc32, meta: this.meta };
    const header = encodeHeader(h);
    if (header.length !== this.headerBytes) throw cairnError('CAIRN_ERR_INTERNAL', `${this.name}: header length changed`);
    if (this.written === 0) {
      // Nothing on disk yet (a small body): header and body in one write.
      const chunks = [header, ...this.pending];
      const n = header.length + this.pendingBytes;
      const written = this.takeWritten();
      this.pending = [];
      this.pendingBytes = 0;
      this.pos = 0;
      await this.writeAt(chunks, n, written);
      this.written -= header.length;
    } else {
      await this.fh.write(header, 0, header.length, 0);
    }
    await this.settleSync();
    if (this.fsync) await this.fh.datasync();
    // The bytes are durable (or durability was not asked for): publishing need not
    // wait for the close, which discard() awaits. A close cannot lose synced bytes.
    this.closed = true;
    this.closing = this.fh.close().catch(() => undefined);
    return { ...h, version: OBJECT_VERSION, headerLength: header.length };
  }

  /** Records that publish() moved the temp file away (nothing left to discard). */
  published(): void {
    this.gone = true;
  }

  /** Closes (if needed) and removes the temp file (unless published). Never throws; call it in every case. */
  async discard(): Promise<void> {
    await this.closing;
    this.hasher.discard();
    await this.inFlight?.catch(() => undefined);
    this.inFlight = undefined;
    await this.syncing?.catch(() => undefined);
    this.syncing = undefined;
    if (!this.closed) {
      this.closed = true;
      await this.fh.close().catch(() => undefined);
    }
    if (!this.gone) {
      this.gone = true;
      await unlink(this.tempPath).catch(() => undefined);
    }
  }
}

function remainder(chunks: readonly Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  for (const c of chunks) {
    if (skip >= c.length) {
      skip -= c.length;
      continue;
    }
    out.push(skip > 0 ? c.subarray(skip) : c);
    skip = 0;
  }
  return out;
}

/** How often publish re-creates directories a concurrent delete pruned away. */
const PUBLISH_ATTEMPTS = 16;

/**
 * Moves a finished temp file to `finalPath`, creating the directories on the way.
 * exclusive (create-if-absent): link(2), which fails with EEXIST when the name
 * exists, even against another process; the temp name is unlinked afterwards.
 * Otherwise rename(2): atomic replace, the last writer wins. With fsync, the
 * directory holding the new entry, and any directory this call created, are
 * fsynced before returning.
 */
export async function publish(tempPath: string, finalPath: string, stopDir: string, exclusive: boolean, fsync: boolean, what: string): Promise<void> {
  const parent = dirname(finalPath);
  let firstCreated: string | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      if (exclusive) await link(tempPath, finalPath);
      else await rename(tempPath, finalPath);
      break;
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EEXIST' && exclusive) throw cairnError('CAIRN_ERR_OBJ_PRECONDITION_FAILED', `${what} exists`, { cause: err });
      if (code !== 'ENOENT') throw fsError(err, what);
      if (attempt >= PUBLISH_ATTEMPTS) throw cairnError('CAIRN_ERR_OBJ_BACKEND', `${what}: publishing kept failing with ENOENT (temp file removed?)`, { cause: err });
      // The directory is missing (new name, or pruned by a concurrent delete).
      try {
        const created = await mkdir(parent, { recursive: true, mode: DIR_MODE });
        if (created !== undefined && (firstCreated === undefined || created.length < firstCreated.length)) firstCreated = created;
      } catch (mkErr) {
        if (errnoCode(mkErr) !== 'ENOENT') throw fsError(mkErr, what);
      }
    }
  }
  if (exclusive) await unlink(tempPath).catch(() => undefined);
  if (!fsync) return;
  try {
    await fsyncDir(parent);
    if (firstCreated !== undefined) {
      // Each created directory's entry lives in its parent: sync up to the parent of the first one.
      for (let d = dirname(parent), stop = dirname(firstCreated); d.length >= stop.length && d.length >= stopDir.length; d = dirname(d)) {
        await fsyncDir(d);
        if (d === stop) break;
      }
    }
  } catch (err) {
    throw fsError(err, `${what} (directory fsync)`);
  }
}
