// File I/O helpers of the fs backend: error mapping, directory fsync, reading an
// object's header, streaming a byte range out of an object file, and walking a
// put body chunk by chunk.

import { close as fdClose, fdatasync, fstat, fsync, open as fdOpen, read as fdRead, writev as fdWritev } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { cairnError, isCairnError, type CairnError } from '@cairn/errors';
import type { PutBody } from '../types.js';
import { BodyCheck, HEADER_PROBE_BYTES, bodyMatches, decodeHeader, headerLength, type ObjectHeader } from './fs-format.js';

/** Maps a Node fs error (or anything thrown) to a CairnError naming `what`. */
export function fsError(err: unknown, what: string): CairnError {
  if (isCairnError(err)) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const detail = `${what}: ${code ?? (err instanceof Error ? err.message : String(err))}`;
  switch (code) {
    case 'ENOENT':
      return cairnError('CAIRN_ERR_OBJ_NOT_FOUND', what, { cause: err });
    case 'EEXIST':
      return cairnError('CAIRN_ERR_OBJ_PRECONDITION_FAILED', `${what} exists`, { cause: err });
    case 'ENOSPC':
    case 'EDQUOT':
      return cairnError('CAIRN_ERR_OBJ_NO_SPACE', detail, { cause: err });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return cairnError('CAIRN_ERR_OBJ_FORBIDDEN', detail, { cause: err });
    case 'EMFILE':
    case 'ENFILE':
    case 'EAGAIN':
    case 'EBUSY':
      return cairnError('CAIRN_ERR_OBJ_UNAVAILABLE', detail, { cause: err });
    case 'ENAMETOOLONG':
      return cairnError('CAIRN_ERR_OBJ_INVALID_NAME', `${detail} (store root path too long for this name)`, { cause: err });
    default:
      return cairnError('CAIRN_ERR_OBJ_BACKEND', detail, { cause: err });
  }
}

export function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** What reading an object file needs: met by a FileHandle and by an Fd. */
export interface ReadableFile {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}

/**
 * A file descriptor used through the callback API. Short operations (a small
 * get, head, put, a directory fsync) open, use and close a file in a few calls;
 * a FileHandle per open (an object with a close-on-GC finalizer, a promise API
 * on top) costs about a third more CPU per call than a plain descriptor, which
 * shows as soon as many small operations run at once. The owner must close it
 * exactly once, on every path (there is no close-on-GC safety net): streams
 * that a caller may drop keep using FileHandles.
 */
export class Fd implements ReadableFile {
  private constructor(readonly fd: number) {}

  static open(path: string, flags: string, mode?: number): Promise<Fd> {
    return new Promise((resolve, reject) => {
      fdOpen(path, flags, mode, (err, fd) => (err ? reject(err) : resolve(new Fd(fd))));
    });
  }

  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    return new Promise((resolve, reject) => {
      fdRead(this.fd, buffer, offset, length, position, (err, bytesRead) => (err ? reject(err) : resolve({ bytesRead })));
    });
  }

  /** Writes the buffers at `position`; resolves with the bytes written (may be short). */
  writev(buffers: readonly Buffer[], position: number): Promise<{ bytesWritten: number }> {
    return new Promise((resolve, reject) => {
      fdWritev(this.fd, buffers, position, (err, bytesWritten) => (err ? reject(err) : resolve({ bytesWritten })));
    });
  }

  /** write(2) of one buffer, as writev of one. */
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }> {
    return this.writev([offset === 0 && length === buffer.length ? buffer : buffer.subarray(offset, offset + length)], position);
  }

  stat(): Promise<{ size: number }> {
    return new Promise((resolve, reject) => {
      fstat(this.fd, (err, st) => (err ? reject(err) : resolve(st)));
    });
  }

  sync(): Promise<void> {
    return new Promise((resolve, reject) => {
      fsync(this.fd, (err) => (err ? reject(err) : resolve()));
    });
  }

  datasync(): Promise<void> {
    return new Promise((resolve, reject) => {
      fdatasync(this.fd, (err) => (err ? reject(err) : resolve()));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      fdClose(this.fd, (err) => (err ? reject(err) : resolve()));
    });
  }
}

/**
 * Makes a directory's entries durable (after a create, rename, link or unlink in
 * it). Resolves once the fsync did; the handle closes after that, in the
 * background (closing a directory opened read-only cannot fail in a way that
 * matters, and a put need not wait for it).
 */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await Fd.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    void fh.close().catch(() => undefined);
  }
}

