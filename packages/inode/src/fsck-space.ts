// fsck, space part: segment records (live and dead), every file's extents
// (order, overlap, size, the segment they name and its length), the live
// bytes of each segment against the extents naming it, the meta totals,
// xattrs of missing inodes, and the change journal's ids. Runs after
// scanNamespace (it needs the inode table). Internal to fsck.

import { decodeKey } from '@cairn/headhunter';
import { noncePart, strPart, uintPart, type ScanCtx } from './fsck-findings.js';
import { F_TRIM } from './fsck-table.js';
import {
  containerFix, deadRecordFix, dropExtentsFix, extentFix, journalFloorFix, liveFix, metaDeltaFix, metaRaiseFix, pastSizeFix, reviveFix, xattrsFix,
} from './fsck-repair.js';
import { TREES } from './format.js';
import { deadSegCodec, extentCodec, journalCodec, segmentCodec, xattrCodec, type ExtentRec } from './records.js';

/** Runs the space checks of one pass. */
export async function scanSpace(c: ScanCtx): Promise<void> {
  const sums = await scanSegments(c);
  await scanExtents(c);
  checkLive(c, sums);
  await scanXattrs(c);
  await scanJournal(c);
}

/** Segment records; returns the sums the meta record must hold. */
async function scanSegments(c: ScanCtx): Promise<{ live: number; stored: number }> {
  let live = 0;
  let stored = 0;
  const nonceOf = (key: Buffer, bad: boolean): bigint => {
    const n = noncePart(decodeKey(key)[0]);
    if (bad) c.badSegs.set(n, true);
    return n;
  };
  const decode = (codec: typeof segmentCodec | typeof deadSegCodec) => (key: Buffer, value: Buffer): { nonce: bigint; size: number; live: number; container: string } => {
    const nonce = nonceOf(key, false);
    try {
      const r = codec.decode(value);
      return { nonce, size: r.size, live: 'live' in r ? r.live : 0, container: r.container };
    } catch (err) {
      nonceOf(key, true);
      throw err;
    }
  };
  for await (const s of c.records(TREES.segments, decode(segmentCodec), false)) {
    c.counts.segments++;
    c.segs.set(s.nonce, s);
    live += s.live;
    stored += s.size;
    const want = c.v.locate(s.nonce).container;
    if (s.container !== want) {
      c.add('segment-container', `segment ${s.nonce} is recorded in container ${s.container}, the layout puts it in ${want}`, {
        nonce: s.nonce, fix: containerFix(s.nonce, want),
      });
    }
  }
  for await (const s of c.records(TREES.deadsegs, decode(deadSegCodec), true)) {
    c.counts.deadSegments++;
    c.dead.set(s.nonce, s);
    if (c.segs.has(s.nonce)) {
      c.add('segment-dead', `segment ${s.nonce} is recorded both live and dead`, { nonce: s.nonce, fix: deadRecordFix(s.nonce) });
      continue; // counted once, as the live record it keeps
    }
    stored += s.size;
  }
  return { live, stored };
}

interface ExtentRow {
  readonly ino: number;
  readonly offset: number;
  readonly e: ExtentRec;
  readonly raw: Buffer;
}

/** Every file's extents, one file at a time. */
async function scanExtents(c: ScanCtx): Promise<void> {
  const t = c.table;
  let cur = -1;
  let kind: 'ok' | 'gone' | 'skip' = 'ok';
  let prev: ExtentRow | undefined;
  let pastSize = false;
  let count = 0;
  const finish = (): void => {
    if (cur < 0) return;
    if (kind === 'gone') {
      const i = t.find(cur);
      c.add('extent-inode', `${count} extents of inode ${cur}, which ${i < 0 ? 'does not exist' : 'is not a regular file'}`, { ino: cur, fix: dropExtentsFix(cur) });
    }
    if (pastSize) c.add('extent-past-size', `extents of inode ${cur} reach past its size ${t.fileSize[t.find(cur)]}`, { ino: cur, fix: pastSizeFix(cur) });
  };
  const decode = (key: Buffer, value: Buffer): ExtentRow => {
    const parts = decodeKey(key);
    return { ino: uintPart(parts[0], 'inode number'), offset: uintPart(parts[1], 'file offset'), e: extentCodec.decode(value), raw: Buffer.from(value) };
  };
  for await (const r of c.records(TREES.extents, decode, true)) {
    c.counts.extents++;
    c.extentSums.add(r.e.nonce, r.e.length);
    if (r.ino !== cur) {
      finish();
      cur = r.ino;
      prev = undefined;
      pastSize = false;
      count = 0;
      const i = t.find(r.ino);
      kind = i >= 0 && t.isRegular(i) ? 'ok' : c.badInodes.has(r.ino) ? 'skip' : 'gone';
    }
    count++;
    if (kind !== 'ok') continue;
    const i = t.find(r.ino);
    const { ino, offset, e } = r;
    const end = offset + e.length;
    if (prev !== undefined && prev.offset + prev.e.length > offset) {
      c.add('extent-overlap', `extent at ${prev.offset} (+${prev.e.length}) overlaps the one at ${offset}`, {
        ino, fix: extentFix(ino, prev.offset, prev.raw, offset - prev.offset),
      });
    }
    prev = r;
    if (end > t.fileSize[i]! && (t.flags[i]! & F_TRIM) === 0) pastSize = true;
    checkExtentSegment(c, r);
  }
  finish();
}

