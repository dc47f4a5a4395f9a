import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '@cairn/objstore';
import { SUMMARY_FOOTER_BYTES } from './format.js';
import { checkFileKey, decodeSummary, encodeSummary, readSegmentSummary } from './summary.js';
import type { SegmentWrite } from './types.js';

const writes: SegmentWrite[] = [
  { fileKey: 12345678901234567890n, fileOffset: 0, segmentOffset: 0, length: 100 },
  { fileKey: 'bucket/photos/ü.jpg', fileOffset: undefined, segmentOffset: 100, length: 50 },
  { fileKey: 0n, fileOffset: 2 ** 40, segmentOffset: 150, length: 1 },
];

describe('segment summary', () => {
  it('round-trips entries, nonce and data length', () => {
    const t = encodeSummary(77n, 151, writes, 1 << 20);
    expect(decodeSummary(t)).toEqual({ nonce: 77n, dataLength: 151, complete: true, entries: writes });
    expect(t.length).toBe(SUMMARY_FOOTER_BYTES + 33 + (25 + 2 + Buffer.byteLength('bucket/photos/ü.jpg')) + 33);
  });

  it('writes the bytes of the worked example in docs/formats.md', () => {
    const t = encodeSummary(42n, 8, [
      { fileKey: 7n, fileOffset: 0, segmentOffset: 0, length: 5 },
      { fileKey: 'a/b', fileOffset: undefined, segmentOffset: 5, length: 3 },
    ], 65536);
    const hex = [
      '0000000000000000 0000000000000005 0000000000000000 01 0000000000000007',
      '0000000000000005 0000000000000003 ffffffffffffffff 02 0003 612f62',
      '43534547 0001 0000 000000000000002a 0000000000000008 00000002 0000003f 96c43123',
    ].join('').replace(/ /g, '');
    expect(t.toString('hex')).toBe(hex);
  });

  it('omits the entries and says so when they do not fit the limit', () => {
    const t = encodeSummary(1n, 151, writes, 40);
    expect(t.length).toBe(SUMMARY_FOOTER_BYTES);
    expect(decodeSummary(t)).toEqual({ nonce: 1n, dataLength: 151, complete: false, entries: [] });
  });

  it('tells bad magic, bad version and bad checksum apart', () => {
    const t = encodeSummary(1n, 151, writes, 1 << 20);
    const f = t.length - SUMMARY_FOOTER_BYTES;
    const magic = Buffer.from(t);
    magic[f] = magic[f]! ^ 0xff;
    expect(() => decodeSummary(magic)).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_SEG_BAD_MAGIC' }));
    const version = Buffer.from(t);
    version.writeUInt16BE(99, f + 4);
    expect(() => decodeSummary(version)).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_SEG_BAD_VERSION' }));
    const flipped = Buffer.from(t);
    flipped[5] = flipped[5]! ^ 1;
    expect(() => decodeSummary(flipped)).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_SEG_BAD_CHECKSUM' }));
    expect(() => decodeSummary(t.subarray(3))).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_SEG_BAD_CHECKSUM' }));
  });

  it('reads the summary of a stored segment and refuses an object without one', async () => {
    const store = createMemoryStore();
    const c = store.container('segs');
    const data = Buffer.alloc(151, 7);
    await c.put('s1', Buffer.concat([data, encodeSummary(5n, 151, writes, 1 << 20)]));
    expect(await readSegmentSummary(store, { container: 'segs', name: 's1' })).toMatchObject({ nonce: 5n, entries: writes });
    await c.put('raw', Buffer.alloc(100));
    await expect(readSegmentSummary(store, { container: 'segs', name: 'raw' })).rejects.toMatchObject({ code: 'CAIRN_ERR_SEG_BAD_MAGIC' });
  });

  it('checks file keys', () => {
    expect(() => checkFileKey(-1n)).toThrow();
    expect(() => checkFileKey(1n << 64n)).toThrow();
    expect(() => checkFileKey('x'.repeat(70_000))).toThrow();
    expect(() => checkFileKey(3 as unknown as bigint)).toThrow();
    expect(() => checkFileKey('ok')).not.toThrow();
  });
});
