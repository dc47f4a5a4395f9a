// Helpers of the conformance suite (conformance.ts): deterministic test bytes,
// streaming sources, and listing walkers that check the paging contract.

import { createHash } from 'node:crypto';
import { isCairnError, type CairnErrorCode } from '@cairn/errors';
import { expect } from 'vitest';
import { compareNames } from '../names.js';
import type { Container, ListEntry, ListOptions } from '../types.js';

export const MiB = 1024 * 1024;

export async function expectCode(p: Promise<unknown>, code: CairnErrorCode): Promise<void> {
  let outcome: unknown = 'resolved';
  try {
    await p;
  } catch (err) {
    outcome = isCairnError(err) ? err.code : err;
  }
  expect(outcome).toBe(code);
}

/** Deterministic pseudo-random bytes (xorshift32) for a seed. */
export function pattern(seed: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761 + 0x9e3779b9) >>> 0 || 1;
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  for (; i < size; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

export function md5(b: Uint8Array): string {
  return createHash('md5').update(b).digest('hex');
}

export async function drain(body: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

export async function* iterate(parts: readonly Uint8Array[]): AsyncIterable<Uint8Array> {
  for (const x of parts) yield x;
}

export function split(b: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}

/** prefix + repetitions of unit (then 'x' padding) to exactly `bytes` UTF-8 bytes. */
export function fill(prefix: string, bytes: number, unit: string): string {
  let s = prefix;
  while (Buffer.byteLength(s) + Buffer.byteLength(unit) <= bytes) s += unit;
  while (Buffer.byteLength(s) < bytes) s += 'x';
  return s;
}

export const CHUNK = MiB;

/** A large body made of 1 MiB chunks, each generated from its index; MD5 computed while generating. */
export function largeSource(total: number) {
  const hash = createHash('md5');
  return {
    async *chunks(): AsyncIterable<Buffer> {
      for (let off = 0, i = 0; off < total; off += CHUNK, i++) {
        const chunk = pattern(i + 1, Math.min(CHUNK, total - off));
        hash.update(chunk);
        yield chunk;
      }
    },
    digest: () => hash.digest('hex'),
    /** Bytes [offset, offset + length) regenerated from the chunks that hold them. */
    slice(offset: number, length: number): Buffer {
      const parts: Buffer[] = [];
      for (let i = Math.floor(offset / CHUNK); i * CHUNK < offset + length && i * CHUNK < total; i++) {
        const chunk = pattern(i + 1, Math.min(CHUNK, total - i * CHUNK));
        const from = Math.max(0, offset - i * CHUNK);
        const to = Math.min(chunk.length, offset + length - i * CHUNK);
        parts.push(chunk.subarray(from, to));
      }
      return Buffer.concat(parts);
    },
  };
}

export interface Page { entries: readonly ListEntry[]; nextMarker?: string }

/** Every page of a listing, checking the paging contract on the way. */
export async function pages(c: Container, options: Omit<ListOptions, 'marker'> & { marker?: string }): Promise<Page[]> {
  const out: Page[] = [];
  let marker = options.marker;
  for (let guard = 0; guard < 10_000; guard++) {
    const page = await c.list({ ...options, ...(marker !== undefined ? { marker } : {}) });
    out.push(page);
    if (page.nextMarker === undefined) return out;
    expect(page.entries.length).toBeGreaterThan(0);
    marker = page.nextMarker;
  }
  throw new Error('listing did not terminate');
}

export function names(ps: readonly Page[]): string[] {
  return ps.flatMap((p) => p.entries.map((e) => (e.kind === 'object' ? e.name : `prefix:${e.prefix}`)));
}

export function describeEntries(ps: readonly Page[]): string[] {
  return ps.flatMap((p) => p.entries.map((e) => (e.kind === 'object' ? `o:${e.name}` : `p:${e.prefix}`)));
}

/** The listing a Map model gives: byte order, roll-ups after the prefix, each once. */
export function modelList(model: ReadonlyMap<string, unknown>, prefix: string, delimiter?: string): string[] {
  const out: string[] = [];
  for (const n of [...model.keys()].filter((k) => k.startsWith(prefix)).sort(compareNames)) {
    const at = delimiter === undefined ? -1 : n.indexOf(delimiter, prefix.length);
    const entry = at >= 0 ? `p:${n.slice(0, at + delimiter!.length)}` : `o:${n}`;
    if (out[out.length - 1] !== entry) out.push(entry);
  }
  return out;
}
