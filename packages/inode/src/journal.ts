// The change journal (the sync-journal design): every committed change gets
// the next journal id of the volume, written in the same transaction as the
// change itself. Clients list changes after a cursor (the last id they saw),
// page by page, and wait (long-poll) for new ones. Old entries are compacted;
// a cursor older than what is kept gets CAIRN_ERR_FS_CURSOR_EXPIRED ("rescan")
// instead of a silently incomplete list. atime-only updates are not journaled.

import { cairnError } from '@cairn/errors';
import { decodeKey } from '@cairn/headhunter';
import type { Vol } from './context.js';
import { JOURNAL_COMPACT_CHUNK, TREES } from './format.js';
import { FsReader } from './reader.js';
import { journalCodec, journalKey, type JournalRec } from './records.js';
import type { Change, ChangePage, ListChangesOptions, WaitChangesOptions } from './types.js';

function checkCursor(cursor: unknown): number {
  if (typeof cursor !== 'number' || !Number.isSafeInteger(cursor) || cursor < 0) throw cairnError('CAIRN_ERR_FS_INVALID', `journal cursor ${String(cursor)}`);
  return cursor;
}

function toChange(jid: number, r: JournalRec): Change {
  const { time, mtime, ...rest } = r;
  return { jid, ...rest, ...(mtime !== undefined ? { mtimeNs: mtime } : {}), timeNs: time };
}

/** The cursor of "now": the id of the newest change (0 when none). */
export async function journalCursor(v: Vol): Promise<number> {
  return FsReader.with(v, async (r) => (await r.meta()).nextJid - 1);
}

/**
 * Changes with id > cursor, oldest first, at most `limit`. A cursor below
 * what compaction kept is CAIRN_ERR_FS_CURSOR_EXPIRED; one past the newest
 * change is EINVAL (it belongs to another volume or a lost future).
 */
export async function listChanges(v: Vol, cursor: number, o: ListChangesOptions = {}): Promise<ChangePage> {
  checkCursor(cursor);
  const limit = o.limit ?? 1000;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 100_000) throw cairnError('CAIRN_ERR_FS_INVALID', `limit ${limit}`);
  return FsReader.with(v, async (r) => {
    const m = await r.meta();
    const newest = m.nextJid - 1;
    if (cursor > newest) throw cairnError('CAIRN_ERR_FS_INVALID', `journal cursor ${cursor} is past the newest change ${newest}`);
    if (cursor < m.journalFloor - 1) throw cairnError('CAIRN_ERR_FS_CURSOR_EXPIRED', `cursor ${cursor}, oldest kept change ${m.journalFloor}`);
    const rows = await r.view.tree(TREES.journal).scan({ gt: journalKey(cursor), limit });
    const changes = rows.map((e) => toChange(decodeKey(e.key)[0] as number, journalCodec.decode(e.value)));
    const last = changes.length > 0 ? changes[changes.length - 1]!.jid : cursor;
    return { changes, cursor: last, more: last < newest };
  });
}

/**
 * Resolves true as soon as a change with id > cursor exists (at once when
 * one does), false after timeoutMs; rejects when the signal aborts.
 */
export async function waitForChanges(v: Vol, cursor: number, o: WaitChangesOptions = {}): Promise<boolean> {
  checkCursor(cursor);
  const timeoutMs = o.timeoutMs ?? 30_000;
  if (!(timeoutMs >= 0) || !Number.isFinite(timeoutMs)) throw cairnError('CAIRN_ERR_FS_INVALID', `timeoutMs ${timeoutMs}`);
  o.signal?.throwIfAborted();
  // Register before the first await so that no change (nor abort) is missed.
  let wake!: (why: 'change' | 'abort') => void;
  const woke = new Promise<'change' | 'abort'>((res) => {
    wake = res;
  });
  const onChange = (): void => wake('change');
  const onAbort = (): void => wake('abort');
  v.journalWaiters.add(onChange);
  o.signal?.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((res) => {
    timer = setTimeout(() => res('timeout'), timeoutMs);
  });
  try {
    let next = woke;
    for (;;) {
      if ((await journalCursor(v)) > cursor) return true;
      const r = await Promise.race([next, timeout]);
      if (r === 'timeout') return false;
      if (r === 'abort') throw cairnError('CAIRN_ERR_CANCELED', 'waitForChanges');
      if (v.closed) throw cairnError('CAIRN_ERR_CLOSED', `filesystem ${v.volumeId}`);
      next = new Promise<'change' | 'abort'>((res) => {
        wake = res;
      });
      if (o.signal?.aborted === true) throw cairnError('CAIRN_ERR_CANCELED', 'waitForChanges');
    }
  } finally {
    clearTimeout(timer);
    v.journalWaiters.delete(onChange);
    o.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Compacts the journal: deletes the oldest entries that are older than the
 * horizon, always keeping the newest `journalMinEntries`. Returns how many
 * went. The floor moves in the same transaction as the deletions.
 */
export async function compactJournal(v: Vol, o: { horizonMs?: number; minEntries?: number } = {}): Promise<number> {
  const horizonNs = BigInt(Math.floor(o.horizonMs ?? v.o.journalHorizonMs)) * 1_000_000n;
  const minEntries = o.minEntries ?? v.o.journalMinEntries;
  let total = 0;
  for (;;) {
    const n = await v.tx((t) => {
      const m = t.getMeta();
      const keepFrom = m.nextJid - minEntries; // ids >= keepFrom stay
      const rows = t.tx.scan(TREES.journal, { gte: journalKey(m.journalFloor), limit: JOURNAL_COMPACT_CHUNK });
      let floor = m.journalFloor;
      let gone = 0;
      for (const e of rows) {
        const jid = decodeKey(e.key)[0] as number;
        if (jid >= keepFrom) break;
        if (journalCodec.decode(e.value).time > t.now - horizonNs) break;
        t.tx.del(TREES.journal, e.key);
        floor = jid + 1;
        gone++;
      }
      if (gone > 0) t.setMeta({ journalFloor: floor });
      return gone;
    });
    total += n;
    if (n < JOURNAL_COMPACT_CHUNK) return total;
  }
}
