import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { isCairnError } from '@cairn/errors';
import { describe, expect, it } from 'vitest';
import { FILE_HEADER_SIZE, RECORD_HEADER_SIZE } from './format.js';
import { openReplayLog, type ReplayLog, type ReplayRecord } from './index.js';
import { openLog } from './log.js';
import { InstrumentedIo, logFiles, tempDirs } from './testing.js';

const dir = tempDirs();

async function all(log: ReplayLog, after = 0n): Promise<ReplayRecord[]> {
  const out: ReplayRecord[] = [];
  for await (const r of log.replay(after)) out.push(r);
  return out;
}

/** Digests instead of large buffers: deep equality of megabyte buffers is slow. */
function hashes(bufs: Buffer[]): string[] {
  return bufs.map((b) => `${b.length}:${createHash('sha256').update(b).digest('hex')}`);
}

function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'resolved',
    (e: unknown) => (isCairnError(e) ? e.code : `not a CairnError: ${String(e)}`),
  );
}

describe('append and replay', () => {
  it('round-trips payloads of many sizes across a reopen', async () => {
    const d = dir();
    const payloads = [Buffer.alloc(0), Buffer.from([7]), randomBytes(100), randomBytes(70_000), randomBytes(3 * 1024 * 1024 + 5)];
    let log = await openReplayLog({ dir: d });
    expect(log.nextLsn).toBe(1n);
    const lsns = await Promise.all(payloads.map((p) => log.append(p)));
    expect(lsns).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect(hashes((await all(log)).map((r) => r.payload))).toEqual(hashes(payloads));
    await log.close();

    log = await openReplayLog({ dir: d });
    expect(log.nextLsn).toBe(6n);
    const got = await all(log);
    expect(got.map((r) => r.lsn)).toEqual(lsns);
    expect(hashes(got.map((r) => r.payload))).toEqual(hashes(payloads));
    expect((await all(log, 3n)).map((r) => r.lsn)).toEqual([4n, 5n]);
    expect(await all(log, 5n)).toEqual([]);
    expect(await all(log, 99n)).toEqual([]);
    await log.close();
  });

  it('continues LSNs across reopens, appending after the recovered records', async () => {
    const d = dir();
    for (let round = 0; round < 4; round++) {
      const log = await openReplayLog({ dir: d });
      expect(log.nextLsn).toBe(BigInt(round * 3 + 1));
      for (let i = 0; i < 3; i++) expect(await log.append(Buffer.from(`r${round}.${i}`))).toBe(BigInt(round * 3 + i + 1));
      await log.close();
    }
    const log = await openReplayLog({ dir: d });
    const got = await all(log);
    expect(got.map((r) => r.payload.toString())).toEqual(
      [0, 1, 2, 3].flatMap((round) => [0, 1, 2].map((i) => `r${round}.${i}`)),
    );
    await log.close();
  });

  it('writes a batch of more records than one writev takes (IOV_MAX is 1024)', async () => {
    const d = dir();
    const log = await openReplayLog({ dir: d });
    const n = 3000;
    const lsns = await Promise.all(Array.from({ length: n }, (_, i) => log.append(Buffer.from(`r${i}`))));
    expect(log.stats()).toMatchObject({ batches: 1, maxBatch: n });
    expect(lsns[n - 1]).toBe(BigInt(n));
    await log.close();
    const again = await openReplayLog({ dir: d });
    const got = await all(again);
    expect(got.map((r) => r.payload.toString())).toEqual(Array.from({ length: n }, (_, i) => `r${i}`));
    await again.close();
  });

  it('assigns LSNs synchronously in call order and copies the payload', async () => {
    const log = await openReplayLog({ dir: dir(), fsync: false });
    const payload = Buffer.from('first');
    const a = log.append(payload);
    expect(log.nextLsn).toBe(2n);
    const b = log.append(Buffer.from('second'));
    expect(log.nextLsn).toBe(3n);
    payload.fill(0); // the caller reuses its buffer
    expect(await b).toBe(2n);
    expect(await a).toBe(1n);
    expect((await all(log)).map((r) => r.payload.toString())).toEqual(['first', 'second']);
    await log.close();
  });

  it('refuses a record over maxRecordBytes without consuming an LSN', async () => {
    const log = await openReplayLog({ dir: dir(), maxRecordBytes: 100 });
    expect(await codeOf(log.append(Buffer.alloc(101)))).toBe('CAIRN_ERR_LOG_TOO_LARGE');
    expect(await log.append(Buffer.alloc(100))).toBe(1n);
    expect(await codeOf(log.append('text' as unknown as Uint8Array))).toBe('CAIRN_ERR_INVALID_ARGUMENT');
    await log.close();
  });

  it('close waits for pending appends; later calls fail with CAIRN_ERR_CLOSED', async () => {
    const d = dir();
    const log = await openReplayLog({ dir: d });
    const pending = Array.from({ length: 20 }, (_, i) => log.append(Buffer.from(`p${i}`)));
    await log.close();
    expect(await Promise.all(pending)).toEqual(Array.from({ length: 20 }, (_, i) => BigInt(i + 1)));
    expect(await codeOf(log.append(Buffer.from('late')))).toBe('CAIRN_ERR_CLOSED');
    expect(await codeOf(log.discardThrough(1n))).toBe('CAIRN_ERR_CLOSED');
    expect(await codeOf(all(log))).toBe('CAIRN_ERR_CLOSED');
    await log.close(); // idempotent
    const again = await openReplayLog({ dir: d });
    expect((await all(again)).length).toBe(20);
    await again.close();
  });

  it('writes the exact bytes: header, then records back to back', async () => {
    const d = dir();
    const log = await openReplayLog({ dir: d, preallocateBytes: 0 }); // no zeros after the records
    await Promise.all([log.append(Buffer.from('ab')), log.append(Buffer.from('cde'))]);
    await log.close();
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(join(d, logFiles(d)[0]!));
    expect(bytes.length).toBe(FILE_HEADER_SIZE + 2 * RECORD_HEADER_SIZE + 5);
    expect(bytes.subarray(0, 8).toString('latin1')).toBe('CAIRNRLG');
    expect(bytes.readBigUInt64BE(FILE_HEADER_SIZE + 8)).toBe(1n);
    expect(bytes.readBigUInt64BE(FILE_HEADER_SIZE + RECORD_HEADER_SIZE + 2 + 8)).toBe(2n);
    expect(bytes.subarray(bytes.length - 3).toString()).toBe('cde');
  });
});

