// Read-ahead for one open file. The kernel reads a FUSE 2 file 128 KiB at a
// time; answering each with its own RPC caps a sequential read at 128 KiB per
// round trip. A read that continues where the last one ended (or starts the
// file) fetches a whole window (1 MiB by default) instead, and once a read
// passes the middle of a window the next window is fetched in the
// background, so a stream keeps one RPC ahead. Other reads go straight to the
// server.
//
// The windows belong to the open file (close-to-open consistency, as NFS):
// changes made through this mount drop them (invalidate()), changes made
// elsewhere show at the next open.

/** Fetches up to `length` bytes at `offset` (fewer at the end of the file). */
export type FetchRange = (offset: number, length: number) => Promise<Buffer>;

interface Window {
  readonly start: number;
  readonly size: number;
  readonly data: Promise<Buffer>;
}

/** Windows kept per open file (behind, current, ahead). */
const MAX_WINDOWS = 3;

export class ReadAhead {
  private windows: Window[] = [];
  private lastEnd = 0;
  private epoch = 0;

  constructor(
    private readonly fetch: FetchRange,
    /** Window size (bytes); 0: no read-ahead. */
    private readonly windowBytes: number,
  ) {}

  /** Drops every window (the file changed through this mount). */
  invalidate(): void {
    this.windows = [];
    this.epoch++;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    if (this.windowBytes <= 0 || length >= this.windowBytes) return this.fetch(offset, length);
    let w = this.find(offset);
    if (!w) {
      if (offset !== this.lastEnd) {
        this.lastEnd = offset + length;
        return this.fetch(offset, length);
      }
      w = this.open(offset);
    }
    const epoch = this.epoch;
    let data: Buffer;
    try {
      data = await w.data;
    } catch (err) {
      this.windows = this.windows.filter((x) => x !== w);
      throw err;
    }
    if (epoch !== this.epoch) return this.fetch(offset, length);
    const rel = offset - w.start;
    let out = data.subarray(rel, rel + length);
    const full = data.length === w.size;
    if (full && out.length < length) {
      // The request runs past this window into the next one.
      const rest = await this.read(offset + out.length, length - out.length);
      out = Buffer.concat([out, rest]);
    }
    this.lastEnd = offset + out.length;
    if (full && offset + length > w.start + w.size / 2 && !this.find(w.start + w.size)) this.open(w.start + w.size);
    return out;
  }

  private find(offset: number): Window | undefined {
    return this.windows.find((w) => w.start <= offset && offset < w.start + w.size);
  }

  private open(start: number): Window {
    const w: Window = { start, size: this.windowBytes, data: this.fetch(start, this.windowBytes) };
    // A failed background fetch is reported to the read that needs it, not here.
    w.data.catch(() => undefined);
    this.windows.push(w);
    if (this.windows.length > MAX_WINDOWS) this.windows.shift();
    return w;
  }
}
