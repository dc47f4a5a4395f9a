// Length-prefixed framing: every message on the wire is
//
//   frame := length:u32be body[length]
//
// where body is one msgpack value (docs/formats.md, "RPC wire protocol"). A
// length of 0 or above the receiver's maxFrameBytes is a protocol violation:
// the decoder throws and the connection is closed (the length cannot be
// trusted, so nothing after it can be parsed).

import { cairnError } from '@cairn/errors';
import { FRAME_HEADER_BYTES, MAX_FRAME_BYTES_LIMIT } from './format.js';

/** Checks a configured frame limit (at least 1 KiB, at most MAX_FRAME_BYTES_LIMIT). */
export function checkMaxFrameBytes(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1024 || n > MAX_FRAME_BYTES_LIMIT) {
    throw cairnError('CAIRN_ERR_CONFIG_INVALID', `maxFrameBytes must be an integer in 1024..${MAX_FRAME_BYTES_LIMIT}, got ${n}`);
  }
  return n;
}

/** Throws CAIRN_ERR_RPC_FRAME_TOO_LARGE unless a body of `length` bytes may be sent (1..maxFrameBytes). */
export function checkFrameBody(length: number, maxFrameBytes: number): void {
  if (length <= 0 || length > maxFrameBytes) throw cairnError('CAIRN_ERR_RPC_FRAME_TOO_LARGE', `${length} bytes (limit ${maxFrameBytes})`);
}

/**
 * One frame: the 4-byte header followed by `body`. Fails with
 * CAIRN_ERR_RPC_FRAME_TOO_LARGE when the body is empty or longer than maxFrameBytes
 * (the peer would refuse it and close the connection).
 */
export function encodeFrame(body: Uint8Array, maxFrameBytes: number): Buffer {
  checkFrameBody(body.length, maxFrameBytes);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Splits a byte stream into frame bodies. push() takes chunks as they arrive
 * (any split: a frame across many chunks, many frames in one chunk) and returns
 * the bodies completed by that chunk, in order. A body that lies inside one
 * chunk is a view of it (no copy); one that spans chunks is copied once.
 *
 * A bad length throws CAIRN_ERR_RPC_BAD_FRAME (zero) or
 * CAIRN_ERR_RPC_FRAME_TOO_LARGE (over the limit); the decoder is then unusable
 * and the connection must be closed.
 */
export class FrameDecoder {
  private readonly chunks: Buffer[] = [];
  /** Read offset into chunks[0]. */
  private head = 0;
  /** Unread bytes held. */
  private held = 0;
  /** Body length of the frame being assembled, or -1 while its header is incomplete. */
  private need = -1;
  private failed = false;

  constructor(private readonly maxFrameBytes: number) {}

  /** True while part of a frame is held (for the frame timeout). */
  get partial(): boolean {
    return this.held > 0 || this.need >= 0;
  }

  /** Bytes held for the incomplete frame. */
  get bufferedBytes(): number {
    return this.held;
  }

  push(chunk: Buffer): Buffer[] {
    if (this.failed) throw cairnError('CAIRN_ERR_RPC_BAD_FRAME', 'decoder already failed');
    const out: Buffer[] = [];
    if (chunk.length === 0) return out;
    this.chunks.push(chunk);
    this.held += chunk.length;
    for (;;) {
      if (this.need < 0) {
        if (this.held < FRAME_HEADER_BYTES) break;
        const n = this.take(FRAME_HEADER_BYTES).readUInt32BE(0);
        if (n === 0) {
          this.failed = true;
          throw cairnError('CAIRN_ERR_RPC_BAD_FRAME', 'zero-length frame');
        }
        if (n > this.maxFrameBytes) {
          this.failed = true;
          throw cairnError('CAIRN_ERR_RPC_FRAME_TOO_LARGE', `${n} bytes announced (limit ${this.maxFrameBytes})`);
        }
        this.need = n;
      }
      if (this.held < this.need) break;
      out.push(this.take(this.need));
      this.need = -1;
    }
    return out;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length - this.head >= n) {
      const view = first.subarray(this.head, this.head + n);
      this.advance(first, n);
      return view;
    }
    const copy = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length - this.head, n - off);
      c.copy(copy, off, this.head, this.head + k);
      off += k;
      this.advance(c, k);
    }
    return copy;
  }

  private advance(c: Buffer, k: number): void {
    this.head += k;
    this.held -= k;
    if (this.head === c.length) {
      this.chunks.shift();
      this.head = 0;
    }
  }
}
