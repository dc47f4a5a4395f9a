// BodyDigests: the MD5 of a body (small ones hashed here, large ones on a
// hashing thread) equals node:crypto's over the same bytes, in any chunking;
// a promised MD5 or SHA-256 that does not match fails finish(); a discarded
// body can be given up at any point.

import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BodyDigests } from './digests.js';

async function feed(d: BodyDigests, body: Buffer, cuts: number[]): Promise<void> {
  let at = 0;
  for (const c of [...cuts.map((x) => Math.floor(x * body.length)).sort((a, b) => a - b), body.length]) {
    if (c <= at) continue;
    const wait = d.update(body.subarray(at, c));
    if (wait !== undefined) await wait;
    at = c;
  }
}

describe('BodyDigests', () => {
  it('computes the MD5 of small and large bodies in any chunking (large ones on the hashing thread)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(0, 1, 4096, 300 * 1024, 3 * 1024 * 1024 + 17),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }),
      async (size, cuts) => {
        const body = randomBytes(size);
        const d = new BodyDigests();
        await feed(d, body, cuts);
        expect(d.length).toBe(size);
        expect((await d.finish()).md5Hex).toBe(createHash('md5').update(body).digest('hex'));
      },
    ), { numRuns: 25 });
  });

  it('refuses a body whose promised MD5 or SHA-256 does not match', async () => {
    const body = randomBytes(2 * 1024 * 1024);
    const good = createHash('md5').update(body).digest('hex');
    const ok = new BodyDigests({ md5Hex: good.toUpperCase(), sha256Hex: createHash('sha256').update(body).digest('hex') });
    await feed(ok, body, [0.5]);
    expect((await ok.finish()).md5Hex).toBe(good);
    const bad = new BodyDigests({ md5Hex: '0'.repeat(32) });
    await feed(bad, body, [0.3]);
    await expect(bad.finish()).rejects.toMatchObject({ code: 'CAIRN_ERR_HTTP_ETAG_MISMATCH' });
    const badSha = new BodyDigests({ sha256Hex: 'ab'.repeat(32) });
    await feed(badSha, body, []);
    await expect(badSha.finish()).rejects.toMatchObject({ code: 'CAIRN_ERR_S3_SHA256_MISMATCH' });
  });

  it('a body given up midway is discarded without a digest (and later bodies still hash right)', async () => {
    const d = new BodyDigests();
    await feed(d, randomBytes(2 * 1024 * 1024), [0.5]);
    d.discard();
    d.discard();
    const body = randomBytes(1024 * 1024 + 5);
    const e = new BodyDigests();
    await feed(e, body, [0.1, 0.9]);
    expect((await e.finish()).md5Hex).toBe(createHash('md5').update(body).digest('hex'));
  });
});