/** An object's verified header and the first bytes of its file (from offset 0). */
export interface ObjectPrefix {
  readonly header: ObjectHeader;
  /** File bytes 0.. as read by the probe (may hold the whole body, or only part of the header's). */
  readonly prefix: Buffer;
}

/**
 * Reads and verifies the header of an open object file, and checks that the file
 * is exactly header + body long (a short file is a torn or damaged object). The
 * first read asks for `probeBytes`; when it comes back short the file ended there,
 * which settles the length without an fstat.
 */
export async function readObjectPrefix(fh: ReadableFile, name: string, where: string, probeBytes = HEADER_PROBE_BYTES): Promise<ObjectPrefix> {
  const probe = Buffer.allocUnsafe(probeBytes);
  const { bytesRead } = await fh.read(probe, 0, probe.length, 0);
  let buf = probe.subarray(0, bytesRead);
  const length = headerLength(buf, where);
  let fileSize: number | undefined = bytesRead < probeBytes ? bytesRead : undefined;
  if (length > bytesRead) {
    buf = Buffer.allocUnsafe(length);
    const r = await fh.read(buf, 0, length, 0);
    buf = buf.subarray(0, r.bytesRead);
    fileSize = undefined;
  }
  const h = decodeHeader(buf, where);
  if (h.name !== name) throw cairnError('CAIRN_ERR_OBJ_CORRUPT', `${where}: file holds object ${JSON.stringify(h.name)}`);
  const size = fileSize ?? (await fh.stat()).size;
  if (size !== h.headerLength + h.size) {
    throw cairnError('CAIRN_ERR_OBJ_CORRUPT', `${where}: file is ${size} bytes, header says ${h.headerLength} + ${h.size}`);
  }
  return { header: h, prefix: buf };
}

/** readObjectPrefix without the bytes. */
export async function readHeader(fh: ReadableFile, name: string, where: string): Promise<ObjectHeader> {
  return (await readObjectPrefix(fh, name, where)).header;
}

/**
 * Opens an object file for reading; a missing file (or path) is CAIRN_ERR_OBJ_NOT_FOUND.
 * Gives a plain descriptor (Fd) for reads that close it themselves.
 */
export async function openObjectFile(path: string, where: string): Promise<Fd> {
  try {
    return await Fd.open(path, 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') throw cairnError('CAIRN_ERR_OBJ_NOT_FOUND', where, { cause: err });
    throw fsError(err, where);
  }
}

/** Opens an object file and reads its header; the caller owns the handle. */
export async function openObject(path: string, name: string, where: string): Promise<{ fh: FileHandle; header: ObjectHeader }> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') throw cairnError('CAIRN_ERR_OBJ_NOT_FOUND', where, { cause: err });
    throw fsError(err, where);
  }
  try {
    return { fh, header: await readHeader(fh, name, where) };
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw fsError(err, where);
  }
}

/**
 * Reads `length` body bytes from file position `start` into `out` (from 0), after
 * the `have` bytes already there. A file that ends early is CAIRN_ERR_OBJ_CORRUPT.
 */
export async function readFully(fh: ReadableFile, out: Buffer, have: number, start: number, where: string): Promise<void> {
  let done = have;
  while (done < out.length) {
    const { bytesRead } = await fh.read(out, done, out.length - done, start + done);
    if (bytesRead === 0) throw cairnError('CAIRN_ERR_OBJ_CORRUPT', `${where}: object file ended ${out.length - done} bytes early`);
    done += bytesRead;
  }
}

/** Fails with CAIRN_ERR_OBJ_CORRUPT unless `body` is the whole body `header` describes. */
export function verifyBody(header: ObjectHeader, body: Buffer, where: string): void {
  if (!bodyMatches(header, body)) throw cairnError('CAIRN_ERR_OBJ_CORRUPT', `${where}: body does not match its ${header.bodyCrc === undefined ? 'MD5' : 'CRC-32'}`);
}

const READ_CHUNK = 1024 * 1024;

