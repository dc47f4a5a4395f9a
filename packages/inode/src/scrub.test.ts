// scrub: a healthy volume passes in every mode; a deleted, corrupted,
// shortened or rewritten segment object is found, with the extents it breaks.

import { encodeSummary, segmentName } from '@cairn/segments';
import { decodeKey, encodeKey } from '@cairn/headhunter';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Vol } from './context.js';
import { volumeOf } from './fsck.js';
import { TREES } from './format.js';
import { ROOT_CRED as root } from './index.js';
import { extentCodec, nonceKey, segmentCodec, type SegmentRec } from './records.js';
import { scrub, type ScrubProblemKind, type ScrubReport } from './scrub.js';
import { makeFs, type TestFs } from './testing/fixture.js';

let t: TestFs;
let v: Vol;
let file: number;
let nonce: bigint;
let seg: SegmentRec;

beforeEach(async () => {
  t = await makeFs();
  file = (await t.fs.create(root, 1, 'f', 0o644)).attr.ino;
  await t.fs.write(root, file, 0, Buffer.alloc(5000, 7));
  await t.fs.flushFile(file);
  const other = (await t.fs.create(root, 1, 'g', 0o644)).attr.ino;
  await t.fs.write(root, other, 0, Buffer.from('other file'));
  await t.fs.flushFile(other);
  v = volumeOf(t.fs);
  const [x] = await v.hh.tree(TREES.extents).scan({ gte: encodeKey([file]), lt: encodeKey([file + 1]) });
  nonce = extentCodec.decode(x!.value).nonce;
  seg = segmentCodec.decode((await v.hh.tree(TREES.segments).get(nonceKey(nonce)))!);
});

afterEach(async () => {
  await t.cleanup();
});

function kinds(r: ScrubReport): ScrubProblemKind[] {
  return r.problems.map((p) => p.kind).sort();
}

async function replaceObject(body: Buffer): Promise<void> {
  await t.store.container(seg.container).put(segmentName(nonce), body);
}

describe('scrub', () => {
  it('passes a healthy volume in every mode and reports progress', async () => {
    for (const mode of ['head', 'summary', 'read'] as const) {
      const seen: string[] = [];
      const r = await scrub(t.fs, { mode, onProgress: (p) => seen.push(p.phase) });
      expect(r).toMatchObject({ ok: true, problems: [], segments: 2, extents: 2 });
      expect(seen).toContain('segments');
      if (mode === 'read') expect(r.bytesRead).toBeGreaterThanOrEqual(5010);
    }
  });

  it('finds a missing segment object', async () => {
    await t.store.container(seg.container).delete(segmentName(nonce));
    for (const mode of ['head', 'summary', 'read'] as const) {
      const r = await scrub(t.fs, { mode });
      expect(kinds(r)).toEqual(['segment-missing']);
      expect(r.problems[0]).toMatchObject({ nonce: String(nonce), object: `${seg.container}/${segmentName(nonce)}` });
    }
  });

  it('finds a summary that does not check out (one flipped byte)', async () => {
    const body = await t.store.container(seg.container).getBuffer(segmentName(nonce));
    body[body.length - 40]! ^= 0xff;
    await replaceObject(body);
    expect(kinds(await scrub(t.fs))).toEqual(['segment-summary']);
    // HEAD alone cannot see it.
    expect((await scrub(t.fs, { mode: 'head' })).ok).toBe(true);
  });

  it('finds a shortened object and the extents past its data', async () => {
    const short = Buffer.concat([Buffer.alloc(1000, 7), encodeSummary(nonce, 1000, [], 65536)]);
    await replaceObject(short);
    const r = await scrub(t.fs);
    expect(kinds(r)).toEqual(['segment-coverage', 'segment-size']);
    expect(r.problems.find((p) => p.kind === 'segment-coverage')).toMatchObject({ ino: file, offset: 0 });
    expect(kinds(await scrub(t.fs, { mode: 'head' }))).toEqual(['segment-coverage', 'segment-size']);
  });

  it('finds extents over bytes no write in the summary put there', async () => {
    const writes = [{ fileKey: BigInt(file), fileOffset: 0, segmentOffset: 0, length: 100 }];
    await replaceObject(Buffer.concat([Buffer.alloc(seg.size, 7), encodeSummary(nonce, seg.size, writes, 65536)]));
    const r = await scrub(t.fs);
    expect(kinds(r)).toEqual(['segment-coverage']);
  });

  it('finds a segment with another nonce in its summary', async () => {
    const writes = [{ fileKey: BigInt(file), fileOffset: 0, segmentOffset: 0, length: seg.size }];
    await replaceObject(Buffer.concat([Buffer.alloc(seg.size, 7), encodeSummary(nonce + 1000n, seg.size, writes, 65536)]));
    expect(kinds(await scrub(t.fs))).toEqual(['segment-size']);
  });

  it('read mode reads every extent', async () => {
    let reads = 0;
    const store = t.store;
    const wrapped = Object.create(store) as typeof store;
    wrapped.container = (name: string) => {
      const inner = store.container(name);
      return Object.assign(Object.create(inner) as typeof inner, {
        getBuffer: async (n: string, o?: Parameters<typeof inner.getBuffer>[1]) => {
          if (o?.range !== undefined && (o.range.length === 5000 || o.range.length === 10)) reads++;
          return inner.getBuffer(n, o);
        },
      });
    };
    (v as { store: typeof store }).store = wrapped;
    try {
      const r = await scrub(t.fs, { mode: 'read' });
      expect(r.ok).toBe(true);
      expect(reads).toBe(2); // one ranged GET per extent (5000 and 10 bytes)
    } finally {
      (v as { store: typeof store }).store = store;
    }
    const [x] = await v.hh.tree(TREES.extents).scan({ gte: encodeKey([file]), lt: encodeKey([file + 1]) });
    expect(decodeKey(x!.key)[0]).toBe(file);
  });

  it('rejects bad options and stops when aborted', async () => {
    await expect(scrub(t.fs, { mode: 'x' as 'head' })).rejects.toMatchObject({ code: 'CAIRN_ERR_INVALID_ARGUMENT' });
    const ac = new AbortController();
    ac.abort();
    await expect(scrub(t.fs, { signal: ac.signal })).rejects.toMatchObject({ code: 'CAIRN_ERR_CANCELED' });
  });
});
