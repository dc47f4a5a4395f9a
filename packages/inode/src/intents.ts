// The intent log: fsync of a file with few pending bytes, made durable through
// the replay log instead of a segment PUT (what ZFS calls its intent log).
//
// A write's bytes sit in an open log segment until that segment is stored;
// only then do its extents enter metadata (invariant 1). fsync used to close
// the segment and wait for its PUT, so a small file's fsync cost an object
// store round trip. Now, when the bytes fsync must make durable are few
// (intentMaxFileBytes), fsync writes them, as data, into tree `intents` in
// one transaction: acknowledged once the replay log's group commit made it
// durable (local disk, like every metadata change). The bytes stay in their
// segment, which closes as usual (size, time, pool); the transaction that
// commits the segment's extents deletes the file's intents for it. Nothing
// durable names a segment before it is stored: an intent holds bytes, not a
// reference.
//
// Recovery (mount, step M5b): an intent still in the tree after replay is
// either resolved (its segment has a record: the extents were committed, the
// intent's deletion did not reach the log) and is deleted, or unresolved (its
// segment never became durable) and its bytes are written again through the
// segment writer, in (inode, seq) order, with the write time it recorded; the
// writer is flushed (extents committed) and the intents are deleted.
//
// A segment that fails for good after its bytes were acknowledged through an
// intent: the intent's bytes are written again at once (less the ranges newer
// pending writes of the file cover, which must stay on top) and logged anew.
//
// Records: key (ino, seq), value intentCodec (docs/formats.md, "Intent
// records"). Every intent covers one run of one segment, at most INTENT_CHUNK
// bytes.

import { cairnError } from '@cairn/errors';
import { decodeKey, encodeKey, type TreeReader } from '@cairn/headhunter';
import type { Extent, FailedSegment } from '@cairn/segments';
import type { Vol } from './context.js';
import { TREES } from './format.js';
import { inodeCodec, intentCodec, intentKey, nonceKey, type IntentRec } from './records.js';
import type { FsTx } from './tx.js';

/** Segment commits remembered (see IntentLog.committed). */
const RECENT_COMMITS = 4096;

/** Bytes of one intent record at most (a B+Tree entry holds up to 1/8 of a node). */
export const INTENT_CHUNK = 64 * 1024;

/** One logged intent, in memory until the commit of its segment resolved it. */
interface Intent {
  readonly ino: number;
  readonly seq: number;
  readonly rec: IntentRec;
  /** The segment offset of its first byte (which logged run it covers). */
  readonly segmentOffset: number;
  /** Settles with its transaction. */
  stored: Promise<void>;
  /** Its transaction committed. */
  isStored: boolean;
  /** Its segment's commit resolved it. */
  resolved: boolean;
  /** That commit's transaction deleted its record (it was stored before). */
  deletedInTx: boolean;
}

/** The intents of one volume that no segment commit resolved yet. */
export class IntentLog {
  private readonly byIno = new Map<number, Intent[]>();
  /** Logged runs: segment nonce -> segment offset of a run's first byte -> bytes of it logged (a run grows when writes continue it). */
  private readonly logged = new Map<bigint, Map<number, number>>();
  /** Segments committed lately: their runs are durable (the writer forgets them a moment later). */
  private readonly committed = new Set<bigint>();
  /** Per inode, the last intent transaction (a second fsync waits for it). */
  private readonly inflight = new Map<number, Promise<void>>();
  /** Bytes of all intents held. */
  bytes = 0;
  private nextSeq = 1;
  /** Counters for stats(). */
  readonly counts = { logged: 0, loggedBytes: 0, resolved: 0, rewritten: 0, recovered: 0 };

  constructor(readonly maxFileBytes: number, readonly maxBytes: number) {}

  get held(): number {
    let n = 0;
    for (const l of this.byIno.values()) n += l.length;
    return n;
  }

  /** Whether a small upload of n bytes may go through the log. */
  accepts(n: number): boolean {
    return this.maxFileBytes > 0 && n <= this.maxFileBytes && this.bytes + n <= this.maxBytes;
  }

  seqAtLeast(seq: number): void {
    if (seq >= this.nextSeq) this.nextSeq = seq + 1;
  }