describe('group commit', () => {
  it('batches concurrent writers and acknowledges each record only after an fdatasync covered it', async () => {
    const d = dir();
    const io = new InstrumentedIo();
    // A slow fdatasync lets records pile up behind the one in flight.
    io.hook = async (op) => {
      if (op === 'datasync') await new Promise((r) => setTimeout(r, 3));
    };
    // No zeros ahead: their fdatasyncs would count among the ones waited for.
    const log = await openLog({ dir: d, preallocateBytes: 0 }, io);
    const path = join(d, logFiles(d)[0]!);
    const syncsAtOpen = io.counts.datasync;
    const size = 64;
    const recordEnd = (lsn: bigint) => FILE_HEADER_SIZE + Number(lsn) * (RECORD_HEADER_SIZE + size);
    const violations: string[] = [];
    const writers = 256;
    const perWriter = 4;
    await Promise.all(
      Array.from({ length: writers }, async () => {
        for (let i = 0; i < perWriter; i++) {
          const startedAtCall = io.syncStarts;
          const lsn = await log.append(randomBytes(size));
          if (io.durable(path) < recordEnd(lsn)) violations.push(`lsn ${lsn} acknowledged before it was durable`);
          // The fdatasync in flight at call time (if any) plus the next one, never more.
          if (io.syncDone > startedAtCall + 1) violations.push(`lsn ${lsn} waited ${io.syncDone - startedAtCall} fdatasyncs`);
        }
      }),
    );
    expect(violations).toEqual([]);
    const s = log.stats();
    expect(s.records).toBe(writers * perWriter);
    expect(s.fsyncs).toBe(io.counts.datasync - syncsAtOpen);
    expect(s.fsyncs).toBeLessThan((writers * perWriter) / 20);
    expect(s.batches).toBe(s.fsyncs);
    expect(s.maxBatch).toBeGreaterThanOrEqual(100);
    expect(s.fsyncMicrosP50).toBeGreaterThan(1000);
    expect(s.fsyncMicrosP99).toBeGreaterThanOrEqual(s.fsyncMicrosP50);
    const got = await all(log);
    expect(got.map((r) => r.lsn)).toEqual(Array.from({ length: writers * perWriter }, (_, i) => BigInt(i + 1)));
    await log.close();
  });

  it('a sequential writer gets one fdatasync per record', async () => {
    const io = new InstrumentedIo();
    const log = await openLog({ dir: dir() }, io);
    for (let i = 0; i < 10; i++) await log.append(Buffer.from([i]));
    expect(log.stats()).toMatchObject({ records: 10, fsyncs: 10, batches: 10, maxBatch: 1 });
    await log.close();
  });

  it('fsync: false writes the same records without any fdatasync', async () => {
    const d = dir();
    const io = new InstrumentedIo();
    const log = await openLog({ dir: d, fsync: false }, io);
    await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(Buffer.from([i]))));
    await log.close();
    expect(io.counts.datasync + io.counts.sync + io.counts.syncDir).toBe(0);
    expect(log.stats().fsyncs).toBe(0);
    const again = await openReplayLog({ dir: d });
    expect((await all(again)).length).toBe(50);
    await again.close();
  });

  it('survives short writes (a write that stores fewer bytes is continued)', async () => {
    const d = dir();
    const io = new InstrumentedIo();
    io.maxWriteBytes = 7;
    const log = await openLog({ dir: d }, io);
    const payloads = Array.from({ length: 30 }, () => randomBytes(1 + Math.floor(Math.random() * 50)));
    await Promise.all(payloads.map((p) => log.append(p)));
    await log.close();
    const again = await openReplayLog({ dir: d });
    expect((await all(again)).map((r) => r.payload)).toEqual(payloads);
    await again.close();
  });
});

