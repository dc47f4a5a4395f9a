// The one place that turns object names into paths of the fs backend and
// directory entries back into names (see docs/formats.md, "fs backend layout").
//
// A name's UTF-8 bytes are cut into chunks of NAME_STRIDE (2) bytes. Every chunk
// but the last is a directory named by its 4 lowercase hex digits; the last (1 or
// 2 bytes) is the object file `<hex>.obj`. So "abc" lives at `6162/63.obj` and
// "ab" at `6162.obj`:
// - the path is a pure function of the name (create-if-absent can use link(2));
// - only lowercase hex digits and ".obj" reach the file system: no name can escape
//   the root, hit '.'/'..', or need a case-sensitive file system; every component
//   is at most 8 bytes; a 1024-byte name takes 2,561 bytes of path below the
//   container directory (5 bytes per 2 name bytes), which is why the root path is
//   limited to MAX_ROOT_BYTES;
// - names that are prefixes of each other ("a", "a/b", "ab") never collide;
// - a directory holds at most 65,536 directories + 65,792 objects, whatever the
//   container size, so reading one directory is bounded;
// - within a directory, ordering entries by hex digits, a shorter one first and an
//   object before a directory with the same digits, is the byte order of the
//   names they hold, so a depth-first walk lists in lexical byte order.

import { join } from 'node:path';
import { NAME_STRIDE } from './fs-format.js';

export const OBJECT_SUFFIX = '.obj';

/**
 * Longest store root path (bytes) that leaves room for the deepest object path
 * under PATH_MAX (4096): 1 + 63 (container) + 1 + 2,561 (name) + NUL.
 */
export const MAX_ROOT_BYTES = 1400;

const ENTRY_RE = /^((?:[0-9a-f]{2}){1,2})(\.obj)?$/;

/** A name as its "byte key": UTF-8 bytes as a latin1 string (JS string order == byte order). */
export function nameKey(name: string): string {
  return Buffer.from(name, 'utf8').toString('latin1');
}

export function keyName(key: string): string {
  return Buffer.from(key, 'latin1').toString('utf8');
}

/** Path components (relative to the container directory) of an object name. */
export function objectComponents(name: string): string[] {
  const hex = Buffer.from(name, 'utf8').toString('hex');
  const step = NAME_STRIDE * 2;
  const parts: string[] = [];
  let at = 0;
  for (; hex.length - at > step; at += step) parts.push(hex.slice(at, at + step));
  parts.push(hex.slice(at) + OBJECT_SUFFIX);
  return parts;
}

/** Absolute path of an object's file. */
export function objectPath(containerDir: string, name: string): string {
  return join(containerDir, ...objectComponents(name));
}

/** One entry of a trie directory. */
export interface TrieEntry {
  /** File-system name (e.g. "6162" for a directory, "63.obj" for an object). */
  readonly fsName: string;
  /** The chunk as hex digits. */
  readonly hex: string;
  /** The chunk's bytes as a latin1 string. */
  readonly chunk: string;
  /** True for an object file, false for a directory of longer names. */
  readonly terminal: boolean;
}

/** Parses a directory entry name; anything that is not ours (junk, editor files) is undefined. */
export function parseEntry(fsName: string): TrieEntry | undefined {
  const m = ENTRY_RE.exec(fsName);
  if (!m) return undefined;
  const terminal = m[2] !== undefined;
  if (!terminal && m[1]!.length !== NAME_STRIDE * 2) return undefined;
  return { fsName, hex: m[1]!, chunk: Buffer.from(m[1]!, 'hex').toString('latin1'), terminal };
}

/** Our entries of one directory listing, in the byte order of the names they hold. */
export function sortEntries(fsNames: readonly string[]): TrieEntry[] {
  const out: TrieEntry[] = [];
  for (const n of fsNames) {
    const e = parseEntry(n);
    if (e) out.push(e);
  }
  return out.sort(compareEntries);
}

/** Byte order of the names entries hold: by hex digits (a prefix first), then object before directory. */
export function compareEntries(a: TrieEntry, b: TrieEntry): number {
  if (a.hex !== b.hex) return a.hex < b.hex ? -1 : 1;
  return a.terminal === b.terminal ? 0 : a.terminal ? -1 : 1;
}
