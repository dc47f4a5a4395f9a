import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isCairnError } from '@cairn/errors';
import { describe, expect, it } from 'vitest';
import { decodeFileHeader } from './codec.js';
import { FILE_HEADER_SIZE, RECORD_HEADER_SIZE } from './format.js';
import { openReplayLog, type ReplayLog } from './index.js';
import { openLog } from './log.js';
import { logFileName, parseLogFileName } from './names.js';
import { InstrumentedIo, logFiles, tempDirs } from './testing.js';

const dir = tempDirs();

async function lsns(log: ReplayLog, after = 0n): Promise<bigint[]> {
  const out: bigint[] = [];
  for await (const r of log.replay(after)) out.push(r.lsn);
  return out;
}

const range = (from: number, to: number): bigint[] => Array.from({ length: to - from + 1 }, (_, i) => BigInt(from + i));
/** 10-byte payloads make 30-byte records. */
const REC = RECORD_HEADER_SIZE + 10;

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return isCairnError(e) ? e.code : String(e);
  }
}

describe('rotation', () => {
  it('starts a new file, named by its first LSN, once a file passes rotateBytes', async () => {
    const d = dir();
    const log = await openReplayLog({ dir: d, rotateBytes: FILE_HEADER_SIZE + 3 * REC });
    for (let i = 1; i <= 10; i++) await log.append(Buffer.alloc(10, i));
    const names = logFiles(d);
    expect(names).toEqual([1n, 4n, 7n, 10n].map(logFileName));
    for (const n of names) {
      const h = decodeFileHeader(readFileSync(join(d, n)));
      expect(h.ok && h.header.firstLsn).toBe(parseLogFileName(n));
    }
    expect(statSync(join(d, names[0]!)).size).toBe(FILE_HEADER_SIZE + 3 * REC);
    expect(log.firstLsn).toBe(1n);
    expect(await lsns(log)).toEqual(range(1, 10));
    expect(await lsns(log, 5n)).toEqual(range(6, 10));
    expect(log.liveBytes()).toBe(10 * REC);
    await log.close();
    const again = await openReplayLog({ dir: d, rotateBytes: FILE_HEADER_SIZE + 3 * REC });
    expect(again.nextLsn).toBe(11n);
    expect(await lsns(again, 2n)).toEqual(range(3, 10));
    expect(again.liveBytes()).toBe(10 * REC);
    await again.close();
  });

  it('a batch larger than rotateBytes goes whole into one file', async () => {
    const d = dir();
    const log = await openReplayLog({ dir: d, rotateBytes: 64 });
    await Promise.all(Array.from({ length: 20 }, () => log.append(Buffer.alloc(10))));
    await log.append(Buffer.alloc(10));
    expect(logFiles(d)).toEqual([logFileName(1n), logFileName(21n)]);
    await log.close();
  });
});

describe('discardThrough', () => {
  it('deletes the files a checkpoint covers entirely, keeps the rest, and syncs the directory', async () => {
    const d = dir();
    const io = new InstrumentedIo();
    // No zeros ahead: the trace below is the discard's own operations.
    const log = await openLog({ dir: d, rotateBytes: FILE_HEADER_SIZE + 3 * REC, preallocateBytes: 0 }, io);
    for (let i = 1; i <= 10; i++) await log.append(Buffer.alloc(10, i));
    io.trace.length = 0;
    await log.discardThrough(5n); // files 1-3 covered, 4-6 partly
    expect(logFiles(d)).toEqual([4n, 7n, 10n].map(logFileName));
    expect(io.trace).toEqual([`unlink ${logFileName(1n)}`, 'syncDir ' + d.split('/').pop()]);
    expect(log.liveBytes()).toBeGreaterThanOrEqual(5 * REC);
    expect(log.liveBytes()).toBeLessThanOrEqual(7 * REC);
    expect(await lsns(log, 5n)).toEqual(range(6, 10));
    expect(await lsns(log, 3n)).toEqual(range(4, 10));
    expect(await code(lsns(log, 2n))).toBe('CAIRN_ERR_LOG_CORRUPT'); // record 3 is gone
    expect(log.firstLsn).toBe(4n); // the oldest file left starts there
    await log.discardThrough(9n);
    expect(logFiles(d)).toEqual([logFileName(10n)]);
    expect(log.firstLsn).toBe(10n);
    expect(await lsns(log, log.firstLsn - 1n)).toEqual([10n]);
    expect(await code(lsns(log, log.firstLsn - 2n))).toBe('CAIRN_ERR_LOG_CORRUPT');
    expect(log.liveBytes()).toBe(REC);
    await log.close();
  });

  it('keeps the next LSN when everything is discarded, across a reopen', async () => {
    const d = dir();
    const log = await openReplayLog({ dir: d });
    for (let i = 1; i <= 4; i++) await log.append(Buffer.alloc(10));
    await log.discardThrough(4n);
    expect(log.liveBytes()).toBe(0);
    expect(logFiles(d)).toEqual([logFileName(5n)]);
    expect(statSync(join(d, logFileName(5n))).size).toBe(FILE_HEADER_SIZE);
    await log.discardThrough(4n); // idempotent: no new file
    expect(logFiles(d)).toEqual([logFileName(5n)]);
    await log.close();
    const again = await openReplayLog({ dir: d });
    expect(again.nextLsn).toBe(5n);
    expect(again.firstLsn).toBe(5n);
    expect(await lsns(again, 4n)).toEqual([]);
    expect(await again.append(Buffer.alloc(1))).toBe(5n);
    await again.close();
  });

  it('a checkpoint newer than the log moves the next LSN past it, durably', async () => {
    const d = dir();
    const log = await openReplayLog({ dir: d });
    await log.append(Buffer.alloc(1));
    const done = log.discardThrough(100n);
    expect(log.nextLsn).toBe(101n);
    const next = log.append(Buffer.from('after'));
    await done;
    expect(await next).toBe(101n);
    await log.close();
    const again = await openReplayLog({ dir: d });
    expect(again.nextLsn).toBe(102n);
    expect(again.firstLsn).toBe(101n);
    expect(await lsns(again, 100n)).toEqual([101n]);
    expect(logFiles(d)).toEqual([logFileName(101n)]);
    await again.close();
  });

  it('orders discards with concurrent appends: records before it go to the old file, later ones after it', async () => {
    const d = dir();
    const log = await openReplayLog({ dir: d, rotateBytes: 200 });
    const first = Array.from({ length: 30 }, (_, i) => log.append(Buffer.from(`a${i}`)));
    const discard = log.discardThrough(30n);
    const second = Array.from({ length: 30 }, (_, i) => log.append(Buffer.from(`b${i}`)));
    expect(await Promise.all(first)).toEqual(range(1, 30));
    await discard;
    expect(await Promise.all(second)).toEqual(range(31, 60));
    expect(logFiles(d)[0]).toBe(logFileName(31n));
    const got: string[] = [];
    for await (const r of log.replay(30n)) got.push(r.payload.toString());
    expect(got).toEqual(Array.from({ length: 30 }, (_, i) => `b${i}`));
    await log.close();
  });

  it('refuses a negative LSN', async () => {
    const log = await openReplayLog({ dir: dir() });
    expect(await code(log.discardThrough(-1n))).toBe('CAIRN_ERR_INVALID_ARGUMENT');
    await log.close();
  });
});
