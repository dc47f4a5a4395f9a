// Zeros ahead (ReplayLogOptions.preallocateBytes): the writer puts zeros past
// the records so that later fdatasyncs change no file size; recovery reads an
// all-zero rest of a file as the clean end of its records and anything else
// after them as a torn tail.

import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FILE_HEADER_SIZE, RECORD_HEADER_SIZE } from './format.js';
import { openReplayLog, type ReplayLog, type ReplayLogOptions } from './index.js';
import { openLog } from './log.js';
import { InstrumentedIo, logFiles, tempDirs } from './testing.js';

const dir = tempDirs();

const CHUNK = 64 * 1024;
const REC = RECORD_HEADER_SIZE + 100;

async function payloads(log: ReplayLog): Promise<string[]> {
  const out: string[] = [];
  for await (const r of log.replay(0n)) out.push(r.payload.toString('hex'));
  return out;
}

/** Opens the log in `d` with zeros ahead, collecting torn reports. */
async function open(d: string, extra: Partial<ReplayLogOptions> = {}): Promise<{ log: ReplayLog; torn: string[] }> {
  const torn: string[] = [];
  const log = await openReplayLog({ dir: d, preallocateBytes: CHUNK, onTorn: (t) => torn.push(`${t.offset}: ${t.reason}`), ...extra });
  return { log, torn };
}

/** Appends `n` records of 100 bytes (the i-th filled with `first + i`), one at a time. */
async function appendSome(log: ReplayLog, n: number, first = 0): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = Buffer.alloc(100, (first + i) & 0xff);
    await log.append(p);
    out.push(p.toString('hex'));
  }
  return out;
}

/** Waits until the log has written at least `bytes` of zeros ahead (they go in the background). */
async function settle(log: ReplayLog, bytes = CHUNK): Promise<void> {
  for (let i = 0; i < 400 && log.stats().zeroBytesWritten < bytes; i++) await new Promise((r) => setTimeout(r, 5));
}

/** A closed log of `n` records with zeros after them: its directory, file, payloads and where the records end. */
async function closedWithZeros(n: number): Promise<{ d: string; path: string; want: string[]; end: number }> {
  const d = dir();
  const { log } = await open(d);
  const want = await appendSome(log, n);
  await settle(log);
  await log.close();
  const path = join(d, logFiles(d)[0]!);
  expect(statSync(path).size).toBeGreaterThan(FILE_HEADER_SIZE + n * REC + REC);
  return { d, path, want, end: FILE_HEADER_SIZE + n * REC };
}

/** Reopens `d`, checks it holds `want`, closes it; returns the torn reports. */
async function reopenHolds(d: string, want: string[]): Promise<string[]> {
  const again = await open(d);
  expect(await payloads(again.log)).toEqual(want);
  await again.log.close();
  return again.torn;
}