  /**
   * fsync through the log: logs the file's pending runs not logged yet and
   * waits until they are durable. False when the log cannot take them (too
   * many bytes: the caller flushes the segments instead).
   */
  async sync(v: Vol, ino: number): Promise<boolean> {
    if (this.maxFileBytes <= 0) return false;
    // The runs, or their tails, not logged yet (a run grows while writes continue it).
    const runs: Array<{ run: Extent; from: number }> = [];
    let bytes = 0;
    for (const r of v.writer.pendingExtents(BigInt(ino))) {
      if (this.committed.has(r.nonce)) continue;
      const from = this.logged.get(r.nonce)?.get(r.segmentOffset) ?? 0;
      if (from >= r.length) continue;
      runs.push({ run: r, from });
      bytes += r.length - from;
    }
    const before = this.inflight.get(ino);
    if (runs.length === 0) {
      // Everything pending is logged (perhaps by an fsync still committing): wait for that.
      if (before !== undefined) await before;
      return true;
    }
    if (bytes > this.maxFileBytes || this.bytes + bytes > this.maxBytes) return false;
    const mtime = v.dirty.get(ino)?.mtime ?? v.now();
    const dataVersion = v.dataVersions.get(ino) ?? 0;
    const fresh: Intent[] = [];
    const marks: Array<{ nonce: bigint; segmentOffset: number; was: number }> = [];
    for (const { run: r, from } of runs) {
      const data = v.writer.readPending(r.nonce, r.segmentOffset + from, r.length - from);
      if (data === undefined) continue; // its segment committed meanwhile: durable already
      this.intentsOf(fresh, ino, r.nonce, r.segmentOffset + from, r.fileOffset + from, data, mtime, dataVersion);
      marks.push({ nonce: r.nonce, segmentOffset: r.segmentOffset, was: from });
      this.markLogged(r.nonce, r.segmentOffset, r.length);
    }
    if (fresh.length === 0) return true;
    try {
      await this.commit(v, ino, fresh, before, (t) => {
        // The size the logged runs reach is durable too (the record says so), read when the transaction
        // runs: a truncate that committed first flushed (and dropped) the runs; a write after the runs
        // were read is not logged, so it does not count.
        let end = 0;
        for (const r of v.writer.pendingExtents(BigInt(ino))) {
          const logged = Math.min(r.length, this.logged.get(r.nonce)?.get(r.segmentOffset) ?? 0);
          if (logged > 0) end = Math.max(end, r.fileOffset + logged);
        }
        const d = v.dirty.get(ino);
        const cur = t.inode(ino);
        if (cur === undefined) return;
        const mtime = d?.mtime !== undefined && d.mtime > cur.mtime ? d.mtime : cur.mtime;
        const ctime = d !== undefined && d.ctime > cur.ctime ? d.ctime : cur.ctime;
        const dataVersion = v.committedDataVersion(ino, cur.dataVersion);
        t.journalInode('write', ino, t.putInode(ino, { ...cur, size: Math.max(cur.size, end), mtime, ctime, dataVersion }));
      });
      v.settledContent.add(ino);
    } catch (err) {
      // Not durable: the caller falls back to flushing the segments; a later fsync logs these runs again.
      for (const m of marks) this.markLogged(m.nonce, m.segmentOffset, m.was);
      throw err;
    }
    return true;
  }

  /**
   * A small upload's commit (upload.ts): its bytes, just placed by the writer
   * at `pieces` (file offset 0 on), become intents stored by the same
   * transaction as `create` (which makes the file exist).
   */
  async commitPlaced<T>(
    v: Vol, ino: number, pieces: ReadonlyArray<{ segment: { nonce: bigint }; segmentOffset: number; length: number }>, data: Buffer,
    dataVersion: number, create: (t: FsTx) => T,
  ): Promise<T> {
    const fresh: Intent[] = [];
    const mtime = v.now();
    let at = 0;
    for (const p of pieces) {
      this.intentsOf(fresh, ino, p.segment.nonce, p.segmentOffset, at, data.subarray(at, at + p.length), mtime, dataVersion);
      this.markLogged(p.segment.nonce, p.segmentOffset, p.length);
      at += p.length;
    }
    return this.commit(v, ino, fresh, undefined, create);
  }

  /** Appends the intents (INTENT_CHUNK bytes each) of one run's bytes to `out`. */
  private intentsOf(out: Intent[], ino: number, nonce: bigint, segmentOffset: number, fileOffset: number, data: Buffer, mtime: bigint, dataVersion: number): void {
    for (let at = 0; at < data.length; at += INTENT_CHUNK) {
      out.push({
        ino, seq: this.nextSeq++, segmentOffset: segmentOffset + at,
        stored: Promise.resolve(), isStored: false, resolved: false, deletedInTx: false,
        rec: { fileOffset: fileOffset + at, data: Buffer.from(data.subarray(at, Math.min(data.length, at + INTENT_CHUNK))), nonce, mtime, dataVersion },
      });
    }
  }

