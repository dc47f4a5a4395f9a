// Sequential-stream detection and the read-ahead window of the read cache.
//
// Each object remembers where its last few readers' reads ended (its streams);
// a read that starts exactly there continues that stream. A stream fetches
// ahead of its reader in one ranged GET per step: the window starts at
// `initialLines` and doubles, up to `maxLines`, each time the reader has used
// half of what was fetched ahead, so a long sequential read soon has large GETs
// in flight and the next one starts before the previous one ends. Read-ahead
// never reaches past the end of the object (once a GET told its size).
//
// A file's bytes continue in another segment where one ends, and the next
// object is only known when the reader gets there. So a stream that reaches
// the end of its object hands its window on: the next cold read at a line
// boundary of an object nobody reads starts with that window, fetching the
// new segment in one large GET instead of growing a window again.
//
// When the caller says where the bytes continue (the file's next extents), the
// window reaches across: once the rest of the current range is shorter than the
// window, the start of the next range is fetched ahead for the stream its
// reader will continue there, in steps of at least half a window. The next
// segment's GET (and its first-byte latency) then overlaps the current one.

/** A sequential reader of one object. */
export interface Stream {
  /** Byte offset where its previous read ended. */
  next: number;
  /** First line not yet fetched for it. */
  frontier: number;
  /** Current read-ahead window in lines (0: nothing fetched ahead yet). */
  window: number;
  /** When it last read (ms, performance.now()). */
  lastReadAt: number;
  /** Its window was handed on at the end of the object. */
  handedOn: boolean;
}

/** Streams remembered per object (concurrent readers of one segment). */
const STREAMS_PER_OBJECT = 4;
/** A stream that has not read for this long no longer protects what it fetched ahead. */
export const STREAM_IDLE_MS = 1000;

export class ObjectState {
  /** Whole object size, once a GET told it. */
  size: number | undefined = undefined;
  /** Least recently used first. */
  private readonly streams: Stream[] = [];

  /**
   * Records a read of [offset, offset+length) and returns its stream and
   * whether the read continues it (starts where the stream's previous read ended).
   */
  track(offset: number, length: number, lastLine: number, now: number): { stream: Stream; sequential: boolean } {
    const i = this.streams.findIndex((s) => s.next === offset);
    let stream: Stream;
    if (i >= 0) {
      stream = this.streams[i]!;
      this.streams.splice(i, 1);
    } else {
      stream = { next: 0, frontier: lastLine + 1, window: 0, lastReadAt: now, handedOn: false };
      if (this.streams.length >= STREAMS_PER_OBJECT) this.streams.shift();
    }
    this.streams.push(stream);
    stream.next = offset + length;
    stream.lastReadAt = now;
    return { stream, sequential: i >= 0 };
  }

  /**
   * The stream a reader continuing at `offset` of this object will find (a
   * file's bytes continue here after another range): found or made, with
   * `window` and, for a new one, nothing fetched yet (frontier: the line of offset).
   */
  expect(offset: number, line: number, window: number, now: number): Stream {
    let stream = this.streams.find((s) => s.next === offset);
    if (stream === undefined) {
      stream = { next: offset, frontier: line, window, lastReadAt: now, handedOn: false };
      if (this.streams.length >= STREAMS_PER_OBJECT) this.streams.shift();
      this.streams.push(stream);
    }
    stream.window = Math.max(stream.window, window);
    stream.lastReadAt = now;
    return stream;
  }
}

export interface WindowLimits {
  /** First window in lines (0 disables read-ahead). */
  readonly initialLines: number;
  /** Largest window in lines. */
  readonly maxLines: number;
}

/**
 * The lines [from, to) a sequential read that ended in line `last` should
 * fetch ahead, or undefined. Moves the stream's frontier to `to` (the caller
 * moves it back if it fetches less). `endLine`: the object's last line, if known.
 * `missed`: some line of the read itself was not cached (what was fetched ahead
 * is gone, or never was), so the frontier restarts after the read.
 */
export function readAheadRange(s: Stream, last: number, limits: WindowLimits, endLine: number | undefined, missed: boolean): { from: number; to: number } | undefined {
  if (limits.initialLines === 0) return undefined;
  if (missed || s.frontier <= last) s.frontier = last + 1;
  const ahead = s.frontier - (last + 1);
  if (s.window > 0 && ahead * 2 > s.window) return undefined;
  s.window = s.window === 0 ? Math.min(limits.initialLines, limits.maxLines) : Math.min(s.window * 2, limits.maxLines);
  let to = last + 1 + s.window;
  if (endLine !== undefined) to = Math.min(to, endLine + 1);
  if (to <= s.frontier) return undefined;
  const from = s.frontier;
  s.frontier = to;
  return { from, to };
}

/** Whether a line fetched ahead for `s` may still be needed by its reader. */
export function streamWants(s: Stream, lineEnd: number, now: number): boolean {
  return now - s.lastReadAt < STREAM_IDLE_MS && lineEnd > s.next;
}

/** Windows of streams that reached the end of their object, for the next object they continue in. */
export class Handoffs {
  private readonly pending: Array<{ window: number; at: number }> = [];

  /** A stream with a window reached the end of its object. */
  offer(window: number, now: number): void {
    if (this.pending.length >= STREAMS_PER_OBJECT) this.pending.shift();
    this.pending.push({ window, at: now });
  }

  /** Takes the window of the most recent offer still fresh; undefined if none. */
  take(now: number): number | undefined {
    while (this.pending.length > 0) {
      const h = this.pending.pop()!;
      if (now - h.at < STREAM_IDLE_MS) return h.window;
    }
    return undefined;
  }
}