describe('zeros ahead of the records', () => {
  it('writes zeros past the records, lays later batches over them, and reopens cleanly', async () => {
    const d = dir();
    let { log, torn } = await open(d);
    const want = await appendSome(log, 5);
    await settle(log);
    const path = join(d, logFiles(d)[0]!);
    const records = FILE_HEADER_SIZE + 5 * REC;
    expect(log.stats().zeroBytesWritten).toBe(CHUNK);
    expect(statSync(path).size).toBe(FILE_HEADER_SIZE + REC + CHUNK); // the zeros started after the first record
    expect(statSync(path).size).toBeGreaterThan(records);
    want.push(...(await appendSome(log, 20, 5)));
    const s = log.stats();
    expect(s.batchesOverZeros).toBeGreaterThanOrEqual(20);
    await log.close();

    const bytes = readFileSync(path);
    const end = FILE_HEADER_SIZE + 25 * REC;
    expect(bytes.length).toBeGreaterThan(end);
    expect(bytes.subarray(end).every((b) => b === 0)).toBe(true);

    ({ log, torn } = await open(d));
    expect(torn).toEqual([]);
    expect(log.nextLsn).toBe(26n);
    expect(await payloads(log)).toEqual(want);
    // Appends continue right after the records, over the zeros kept.
    want.push(...(await appendSome(log, 3, 25)));
    await log.close();
    expect(statSync(path).size).toBe(bytes.length);
    ({ log, torn } = await open(d));
    expect(torn).toEqual([]);
    expect(await payloads(log)).toEqual(want);
    await log.close();
  });

  it('a file that is rotated away loses its zeros; the newest keeps them', async () => {
    const d = dir();
    const rotateBytes = FILE_HEADER_SIZE + 4 * REC;
    const { log } = await open(d, { rotateBytes });
    const want: string[] = [];
    for (let i = 0; i < 9; i++) want.push(...(await appendSome(log, 1, i)));
    await settle(log, 3 * CHUNK); // one zero write in each of the three files
    const names = logFiles(d);
    expect(names.length).toBe(3);
    for (const n of names.slice(0, -1)) expect(statSync(join(d, n)).size).toBe(rotateBytes);
    expect(statSync(join(d, names.at(-1)!)).size).toBeGreaterThan(FILE_HEADER_SIZE + REC);
    await log.close();
    const again = await open(d, { rotateBytes });
    expect(again.torn).toEqual([]);
    expect(await payloads(again.log)).toEqual(want);
    await again.log.close();
  });

  it('an older file that kept its zeros (truncate lost in a crash) still ends cleanly', async () => {
    const d = dir();
    const rotateBytes = FILE_HEADER_SIZE + 3 * REC;
    const { log } = await openReplayLog({ dir: d, rotateBytes, preallocateBytes: 0 }).then((l) => ({ log: l }));
    const want = await appendSome(log, 7);
    await log.close();
    const first = join(d, logFiles(d)[0]!);
    writeFileSync(first, Buffer.concat([readFileSync(first), Buffer.alloc(5000)]));
    const again = await open(d, { rotateBytes });
    expect(again.torn).toEqual([]);
    expect(await payloads(again.log)).toEqual(want);
    await again.log.close();
  });

  it('a torn record in front of the zeros is dropped, and the file truncated there', async () => {
    const { d, path, want, end } = await closedWithZeros(4);
    const bytes = readFileSync(path);
    // Half a record reached the disk before the crash: a header and part of its payload.
    bytes.fill(0x5a, end, end + RECORD_HEADER_SIZE + 40);
    writeFileSync(path, bytes);
    const torn = await reopenHolds(d, want);
    expect(torn.length).toBe(1);
    expect(torn[0]).toMatch(new RegExp(`^${end}: `));
    expect(statSync(path).size).toBe(end);
  });

  it('a single stray byte far into the zeros is a torn tail too (nothing acknowledged is lost)', async () => {
    const { d, path, want, end } = await closedWithZeros(3);
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] = 1;
    writeFileSync(path, bytes);
    expect((await reopenHolds(d, want)).length).toBe(1);
    expect(statSync(path).size).toBe(end);
  });

  it('a crash anywhere in the zeros loses nothing', async () => {
    const { d, path, want, end } = await closedWithZeros(6);
    const size = statSync(path).size;
    for (const cut of [size - 1, end + 1, end + 19, end + 20, end]) {
      truncateSync(path, cut);
      expect(await reopenHolds(d, want)).toEqual([]);
    }
  });

  it('a batch larger than the zeros left waits for the zero write in flight and is never overwritten by it', async () => {
    const d = dir();
    const io = new InstrumentedIo();
    // Slow every fdatasync: the zero write (its own file handle) stays in flight while batches queue.
    io.hook = async (op) => {
      if (op === 'datasync') await new Promise((r) => setTimeout(r, 2));
    };
    const log = await openLog({ dir: d, preallocateBytes: 4096 }, io);
    const want: string[] = [];
    const all: Array<Promise<bigint>> = [];
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 16; i++) {
        const p = Buffer.alloc(1 + ((round * 16 + i) % 500), (round * 16 + i) & 0xff);
        want.push(p.toString('hex'));
        all.push(log.append(p));
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(all);
    expect(log.stats().zeroBytesWritten).toBeGreaterThan(4096);
    expect(await payloads(log)).toEqual(want);
    await log.close();
    expect(await reopenHolds(d, want)).toEqual([]);
  });

  it('a failed zero write costs only the speed-up', async () => {
    const d = dir();
    const io = new InstrumentedIo();
    const log = await openLog({ dir: d, preallocateBytes: CHUNK }, io);
    const opensAtOpen = io.counts.open;
    // After open, the only file opened is the zero writer's handle.
    io.hook = (op) => {
      if (op === 'open') throw Object.assign(new Error('ENOSPC: injected'), { code: 'ENOSPC' });
    };
    const want = await appendSome(log, 10);
    expect(log.stats().zeroBytesWritten).toBe(0);
    expect(io.counts.open - opensAtOpen).toBe(1); // tried once, not again in this file
    io.hook = undefined;
    expect(await payloads(log)).toEqual(want);
    await log.close();
    expect(await reopenHolds(d, want)).toEqual([]);
  });

  it('is off by default without fsync, and on by default with it', async () => {
    const off = await openReplayLog({ dir: dir(), fsync: false });
    await appendSome(off, 3);
    await new Promise((r) => setTimeout(r, 20));
    expect(off.stats().zeroBytesWritten).toBe(0);
    await off.close();
    const on = await openReplayLog({ dir: dir() });
    await appendSome(on, 3);
    await settle(on, 1);
    expect(on.stats().zeroBytesWritten).toBe(4 * 1024 * 1024);
    await on.close();
  });

  it('refuses a bad preallocateBytes', async () => {
    for (const bad of [-1, 1.5, 2 ** 31]) {
      await expect(openReplayLog({ dir: dir(), preallocateBytes: bad })).rejects.toMatchObject({ code: 'CAIRN_ERR_INVALID_ARGUMENT' });
    }
  });
});