  /** Stores intents in one transaction (with `extra`'s changes) and waits until it (and `before`) is durable. */
  private async commit<T>(v: Vol, ino: number, fresh: Intent[], before: Promise<void> | undefined, extra?: (t: FsTx) => T): Promise<T> {
    this.hold(fresh);
    let out: T | undefined;
    const done = v.tx((t) => {
      if (extra !== undefined) out = extra(t);
      for (const i of fresh) if (!i.resolved) t.tx.put(TREES.intents, intentKey(i.ino, i.seq), intentCodec.encode(i.rec));
    }).then(() => {
      for (const i of fresh) i.isStored = true;
    });
    for (const i of fresh) i.stored = done;
    const mine = done.catch(() => undefined);
    this.inflight.set(ino, mine);
    void mine.then(() => {
      if (this.inflight.get(ino) === mine) this.inflight.delete(ino);
    });
    try {
      if (before !== undefined) await before;
      await done;
    } catch (err) {
      this.drop(fresh);
      throw err;
    }
    this.counts.logged += fresh.length;
    for (const i of fresh) this.counts.loggedBytes += i.rec.data.length;
    return out as T;
  }

  /**
   * Inside a segment commit's transaction: deletes the intents of `ino` that
   * segment `nonce` holds. Returns them; call settle() once the transaction
   * committed.
   */
  resolveInTx(t: { tx: { del(tree: string, key: Uint8Array): void } }, ino: number, nonce: bigint): Intent[] {
    const l = this.byIno.get(ino);
    if (l === undefined) return [];
    const out: Intent[] = [];
    for (const i of l) {
      if (i.rec.nonce !== nonce) continue;
      i.deletedInTx = i.isStored;
      if (i.isStored) t.tx.del(TREES.intents, intentKey(i.ino, i.seq));
      out.push(i);
    }
    return out;
  }

  /** After the segment commit: forgets the resolved intents (deleting any the transaction ran too early for). */
  settle(v: Vol, resolved: readonly Intent[], nonce: bigint): void {
    this.committed.add(nonce);
    if (this.committed.size > RECENT_COMMITS) this.committed.delete(this.committed.values().next().value!);
    if (resolved.length === 0 && !this.logged.has(nonce)) return;
    this.logged.delete(nonce);
    const late: Intent[] = [];
    for (const i of resolved) {
      i.resolved = true;
      // Not stored yet when the commit's transaction ran: delete it once it is.
      if (!i.deletedInTx) late.push(i);
    }
    if (late.length > 0) void Promise.all(late.map((i) => i.stored)).then(() => this.deleteLater(v, late), () => undefined);
    this.drop(resolved);
    this.counts.resolved += resolved.length;
  }

  /**
   * A segment failed for good: its runs that were logged are written again
   * (less what newer pending writes cover) and logged anew; the old intents
   * go once the new ones are stored.
   */
  rewriteFailed(v: Vol, f: FailedSegment): void {
    const nonce = f.segment.nonce;
    this.logged.delete(nonce);
    for (const k of f.fileKeys) {
      const ino = Number(k);
      const lost = (this.byIno.get(ino) ?? []).filter((i) => i.rec.nonce === nonce);
      if (lost.length === 0) continue;
      this.drop(lost);
      // The failed segment is released already: these are the file's newer runs.
      const newer = v.writer.pendingExtents(k);
      const writes: Array<{ fileOffset: number; data: Buffer; mtime: bigint; p: Promise<unknown> }> = [];
      for (const i of lost) {
        for (const [from, to] of uncovered(i.rec.fileOffset, i.rec.fileOffset + i.rec.data.length, newer)) {
          const data = i.rec.data.subarray(from - i.rec.fileOffset, to - i.rec.fileOffset);
          // Called now, in order: the writer places these before any later write of the file.
          const p = v.writer.write(k, data, { fileOffset: from });
          writes.push({ fileOffset: from, data, mtime: i.rec.mtime, p });
        }
      }
      this.counts.rewritten += lost.length;
      v.logger.warn({ ino, segment: f.segment.name, intents: lost.length }, 'segment failed; bytes acknowledged through the intent log are written again');
      v.tasks.add((async () => {
        await Promise.all(writes.map((w) => w.p));
        // Log them anew; then drop the old records.
        await this.sync(v, ino);
        await v.tx((t) => {
          for (const i of lost) t.tx.del(TREES.intents, intentKey(i.ino, i.seq));
        });
      })().catch((err: unknown) => v.logger.error({ err, ino }, 'writing acknowledged bytes again after a segment failure failed; the next mount recovers them')));
    }
  }

  private hold(fresh: readonly Intent[]): void {
    for (const i of fresh) {
      let l = this.byIno.get(i.ino);
      if (l === undefined) this.byIno.set(i.ino, (l = []));
      l.push(i);
      this.bytes += i.rec.data.length;
    }
  }

  private drop(gone: readonly Intent[]): void {
    for (const i of gone) {
      const l = this.byIno.get(i.ino);
      if (l === undefined) continue;
      const at = l.indexOf(i);
      if (at < 0) continue;
      l.splice(at, 1);
      this.bytes -= i.rec.data.length;
      if (l.length === 0) this.byIno.delete(i.ino);
    }
  }

