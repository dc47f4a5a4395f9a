// File I/O helpers of the fs backend: error mapping, directory fsync, reading an
// object's header, streaming a byte range out of an object file, and walking a
// put body chunk by chunk.

import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { cairnError, isCairnError, type CairnError } from '@cairn/errors';
import type { PutBody } from '../types.js';
import { HEADER_PROBE_BYTES, decodeHeader, headerLength, type ObjectHeader } from './fs-format.js';

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

/** Makes a directory's entries durable (after a create, rename, link or unlink in it). */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Reads and verifies the header of an open object file, and checks that the file
 * is exactly header + body long (a short file is a torn or damaged object).
 */
export async function readHeader(fh: FileHandle, name: string, where: string): Promise<ObjectHeader> {
  const probe = Buffer.allocUnsafe(HEADER_PROBE_BYTES);
  const { bytesRead } = await fh.read(probe, 0, probe.length, 0);
  let buf = probe.subarray(0, bytesRead);
  const length = headerLength(buf, where);
  if (length > bytesRead) {
    buf = Buffer.allocUnsafe(length);
    const r = await fh.read(buf, 0, length, 0);
    buf = buf.subarray(0, r.bytesRead);
  }
  const h = decodeHeader(buf, where);
  if (h.name !== name) throw cairnError('CAIRN_ERR_OBJ_CORRUPT', `${where}: file holds object ${JSON.stringify(h.name)}`);
  const { size } = await fh.stat();
  if (size !== h.headerLength + h.size) {
    throw cairnError('CAIRN_ERR_OBJ_CORRUPT', `${where}: file is ${size} bytes, header says ${h.headerLength} + ${h.size}`);
  }
  return h;
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

const READ_CHUNK = 1024 * 1024;

/**
 * Streams `length` body bytes from file position `start` of an open object, then
 * closes the handle. The handle pins the inode, so a concurrent overwrite or
 * delete does not change what this stream returns. When `md5` is given (a
 * whole-object read) the bytes are hashed and a mismatch fails the stream with
 * CAIRN_ERR_OBJ_CORRUPT instead of ending it.
 */
export class FileRangeStream extends Readable {
  private pos: number;
  private remaining: number;
  private readonly hash: Hash | undefined;

  constructor(
    private readonly fh: FileHandle,
    start: number,
    length: number,
    private readonly md5: Buffer | undefined,
    private readonly where: string,
    private readonly onBytes: (n: number) => void,
  ) {
    super({ highWaterMark: READ_CHUNK });
    this.pos = start;
    this.remaining = length;
    this.hash = md5 ? createHash('md5') : undefined;
  }

  override _read(): void {
    if (this.remaining === 0) {
      this.finishRead();
      return;
    }
    const n = Math.min(READ_CHUNK, this.remaining);
    const buf = Buffer.allocUnsafe(n);
    this.fh.read(buf, 0, n, this.pos).then(
      ({ bytesRead }) => {
        if (this.destroyed) return;
        if (bytesRead === 0) {
          this.destroy(cairnError('CAIRN_ERR_OBJ_CORRUPT', `${this.where}: object file ended ${this.remaining} bytes early`));
          return;
        }
        const chunk = bytesRead === n ? buf : buf.subarray(0, bytesRead);
        this.pos += bytesRead;
        this.remaining -= bytesRead;
        this.hash?.update(chunk);
        this.onBytes(bytesRead);
        this.push(chunk);
      },
      (err) => this.destroy(fsError(err, this.where)),
    );
  }

  private finishRead(): void {
    if (this.hash && !this.hash.digest().equals(this.md5!)) {
      this.destroy(cairnError('CAIRN_ERR_OBJ_CORRUPT', `${this.where}: body does not match its MD5`));
      return;
    }
    this.push(null);
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.fh.close().then(() => cb(err), (closeErr) => cb(err ?? fsError(closeErr, this.where)));
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
