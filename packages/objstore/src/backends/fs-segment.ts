// OpenSegment for the fs backend: appends stream into a temp file in order (one
// write at a time, each append resolving once its bytes reached the file, which
// is the backpressure); close() writes the header, fsyncs and publishes the
// object atomically; abort() removes the temp file. Nothing is visible under the
// segment's name before close() resolves.

import { cairnError } from '@cairn/errors';
import type { ObjectInfo, OpenSegment } from '../types.js';
import { ObjectWriter, publish } from './fs-write.js';

/** What a segment needs from its store. */
export interface SegmentHost {
  readonly root: string;
  readonly tempDir: string;
  readonly fsync: boolean;
  /** Resolves once the store finished opening (and fails if it could not). */
  ready(): Promise<void>;
  /** Runs one counted request (stats, closed-store check, error mapping). */
  request<T>(what: string, fn: () => Promise<T>): Promise<T>;
  countBytesOut(n: number): void;
  segmentFinished(seg: FsSegment): void;
}

type State = 'open' | 'closing' | 'closed' | 'aborted' | 'failed';

export class FsSegment implements OpenSegment {
  private state: State = 'open';
  private writer: Promise<ObjectWriter> | undefined;
  /** The chain of appends: each write starts after the previous one finished. */
  private tail: Promise<void> = Promise.resolve();
  private failure: unknown;
  private closing: Promise<ObjectInfo> | undefined;
  bytesAppended = 0;
  bytesSent = 0;

  constructor(
    private readonly host: SegmentHost,
    readonly container: string,
    readonly name: string,
    private readonly finalPath: string,
    private readonly maxSize: number,
    private readonly meta: Readonly<Record<string, string>> | undefined,
  ) {}

  private get what(): string {
    return `${this.container}/${this.name}`;
  }

  append(chunk: Uint8Array): Promise<void> {
    if (this.state !== 'open') return Promise.reject(this.closedError());
    if (this.bytesAppended + chunk.length > this.maxSize) {
      return Promise.reject(cairnError('CAIRN_ERR_OBJ_TOO_LARGE', `${this.what}: segment limit ${this.maxSize} bytes`));
    }
    this.bytesAppended += chunk.length;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const run = this.tail.then(async () => {
      if (this.failure !== undefined) throw this.failure;
      if (this.state === 'aborted') throw this.closedError();
      try {
        const w = await this.openWriter();
        await w.write(buf);
        await w.flush();
        this.bytesSent += buf.length;
      } catch (err) {
        this.failure ??= err;
        throw err;
      }
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  close(): Promise<ObjectInfo> {
    if (this.state !== 'open') return Promise.reject(this.closedError());
    this.state = 'closing';
    this.closing = this.host.request(this.what, async () => {
      try {
        await this.tail;
        if (this.failure !== undefined) throw this.failure;
        const w = await this.openWriter();
        const h = await w.finish(this.host.fsync);
        await publish(w.tempPath, this.finalPath, this.host.root, false, this.host.fsync, this.what);
        w.published();
        this.host.countBytesOut(h.size);
        this.state = 'closed';
        return { name: this.name, size: h.size, etag: h.md5.toString('hex'), mtime: h.mtime, meta: { ...h.meta } };
      } catch (err) {
        this.state = 'failed';
        await this.discardWriter();
        throw err;
      } finally {
        this.host.segmentFinished(this);
      }
    });
    return this.closing;
  }

  async abort(): Promise<void> {
    if (this.state === 'closing') {
      await this.closing!.catch(() => undefined);
      return;
    }
    if (this.state !== 'open') return;
    this.state = 'aborted';
    await this.tail;
    await this.discardWriter();
    this.host.segmentFinished(this);
  }

  private openWriter(): Promise<ObjectWriter> {
    this.writer ??= this.host.ready().then(() => ObjectWriter.create(this.host.tempDir, this.name, this.meta));
    return this.writer;
  }

  private async discardWriter(): Promise<void> {
    const w = this.writer;
    if (!w) return;
    await w.then((x) => x.discard(), () => undefined);
  }

  private closedError(): Error {
    return cairnError('CAIRN_ERR_OBJ_SEGMENT_CLOSED', `${this.what} (${this.state})`);
  }
}
