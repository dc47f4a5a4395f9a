// The filesystem's records: one codec (defineRecord) and one key builder per
// record type, so no other module encodes tree keys or values by hand. Layouts
// are documented in docs/formats.md ("Filesystem records"); tags and tree names
// live in format.ts.

import { defineRecord, encodeKey, keyPrefixRange, type RecordCodec } from '@cairn/headhunter';
import { TAG } from './format.js';

// ---- field validators ------------------------------------------------------------

function obj(v: unknown): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a map');
  return v as Record<string, unknown>;
}

function uint(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'bigint' && v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  throw new Error(`${what}: expected an unsigned integer`);
}

function big(v: unknown, what: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  throw new Error(`${what}: expected an integer`);
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new Error(`${what}: expected a string`);
  return v;
}

function bytes(v: unknown, what: string): Buffer {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  throw new Error(`${what}: expected bytes`);
}

function opt<T>(v: unknown, f: (x: unknown, what: string) => T, what: string): T | undefined {
  return v === undefined || v === null ? undefined : f(v, what);
}

// ---- meta -------------------------------------------------------------------------

/** The one `meta` record (key "fs"): counters and identity of the filesystem. */
export interface MetaRec {
  /** FS_FORMAT_VERSION of the layout. */
  readonly format: number;
  readonly volumeId: string;
  /** Containers segments are spread over (segment nonce mod count); fixed at format. */
  readonly dataContainers: readonly string[];
  /** Format time, ns since the epoch. */
  readonly created: bigint;
  /** The next inode number (never reused). */
  readonly nextIno: number;
  /** The next journal id. */
  readonly nextJid: number;
  /** Oldest journal id still kept (compaction moves it up). */
  readonly journalFloor: number;
  /** Referenced bytes over all segments (see SegmentRec.live). */
  readonly liveBytes: number;
  /** Data bytes of all segments still stored (live or dead, not yet deleted). */
  readonly storedBytes: number;
}

export const metaCodec: RecordCodec<MetaRec> = defineRecord<MetaRec>({
  name: 'fs meta', tag: TAG.meta, version: 1,
  validate(v) {
    const o = obj(v);
    const dc = o.dataContainers;
    if (!Array.isArray(dc) || dc.length === 0) throw new Error('dataContainers');
    return {
      format: uint(o.format, 'format'),
      volumeId: str(o.volumeId, 'volumeId'),
      dataContainers: dc.map((c, i) => str(c, `dataContainers[${i}]`)),
      created: big(o.created, 'created'),
      nextIno: uint(o.nextIno, 'nextIno'),
      nextJid: uint(o.nextJid, 'nextJid'),
      journalFloor: uint(o.journalFloor, 'journalFloor'),
      liveBytes: uint(o.liveBytes, 'liveBytes'),
      storedBytes: uint(o.storedBytes, 'storedBytes'),
    };
  },
});

export const META_KEY = encodeKey(['fs']);

// ---- inodes -------------------------------------------------------------------------

/** An inode (tree `inodes`, key (ino)). Times are ns since the epoch. */
export interface InodeRec {
  /** st_mode: S_IF* type bits | permission bits. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
  readonly size: number;
  readonly atime: bigint;
  readonly mtime: bigint;
  readonly ctime: bigint;
  readonly btime: bigint;
  /** Bumped on every change of the inode (NFSv4 change attribute). */
  readonly change: number;
  /** Bumped on every change of the contents. */
  readonly dataVersion: number;
  /** Device number of char/block devices (0 otherwise). */
  readonly rdev: number;
  /** Symlink target. */
  readonly target?: string;
  /** Directories: the parent directory (the root's is itself). */
  readonly parent?: number;
  /** Directories: the cookie the next entry gets. */
  readonly nextCookie?: number;
  /** Object ETag recorded by the object API, valid while dataVersion is unchanged. */
  readonly etag?: { readonly value: string; readonly dataVersion: number };
}

