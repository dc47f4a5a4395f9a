// The object-store conformance suite: the one definition of what every backend
// (memory, fs, swift, s3, chaos) must do. Each backend's test file calls
// describeConformance() with a function that opens a store and names a container.
//
// Choices this suite pins down (every backend must agree):
// - get/head on an object in a container that does not exist fail with
//   CAIRN_ERR_OBJ_NOT_FOUND (the caller asked for an object); list on it fails with
//   CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND; delete of such an object is idempotent.
//   A put into a missing container creates the container.
// - Listings are in lexical UTF-8 byte order. Every entry of a page, object or
//   rolled-up prefix, is strictly greater than the marker, and a roll-up is never
//   repeated across pages: resuming from a page's nextMarker continues exactly
//   after its last entry. A page that has a nextMarker is not empty; the last page
//   has none (it may be empty).
// - A range whose offset is the size of a non-empty object is not satisfiable; a
//   length running past the end is clipped; an empty object reads as 0 bytes.
//
// Every test works under its own fresh object-name prefix, so backends that cannot
// delete containers quickly can reuse one container; afterAll deletes what the run
// left behind (best effort) before calling the target's cleanup.

import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { isCairnError } from '@cairn/errors';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_OBJECT_NAME_BYTES, compareNames } from '../names.js';
import type { Container, ObjectStore } from '../types.js';
import {
  CHUNK, MiB, describeEntries, drain, expectCode, fill, iterate, largeSource, md5, modelList, names, pages, pattern, split,
} from './conformance-helpers.js';

export interface ConformanceTarget { store: ObjectStore; container: string; cleanup?: () => Promise<void> }
export interface ConformanceOptions {
  /** Bytes for the large streamed-object case (default 64 MiB; swift runs 1 GiB under CAIRN_TEST_LARGE=1). */
  largeBytes?: number;
  /** Skip timing-sensitive cases (e.g. for the chaos wrapper with latency). */
  relaxed?: boolean;
  /**
   * False for a backend whose create-if-absent is not atomic under concurrency (it
   * still refuses an existing name): the race case then asks only that at least one
   * creator wins and the object holds one winner's bytes whole. Default true.
   */
  atomicCreate?: boolean;
}


/**
 * Declares the conformance tests for one backend. `open` runs once (beforeAll);
 * `relaxed` skips mtime-closeness checks, asks races only for safety (no extra
 * create-if-absent winner, never a torn object) rather than liveness, and runs
 * fewer random cases.
 */
