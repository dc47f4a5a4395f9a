// Model test: random appends, closes, reopens, crash truncations and discards
// against an array of the records the log must hold.

import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { isCairnError } from '@cairn/errors';
import { afterEach, describe, expect, it } from 'vitest';
import { MARK_SPACING } from './files.js';
import { FILE_HEADER_SIZE, RECORD_HEADER_SIZE } from './format.js';
import { openReplayLog, type ReplayLog, type ReplayLogOptions } from './index.js';
import { parseLogFileName } from './names.js';
import { logFiles, tempDir } from './testing.js';

type Op =
  | { kind: 'append'; payloads: Uint8Array[] }
  | { kind: 'appendThenClose'; payloads: Uint8Array[] }
  | { kind: 'reopen' }
  | { kind: 'crash'; cut: number } // cut: fraction of the newest file kept
  | { kind: 'flip'; at: number } // at: fraction of the newest file's record bytes; one byte damaged
  | { kind: 'discard'; at: number }; // at: fraction of the LSNs so far (> 1: beyond nextLsn)

// Many equal sizes: a stale record left behind a truncation point would line up with new ones.
const payload = fc.oneof(fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.uint8Array({ maxLength: 120 }));
const payloads = fc.array(payload, { minLength: 1, maxLength: 8 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: payloads.map((p) => ({ kind: 'append' as const, payloads: p })) },
  { weight: 1, arbitrary: payloads.map((p) => ({ kind: 'appendThenClose' as const, payloads: p })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
  { weight: 2, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map((cut) => ({ kind: 'crash' as const, cut })) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }).map((at) => ({ kind: 'flip' as const, at })) },
  { weight: 2, arbitrary: fc.double({ min: 0, max: 1.3, noNaN: true }).map((at) => ({ kind: 'discard' as const, at })) },
);

interface ModelRecord {
  lsn: bigint;
  payload: string;
  size: number;
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('replay log against a model', () => {
  it('holds exactly the model records after any sequence of operations', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), fc.integer({ min: 100, max: 600 }), fc.constantFrom(0, 40, 256, 1000), async (ops, rotateBytes, preallocateBytes) => {
        const t = tempDir();
        cleanups.push(t.cleanup);
        // preallocateBytes: zeros ahead of the records, which crashes and flips also cut and damage.
        const options: ReplayLogOptions = { dir: t.dir, rotateBytes, fsync: false, preallocateBytes };
        let log: ReplayLog = await openReplayLog(options);
        let records: ModelRecord[] = []; // every record the log holds, discarded ones included
        let next = 1n;
        let floor = 0n; // largest discardThrough so far

        const append = (ps: Uint8Array[]) =>
          ps.map((p) => {
            const lsn = next++;
            records.push({ lsn, payload: Buffer.from(p).toString('hex'), size: RECORD_HEADER_SIZE + p.length });
            return log.append(p).then((got) => expect(got).toBe(lsn));
          });

        for (const o of ops) {
          switch (o.kind) {
            case 'append':
              await Promise.all(append(o.payloads));
              break;
            case 'appendThenClose': {
              const pending = append(o.payloads);
              await log.close();
              await Promise.all(pending);
              log = await openReplayLog(options);
              break;
            }
            case 'reopen':
              await log.close();
              log = await openReplayLog(options);
              break;
            case 'crash':
            case 'flip': {
              await log.close();
              const newest = logFiles(t.dir).at(-1)!;
              const firstLsn = parseLogFileName(newest)!;
              const path = join(t.dir, newest);
              const size = statSync(path).size;
              let cut: number; // records that end at or before `cut` survive
              if (o.kind === 'crash') {
                cut = Math.floor(o.cut * size);
                truncateSync(path, cut);
              } else if (size === FILE_HEADER_SIZE) {
                cut = size; // no record to damage
              } else {
                const bytes = readFileSync(path);
                const at = FILE_HEADER_SIZE + Math.floor(o.at * (size - FILE_HEADER_SIZE));
                bytes[at] = bytes[at]! ^ 0xff;
                writeFileSync(path, bytes);
                cut = at;
              }
              let end = FILE_HEADER_SIZE;
              const kept = cut < FILE_HEADER_SIZE ? [] : records.filter((r) => r.lsn >= firstLsn && (end += r.size) <= cut);
              records = records.filter((r) => r.lsn < firstLsn).concat(kept);
              next = kept.length > 0 ? kept[kept.length - 1]!.lsn + 1n : firstLsn;
              log = await openReplayLog(options);
              // What the metadata database does after recovery: the checkpoint covers `floor`.
              if (floor >= next) next = floor + 1n;
              await log.discardThrough(floor);
              break;
            }
            case 'discard': {
              const lsn = BigInt(Math.floor(o.at * Number(next - 1n)));
              await log.discardThrough(lsn);
              if (lsn > floor) floor = lsn;
              if (lsn >= next) next = lsn + 1n;
              break;
            }
          }

          // Check: next LSN, replay after the floor, live bytes.
          expect(log.nextLsn).toBe(next);
          const live = records.filter((r) => r.lsn > floor);
          const got: Array<{ lsn: bigint; payload: string }> = [];
          for await (const r of log.replay(floor)) got.push({ lsn: r.lsn, payload: r.payload.toString('hex') });
          expect(got).toEqual(live.map((r) => ({ lsn: r.lsn, payload: r.payload })));
          // firstLsn: the oldest record held; replay from just before it yields all of them, earlier fails.
          const first = log.firstLsn;
          expect(first).toBe(parseLogFileName(logFiles(t.dir)[0]!));
          expect(first <= floor + 1n).toBe(true);
          const held: string[] = [];
          for await (const r of log.replay(first - 1n)) held.push(`${r.lsn}:${r.payload.toString('hex')}`);
          expect(held).toEqual(records.filter((r) => r.lsn >= first).map((r) => `${r.lsn}:${r.payload}`));
          if (first >= 2n) {
            await expect((async () => {
              for await (const r of log.replay(first - 2n)) void r;
            })()).rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_LOG_CORRUPT'));
          }
          const exact = live.reduce((n, r) => n + r.size, 0);
          expect(log.liveBytes()).toBeGreaterThanOrEqual(exact);
          expect(log.liveBytes()).toBeLessThanOrEqual(exact + MARK_SPACING + 8 * (RECORD_HEADER_SIZE + 120));
        }
        await log.close();
        t.cleanup();
      }),
      { numRuns: 100 },
    );
  });
});