describe('I/O failures', () => {
  for (const op of ['writev', 'datasync'] as const) {
    it(`a failed ${op} fails the whole batch and every later append with CAIRN_ERR_LOG_IO`, async () => {
      const d = dir();
      const io = new InstrumentedIo();
      // No zeros ahead, whose own fdatasync would take the injected failure.
      const log = await openLog({ dir: d, preallocateBytes: 0 }, io);
      expect(await log.append(Buffer.from('ok'))).toBe(1n);
      let armed = true;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      io.hook = async (o) => {
        if (o === 'datasync' && !armed) await gate; // hold the second batch's sync
        if (o === op && armed) {
          armed = false;
          await new Promise((r) => setTimeout(r, 5));
          throw Object.assign(new Error('EIO: injected'), { code: 'EIO' });
        }
      };
      const batch = Array.from({ length: 8 }, (_, i) => log.append(Buffer.from(`b${i}`)));
      const codes = await Promise.all(batch.map(codeOf));
      expect(codes).toEqual(Array(8).fill('CAIRN_ERR_LOG_IO'));
      release();
      expect(await codeOf(log.append(Buffer.from('after')))).toBe('CAIRN_ERR_LOG_IO');
      expect(await codeOf(log.discardThrough(1n))).toBe('CAIRN_ERR_LOG_IO');
      await log.close();
      // What was acknowledged is still there after a reopen.
      const again = await openReplayLog({ dir: d });
      const got = await all(again);
      expect(got[0]!.payload.toString()).toBe('ok');
      await again.close();
    });
  }

  it('appends queued behind a failing batch fail too', async () => {
    const io = new InstrumentedIo();
    const log = await openLog({ dir: dir(), preallocateBytes: 0 }, io);
    const syncsAtOpen = io.counts.datasync;
    let fail = true;
    io.hook = async (op) => {
      if (op === 'datasync' && fail) {
        fail = false;
        await new Promise((r) => setTimeout(r, 10));
        throw new Error('injected');
      }
    };
    const first = log.append(Buffer.from('a'));
    await new Promise((r) => setTimeout(r, 2)); // the first batch is in its fdatasync now
    const queued = [log.append(Buffer.from('b')), log.append(Buffer.from('c'))];
    expect(await codeOf(first)).toBe('CAIRN_ERR_LOG_IO');
    expect(await Promise.all(queued.map(codeOf))).toEqual(['CAIRN_ERR_LOG_IO', 'CAIRN_ERR_LOG_IO']);
    expect(io.counts.datasync - syncsAtOpen).toBe(1);
    await log.close();
  });

  it('reports an unreadable directory as CAIRN_ERR_LOG_IO at open', async () => {
    const io = new InstrumentedIo();
    io.hook = (op) => {
      if (op === 'list') throw Object.assign(new Error('EACCES: injected'), { code: 'EACCES' });
    };
    expect(await codeOf(openLog({ dir: dir() }, io))).toBe('CAIRN_ERR_LOG_IO');
  });
});