export const inodeCodec: RecordCodec<InodeRec> = defineRecord<InodeRec>({
  name: 'inode', tag: TAG.inode, version: 1,
  validate(v) {
    const o = obj(v);
    const rec: { -readonly [K in keyof InodeRec]: InodeRec[K] } = {
      mode: uint(o.mode, 'mode'),
      uid: uint(o.uid, 'uid'),
      gid: uint(o.gid, 'gid'),
      nlink: uint(o.nlink, 'nlink'),
      size: uint(o.size, 'size'),
      atime: big(o.atime, 'atime'),
      mtime: big(o.mtime, 'mtime'),
      ctime: big(o.ctime, 'ctime'),
      btime: big(o.btime, 'btime'),
      change: uint(o.change, 'change'),
      dataVersion: uint(o.dataVersion, 'dataVersion'),
      rdev: uint(o.rdev, 'rdev'),
    };
    // The optional fields after the others, in this order (set only when present: no spreads, it runs for every inode read).
    const target = opt(o.target, str, 'target');
    const parent = opt(o.parent, uint, 'parent');
    const nextCookie = opt(o.nextCookie, uint, 'nextCookie');
    let etag: InodeRec['etag'];
    if (o.etag !== undefined && o.etag !== null) {
      const e = obj(o.etag);
      etag = { value: str(e.value, 'etag.value'), dataVersion: uint(e.dataVersion, 'etag.dataVersion') };
    }
    if (target !== undefined) rec.target = target;
    if (parent !== undefined) rec.parent = parent;
    if (nextCookie !== undefined) rec.nextCookie = nextCookie;
    if (etag !== undefined) rec.etag = etag;
    return rec;
  },
});

export function inodeKey(ino: number): Buffer {
  return encodeKey([ino]);
}

// ---- directories ----------------------------------------------------------------------

/** A directory entry (tree `dirents`, key (dir ino, name)). */
export interface DirentRec {
  readonly ino: number;
  /** S_IF* type bits of the inode (d_type). */
  readonly type: number;
  /** The entry's readdir cookie (tree `dircookies` maps it back to the name). */
  readonly cookie: number;
}

export const direntCodec: RecordCodec<DirentRec> = defineRecord<DirentRec>({
  name: 'dirent', tag: TAG.dirent, version: 1,
  validate(v) {
    const o = obj(v);
    return { ino: uint(o.ino, 'ino'), type: uint(o.type, 'type'), cookie: uint(o.cookie, 'cookie') };
  },
});

export function direntKey(dir: number, name: string): Buffer {
  return encodeKey([dir, name]);
}

export function direntRange(dir: number): { gte: Buffer; lt: Buffer } {
  return keyPrefixRange([dir]);
}

/**
 * Readdir order (tree `dircookies`, key (dir ino, cookie)): the entry's name
 * with a copy of its dirent (so a listing is one range scan).
 */
export interface DircookieRec {
  readonly name: string;
  readonly ino: number;
  readonly type: number;
}

export const dircookieCodec: RecordCodec<DircookieRec> = defineRecord<DircookieRec>({
  name: 'dircookie', tag: TAG.dircookie, version: 1,
  validate(v) {
    const o = obj(v);
    return { name: str(o.name, 'name'), ino: uint(o.ino, 'ino'), type: uint(o.type, 'type') };
  },
});

export function dircookieKey(dir: number, cookie: number): Buffer {
  return encodeKey([dir, cookie]);
}

// ---- extents and segments ----------------------------------------------------------------

/** File bytes [key offset, +length) live in segment `nonce` at segmentOffset (tree `extents`, key (ino, file offset)). */
export interface ExtentRec {
  readonly nonce: bigint;
  readonly segmentOffset: number;
  readonly length: number;
}

export const extentCodec: RecordCodec<ExtentRec> = defineRecord<ExtentRec>({
  name: 'extent', tag: TAG.extent, version: 1,
  validate(v) {
    const o = obj(v);
    const length = uint(o.length, 'length');
    if (length === 0) throw new Error('length 0');
    return { nonce: big(o.nonce, 'nonce'), segmentOffset: uint(o.segmentOffset, 'segmentOffset'), length };
  },
});

