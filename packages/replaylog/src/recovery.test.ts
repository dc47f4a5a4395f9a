import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { isCairnError } from '@cairn/errors';
import { describe, expect, it } from 'vitest';
import { encodeFileHeader } from './codec.js';
import { FH_CRC, FH_FIRST_LSN, FH_VERSION, FILE_HEADER_SIZE, RECORD_HEADER_SIZE, RH_CRC, RH_CRC_START, RH_VERSION } from './format.js';
import { openReplayLog, type ReplayLog, type ReplayLogOptions } from './index.js';
import { logFileName } from './names.js';
import { logFiles, tempDirs } from './testing.js';

type TornInfo = Parameters<NonNullable<ReplayLogOptions['onTorn']>>[0];

const dir = tempDirs();

async function payloadsOf(log: ReplayLog, after = 0n): Promise<string[]> {
  const out: string[] = [];
  for await (const r of log.replay(after)) out.push(r.payload.toString('hex'));
  return out;
}

/** Opens the log in `d`, collecting torn reports. */
async function reopen(d: string, extra: Partial<ReplayLogOptions> = {}): Promise<{ log: ReplayLog; torn: TornInfo[] }> {
  const torn: TornInfo[] = [];
  const log = await openReplayLog({ dir: d, onTorn: (t) => torn.push(t), ...extra });
  return { log, torn };
}

/**
 * A log with `payloads` (rotating at `rotateBytes`), closed; returns its
 * directory. No zeros ahead: each file is exactly its header and records, so
 * tests can cut and damage it by offset ("zeros ahead" below covers the zeros).
 */
async function build(payloads: Buffer[], rotateBytes?: number): Promise<string> {
  const d = dir();
  const log = await openReplayLog({ dir: d, preallocateBytes: 0, ...(rotateBytes ? { rotateBytes } : {}) });
  for (const p of payloads) await log.append(p);
  await log.close();
  return d;
}

function flip(b: Buffer, at: number, mask: number): void {
  b[at] = b[at]! ^ mask;
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return isCairnError(e) ? e.code : `not a CairnError: ${String(e)}`;
  }
}

