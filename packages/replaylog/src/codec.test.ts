import { crc32c } from '@node-rs/crc32';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFileHeader, encodeFileHeader, encodeRecord, recordLength, verifyRecord } from './codec.js';
import { FH_CRC, FH_VERSION, FILE_HEADER_SIZE, RECORD_HEADER_SIZE, RH_TYPE } from './format.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('replay log codec', () => {
  it('produces the worked example of docs/formats.md byte for byte', () => {
    const file = Buffer.concat([encodeFileHeader(1n, 0n), encodeRecord(1n, Buffer.from('mkdir /a')), encodeRecord(2n, Buffer.from([1, 2, 3]))]);
    expect(file).toEqual(hex(`
      43 41 49 52 4e 52 4c 47 00 00 00 01 00 00 00 00
      00 00 00 01 00 00 00 00 00 00 00 00 6c 7c ac 90
      de b5 5b 6a 00 00 00 08 00 00 00 00 00 00 00 01
      01 01 00 00 6d 6b 64 69 72 20 2f 61 22 74 e3 55
      00 00 00 03 00 00 00 00 00 00 00 02 01 01 00 00
      01 02 03`));
    expect(crc32c('123456789')).toBe(0xe3069283); // the CRC-32C the doc names
  });

  it('round-trips file headers and refuses each kind of damage with its own problem', () => {
    fc.assert(
      fc.property(fc.bigUintN(64), fc.bigUintN(64), (first, covered) => {
        const h = decodeFileHeader(encodeFileHeader(first, covered));
        expect(h).toEqual({ ok: true, header: { version: 1, firstLsn: first, coveredThrough: covered } });
      }),
    );
    const good = encodeFileHeader(42n, 7n);
    expect(decodeFileHeader(good.subarray(0, FILE_HEADER_SIZE - 1))).toMatchObject({ ok: false, problem: 'short' });
    expect(decodeFileHeader(Buffer.alloc(FILE_HEADER_SIZE))).toMatchObject({ ok: false, problem: 'zero' });
    const magic = Buffer.from(good);
    magic[0] = 0x63;
    expect(decodeFileHeader(magic)).toMatchObject({ ok: false, problem: 'magic' });
    const version = Buffer.from(good);
    version.writeUInt32BE(2, FH_VERSION);
    version.writeUInt32BE(crc32c(version.subarray(0, FH_CRC)), FH_CRC);
    expect(decodeFileHeader(version)).toMatchObject({ ok: false, problem: 'version' });
    for (let at = 8; at < FILE_HEADER_SIZE; at++) {
      if (at >= FH_VERSION && at < FH_VERSION + 4) continue;
      const b = Buffer.from(good);
      b[at] = b[at]! ^ 0x01;
      expect(decodeFileHeader(b), `byte ${at}`).toMatchObject({ ok: false, problem: 'checksum' });
    }
  });

  it('verifies records and detects every single-bit flip', () => {
    fc.assert(
      fc.property(fc.bigUintN(64), fc.uint8Array({ maxLength: 64 }), fc.nat(), (lsn, payload, pick) => {
        const rec = encodeRecord(lsn, payload);
        expect(rec.length).toBe(RECORD_HEADER_SIZE + payload.length);
        expect(recordLength(rec, 0)).toBe(payload.length);
        expect(verifyRecord(rec, 0, payload.length)).toEqual({ ok: true, lsn, length: payload.length });
        const bit = pick % (rec.length * 8);
        const bad = Buffer.from(rec);
        bad[bit >> 3] = bad[bit >> 3]! ^ (1 << (bit & 7));
        const len = recordLength(bad, 0);
        if (len === payload.length) expect(verifyRecord(bad, 0, len)).toMatchObject({ ok: false, problem: 'checksum' });
      }),
    );
  });

  it('reports a record with a good checksum but an unknown type as a version problem', () => {
    const rec = encodeRecord(5n, Buffer.from('x'));
    rec[RH_TYPE] = 9;
    rec.writeUInt32BE(crc32c(rec.subarray(4)), 0);
    expect(verifyRecord(rec, 0, 1)).toMatchObject({ ok: false, problem: 'version' });
  });
});