  private markLogged(nonce: bigint, segmentOffset: number, length: number): void {
    let s = this.logged.get(nonce);
    if (s === undefined) this.logged.set(nonce, (s = new Map()));
    s.set(segmentOffset, length);
  }

  private deleteLater(v: Vol, gone: readonly Intent[]): void {
    if (v.closed) return;
    v.tasks.add(v.tx((t) => {
      for (const i of gone) t.tx.del(TREES.intents, intentKey(i.ino, i.seq));
    }).then(() => undefined, (err: unknown) => v.logger.debug({ err }, 'deleting resolved intents failed; the next mount does it')));
  }
}

/** The parts of [from, to) that no extent in `over` covers. */
function uncovered(from: number, to: number, over: readonly Extent[]): Array<[number, number]> {
  let parts: Array<[number, number]> = [[from, to]];
  for (const e of over) {
    const a = e.fileOffset;
    const b = e.fileOffset + e.length;
    const next: Array<[number, number]> = [];
    for (const [x, y] of parts) {
      if (b <= x || a >= y) next.push([x, y]);
      else {
        if (a > x) next.push([x, a]);
        if (b < y) next.push([b, y]);
      }
    }
    parts = next;
  }
  return parts;
}

/**
 * M5b: the intents replay left. Resolved ones (their segment has a record) are
 * deleted; the others are written again in (inode, seq) order and, once the
 * writer stored and committed them, deleted. Returns how many were written.
 */
export async function recoverIntents(v: Vol, log: IntentLog): Promise<number> {
  if (!v.hh.treeNames().includes(TREES.intents)) {
    await v.hh.createTree(TREES.intents);
    return 0;
  }
  const tree = v.hh.tree(TREES.intents);
  const segments = v.hh.tree(TREES.segments);
  const dead = v.hh.tree(TREES.deadsegs);
  const inodes = v.hh.tree(TREES.inodes);
  const done: Buffer[] = [];
  let written = 0;
  let after: Uint8Array | undefined;
  for (;;) {
    const rows = await tree.scan({ ...(after !== undefined ? { gt: after } : {}), limit: 256 });
    if (rows.length === 0) break;
    for (const row of rows) {
      after = row.key;
      const [ino, seq] = decodeIntentKey(row.key);
      log.seqAtLeast(seq);
      const rec = intentCodec.decode(row.value);
      done.push(Buffer.from(row.key));
      if (await segmentRecorded(segments, dead, rec.nonce)) continue;
      const ib = await inodes.get(encodeKey([ino]));
      if (ib === undefined) continue;
      // A record that already counts these bytes (a small upload's) keeps its dataVersion; else it goes past the logged one.
      if (rec.dataVersion <= inodeCodec.decode(ib).dataVersion && !v.dataVersions.has(ino)) v.settledContent.add(ino);
      else if (rec.dataVersion > (v.dataVersions.get(ino) ?? 0)) v.dataVersions.set(ino, rec.dataVersion);
      await v.writer.write(BigInt(ino), rec.data, { fileOffset: rec.fileOffset });
      const dt = v.dirty.get(ino);
      if (dt === undefined) v.dirty.set(ino, { mtime: rec.mtime, ctime: rec.mtime });
      else if (dt.mtime === undefined || rec.mtime > dt.mtime) {
        dt.mtime = rec.mtime;
        dt.ctime = rec.mtime;
      }
      written++;
    }
  }
  if (done.length === 0) return 0;
  if (written > 0) {
    try {
      await v.writer.flushAll();
    } catch (err) {
      throw cairnError('CAIRN_ERR_FS_IO', 'writing the bytes of the intent log back to segments failed', { cause: err });
    }
  }
  for (let i = 0; i < done.length; i += 1024) {
    const part = done.slice(i, i + 1024);
    await v.tx((t) => {
      for (const k of part) t.tx.del(TREES.intents, k);
    });
  }
  log.counts.recovered += written;
  v.logger.info({ intents: done.length, written }, 'intent log recovered');
  return written;
}

/** Whether segment `nonce` has a record (live or dead): its commit happened, so an intent naming it is resolved. */
export async function segmentRecorded(segments: TreeReader, dead: TreeReader, nonce: bigint): Promise<boolean> {
  const key = nonceKey(nonce);
  return (await segments.get(key)) !== undefined || (await dead.get(key)) !== undefined;
}

function decodeIntentKey(key: Uint8Array): [number, number] {
  const parts = decodeKey(key);
  const ino = parts[0];
  const seq = parts[1];
  if (typeof ino !== 'number' || typeof seq !== 'number') throw cairnError('CAIRN_ERR_META_CORRUPT', 'intent key');
  return [ino, seq];
}