export function describeConformance(label: string, open: () => Promise<ConformanceTarget>, options: ConformanceOptions = {}): void {
  const largeBytes = options.largeBytes ?? 64 * MiB;
  const relaxed = options.relaxed === true;
  const atomicCreate = options.atomicCreate !== false;
  const runId = randomBytes(4).toString('hex');
  let target: ConformanceTarget | undefined;
  let seq = 0;

  const store = (): ObjectStore => target!.store;
  const box = (): Container => target!.store.container(target!.container);
  /** A fresh object-name prefix for one test. */
  const fresh = (): string => `cf-${runId}/${++seq}/`;

  describe(`object store conformance: ${label}`, () => {
    beforeAll(async () => {
      target = await open();
      await box().create();
    });

    afterAll(async () => {
      if (!target) return;
      try {
        const c = box();
        for await (const e of c.listAll({ prefix: `cf-${runId}/` })) {
          if (e.kind === 'object') await c.delete(e.name).catch(() => undefined);
        }
      } catch {
        // best effort: the run's objects are under a unique prefix anyway
      }
      await target.cleanup?.();
    });

    // ---- put / get / head ------------------------------------------------------

    it('puts and gets buffers of several sizes', async () => {
      const c = box();
      const p = fresh();
      for (const [i, size] of [0, 1, 7, 65_539, MiB + 1].entries()) {
        const data = pattern(i + 1, size);
        const info = await c.put(`${p}${i}`, data);
        expect(info.name).toBe(`${p}${i}`);
        expect(info.size).toBe(size);
        expect(info.etag).toBe(md5(data));
        const back = await c.getBuffer(`${p}${i}`);
        expect(back.equals(data)).toBe(true);
        const r = await c.get(`${p}${i}`);
        expect([r.offset, r.length, r.info.size, r.info.etag]).toEqual([0, size, size, md5(data)]);
        expect((await drain(r.body)).equals(data)).toBe(true);
      }
    });

    it('puts streams (Readable and async iterable, with and without contentLength)', async () => {
      const c = box();
      const p = fresh();
      const parts = [pattern(1, 1000), pattern(2, 0), pattern(3, 70_000), pattern(4, 5)];
      const all = Buffer.concat(parts);
      const a = await c.put(`${p}readable`, Readable.from(parts));
      const b = await c.put(`${p}iterable`, iterate(parts), { contentLength: all.length });
      expect([a.size, a.etag]).toEqual([all.length, md5(all)]);
      expect([b.size, b.etag]).toEqual([all.length, md5(all)]);
      expect((await c.getBuffer(`${p}readable`)).equals(all)).toBe(true);
      expect((await c.getBuffer(`${p}iterable`)).equals(all)).toBe(true);
    });

    it('keeps its own copy of a buffer body', async () => {
      const c = box();
      const p = fresh();
      const data = pattern(9, 4096);
      const copy = Buffer.from(data);
      await c.put(`${p}x`, data);
      data.fill(0);
      expect((await c.getBuffer(`${p}x`)).equals(copy)).toBe(true);
    });

    it('head reports size, MD5 etag, mtime and metadata', async () => {
      const c = box();
      const p = fresh();
      const data = pattern(5, 12_345);
      const meta = { color: 'blue', 'x-y-z': 'hello world ~!', n: '42' };
      const before = Date.now();
      await c.put(`${p}obj`, data, { meta });
      const after = Date.now();
      const h = await c.head(`${p}obj`);
      expect(h.name).toBe(`${p}obj`);
      expect(h.size).toBe(12_345);
      expect(h.etag).toBe(md5(data));
      expect(h.meta).toEqual(meta);
      expect(Number.isFinite(h.mtime)).toBe(true);
      if (!relaxed) {
        expect(h.mtime).toBeGreaterThanOrEqual(before - 2000);
        expect(h.mtime).toBeLessThanOrEqual(after + 2000);
      }
      const r = await c.get(`${p}obj`);
      r.body.destroy();
      expect(r.info.meta).toEqual(meta);
      expect(r.info.etag).toBe(md5(data));
    });

    it('an overwrite replaces bytes, etag and metadata', async () => {
      const c = box();
      const p = fresh();
      await c.put(`${p}o`, pattern(1, 5000), { meta: { old: 'yes' } });
      const second = pattern(2, 300);
      await c.put(`${p}o`, second);
      const h = await c.head(`${p}o`);
      expect([h.size, h.etag]).toEqual([300, md5(second)]);
      expect(h.meta).toEqual({});
      expect((await c.getBuffer(`${p}o`)).equals(second)).toBe(true);
    });

    it('refuses bad metadata with INVALID_ARGUMENT and stores nothing', async () => {
      const c = box();
      const p = fresh();
      await expectCode(c.put(`${p}m`, pattern(1, 10), { meta: { 'Upper': 'x' } }), 'CAIRN_ERR_INVALID_ARGUMENT');
      await expectCode(c.put(`${p}m`, pattern(1, 10), { meta: { ok: 'tab\there' } }), 'CAIRN_ERR_INVALID_ARGUMENT');
      await expectCode(c.head(`${p}m`), 'CAIRN_ERR_OBJ_NOT_FOUND');
    });

    it('an already-aborted signal cancels a put and stores nothing', async () => {
      const c = box();
      const p = fresh();
      await expectCode(c.put(`${p}a`, pattern(1, 100), { signal: AbortSignal.abort() }), 'CAIRN_ERR_CANCELED');
      await expectCode(c.head(`${p}a`), 'CAIRN_ERR_OBJ_NOT_FOUND');
    });

    // ---- ranges ----------------------------------------------------------------

    it('reads ranges at the edges', async () => {
      const c = box();
      const p = fresh();
      const data = pattern(7, 100);
      await c.put(`${p}r`, data);
      const read = async (offset: number, length?: number) => {
        const r = await c.get(`${p}r`, { range: length === undefined ? { offset } : { offset, length } });
        const bytes = await drain(r.body);
        expect(bytes.length).toBe(r.length);
        expect(r.info.size).toBe(100);
        return { offset: r.offset, length: r.length, bytes };
      };
      expect(await read(0, 1)).toEqual({ offset: 0, length: 1, bytes: data.subarray(0, 1) });
      expect(await read(0)).toEqual({ offset: 0, length: 100, bytes: data });
      expect(await read(99)).toEqual({ offset: 99, length: 1, bytes: data.subarray(99) });
      expect(await read(99, 1)).toEqual({ offset: 99, length: 1, bytes: data.subarray(99) });
      expect(await read(90, 50)).toEqual({ offset: 90, length: 10, bytes: data.subarray(90) });
      expect(await read(10, 20)).toEqual({ offset: 10, length: 20, bytes: data.subarray(10, 30) });
      expect((await c.getBuffer(`${p}r`, { range: { offset: 50, length: 5 } })).equals(data.subarray(50, 55))).toBe(true);
      await expectCode(c.get(`${p}r`, { range: { offset: 100 } }), 'CAIRN_ERR_OBJ_RANGE_NOT_SATISFIABLE');
      await expectCode(c.get(`${p}r`, { range: { offset: 100, length: 1 } }), 'CAIRN_ERR_OBJ_RANGE_NOT_SATISFIABLE');
      await expectCode(c.get(`${p}r`, { range: { offset: 1000 } }), 'CAIRN_ERR_OBJ_RANGE_NOT_SATISFIABLE');
    });

    it('reads an empty object as 0 bytes, with or without a range at 0', async () => {
      const c = box();
      const p = fresh();
      await c.put(`${p}e`, new Uint8Array(0));
      const whole = await c.get(`${p}e`);
      expect([whole.offset, whole.length, whole.info.size]).toEqual([0, 0, 0]);
      expect((await drain(whole.body)).length).toBe(0);
      const ranged = await c.get(`${p}e`, { range: { offset: 0 } });
      expect([ranged.offset, ranged.length]).toEqual([0, 0]);
      expect((await drain(ranged.body)).length).toBe(0);
      expect((await c.head(`${p}e`)).etag).toBe(md5(Buffer.alloc(0)));
    });

    // ---- delete and not-found ----------------------------------------------------

    it('delete is idempotent; mustExist fails on a missing object', async () => {
      const c = box();
      const p = fresh();
      await c.put(`${p}d`, pattern(1, 10));
      await c.delete(`${p}d`, { mustExist: true });
      await expectCode(c.head(`${p}d`), 'CAIRN_ERR_OBJ_NOT_FOUND');
      await c.delete(`${p}d`);
      await c.delete(`${p}never`);
      await expectCode(c.delete(`${p}d`, { mustExist: true }), 'CAIRN_ERR_OBJ_NOT_FOUND');
    });

    it('get and head of a missing object fail with NOT_FOUND', async () => {
      const c = box();
      const p = fresh();
      await expectCode(c.get(`${p}missing`), 'CAIRN_ERR_OBJ_NOT_FOUND');
      await expectCode(c.getBuffer(`${p}missing`), 'CAIRN_ERR_OBJ_NOT_FOUND');
      await expectCode(c.head(`${p}missing`), 'CAIRN_ERR_OBJ_NOT_FOUND');
      await expectCode(c.get(`${p}missing`, { range: { offset: 0, length: 1 } }), 'CAIRN_ERR_OBJ_NOT_FOUND');
    });

    it('a missing container: get/head NOT_FOUND, list CONTAINER_NOT_FOUND, delete idempotent', async () => {
      const c = store().container(`cf-missing-${runId}-${randomBytes(4).toString('hex')}`);
      await expectCode(c.get('x'), 'CAIRN_ERR_OBJ_NOT_FOUND');
      await expectCode(c.head('x'), 'CAIRN_ERR_OBJ_NOT_FOUND');
      await expectCode(c.list(), 'CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND');
      await c.delete('x');
    });

    it('a put into a missing container creates it', async () => {
      const c = store().container(`cf-auto-${runId}-${randomBytes(4).toString('hex')}`);
      const data = pattern(3, 333);
      await c.put('first', data);
      expect((await c.getBuffer('first')).equals(data)).toBe(true);
      expect(names(await pages(c, {}))).toEqual(['first']);
      await c.delete('first');
      expect((await c.list()).entries).toEqual([]);
    });

    // ---- names -----------------------------------------------------------------

    it('round-trips unicode and awkward names', async () => {
      const c = box();
      const p = fresh();
      const odd = ['é', '日本語/ファイル', '😀 emoji', '..', '.', 'x/../y', 'a//b', 'trailing/', 'sp ace', '%25 ?#&+=;', 'tab\tand\nnewline', '\u00ff\u0100', 'Z', 'z'];
      for (const [i, n] of odd.entries()) await c.put(`${p}${n}`, pattern(i, i * 3));
      for (const [i, n] of odd.entries()) {
        expect((await c.getBuffer(`${p}${n}`)).equals(pattern(i, i * 3))).toBe(true);
        expect((await c.head(`${p}${n}`)).name).toBe(`${p}${n}`);
      }
      expect(names(await pages(c, { prefix: p }))).toEqual(odd.map((n) => `${p}${n}`).sort(compareNames));
    });

    it('accepts names of exactly 1024 bytes and refuses 1025 with INVALID_NAME', async () => {
      const c = box();
      const p = fresh();
      const ascii = fill(`${p}a-`, MAX_OBJECT_NAME_BYTES, 'n');
      const multi = fill(`${p}m-`, MAX_OBJECT_NAME_BYTES, 'é😀/');
      const nested = fill(`${p}s-`, MAX_OBJECT_NAME_BYTES, 'ab/');
      for (const n of [ascii, multi, nested]) {
        expect(Buffer.byteLength(n)).toBe(MAX_OBJECT_NAME_BYTES);
        await c.put(n, Buffer.from(n));
        expect((await c.getBuffer(n)).toString()).toBe(n);
        expect((await c.head(n)).size).toBe(MAX_OBJECT_NAME_BYTES);
      }
      expect(names(await pages(c, { prefix: p }))).toEqual([ascii, multi, nested].sort(compareNames));
      const tooLong = `${ascii}x`;
      await expectCode(c.put(tooLong, pattern(1, 1)), 'CAIRN_ERR_OBJ_INVALID_NAME');
      await expectCode(c.head(tooLong), 'CAIRN_ERR_OBJ_INVALID_NAME');
      await expectCode(c.get(tooLong), 'CAIRN_ERR_OBJ_INVALID_NAME');
      await expectCode(c.put('', pattern(1, 1)), 'CAIRN_ERR_OBJ_INVALID_NAME');
      await expectCode(c.put(`${p}nul\0`, pattern(1, 1)), 'CAIRN_ERR_OBJ_INVALID_NAME');
    });

    // ---- listing -----------------------------------------------------------------

    it('lists with prefix, marker and limit across pages in byte order', async () => {
      const c = box();
      const p = fresh();
      const tails = Array.from({ length: 25 }, (_, i) => `k${String(i * 7 % 25).padStart(3, '0')}`);
      for (const t of tails) await c.put(`${p}${t}`, pattern(t.length, 3));
      await c.put(`${p.slice(0, -1)}-outside`, pattern(1, 1));
      const expected = tails.map((t) => `${p}${t}`).sort(compareNames);
      for (const limit of [1, 7, 25, 1000]) {
        const ps = await pages(c, { prefix: p, limit });
        expect(names(ps)).toEqual(expected);
        for (const page of ps) expect(page.entries.length).toBeLessThanOrEqual(limit);
        if (limit === 7) expect(ps.filter((x) => x.entries.length > 0).length).toBe(4);
      }
      const afterMarker = await pages(c, { prefix: p, marker: expected[10]!, limit: 6 });
      expect(names(afterMarker)).toEqual(expected.slice(11));
      const between = await pages(c, { prefix: p, marker: `${p}k0105` });
      expect(names(between)).toEqual(expected.filter((n) => compareNames(n, `${p}k0105`) > 0));
      expect(names(await pages(c, { prefix: p, marker: expected[24]! }))).toEqual([]);
      expect(names(await pages(c, { prefix: `${p}nothing-here` }))).toEqual([]);
      await expectCode(c.list({ prefix: p, limit: 0 }), 'CAIRN_ERR_INVALID_ARGUMENT');
    });

    it('lists in UTF-8 byte order, not UTF-16 order', async () => {
      const c = box();
      const p = fresh();
      // U+FFFD (EF BF BD) sorts before U+1F600 (F0 9F 98 80) in UTF-8 but after it in UTF-16.
      const tails = ['\u{1F600}', '\uFFFD', 'z', 'é', 'e', 'E', 'e\u0301', '~', ' ', 'ab', 'a', 'a0', 'a/', 'a-', '\u00ff', '\u0100'];
      for (const t of tails) await c.put(`${p}${t}`, pattern(1, 1));
      const got = names(await pages(c, { prefix: p, limit: 5 }));
      expect(got).toEqual(tails.map((t) => `${p}${t}`).sort(compareNames));
      expect(got.indexOf(`${p}\uFFFD`)).toBeLessThan(got.indexOf(`${p}\u{1F600}`));
      expect(got.indexOf(`${p}a-`)).toBeLessThan(got.indexOf(`${p}a/`));
      expect(got.indexOf(`${p}a/`)).toBeLessThan(got.indexOf(`${p}a0`));
    });

    it('list entries carry size, etag and mtime', async () => {
      const c = box();
      const p = fresh();
      const a = pattern(1, 10);
      const b = pattern(2, 2000);
      await c.put(`${p}a`, a);
      await c.put(`${p}b`, b);
      const entries = (await pages(c, { prefix: p })).flatMap((x) => x.entries);
      expect(entries.map((e) => e.kind === 'object' && [e.name, e.size, e.etag])).toEqual([[`${p}a`, 10, md5(a)], [`${p}b`, 2000, md5(b)]]);
      for (const e of entries) if (e.kind === 'object') expect(Number.isFinite(e.mtime) && e.mtime > 0).toBe(true);
    });

    it('rolls names up to the delimiter, across pages, without repeating a prefix', async () => {
      const c = box();
      const p = fresh();
      const tails = ['a', 'b/1', 'b/2', 'b/3/x', 'c/d/e', 'd', 'e/', 'f//g', 'g-', 'g/h'];
      for (const t of tails) await c.put(`${p}${t}`, pattern(t.length, t.length));
      const top = [['o', 'a'], ['p', 'b/'], ['p', 'c/'], ['o', 'd'], ['p', 'e/'], ['p', 'f/'], ['o', 'g-'], ['p', 'g/']].map(([k, t]) => `${k}:${p}${t}`);
      for (const limit of [1, 2, 3, 1000]) {
        const ps = await pages(c, { prefix: p, delimiter: '/', limit });
        expect(describeEntries(ps)).toEqual(top);
      }
      expect(describeEntries(await pages(c, { prefix: `${p}b/`, delimiter: '/' }))).toEqual([`o:${p}b/1`, `o:${p}b/2`, `p:${p}b/3/`]);
      expect(describeEntries(await pages(c, { prefix: `${p}f/`, delimiter: '/' }))).toEqual([`p:${p}f//`]);
      expect(describeEntries(await pages(c, { prefix: `${p}b`, delimiter: '/' }))).toEqual([`p:${p}b/`]);
      // Resuming after a roll-up skips everything under it.
      expect(describeEntries(await pages(c, { prefix: p, delimiter: '/', marker: `${p}b/` }))).toEqual(top.slice(2));
      // Without a delimiter every object is listed.
      expect(names(await pages(c, { prefix: p }))).toEqual(tails.map((t) => `${p}${t}`).sort(compareNames));
    });

    // ---- create-if-absent and races ------------------------------------------------

    it('create-if-absent fails with PRECONDITION_FAILED when the object exists', async () => {
      const c = box();
      const p = fresh();
      const first = pattern(1, 100);
      await c.put(`${p}once`, first, { ifNoneMatch: true });
      await expectCode(c.put(`${p}once`, pattern(2, 50), { ifNoneMatch: true }), 'CAIRN_ERR_OBJ_PRECONDITION_FAILED');
      await expectCode(c.put(`${p}once`, iterate([pattern(3, 10)]), { ifNoneMatch: true }), 'CAIRN_ERR_OBJ_PRECONDITION_FAILED');
      expect((await c.getBuffer(`${p}once`)).equals(first)).toBe(true);
      await c.delete(`${p}once`);
      const again = pattern(4, 10);
      await c.put(`${p}once`, again, { ifNoneMatch: true });
      expect((await c.getBuffer(`${p}once`)).equals(again)).toBe(true);
    });

    it(`20 concurrent create-if-absent: ${atomicCreate ? 'exactly one winner' : 'at least one winner'}, holding its own bytes`, async () => {
      const c = box();
      const p = fresh();
      const bodies = Array.from({ length: 20 }, (_, i) => pattern(100 + i, 1000 + i * 517));
      const results = await Promise.allSettled(bodies.map((b) => c.put(`${p}race`, b, { ifNoneMatch: true })));
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      for (const r of results) {
        if (r.status === 'rejected' && !relaxed) expect(isCairnError(r.reason, 'CAIRN_ERR_OBJ_PRECONDITION_FAILED')).toBe(true);
      }
      const stored = await c.getBuffer(`${p}race`);
      // Whatever the guarantee, the object is one creator's bytes, whole.
      expect(bodies.some((b) => b.equals(stored))).toBe(true);
      if (atomicCreate) expect(won.length).toBeLessThanOrEqual(1);
      if (!relaxed) expect(won.length).toBeGreaterThanOrEqual(1);
      if (won.length === 1) expect(stored.equals(bodies[won[0]!]!)).toBe(true);
      if (won.length > 1) expect(won.some((i) => bodies[i]!.equals(stored))).toBe(true);
    });

    it('concurrent puts of different sizes to one name leave exactly one of them, whole', async () => {
      const c = box();
      const p = fresh();
      const bodies = Array.from({ length: 8 }, (_, i) => pattern(200 + i, (i + 1) * 40_000 + i));
      await Promise.all(bodies.map((b, i) => c.put(`${p}lww`, i % 2 ? iterate(split(b, 16_384)) : b)));
      const stored = await c.getBuffer(`${p}lww`);
      const h = await c.head(`${p}lww`);
      const match = bodies.findIndex((b) => b.equals(stored));
      expect(match).toBeGreaterThanOrEqual(0);
      expect([h.size, h.etag]).toEqual([stored.length, md5(stored)]);
    });

    // ---- large objects -------------------------------------------------------------

    it(`streams a large object (${largeBytes} bytes) in and out without holding it`, async () => {
      const c = box();
      const p = fresh();
      const source = largeSource(largeBytes);
      const info = await c.put(`${p}large`, Readable.from(source.chunks()));
      const digest = source.digest();
      expect([info.size, info.etag]).toEqual([largeBytes, digest]);
      const h = await c.head(`${p}large`);
      expect([h.size, h.etag]).toEqual([largeBytes, digest]);
      const r = await c.get(`${p}large`);
      expect(r.length).toBe(largeBytes);
      const hash = createHash('md5');
      let n = 0;
      for await (const chunk of r.body) {
        hash.update(chunk as Buffer);
        n += (chunk as Buffer).length;
      }
      expect([n, hash.digest('hex')]).toEqual([largeBytes, digest]);
      // A range straddling a chunk boundary near the end.
      if (largeBytes > 2 * CHUNK) {
        const at = Math.floor(largeBytes / CHUNK) * CHUNK - 1000;
        const tail = await c.getBuffer(`${p}large`, { range: { offset: at, length: 3000 } });
        expect(tail.equals(largeSource(largeBytes).slice(at, 3000))).toBe(true);
      }
      await c.delete(`${p}large`);
    }, 120_000 + Math.ceil(largeBytes / MiB) * 1000);

    // ---- open segments -------------------------------------------------------------

    it('openSegment: appends become visible only on close', async () => {
      const c = box();
      const p = fresh();
      const old = pattern(1, 77);
      await c.put(`${p}seg-over`, old);
      const parts = [pattern(10, 1000), pattern(11, 0), pattern(12, 300_000), pattern(13, 1)];
      const all = Buffer.concat(parts);
      for (const name of [`${p}seg`, `${p}seg-over`]) {
        const s = c.openSegment(name, { meta: { kind: 'segment' } });
        expect([s.container, s.name, s.bytesAppended, s.bytesSent]).toEqual([target!.container, name, 0, 0]);
        let total = 0;
        for (const part of parts) {
          await s.append(part);
          total += part.length;
          expect(s.bytesAppended).toBe(total);
          expect(s.bytesSent).toBeLessThanOrEqual(s.bytesAppended);
        }
        if (name.endsWith('over')) expect((await c.getBuffer(name)).equals(old)).toBe(true);
        else await expectCode(c.head(name), 'CAIRN_ERR_OBJ_NOT_FOUND');
        const info = await s.close();
        expect([info.name, info.size, info.etag]).toEqual([name, all.length, md5(all)]);
        expect(s.bytesSent).toBe(all.length);
        expect((await c.getBuffer(name)).equals(all)).toBe(true);
        expect((await c.head(name)).meta).toEqual({ kind: 'segment' });
        await expectCode(s.append(pattern(1, 1)), 'CAIRN_ERR_OBJ_SEGMENT_CLOSED');
        await expectCode(s.close(), 'CAIRN_ERR_OBJ_SEGMENT_CLOSED');
        await s.abort();
        expect((await c.head(name)).size).toBe(all.length);
      }
      expect(names(await pages(c, { prefix: p }))).toEqual([`${p}seg`, `${p}seg-over`]);
    });

    it('openSegment: not listed before close; an empty segment closes to an empty object', async () => {
      const c = box();
      const p = fresh();
      const s = c.openSegment(`${p}pending`);
      await s.append(pattern(1, 100));
      expect(names(await pages(c, { prefix: p }))).toEqual([]);
      await s.close();
      expect(names(await pages(c, { prefix: p }))).toEqual([`${p}pending`]);
      const e = c.openSegment(`${p}empty`);
      const info = await e.close();
      expect([info.size, info.etag]).toEqual([0, md5(Buffer.alloc(0))]);
      expect((await c.getBuffer(`${p}empty`)).length).toBe(0);
    });

    it('openSegment: abort leaves nothing and is idempotent', async () => {
      const c = box();
      const p = fresh();
      const s = c.openSegment(`${p}gone`);
      await s.append(pattern(1, 50_000));
      await s.abort();
      await s.abort();
      await expectCode(c.head(`${p}gone`), 'CAIRN_ERR_OBJ_NOT_FOUND');
      await expectCode(s.append(pattern(1, 1)), 'CAIRN_ERR_OBJ_SEGMENT_CLOSED');
      await expectCode(s.close(), 'CAIRN_ERR_OBJ_SEGMENT_CLOSED');
      expect(names(await pages(c, { prefix: p }))).toEqual([]);
      // Aborting a replacement leaves the old object untouched.
      const old = pattern(2, 10);
      await c.put(`${p}kept`, old);
      const r = c.openSegment(`${p}kept`);
      await r.append(pattern(3, 999));
      await r.abort();
      expect((await c.getBuffer(`${p}kept`)).equals(old)).toBe(true);
    });

    it('openSegment: appends past maxSize fail with TOO_LARGE and change nothing', async () => {
      const c = box();
      const p = fresh();
      const s = c.openSegment(`${p}capped`, { maxSize: 10 });
      await s.append(pattern(1, 6));
      await expectCode(s.append(pattern(2, 5)), 'CAIRN_ERR_OBJ_TOO_LARGE');
      expect(s.bytesAppended).toBe(6);
      await s.append(pattern(3, 4));
      const info = await s.close();
      expect(info.size).toBe(10);
      expect((await c.getBuffer(`${p}capped`)).equals(Buffer.concat([pattern(1, 6), pattern(3, 4)]))).toBe(true);
    });

    it('openSegment: many appends keep their order; bytesSent reaches bytesAppended', async () => {
      const c = box();
      const p = fresh();
      const s = c.openSegment(`${p}many`);
      const parts = Array.from({ length: 64 }, (_, i) => pattern(i, 1 + ((i * 7919) % 40_000)));
      await Promise.all(parts.map((x) => s.append(x)));
      const all = Buffer.concat(parts);
      expect(s.bytesAppended).toBe(all.length);
      const info = await s.close();
      expect(s.bytesSent).toBe(all.length);
      expect(info.etag).toBe(md5(all));
      expect((await c.getBuffer(`${p}many`)).equals(all)).toBe(true);
    });

    // ---- model -------------------------------------------------------------------

    it('random put/delete/get/list sequences agree with a Map model', async () => {
      const c = box();
      const keys = ['a', 'b', 'a/b', 'a/c', 'ab', 'a-', 'é', 'z/ü/1', 'z/ü/2', '😀', '\uFFFD'];
      const cmd = fc.oneof(
        fc.record({ op: fc.constant('put' as const), k: fc.nat(keys.length - 1), size: fc.nat(300), seed: fc.nat(), ifNoneMatch: fc.boolean() }),
        fc.record({ op: fc.constant('delete' as const), k: fc.nat(keys.length - 1), mustExist: fc.boolean() }),
        fc.record({ op: fc.constant('get' as const), k: fc.nat(keys.length - 1), offset: fc.nat(320), length: fc.option(fc.nat(320), { nil: undefined }) }),
        fc.record({ op: fc.constant('head' as const), k: fc.nat(keys.length - 1) }),
        fc.record({ op: fc.constant('list' as const), prefix: fc.constantFrom('', 'a', 'a/', 'z/', 'b'), delimiter: fc.boolean(), limit: fc.integer({ min: 1, max: 4 }) }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(cmd, { minLength: 1, maxLength: relaxed ? 12 : 25 }), async (cmds) => {
          const p = fresh();
          const model = new Map<string, Buffer>();
          for (const x of cmds) {
            if (x.op === 'put') {
              const name = `${p}${keys[x.k]}`;
              const data = pattern(x.seed, x.size);
              if (x.ifNoneMatch && model.has(name)) {
                await expectCode(c.put(name, data, { ifNoneMatch: true }), 'CAIRN_ERR_OBJ_PRECONDITION_FAILED');
              } else {
                expect((await c.put(name, data, { ifNoneMatch: x.ifNoneMatch })).etag).toBe(md5(data));
                model.set(name, data);
              }
            } else if (x.op === 'delete') {
              const name = `${p}${keys[x.k]}`;
              if (x.mustExist && !model.has(name)) await expectCode(c.delete(name, { mustExist: true }), 'CAIRN_ERR_OBJ_NOT_FOUND');
              else await c.delete(name, { mustExist: x.mustExist });
              model.delete(name);
            } else if (x.op === 'get') {
              const name = `${p}${keys[x.k]}`;
              const want = model.get(name);
              const range = x.length === undefined ? { offset: x.offset } : { offset: x.offset, length: x.length };
              if (!want) await expectCode(c.get(name, { range }), 'CAIRN_ERR_OBJ_NOT_FOUND');
              else if (x.offset > want.length || (x.offset === want.length && want.length > 0 && x.length !== 0)) {
                await expectCode(c.get(name, { range }), 'CAIRN_ERR_OBJ_RANGE_NOT_SATISFIABLE');
              } else if (x.length !== 0) {
                const end = x.length === undefined ? want.length : Math.min(want.length, x.offset + x.length);
                expect((await c.getBuffer(name, { range })).equals(want.subarray(x.offset, end))).toBe(true);
              }
            } else if (x.op === 'head') {
              const name = `${p}${keys[x.k]}`;
              const want = model.get(name);
              if (!want) await expectCode(c.head(name), 'CAIRN_ERR_OBJ_NOT_FOUND');
              else expect((await c.head(name)).etag).toBe(md5(want));
            } else {
              const opts = { prefix: `${p}${x.prefix}`, limit: x.limit, ...(x.delimiter ? { delimiter: '/' } : {}) };
              const got = await pages(c, opts);
              expect(describeEntries(got)).toEqual(modelList(model, opts.prefix, opts.delimiter));
              for (const e of got.flatMap((pg) => pg.entries)) {
                if (e.kind === 'object') expect([e.size, e.etag]).toEqual([model.get(e.name)!.length, md5(model.get(e.name)!)]);
              }
            }
          }
        }),
        { numRuns: relaxed ? 8 : 25 },
      );
    }, 300_000);
  });
}
