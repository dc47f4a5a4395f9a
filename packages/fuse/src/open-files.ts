// The mount's open files. The kernel gets a small number per open (fuse-native
// passes it as a u32 and treats 0 as "none"); behind it sit the RPC handle
// (fh), the inode, the access mode, and the file's write-behind and
// read-ahead state.
//
// If the client had to mount again (the server restarted or forgot it), every
// RPC handle is gone and the server answers EBADF: the file is then opened
// again with the same access mode and the call is repeated once.

import { cairnError, isCairnError } from '@cairn/errors';
import type { CairnClient, Credentials } from '@cairn/rpc';
import { ReadAhead } from './read-ahead.js';
import { WriteBehind, type WriteBudget } from './write-behind.js';

export interface AccessMode {
  readonly read: boolean;
  readonly write: boolean;
  readonly append: boolean;
}

export interface OpenFileOptions {
  readonly readAheadBytes: number;
  readonly writeChunkBytes: number;
  readonly writeDelayMs: number;
  readonly writeBehind: boolean;
  /** Called after every write RPC of inode `ino` ended (its attributes changed). */
  readonly onWritten?: (ino: number) => void;
}

export class OpenFile {
  readonly writer: WriteBehind;
  readonly reader: ReadAhead;
  /** True once a write came through this open file (close then asks the server for lost writes). */
  wrote = false;
  /** True once a read came through this open file (the server may have moved its atime). */
  readFrom = false;
  private reopening: Promise<number> | undefined;

  constructor(
    readonly id: number,
    readonly ino: number,
    private fhNow: number,
    readonly mode: AccessMode,
    private readonly client: CairnClient,
    budget: WriteBudget,
    options: OpenFileOptions,
    private readonly onWritten: (ino: number) => void,
  ) {
    const ioMax = client.mount.maxIoBytes;
    this.writer = new WriteBehind(
      (offset, data, cred) => this.writeRpc(offset, data, cred),
      budget,
      { chunkBytes: Math.min(options.writeChunkBytes, ioMax), delayMs: options.writeDelayMs, enabled: options.writeBehind && !mode.append },
    );
    this.reader = new ReadAhead((offset, length) => this.readRpc(offset, length), Math.min(options.readAheadBytes, ioMax));
  }

  get fh(): number {
    return this.fhNow;
  }

  /** Runs `call` with the RPC handle; reopens once when the handle is gone (EBADF after a re-mount). */
  async withFh<T>(call: (fh: number) => Promise<T>): Promise<T> {
    const fh = this.fhNow;
    try {
      return await call(fh);
    } catch (err) {
      if (!isCairnError(err, 'CAIRN_ERR_FS_BAD_HANDLE')) throw err;
      return call(await this.reopen(fh));
    }
  }

  private reopen(stale: number): Promise<number> {
    if (this.fhNow !== stale) return Promise.resolve(this.fhNow);
    this.reopening ??= this.client
      .open({ ino: this.ino, read: this.mode.read, write: this.mode.write, append: this.mode.append })
      .then(
        (r) => {
          this.fhNow = r.fh;
          this.reopening = undefined;
          return r.fh;
        },
        (err: unknown) => {
          this.reopening = undefined;
          throw err;
        },
      );
    return this.reopening;
  }

  private async writeRpc(offset: number, data: Buffer, cred: Credentials | undefined): Promise<void> {
    const max = this.client.mount.maxIoBytes;
    try {
      for (let done = 0; done < data.length; ) {
        const part = data.subarray(done, done + max);
        const r = await this.withFh((fh) => this.client.write({ ino: this.ino, offset: offset + done, data: part, fh }, cred ? { cred } : {}));
        if (r.written !== part.length && !this.mode.append) throw cairnError('CAIRN_ERR_FS_IO', `short write: ${r.written} of ${part.length} bytes`);
        done += part.length;
      }
    } finally {
      this.onWritten(this.ino);
    }
  }

  private async readRpc(offset: number, length: number): Promise<Buffer> {
    const r = await this.withFh((fh) => this.client.read({ ino: this.ino, offset, length, fh }));
    return r.data;
  }
}