/**
 * Streams `length` body bytes from file position `start` of an open object, then
 * closes the handle. The handle pins the inode, so a concurrent overwrite or
 * delete does not change what this stream returns. When `check` is given (a
 * whole-object read) the bytes are verified (CRC-32, or MD5 for version-1
 * objects) and a mismatch fails the stream with CAIRN_ERR_OBJ_CORRUPT instead
 * of ending it. One read runs ahead: the next chunk is being read while the
 * current one is verified (see BodyCheck) and consumed; the read is issued
 * before the verification starts, so the two overlap.
 */
export class FileRangeStream extends Readable {
  /** File position of the next read to issue, and body bytes not yet read. */
  private readPos: number;
  private unread: number;
  /** Body bytes not yet pushed. */
  private remaining: number;
  private ahead: Promise<Buffer> | undefined;
  /** Set when the check asked the reader to wait: the read after the next one waits for it. */
  private checkBehind: Promise<void> | undefined;
  private finishing = false;

  constructor(
    private readonly fh: FileHandle,
    start: number,
    length: number,
    private readonly check: BodyCheck | undefined,
    private readonly where: string,
    private readonly onBytes: (n: number) => void,
  ) {
    super({ highWaterMark: READ_CHUNK });
    this.readPos = start;
    this.unread = length;
    this.remaining = length;
  }

  /** Issues the next read (at most one in flight); resolves with the bytes read. */
  private readNext(): Promise<Buffer> {
    const n = Math.min(READ_CHUNK, this.unread);
    const buf = Buffer.allocUnsafe(n);
    const p = this.fh.read(buf, 0, n, this.readPos).then(({ bytesRead }) => {
      if (bytesRead === 0) throw cairnError('CAIRN_ERR_OBJ_CORRUPT', `${this.where}: object file ended ${this.unread} bytes early`);
      this.readPos += bytesRead;
      this.unread -= bytesRead;
      return bytesRead === n ? buf : buf.subarray(0, bytesRead);
    });
    p.catch(() => undefined); // a read ahead that nobody takes (destroyed stream) must not go unhandled
    return p;
  }

  override _read(): void {
    if (this.remaining === 0) {
      this.finishRead();
      return;
    }
    const p = this.ahead ?? this.readNext();
    this.ahead = undefined;
    p.then(
      (chunk) => {
        if (this.destroyed) return;
        // The next read starts before this chunk is verified, so that the check (CRC-32 on
        // this thread) overlaps the read instead of adding to it. A check that asks to wait
        // (an MD5 on a worker that fell behind; it copies, so memory stays bounded) holds
        // back the read after that.
        const wait = this.checkBehind;
        if (this.unread > 0) this.ahead = wait === undefined ? this.readNext() : this.readAfter(wait);
        this.checkBehind = this.check?.update(chunk);
        this.remaining -= chunk.length;
        this.onBytes(chunk.length);
        this.push(chunk);
      },
      (err) => this.destroy(fsError(err, this.where)),
    );
  }

  private readAfter(wait: Promise<void>): Promise<Buffer> {
    const p = wait.then(() => (this.destroyed ? Buffer.alloc(0) : this.readNext()));
    p.catch(() => undefined); // as in readNext
    return p;
  }

  /** Ends the stream once the check (if any) passed. */
  private finishRead(): void {
    if (this.finishing) return;
    this.finishing = true;
    const check = this.check;
    if (check === undefined) {
      this.push(null);
      return;
    }
    check.ok().then(
      (good) => {
        if (this.destroyed) return;
        if (good) this.push(null);
        else this.destroy(cairnError('CAIRN_ERR_OBJ_CORRUPT', `${this.where}: body does not match its ${check.kind}`));
      },
      (err: unknown) => this.destroy(fsError(err, this.where)),
    );
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.check?.discard();
    const ahead = this.ahead;
    this.ahead = undefined;
    // Close once a read still running has finished with the handle.
    void Promise.resolve(ahead?.catch(() => undefined)).then(() => this.fh.close()).then(() => cb(err), (closeErr) => cb(err ?? fsError(closeErr, this.where)));
  }
}

/** The chunks of a put body as Buffers, without copying buffers that already are. */
export async function* bodyChunks(body: PutBody, what: string): AsyncIterable<Buffer> {
  if (body instanceof Uint8Array) {
    yield Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return;
  }
  for await (const c of body as AsyncIterable<unknown>) {
    if (Buffer.isBuffer(c)) yield c;
    else if (c instanceof Uint8Array) yield Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    else if (typeof c === 'string') yield Buffer.from(c, 'utf8');
    else throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `${what}: body chunk is not bytes`);
  }
}
