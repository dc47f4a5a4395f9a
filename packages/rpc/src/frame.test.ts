import fc from 'fast-check';
import { isCairnError } from '@cairn/errors';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder } from './frame.js';

const MAX = 1 << 16;

function frames(bodies: Buffer[]): Buffer {
  return Buffer.concat(bodies.map((b) => encodeFrame(b, MAX)));
}

describe('encodeFrame', () => {
  it('writes the body length as u32 big-endian, then the body', () => {
    const f = encodeFrame(Buffer.from([0xaa, 0xbb, 0xcc]), MAX);
    expect([...f]).toEqual([0, 0, 0, 3, 0xaa, 0xbb, 0xcc]);
    expect(encodeFrame(Buffer.alloc(0x10203), 0x20000).subarray(0, 4)).toEqual(Buffer.from([0x00, 0x01, 0x02, 0x03]));
  });
  it('refuses empty and oversized bodies', () => {
    expect(() => encodeFrame(Buffer.alloc(0), MAX)).toThrow(/too large/);
    expect(() => encodeFrame(Buffer.alloc(MAX + 1), MAX)).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_RPC_FRAME_TOO_LARGE' }));
    expect(encodeFrame(Buffer.alloc(MAX), MAX).length).toBe(MAX + 4);
  });
});

describe('FrameDecoder', () => {
  it('returns every frame of a chunk holding many, in order', () => {
    const d = new FrameDecoder(MAX);
    const bodies = [Buffer.from('a'), Buffer.from('bc'), Buffer.from('def')];
    expect(d.push(frames(bodies))).toEqual(bodies);
    expect(d.partial).toBe(false);
  });

  it('assembles a frame delivered one byte at a time', () => {
    const d = new FrameDecoder(MAX);
    const wire = frames([Buffer.from('hello'), Buffer.from('world!')]);
    const got: Buffer[] = [];
    for (let i = 0; i < wire.length; i++) {
      got.push(...d.push(wire.subarray(i, i + 1)));
      if (i < 8) expect(got).toHaveLength(0);
    }
    expect(got.map(String)).toEqual(['hello', 'world!']);
    expect(d.partial).toBe(false);
    expect(d.bufferedBytes).toBe(0);
  });

  it('reports a partial frame while one is incomplete (header or body)', () => {
    const d = new FrameDecoder(MAX);
    expect(d.push(Buffer.from([0, 0]))).toEqual([]);
    expect(d.partial).toBe(true);
    expect(d.push(Buffer.from([0, 2, 9]))).toEqual([]);
    expect(d.partial).toBe(true);
    expect(d.push(Buffer.from([8]))).toEqual([Buffer.from([9, 8])]);
    expect(d.partial).toBe(false);
  });

  it('matches any split of any stream of frames (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 20 }),
        fc.array(fc.nat(400), { maxLength: 30 }),
        (raw, cuts) => {
          const bodies = raw.map((b) => Buffer.from(b));
          const wire = frames(bodies);
          const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
          const d = new FrameDecoder(MAX);
          const got: Buffer[] = [];
          let last = 0;
          for (const p of [...points, wire.length]) {
            got.push(...d.push(wire.subarray(last, p)));
            last = p;
          }
          expect(got).toEqual(bodies);
          expect(d.partial).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses a length above the limit as soon as the header is in, and stays failed', () => {
    const d = new FrameDecoder(1024);
    const hdr = Buffer.alloc(4);
    hdr.writeUInt32BE(1025);
    let err: unknown;
    try {
      d.push(hdr);
    } catch (e) {
      err = e;
    }
    expect(isCairnError(err, 'CAIRN_ERR_RPC_FRAME_TOO_LARGE')).toBe(true);
    expect(() => d.push(Buffer.from([1]))).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_RPC_BAD_FRAME' }));
  });

  it('refuses a zero length and a huge garbage length', () => {
    expect(() => new FrameDecoder(MAX).push(Buffer.from([0, 0, 0, 0, 1]))).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_RPC_BAD_FRAME' }));
    expect(() => new FrameDecoder(MAX).push(Buffer.from('GET / HTTP/1.1\r\n'))).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_RPC_FRAME_TOO_LARGE' }));
  });

  it('hands out bodies that stay intact when later chunks arrive', () => {
    const d = new FrameDecoder(MAX);
    const wire = frames([Buffer.from('first-body'), Buffer.from('second')]);
    const a = d.push(wire.subarray(0, 9)); // header + part of the first body
    const b = d.push(wire.subarray(9, 20));
    const c = d.push(wire.subarray(20));
    expect([...a, ...b, ...c].map(String)).toEqual(['first-body', 'second']);
  });
});