describe('torn tails', () => {
  it('keeps exactly the complete records when the file is cut at every byte offset', async () => {
    const payloads = [randomBytes(13), randomBytes(40), randomBytes(70)];
    const src = await build(payloads);
    const name = logFiles(src)[0]!;
    const bytes = readFileSync(join(src, name));
    const ends = [FILE_HEADER_SIZE];
    for (const p of payloads) ends.push(ends[ends.length - 1]! + RECORD_HEADER_SIZE + p.length);
    expect(bytes.length).toBe(ends[ends.length - 1]);

    for (let cut = 0; cut <= bytes.length; cut++) {
      const d = dir();
      writeFileSync(join(d, name), bytes.subarray(0, cut));
      const { log, torn } = await reopen(d);
      const complete = cut < FILE_HEADER_SIZE ? 0 : ends.filter((e) => e <= cut).length - 1;
      const boundary = cut < FILE_HEADER_SIZE ? FILE_HEADER_SIZE : ends[complete]!;
      const ctx = `cut at ${cut}`;
      expect(await payloadsOf(log), ctx).toEqual(payloads.slice(0, complete).map((p) => p.toString('hex')));
      expect(log.nextLsn, ctx).toBe(BigInt(complete + 1));
      if (cut === boundary) {
        expect(torn, ctx).toEqual([]);
      } else {
        expect(torn, ctx).toHaveLength(1);
        expect(torn[0], ctx).toMatchObject({ file: name, offset: cut < FILE_HEADER_SIZE ? 0 : boundary, droppedBytes: cut < FILE_HEADER_SIZE ? cut : cut - boundary });
      }
      expect(statSync(join(d, name)).size, ctx).toBe(boundary);
      // Appending continues right after the kept records.
      expect(await log.append(Buffer.from('next')), ctx).toBe(BigInt(complete + 1));
      await log.close();
      const again = await reopen(d);
      expect(again.torn, ctx).toEqual([]);
      expect((await payloadsOf(again.log)).length, ctx).toBe(complete + 1);
      await again.log.close();
    }
  });

  it('drops the last record when any byte of it is flipped', async () => {
    const payloads = [randomBytes(30), randomBytes(30), randomBytes(50)];
    const src = await build(payloads);
    const name = logFiles(src)[0]!;
    const bytes = readFileSync(join(src, name));
    const lastStart = bytes.length - RECORD_HEADER_SIZE - 50;
    for (let at = lastStart; at < bytes.length; at++) {
      const d = dir();
      const copy = Buffer.from(bytes);
      flip(copy, at, 1 << at % 8);
      writeFileSync(join(d, name), copy);
      const { log, torn } = await reopen(d);
      const ctx = `flip at ${at}`;
      expect(await payloadsOf(log), ctx).toEqual(payloads.slice(0, 2).map((p) => p.toString('hex')));
      expect(torn, ctx).toHaveLength(1);
      expect(torn[0]!.offset, ctx).toBe(lastStart);
      expect(torn[0]!.reason, ctx).toMatch(/checksum|incomplete/);
      expect(log.nextLsn, ctx).toBe(3n);
      await log.close();
    }
  });

  it('truncates at a corrupt record in the middle and drops the records after it', async () => {
    const payloads = Array.from({ length: 6 }, (_, i) => Buffer.from(`record-${i}`));
    const d = await build(payloads);
    const name = logFiles(d)[0]!;
    const bytes = readFileSync(join(d, name));
    const third = FILE_HEADER_SIZE + 2 * (RECORD_HEADER_SIZE + 8);
    flip(bytes, third + RECORD_HEADER_SIZE + 2, 0x40);
    writeFileSync(join(d, name), bytes);
    const { log, torn } = await reopen(d);
    expect(await payloadsOf(log)).toEqual(payloads.slice(0, 2).map((p) => p.toString('hex')));
    expect(torn).toEqual([{ file: name, offset: third, reason: expect.stringMatching(/checksum/), droppedBytes: bytes.length - third }]);
    await log.close();
  });

  it('refuses a record whose checksum holds but whose version is unknown', async () => {
    const d = await build([Buffer.from('a'), Buffer.from('b')]);
    const name = logFiles(d)[0]!;
    const bytes = readFileSync(join(d, name));
    const second = FILE_HEADER_SIZE + RECORD_HEADER_SIZE + 1;
    bytes[second + RH_VERSION] = 2;
    bytes.writeUInt32BE(crc32c(bytes.subarray(second + RH_CRC_START)), second + RH_CRC);
    writeFileSync(join(d, name), bytes);
    expect(await code(reopen(d))).toBe('CAIRN_ERR_LOG_BAD_VERSION');
    expect(statSync(join(d, name)).size).toBe(bytes.length); // nothing truncated
  });

  it('drops a record with a good checksum but an out-of-sequence LSN', async () => {
    const d = await build([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]);
    const name = logFiles(d)[0]!;
    const bytes = readFileSync(join(d, name));
    const second = FILE_HEADER_SIZE + RECORD_HEADER_SIZE + 1;
    bytes.writeBigUInt64BE(7n, second + 8);
    bytes.writeUInt32BE(crc32c(bytes.subarray(second + RH_CRC_START, second + RECORD_HEADER_SIZE + 1)), second + RH_CRC);
    writeFileSync(join(d, name), bytes);
    const { log, torn } = await reopen(d);
    expect(await payloadsOf(log)).toEqual([Buffer.from('a').toString('hex')]);
    expect(torn[0]!.reason).toMatch(/lsn 7 where 2/);
    await log.close();
  });
});

