// The file-system operations the replay log uses, behind one small interface so
// that tests can count, delay or fail them (an instrumented layer wraps
// `nodeIo`). Every write is positioned: the log never relies on O_APPEND or a
// shared file offset.

import { constants, promises as fsp, writeSync, writevSync } from 'node:fs';
import { cairnError } from '@cairn/errors';
import { dirname } from 'node:path';

/** An open log file. */
export interface LogFile {
  readonly path: string;
  /** Reads up to `length` bytes at `position` into `buf[offset..]`; returns the count (0 at EOF). */
  read(buf: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** Writes `buffers` at `position`; returns the bytes written (possibly fewer). */
  writev(buffers: readonly Buffer[], position: number): Promise<number>;
  /** fdatasync(2): data and the metadata needed to read it back (the size). */
  datasync(): Promise<void>;
  /** fsync(2). */
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
}

export interface LogIo {
  /** Creates `dir` and missing parents; returns the created directories, outermost first. */
  mkdirs(dir: string): Promise<string[]>;
  /** Names in `dir`. */
  list(dir: string): Promise<string[]>;
  /** 'read': read only; 'write': read-write, existing file; 'create': read-write, created or emptied. */
  open(path: string, mode: 'read' | 'write' | 'create'): Promise<LogFile>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** fsync(2) of a directory, making created, renamed and deleted names durable. */
  syncDir(dir: string): Promise<void>;
}

/** Writes up to this many bytes run synchronously (NodeLogFile.writev). */
const SYNC_WRITE_BYTES = 256 * 1024;

class NodeLogFile implements LogFile {
  constructor(
    readonly path: string,
    private readonly fh: fsp.FileHandle,
  ) {}

  async read(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    return (await this.fh.read(buf, offset, length, position)).bytesRead;
  }

  async writev(buffers: readonly Buffer[], position: number): Promise<number> {
    let bytes = 0;
    for (const b of buffers) bytes += b.length;
    if (bytes <= SYNC_WRITE_BYTES) {
      // A small write only copies into the page cache (the fdatasync after it
      // is what waits for the disk): done here, it costs less than handing it
      // to the thread pool and waking the loop again.
      if (buffers.length === 1) return writeSync(this.fh.fd, buffers[0]!, 0, buffers[0]!.length, position);
      return writevSync(this.fh.fd, buffers as Buffer[], position);
    }
    if (buffers.length === 1) return (await this.fh.write(buffers[0]!, 0, buffers[0]!.length, position)).bytesWritten;
    return (await this.fh.writev(buffers as Buffer[], position)).bytesWritten;
  }

  datasync(): Promise<void> {
    return this.fh.datasync();
  }

  sync(): Promise<void> {
    return this.fh.sync();
  }

  truncate(length: number): Promise<void> {
    return this.fh.truncate(length);
  }

  async size(): Promise<number> {
    return (await this.fh.stat()).size;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** The real file system (node:fs). */
export const nodeIo: LogIo = {
  async mkdirs(dir) {
    const first = await fsp.mkdir(dir, { recursive: true });
    if (first === undefined) return [];
    const created: string[] = [];
    for (let d = dir; ; d = dirname(d)) {
      created.unshift(d);
      if (d === first || dirname(d) === d) break;
    }
    return created;
  },
  list(dir) {
    return fsp.readdir(dir);
  },
  async open(path, mode) {
    const flags =
      mode === 'read' ? constants.O_RDONLY
      : mode === 'write' ? constants.O_RDWR
      : constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC;
    return new NodeLogFile(path, await fsp.open(path, flags, 0o644));
  },
  rename(from, to) {
    return fsp.rename(from, to);
  },
  unlink(path) {
    return fsp.unlink(path);
  },
  async syncDir(dir) {
    const fh = await fsp.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
};

/** Writes every byte of `buffers` at `position`, continuing after short writes. */
export async function writeFully(file: LogFile, buffers: readonly Buffer[], position: number): Promise<void> {
  let rest = buffers.filter((b) => b.length > 0);
  let pos = position;
  while (rest.length > 0) {
    let n = await file.writev(rest, pos);
    if (n <= 0) throw cairnError('CAIRN_ERR_LOG_IO', `write of ${file.path} at ${pos} made no progress`);
    pos += n;
    while (rest.length > 0 && n >= rest[0]!.length) n -= rest.shift()!.length;
    if (rest.length > 0 && n > 0) rest = [rest[0]!.subarray(n), ...rest.slice(1)];
  }
}

/** Reads exactly `length` bytes at `position` (fewer only at end of file). */
export async function readFully(file: LogFile, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const n = await file.read(buf, offset + done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** The same file system with every fsync/fdatasync skipped (ReplayLogOptions.fsync = false). */
export function unsyncedIo(io: LogIo): LogIo {
  const wrap = (f: LogFile): LogFile => ({
    path: f.path,
    read: (b, o, l, p) => f.read(b, o, l, p),
    writev: (b, p) => f.writev(b, p),
    datasync: async () => undefined,
    sync: async () => undefined,
    truncate: (l) => f.truncate(l),
    size: () => f.size(),
    close: () => f.close(),
  });
  return {
    mkdirs: (d) => io.mkdirs(d),
    list: (d) => io.list(d),
    open: async (p, m) => wrap(await io.open(p, m)),
    rename: (a, b) => io.rename(a, b),
    unlink: (p) => io.unlink(p),
    syncDir: async () => undefined,
  };
}