export function extentKey(ino: number, offset: number): Buffer {
  return encodeKey([ino, offset]);
}

/** A stored segment (tree `segments`, key (nonce)): space accounting for the cleaner. */
export interface SegmentRec {
  readonly container: string;
  /** Data bytes. */
  readonly size: number;
  /**
   * Referenced bytes: the sum of the lengths of the extents in it. Shared
   * extents (cloned files) count once per reference, so this may exceed size;
   * 0 means dead.
   */
  readonly live: number;
  /** When it was committed, ms since the epoch. */
  readonly created: number;
}

export const segmentCodec: RecordCodec<SegmentRec> = defineRecord<SegmentRec>({
  name: 'segment', tag: TAG.segment, version: 1,
  validate(v) {
    const o = obj(v);
    return { container: str(o.container, 'container'), size: uint(o.size, 'size'), live: uint(o.live, 'live'), created: uint(o.created, 'created') };
  },
});

/** A segment no extent references any more, waiting for deletion (tree `deadsegs`, key (nonce)). */
export interface DeadSegRec {
  readonly container: string;
  readonly size: number;
  /** When it died, ms since the epoch. */
  readonly died: number;
  /** The newest published checkpoint number when it died (deletion waits for later ones). */
  readonly checkpoint: number;
}

export const deadSegCodec: RecordCodec<DeadSegRec> = defineRecord<DeadSegRec>({
  name: 'deadseg', tag: TAG.deadseg, version: 1,
  validate(v) {
    const o = obj(v);
    return { container: str(o.container, 'container'), size: uint(o.size, 'size'), died: uint(o.died, 'died'), checkpoint: uint(o.checkpoint, 'checkpoint') };
  },
});

export function nonceKey(nonce: bigint): Buffer {
  return encodeKey([nonce]);
}

// ---- xattrs, orphans, journal ------------------------------------------------------------

/** An extended attribute (tree `xattrs`, key (ino, name)). */
export interface XattrRec {
  readonly value: Buffer;
}

export const xattrCodec: RecordCodec<XattrRec> = defineRecord<XattrRec>({
  name: 'xattr', tag: TAG.xattr, version: 1,
  validate(v) {
    return { value: bytes(obj(v).value, 'value') };
  },
});

export function xattrKey(ino: number, name: string): Buffer {
  return encodeKey([ino, name]);
}

/**
 * Work that must finish after a crash (tree `orphans`, key (ino, kind)):
 * 'unlinked': nlink reached 0 (its data goes once nobody has it open; at mount, always);
 * 'trim': a truncate to `size` removing extents over several transactions.
 */
export interface OrphanRec {
  readonly kind: 'unlinked' | 'trim';
  /** unlinked: reclaiming started (no more extents may be committed for it). */
  readonly reclaiming?: boolean;
  /** trim: the new size. */
  readonly size?: number;
  /** When recorded, ns since the epoch. */
  readonly since: bigint;
}

export const orphanCodec: RecordCodec<OrphanRec> = defineRecord<OrphanRec>({
  name: 'orphan', tag: TAG.orphan, version: 1,
  validate(v) {
    const o = obj(v);
    const kind = str(o.kind, 'kind');
    if (kind !== 'unlinked' && kind !== 'trim') throw new Error(`kind ${kind}`);
    const size = opt(o.size, uint, 'size');
    if (kind === 'trim' && size === undefined) throw new Error('trim without size');
    // Fields in this order, optional ones only when present (no spreads: it runs for every orphan read).
    const out: Record<string, unknown> = { kind };
    if (o.reclaiming === true) out.reclaiming = true;
    if (size !== undefined) out.size = size;
    out.since = big(o.since, 'since');
    return out as unknown as OrphanRec;
  },
});

