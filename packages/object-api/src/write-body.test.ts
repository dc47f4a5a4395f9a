import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BodyDigests } from './digests.js';
import { WRITE_CHUNK, writeBody } from './objects.js';

async function* pieces(b: Buffer, n: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < b.length; at += n) yield b.subarray(at, Math.min(b.length, at + n));
}

/** A sink that copies what it is given and notes each write's size and backing buffer. */
function copyingSink() {
  const got: Buffer[] = [];
  const backing = new Set<ArrayBufferLike>();
  const sizes: number[] = [];
  let next = 0;
  return {
    got, backing, sizes,
    async write(at: number, data: Uint8Array): Promise<void> {
      expect(at).toBe(next);
      next += data.length;
      sizes.push(data.length);
      backing.add(data.buffer);
      got.push(Buffer.from(data));
    },
  };
}

describe('writeBody', () => {
  it('into a sink that copies: WRITE_CHUNK writes from one reused gather buffer, bytes and MD5 intact', async () => {
    const body = randomBytes(3 * WRITE_CHUNK + 12_345);
    const sink = copyingSink();
    const d = new BodyDigests();
    const n = await writeBody(sink, pieces(body, 64 * 1024 + 7), d, body.length, 0, true);
    expect(n).toBe(body.length);
    expect(Buffer.concat(sink.got).equals(body)).toBe(true);
    expect(sink.sizes.slice(0, 3)).toEqual([WRITE_CHUNK, WRITE_CHUNK, WRITE_CHUNK]);
    // Every full write came from the same gather buffer (no fresh WRITE_CHUNK buffer per write).
    expect(sink.backing.size).toBeLessThanOrEqual(2);
    expect((await d.finish()).md5Hex).toBe(createHash('md5').update(body).digest('hex'));
  });

  it('into a sink that keeps what it is given: every write is a buffer of its own', async () => {
    const body = randomBytes(2 * WRITE_CHUNK + 99);
    const kept: Uint8Array[] = [];
    const d = new BodyDigests();
    await writeBody({ write: async (_at, data) => { kept.push(data); } }, pieces(body, 64 * 1024), d, body.length);
    expect(Buffer.concat(kept).equals(body)).toBe(true);
    expect(new Set(kept.map((k) => k.buffer)).size).toBe(kept.length);
    d.discard();
  });

  it('chunks larger than WRITE_CHUNK pass through whole, small bodies in one write', async () => {
    const big = randomBytes(2 * WRITE_CHUNK + 5);
    const sink = copyingSink();
    const d = new BodyDigests();
    await writeBody(sink, pieces(big, big.length), d, big.length, 0, true);
    expect(Buffer.concat(sink.got).equals(big)).toBe(true);
    expect(sink.sizes).toEqual([big.length]);
    d.discard();
    const small = randomBytes(5000);
    const s2 = copyingSink();
    const d2 = new BodyDigests();
    await writeBody(s2, pieces(small, 1000), d2, small.length, 0, true);
    expect(Buffer.concat(s2.got).equals(small)).toBe(true);
    expect(s2.sizes).toEqual([5000]);
    d2.discard();
  });
});