describe('file headers', () => {
  /** Three files of two records each (rotation after every second record). */
  async function threeFiles(): Promise<{ d: string; names: string[] }> {
    const d = await build(Array.from({ length: 6 }, (_, i) => Buffer.alloc(40, i)), 100);
    const names = logFiles(d);
    expect(names).toEqual([logFileName(1n), logFileName(3n), logFileName(5n)]);
    return { d, names };
  }
  function patch(path: string, f: (b: Buffer) => void): void {
    const b = readFileSync(path);
    f(b);
    writeFileSync(path, b);
  }

  it('bad magic, bad version and bad checksum of a non-newest file are three distinct errors', async () => {
    const cases: Array<[string, (b: Buffer) => void]> = [
      ['CAIRN_ERR_LOG_BAD_MAGIC', (b) => void (b[0] = 0x58)],
      ['CAIRN_ERR_LOG_BAD_VERSION', (b) => {
        b.writeUInt32BE(2, FH_VERSION);
        b.writeUInt32BE(crc32c(b.subarray(0, FH_CRC)), FH_CRC);
      }],
      ['CAIRN_ERR_LOG_BAD_CHECKSUM', (b) => flip(b, FH_FIRST_LSN + 7, 1)],
      ['CAIRN_ERR_LOG_CORRUPT', (b) => b.subarray(0, FILE_HEADER_SIZE).set(encodeFileHeader(4n, 0n))],
    ];
    for (const [expected, f] of cases) {
      const { d, names } = await threeFiles();
      patch(join(d, names[1]!), f);
      expect(await code(reopen(d)), expected).toBe(expected);
      expect(logFiles(d), expected).toEqual(names); // nothing deleted
    }
  });

  it('a newest file with a bad magic or version is an error too (written by something else)', async () => {
    const { d, names } = await threeFiles();
    patch(join(d, names[2]!), (b) => void (b[3] = 0));
    expect(await code(reopen(d))).toBe('CAIRN_ERR_LOG_BAD_MAGIC');
  });

  it('a newest file with a damaged header is rebuilt from its name and reported torn', async () => {
    const { d, names } = await threeFiles();
    const size = statSync(join(d, names[2]!)).size;
    patch(join(d, names[2]!), (b) => flip(b, FH_FIRST_LSN, 0x10));
    const { log, torn } = await reopen(d);
    expect(torn).toEqual([{ file: names[2], offset: 0, reason: expect.stringMatching(/header/), droppedBytes: size }]);
    expect(log.nextLsn).toBe(5n);
    expect((await payloadsOf(log)).length).toBe(4);
    expect(await log.append(Buffer.from('x'))).toBe(5n);
    await log.close();
    const again = await reopen(d);
    expect(again.torn).toEqual([]);
    await again.log.close();
  });

  it('a torn record in a middle file truncates it there and deletes every later file', async () => {
    const { d, names } = await threeFiles();
    const mid = join(d, names[1]!);
    const midSize = statSync(mid).size;
    const lastSize = statSync(join(d, names[2]!)).size;
    const second = FILE_HEADER_SIZE + RECORD_HEADER_SIZE + 40;
    patch(mid, (b) => flip(b, second + RECORD_HEADER_SIZE + 3, 1));
    const { log, torn } = await reopen(d);
    expect(torn).toEqual([{ file: names[1], offset: second, reason: expect.stringMatching(/checksum/), droppedBytes: midSize - second + lastSize }]);
    expect(logFiles(d)).toEqual(names.slice(0, 2));
    expect(log.nextLsn).toBe(4n);
    expect(await log.append(Buffer.from('y'))).toBe(4n);
    await log.close();
  });

  it('a missing middle file (an LSN gap) drops the files after the gap', async () => {
    const { d, names } = await threeFiles();
    unlinkSync(join(d, names[1]!));
    const { log, torn } = await reopen(d);
    expect(torn[0]).toMatchObject({ file: names[2], offset: 0, reason: expect.stringMatching(/previous file ends at 2/) });
    expect(logFiles(d)).toEqual([names[0]]);
    expect(log.nextLsn).toBe(3n);
    await log.close();
  });

  it('removes leftover temporary files and ignores files that are not the log', async () => {
    const d = await build([Buffer.from('a')]);
    writeFileSync(join(d, `${logFileName(2n)}.tmp`), Buffer.alloc(5));
    writeFileSync(join(d, 'README'), 'not a log file');
    mkdirSync(join(d, 'sub'));
    const { log, torn } = await reopen(d);
    expect(torn).toEqual([]);
    expect(readdirSync(d).sort()).toEqual([logFileName(1n), 'README', 'sub']);
    expect(log.nextLsn).toBe(2n);
    await log.close();
  });

  it('finishes an interrupted discard: files before a file whose header covers them are deleted', async () => {
    const d = await build([Buffer.from('a'), Buffer.from('b')]);
    // A discard through 9 created the new newest file and crashed before deleting the old one.
    writeFileSync(join(d, logFileName(10n)), encodeFileHeader(10n, 9n));
    const { log, torn } = await reopen(d);
    expect(torn).toEqual([]);
    expect(logFiles(d)).toEqual([logFileName(10n)]);
    expect(log.nextLsn).toBe(10n);
    expect(await code(payloadsOf(log, 0n))).toBe('CAIRN_ERR_LOG_CORRUPT'); // records 1..9 are gone
    expect(await payloadsOf(log, 9n)).toEqual([]);
    await log.close();
  });
});