export function orphanKey(ino: number, kind: OrphanRec['kind']): Buffer {
  return encodeKey([ino, kind]);
}

// ---- intents ------------------------------------------------------------------------

/** Bytes fsync (or a small upload) made durable through the replay log (tree `intents`, key (ino, seq); intents.ts). */
export interface IntentRec {
  readonly fileOffset: number;
  readonly data: Buffer;
  /** The segment holding these bytes when the intent was logged. */
  readonly nonce: bigint;
  /** mtime of the write (ns); the recovered write gets it back. */
  readonly mtime: bigint;
  /** The highest dataVersion shown for the file when logged; the recovered write commits one at least as high. */
  readonly dataVersion: number;
}

export const intentCodec: RecordCodec<IntentRec> = defineRecord<IntentRec>({
  name: 'fs intent', tag: TAG.intent, version: 1,
  validate(v) {
    const o = obj(v);
    const data = bytes(o.data, 'data');
    if (data.length === 0) throw new Error('data: empty');
    return {
      fileOffset: uint(o.fileOffset, 'fileOffset'), data, nonce: big(o.nonce, 'nonce'),
      mtime: big(o.mtime, 'mtime'), dataVersion: uint(o.dataVersion, 'dataVersion'),
    };
  },
});

export function intentKey(ino: number, seq: number): Buffer {
  return encodeKey([ino, seq]);
}

/** Kinds of change-journal entries. */
export type ChangeKind =
  | 'create' | 'mkdir' | 'mknod' | 'symlink' | 'link' | 'unlink' | 'rmdir' | 'rename' | 'exchange'
  | 'setattr' | 'write' | 'truncate' | 'xattr';

export const CHANGE_KINDS: readonly ChangeKind[] = [
  'create', 'mkdir', 'mknod', 'symlink', 'link', 'unlink', 'rmdir', 'rename', 'exchange', 'setattr', 'write', 'truncate', 'xattr',
];

/** One change-journal entry (tree `journal`, key (journal id)). */
export interface JournalRec {
  readonly kind: ChangeKind;
  readonly ino: number;
  /** The directory and name the change is about (create, unlink, rename source...). */
  readonly parent?: number;
  readonly name?: string;
  /** rename/exchange: the other side. */
  readonly newParent?: number;
  readonly newName?: string;
  /** The inode's attributes after the change (absent when the inode went away). */
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly size?: number;
  readonly nlink?: number;
  readonly mtime?: bigint;
  /** When the change was committed, ns since the epoch. */
  readonly time: bigint;
}

export const journalCodec: RecordCodec<JournalRec> = defineRecord<JournalRec>({
  name: 'journal', tag: TAG.journal, version: 1,
  validate(v) {
    const o = obj(v);
    const kind = str(o.kind, 'kind') as ChangeKind;
    if (!CHANGE_KINDS.includes(kind)) throw new Error(`kind ${kind}`);
    const out: Record<string, unknown> = { kind, ino: uint(o.ino, 'ino'), time: big(o.time, 'time') };
    for (const k of ['parent', 'newParent', 'mode', 'uid', 'gid', 'size', 'nlink'] as const) {
      const x = opt(o[k], uint, k);
      if (x !== undefined) out[k] = x;
    }
    for (const k of ['name', 'newName'] as const) {
      const x = opt(o[k], str, k);
      if (x !== undefined) out[k] = x;
    }
    const mtime = opt(o.mtime, big, 'mtime');
    if (mtime !== undefined) out.mtime = mtime;
    return out as unknown as JournalRec;
  },
});

export function journalKey(jid: number): Buffer {
  return encodeKey([jid]);
}

/** Drops undefined fields (msgpack would store them as nil): `v` itself when it has none. */
export function compact<T extends object>(v: T): T {
  const o = v as Record<string, unknown>;
  let clean = true;
  for (const k in o) {
    if (o[k] === undefined && Object.hasOwn(o, k)) {
      clean = false;
      break;
    }
  }
  if (clean) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = x;
  return out as T;
}