/** The segment an extent names: live, and long enough. */
function checkExtentSegment(c: ScanCtx, r: ExtentRow): void {
  const { ino, offset, e } = r;
  if (c.badSegs.has(e.nonce)) return;
  const seg = c.segs.get(e.nonce);
  if (seg === undefined) {
    const dead = c.dead.get(e.nonce);
    if (dead !== undefined) {
      // One finding per dead segment: reviving it fixes every extent naming it.
      if (!c.revived.has(e.nonce)) {
        c.revived.set(e.nonce, true);
        c.add('extent-segment', `extents (first: inode ${ino} at ${offset}) name segment ${e.nonce}, which is dead`, {
          ino, nonce: e.nonce, fix: reviveFix(e.nonce, () => c.extentSums.get(e.nonce) ?? 0),
        });
      }
    } else {
      c.add('extent-segment', `extent at ${offset} names segment ${e.nonce}, which is not recorded (the bytes are lost)`, {
        ino, nonce: e.nonce, fix: extentFix(ino, offset, r.raw, 0, true),
      });
    }
    return;
  }
  if (e.segmentOffset + e.length > seg.size) {
    c.add('extent-segment-range', `extent at ${offset} reads segment ${e.nonce} bytes ${e.segmentOffset}..${e.segmentOffset + e.length}, it has ${seg.size}`, {
      ino, nonce: e.nonce, fix: extentFix(ino, offset, r.raw, seg.size - e.segmentOffset, true),
    });
  }
}

/** Live bytes of each segment against its extents, and the meta totals. */
function checkLive(c: ScanCtx, sums: { live: number; stored: number }): void {
  for (const [nonce, seg] of c.segs.entries()) {
    const want = c.extentSums.get(nonce) ?? 0;
    c.counts.liveBytes += want;
    // A record with no live bytes and no extent is not a problem: the cleaner's new segments
    // start that way, and the cleaner moves leftovers to `deadsegs`.
    if (seg.live !== want) {
      c.add('segment-live', `segment ${nonce} live bytes ${seg.live}, its extents ${want}`, { nonce, fix: liveFix(nonce, want - seg.live) });
    }
  }
  const m = c.meta;
  if (m === undefined) return;
  if (m.liveBytes !== sums.live) {
    c.add('meta-live-bytes', `meta liveBytes ${m.liveBytes}, segments sum to ${sums.live}`, { fix: metaDeltaFix('liveBytes', sums.live - m.liveBytes) });
  }
  if (m.storedBytes !== sums.stored) {
    c.add('meta-stored-bytes', `meta storedBytes ${m.storedBytes}, live and dead segments sum to ${sums.stored}`, { fix: metaDeltaFix('storedBytes', sums.stored - m.storedBytes) });
  }
}

async function scanXattrs(c: ScanCtx): Promise<void> {
  let cur = -1;
  let n = 0;
  const finish = (): void => {
    if (cur >= 0 && n > 0) c.add('xattr-inode', `${n} xattrs of inode ${cur}, which does not exist`, { ino: cur, fix: xattrsFix(cur) });
  };
  const decode = (key: Buffer, value: Buffer): { ino: number } => {
    const parts = decodeKey(key);
    strPart(parts[1], 'xattr name');
    xattrCodec.decode(value);
    return { ino: uintPart(parts[0], 'inode number') };
  };
  for await (const x of c.records(TREES.xattrs, decode, true)) {
    c.counts.xattrs++;
    if (x.ino !== cur) {
      finish();
      cur = x.ino;
      n = 0;
    }
    if (c.table.find(x.ino) < 0 && !c.badInodes.has(x.ino)) n++;
  }
  finish();
}

/** Journal ids: within [journalFloor, nextJid) and without gaps (keys sort, so they increase). */
async function scanJournal(c: ScanCtx): Promise<void> {
  const m = c.meta;
  let below = 0;
  let ahead = 0;
  let maxJid = 0;
  let expect = m?.journalFloor ?? 0;
  let lastGapEnd: number | undefined;
  let gaps = 0;
  const decode = (key: Buffer, value: Buffer): number => {
    const jid = uintPart(decodeKey(key)[0], 'journal id');
    journalCodec.decode(value);
    return jid;
  };
  for await (const jid of c.records(TREES.journal, decode, true)) {
    c.counts.journal++;
    maxJid = Math.max(maxJid, jid);
    if (m === undefined) continue;
    if (jid < m.journalFloor) {
      below++;
      continue;
    }
    if (jid >= m.nextJid) {
      ahead++;
      continue;
    }
    if (jid > expect) {
      gaps += jid - expect;
      lastGapEnd = jid;
    }
    expect = jid + 1;
  }
  if (m === undefined) return;
  if (expect < m.nextJid) {
    gaps += m.nextJid - expect;
    lastGapEnd = m.nextJid;
  }
  if (ahead > 0) c.add('journal-range', `${ahead} journal entries at or past nextJid ${m.nextJid} (up to ${maxJid})`, { fix: metaRaiseFix('nextJid', maxJid + 1) });
  if (below > 0) c.add('journal-range', `${below} journal entries below the floor ${m.journalFloor}`, { fix: journalFloorFix(undefined) });
  if (gaps > 0 && lastGapEnd !== undefined) {
    c.add('journal-gap', `${gaps} journal ids between ${m.journalFloor} and ${m.nextJid} are missing (the last before ${lastGapEnd})`, {
      fix: journalFloorFix(lastGapEnd),
    });
  }
}