const MAX_ID = 0x7fff_ffff;
/** Inodes whose last write completion is remembered (see settledSince). */
const MAX_WRITE_MARKS = 65_536;

/**
 * Whether attributes the server sent may be cached: not while the file has
 * writes queued or in flight, nor when a write of it completed after the
 * request left (the answer may predate the write).
 */
export interface WriteClock {
  /** Increases at every completed write RPC; read it before a request whose answer carries attributes. */
  readonly clock: number;
  settledSince(ino: number, since: number): boolean;
}

export class OpenFiles implements WriteClock {
  private readonly byId = new Map<number, OpenFile>();
  private readonly byIno = new Map<number, Set<OpenFile>>();
  private nextId = 1;

  constructor(
    private readonly client: CairnClient,
    private readonly budget: WriteBudget,
    private readonly options: OpenFileOptions,
  ) {}

  private readonly background = new Set<Promise<void>>();
  private writeClock = 0;
  private readonly lastWrite = new Map<number, number>();

  get clock(): number {
    return this.writeClock;
  }

  settledSince(ino: number, since: number): boolean {
    if ((this.lastWrite.get(ino) ?? 0) > since) return false;
    const set = this.byIno.get(ino);
    if (set) for (const f of set) if (f.writer.busy) return false;
    return true;
  }

  private written(ino: number): void {
    this.writeClock++;
    this.lastWrite.delete(ino);
    this.lastWrite.set(ino, this.writeClock);
    if (this.lastWrite.size > MAX_WRITE_MARKS) {
      const oldest = this.lastWrite.keys().next();
      if (!oldest.done) this.lastWrite.delete(oldest.value);
    }
    this.options.onWritten?.(ino);
  }

  get size(): number {
    return this.byId.size;
  }

  /** Keeps track of work finishing after its FUSE answer (releases); idle() waits for it. */
  track(work: Promise<void>): void {
    const p = work.finally(() => this.background.delete(p));
    this.background.add(p);
  }

  /** Waits for tracked background work. */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.all([...this.background]);
  }

  add(ino: number, fh: number, mode: AccessMode): OpenFile {
    while (this.byId.has(this.nextId)) this.nextId = this.nextId >= MAX_ID ? 1 : this.nextId + 1;
    const file = new OpenFile(this.nextId, ino, fh, mode, this.client, this.budget, this.options, (i) => this.written(i));
    this.nextId = this.nextId >= MAX_ID ? 1 : this.nextId + 1;
    this.byId.set(file.id, file);
    let set = this.byIno.get(ino);
    if (!set) this.byIno.set(ino, (set = new Set()));
    set.add(file);
    return file;
  }

  get(id: number): OpenFile | undefined {
    return this.byId.get(id);
  }

  remove(file: OpenFile): void {
    this.byId.delete(file.id);
    const set = this.byIno.get(file.ino);
    set?.delete(file);
    if (set?.size === 0) this.byIno.delete(file.ino);
  }

  all(): OpenFile[] {
    return [...this.byId.values()];
  }

  /**
   * Waits until no write of inode `ino` is queued or in flight (failures stay
   * for their file's next report); true when there was something to wait for.
   */
  async settle(ino: number): Promise<boolean> {
    const set = this.byIno.get(ino);
    if (!set) return false;
    let waited = false;
    for (const f of set) {
      if (!f.writer.busy) continue;
      waited = true;
      await f.writer.settle();
    }
    return waited;
  }

  /** The end of the furthest byte of `ino` that open files queued or have in flight (0: none). */
  pendingEnd(ino: number): number {
    let end = 0;
    const set = this.byIno.get(ino);
    if (set) for (const f of set) end = Math.max(end, f.writer.pendingEnd);
    return end;
  }

  /** Drops the read-ahead of every open file of `ino` (its contents changed). */
  invalidateReads(ino: number): void {
    const set = this.byIno.get(ino);
    if (set) for (const f of set) f.reader.invalidate();
  }
}
