import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, readdir, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { isCairnError, type CairnErrorCode } from '@cairn/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeConformance } from '../testing/index.js';
import type { ObjectStore } from '../types.js';
import { createFsStore } from './fs.js';
import { STORE_MARKER_FILE, TEMP_DIR } from './fs-format.js';
import { objectPath } from './fs-path.js';
import { slabPoolForTests } from './slab.js';

describeConformance('fs', async () => {
  const root = await mkdtemp(join(tmpdir(), 'cairn-fs-conf-'));
  const store = createFsStore({ root });
  return {
    store,
    container: 'conformance',
    cleanup: async () => {
      await store.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}, { largeBytes: process.env.CAIRN_TEST_LARGE === '1' ? 1024 * 1024 * 1024 : 64 * 1024 * 1024 });

async function expectCode(p: Promise<unknown>, code: CairnErrorCode): Promise<void> {
  let outcome: unknown = 'resolved';
  try {
    await p;
  } catch (err) {
    outcome = isCairnError(err) ? err.code : err;
  }
  expect(outcome).toBe(code);
}

async function drain(body: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('fs backend', () => {
  let base: string;
  let n = 0;
  const fresh = async (): Promise<string> => join(base, `s${++n}`);
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'cairn-fs-'));
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('lays objects out as documented: marker, hex trie, CAIRNOBJ header', async () => {
    const root = await fresh();
    const store = createFsStore({ root });
    await store.container('box').put('abc', Buffer.from('hello'), { meta: { k: 'v' } });
    const marker = await readFile(join(root, STORE_MARKER_FILE));
    expect(marker.subarray(0, 8).toString()).toBe('CAIRNFSS');
    expect([marker.readUInt16BE(8), marker.readUInt16BE(10), marker.length]).toEqual([1, 2, 20]);
    const file = await readFile(join(root, 'box', '6162', '63.obj'));
    expect(file.subarray(0, 8).toString()).toBe('CAIRNOBJ');
    expect(file.readUInt16BE(8)).toBe(2);
    const hl = file.readUInt32BE(12);
    expect(hl).toBe(56 + 3 + (1 + 1 + 2 + 1) + 4);
    expect(Number(file.readBigUInt64BE(16))).toBe(5);
    expect(file.subarray(32, 48).toString('hex')).toBe('5d41402abc4b2a76b9719d911017c592');
    expect([file.readUInt16BE(48), file.readUInt16BE(50)]).toEqual([3, 1]);
    expect(file.readUInt32BE(52)).toBe(crc32(Buffer.from('hello')));
    expect(file.subarray(56, 59).toString()).toBe('abc');
    expect(file.readUInt32BE(hl - 4)).toBe(crc32(file.subarray(0, hl - 4)));
    expect(file.subarray(hl).toString()).toBe('hello');
    expect(await readdir(join(root, TEMP_DIR))).toEqual([]);
    await store.close();
  });

  it('keeps objects across close and reopen', async () => {
    const root = await fresh();
    const a = createFsStore({ root });
    await a.container('box').put('x/y', Buffer.from('durable'), { meta: { m: '1' } });
    await a.close();
    await expectCode(a.container('box').head('x/y'), 'CAIRN_ERR_CLOSED');
    const b = createFsStore({ root });
    expect((await b.container('box').getBuffer('x/y')).toString()).toBe('durable');
    expect((await b.container('box').head('x/y')).meta).toEqual({ m: '1' });
    await b.close();
  });

  it('detects damaged objects: body (whole reads), header, length, version', async () => {
    const root = await fresh();
    const store = createFsStore({ root });
    const c = store.container('box');
    const body = Buffer.alloc(100_000, 7);
    for (const name of ['body', 'header', 'short', 'version']) await c.put(name, body);
    const path = (name: string) => objectPath(join(root, 'box'), name);
    const poke = async (name: string, at: (hl: number) => number, value: number) => {
      const fh = await open(path(name), 'r+');
      const probe = Buffer.alloc(16);
      await fh.read(probe, 0, 16, 0);
      await fh.write(Buffer.from([value]), 0, 1, at(probe.readUInt32BE(12)));
      await fh.close();
    };
    await poke('body', (hl) => hl + 5000, 8);
    expect((await c.head('body')).size).toBe(100_000);
    const r = await c.get('body');
    await expect(drain(r.body)).rejects.toMatchObject({ code: 'CAIRN_ERR_OBJ_CORRUPT' });
    await expectCode(c.getBuffer('body'), 'CAIRN_ERR_OBJ_CORRUPT');
    // A range read does not hash (that would need the whole body); it returns the bytes on disk.
    expect((await c.getBuffer('body', { range: { offset: 4999, length: 2 } })).equals(Buffer.from([7, 8]))).toBe(true);
    await poke('header', () => 20, 0xff);
    await expectCode(c.head('header'), 'CAIRN_ERR_OBJ_CORRUPT');
    await expectCode(c.get('header'), 'CAIRN_ERR_OBJ_CORRUPT');
    await expectCode(c.list({ prefix: 'header' }), 'CAIRN_ERR_OBJ_CORRUPT');
    await truncate(path('short'), 5000);
    await expectCode(c.head('short'), 'CAIRN_ERR_OBJ_CORRUPT');
    // Version 3 with a valid checksum: refused as an unknown format, not as garbage.
    const file = await readFile(path('version'));
    const hl = file.readUInt32BE(12);
    file.writeUInt16BE(3, 8);
    file.writeUInt32BE(crc32(file.subarray(0, hl - 4)), hl - 4);
    await writeFile(path('version'), file);
    await expectCode(c.head('version'), 'CAIRN_ERR_OBJ_BAD_VERSION');
    await store.close();
  });

  it('detects damage in small objects read whole (one read, no stream) and in their length', async () => {
    const root = await fresh();
    const store = createFsStore({ root });
    const c = store.container('box');
    const body = Buffer.alloc(4096, 3);
    for (const name of ['ok', 'flip', 'long', 'short']) await c.put(name, body);
    const path = (name: string) => objectPath(join(root, 'box'), name);
    const file = await readFile(path('flip'));
    file[file.length - 100]! ^= 1;
    await writeFile(path('flip'), file);
    await writeFile(path('long'), Buffer.concat([await readFile(path('long')), Buffer.from([0])]));
    await truncate(path('short'), file.length - 1);
    expect((await c.getBuffer('ok')).equals(body)).toBe(true);
    expect((await c.getBuffer('ok', { range: { offset: 4000 } })).equals(body.subarray(4000))).toBe(true);
    await expectCode(c.getBuffer('flip'), 'CAIRN_ERR_OBJ_CORRUPT');
    await expect(drain((await c.get('flip')).body)).rejects.toMatchObject({ code: 'CAIRN_ERR_OBJ_CORRUPT' });
    for (const name of ['long', 'short']) {
      await expectCode(c.getBuffer(name), 'CAIRN_ERR_OBJ_CORRUPT');
      await expectCode(c.head(name), 'CAIRN_ERR_OBJ_CORRUPT');
    }
    await store.close();
  });

  it('verifies large bodies (hashed on a worker thread) on write and on streamed reads', async () => {
    const root = await fresh();
    const store = createFsStore({ root });
    const c = store.container('box');
    const big = Buffer.alloc(3 * 1024 * 1024 + 5);
    for (let i = 0; i + 4 <= big.length; i += 4) big.writeUInt32LE(i, i);
    const chunks = Array.from({ length: Math.ceil(big.length / 65_536) }, (_, i) => big.subarray(i * 65_536, (i + 1) * 65_536));
    const info = await c.put('big', Readable.from(chunks));
    expect([info.size, info.etag]).toEqual([big.length, createHash('md5').update(big).digest('hex')]);
    const file = await readFile(objectPath(join(root, 'box'), 'big'));
    const hl = file.readUInt32BE(12);
    expect(file.readUInt32BE(52)).toBe(crc32(big));
    expect((await drain((await c.get('big')).body)).equals(big)).toBe(true);
    file[hl + 2_500_000]! ^= 0x40;
    await writeFile(objectPath(join(root, 'box'), 'big'), file);
    await expect(drain((await c.get('big')).body)).rejects.toMatchObject({ code: 'CAIRN_ERR_OBJ_CORRUPT' });
    await expectCode(c.getBuffer('big'), 'CAIRN_ERR_OBJ_CORRUPT');
    // A stream given up early leaves nothing behind that disturbs the next read.
    const early = await c.get('big');
    for await (const chunk of early.body) if ((chunk as Buffer).length > 0) break;
    await c.put('big', big);
    expect((await drain((await c.get('big')).body)).equals(big)).toBe(true);
    await store.close();
  });

  it('reads objects written in header version 1 (no body CRC; whole reads verified by MD5)', async () => {
    const root = await fresh();
    const store = createFsStore({ root });
    const c = store.container('box');
    await c.put('seed', Buffer.alloc(1)); // creates the store and the container
    // docs/formats.md's version-1 worked example: object "abc", body "hello", { k: "v" }.
    const v1 = Buffer.from(
      '434149524e4f424a000100000000004000000000000000050000018bcfe56800' +
      '5d41402abc4b2a76b9719d911017c5920003000161626301' + '6b0001768bd2a2e3' + '68656c6c6f', 'hex');
    expect(v1.readUInt32BE(60)).toBe(crc32(v1.subarray(0, 60)));
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 9);
    const bigV1 = Buffer.from(v1.subarray(0, 64));
    bigV1.writeBigUInt64BE(BigInt(big.length), 16);
    createHash('md5').update(big).digest().copy(bigV1, 32);
    bigV1.writeUInt32BE(crc32(bigV1.subarray(0, 60)), 60);
    await mkdir(join(root, 'box', '6162'), { recursive: true });
    await writeFile(objectPath(join(root, 'box'), 'abc'), v1);
    const info = await c.head('abc');
    expect([info.size, info.etag, info.mtime, info.meta]).toEqual([5, '5d41402abc4b2a76b9719d911017c592', 1700000000000, { k: 'v' }]);
    expect((await c.getBuffer('abc')).toString()).toBe('hello');
    expect((await drain((await c.get('abc')).body)).toString()).toBe('hello');
    const entry = (await c.list({ prefix: 'abc' })).entries[0];
    expect(entry).toMatchObject({ kind: 'object', name: 'abc', size: 5, etag: '5d41402abc4b2a76b9719d911017c592' });
    // A damaged version-1 body fails its MD5 check, through both read paths and in streams of many chunks.
    const bad = Buffer.from(v1);
    bad[bad.length - 1] = 0x21;
    await writeFile(objectPath(join(root, 'box'), 'abc'), bad);
    await expectCode(c.getBuffer('abc'), 'CAIRN_ERR_OBJ_CORRUPT');
    await expect(drain((await c.get('abc')).body)).rejects.toMatchObject({ code: 'CAIRN_ERR_OBJ_CORRUPT' });
    await writeFile(objectPath(join(root, 'box'), 'abc'), Buffer.concat([bigV1, big]));
    expect((await drain((await c.get('abc')).body)).equals(big)).toBe(true);
    big[2_000_000] = 8;
    await writeFile(objectPath(join(root, 'box'), 'abc'), Buffer.concat([bigV1, big]));
    await expect(drain((await c.get('abc')).body)).rejects.toMatchObject({ code: 'CAIRN_ERR_OBJ_CORRUPT' });
    await expectCode(c.getBuffer('abc'), 'CAIRN_ERR_OBJ_CORRUPT');
    // Overwriting it writes the current version.
    await c.put('abc', Buffer.from('hello'), { meta: { k: 'v' } });
    expect((await readFile(objectPath(join(root, 'box'), 'abc'))).readUInt16BE(8)).toBe(2);
    await store.close();
  });

  it('refuses a root with a foreign or newer store marker', async () => {
    const bad = await fresh();
    const s1 = createFsStore({ root: bad });
    await s1.ping();
    await s1.close();
    await writeFile(join(bad, STORE_MARKER_FILE), 'not a marker at all!');
    const s2 = createFsStore({ root: bad });
    await expectCode(s2.ping(), 'CAIRN_ERR_OBJ_CORRUPT');
    await expectCode(s2.container('box').head('x'), 'CAIRN_ERR_OBJ_CORRUPT');
    await s2.close();
    const m = Buffer.alloc(20);
    m.write('CAIRNFSS', 0, 'latin1');
    m.writeUInt16BE(9, 8);
    m.writeUInt16BE(2, 10);
    m.writeUInt32BE(crc32(m.subarray(0, 16)), 16);
    await writeFile(join(bad, STORE_MARKER_FILE), m);
    const s3 = createFsStore({ root: bad });
    await expectCode(s3.ping(), 'CAIRN_ERR_OBJ_BAD_VERSION');
    await s3.close();
  });

  it('removes temp files of dead processes (and old ones) on open, keeps live ones', async () => {
    const root = await fresh();
    const s1 = createFsStore({ root });
    await s1.ping();
    await s1.close();
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const tmp = join(root, TEMP_DIR);
    const files = {
      dead: `${dead}-0123456789abcdef.tmp`,
      liveOld: `${process.ppid}-0123456789abcdee.tmp`,
      live: `${process.ppid}-0123456789abcded.tmp`,
      mine: `${process.pid}-0123456789abcdec.tmp`,
      foreign: 'notes.txt',
    };
    for (const f of Object.values(files)) await writeFile(join(tmp, f), 'partial');
    const old = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    await utimes(join(tmp, files.liveOld), old, old);
    const s2 = createFsStore({ root });
    await s2.ping();
    expect((await readdir(tmp)).sort()).toEqual([files.live, files.mine, files.foreign].sort());
    await s2.close();
  });

  it('streams a put to disk as it arrives (the body is never held whole)', async () => {
    const root = await fresh();
    const store = createFsStore({ root, fsync: false });
    await store.ping();
    const tmp = join(root, TEMP_DIR);
    const MiB = 1024 * 1024;
    const sizes: number[] = [];
    async function* body(): AsyncIterable<Buffer> {
      for (let k = 0; k < 24; k++) {
        if (k >= 4) {
          const [t] = await readdir(tmp);
          sizes.push((await stat(join(tmp, t!))).size);
        }
        yield Buffer.alloc(MiB, k);
      }
    }
    const info = await store.container('box').put('big', body());
    expect(info.size).toBe(24 * MiB);
    // While chunk k is produced, at least k-2 MiB are already in the temp file.
    sizes.forEach((s, i) => expect(s).toBeGreaterThanOrEqual((i + 4 - 2) * MiB));
    await store.close();
  });

  it('a canceled or short streamed put leaves nothing behind', async () => {
    const root = await fresh();
    const store = createFsStore({ root });
    const c = store.container('box');
    const ac = new AbortController();
    async function* body(): AsyncIterable<Buffer> {
      yield Buffer.alloc(1000);
      ac.abort();
      yield Buffer.alloc(1000);
    }
    await expectCode(c.put('canceled', body(), { signal: ac.signal }), 'CAIRN_ERR_CANCELED');
    await expectCode(c.put('short', Buffer.alloc(10), { contentLength: 11 }), 'CAIRN_ERR_INVALID_ARGUMENT');
    async function* failing(): AsyncIterable<Buffer> {
      yield Buffer.alloc(1000);
      throw new Error('source broke');
    }
    await expect(c.put('broken', failing())).rejects.toThrow();
    for (const name of ['canceled', 'short', 'broken']) await expectCode(c.head(name), 'CAIRN_ERR_OBJ_NOT_FOUND');
    expect(await readdir(join(root, TEMP_DIR))).toEqual([]);
    await store.close();
  });

  it('a get keeps reading the object it opened while it is replaced and deleted', async () => {
    const root = await fresh();
    const store = createFsStore({ root, fsync: false });
    const c = store.container('box');
    const first = Buffer.alloc(3 * 1024 * 1024, 1);
    await c.put('o', first);
    const r = await c.get('o');
    await c.put('o', Buffer.alloc(10, 2));
    await c.delete('o');
    expect((await drain(r.body)).equals(first)).toBe(true);
    await store.close();
  });

  it('segments copy batched appends: the caller may reuse its buffer once append resolves', async () => {
    const root = await fresh();
    const store = createFsStore({ root, fsync: false });
    const c = store.container('box');
    const s = c.openSegment('reuse');
    const scratch = Buffer.alloc(64 * 1024);
    const expected: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const n = i % 5 === 4 ? 300 * 1024 : 1 + ((i * 7919) % scratch.length);
      const part = n > scratch.length ? Buffer.alloc(n, i) : scratch.subarray(0, n).fill(i);
      await s.append(part);
      expected.push(Buffer.from(part));
      part.fill(0xee); // reused by the caller
    }
    const all = Buffer.concat(expected);
    const info = await s.close();
    expect([info.size, info.etag]).toEqual([all.length, createHash('md5').update(all).digest('hex')]);
    expect((await c.getBuffer('reuse')).equals(all)).toBe(true);
    await store.close();
  });

  it('segments stage appends in pooled slabs, each handed back once its bytes reached the file', async () => {
    const root = await fresh();
    const store = createFsStore({ root, fsync: false });
    const c = store.container('box');
    slabPoolForTests.clear();
    const write = async (name: string, seed: number): Promise<Buffer> => {
      const s = c.openSegment(name);
      const parts = Array.from({ length: 80 }, (_, i) => Buffer.alloc(64 * 1024, (seed + i) & 0xff));
      for (const p of parts) await s.append(p);
      await s.close();
      return Buffer.concat(parts);
    };
    const a = await write('a', 1);
    // 5 MiB went through at most a few slabs at a time; those are back in the pool.
    const pooled = slabPoolForTests.size();
    expect(pooled).toBeGreaterThan(0);
    expect(pooled).toBeLessThanOrEqual(4);
    const b = await write('b', 100);
    expect(slabPoolForTests.size()).toBeLessThanOrEqual(pooled + 1); // reused, not allocated anew
    expect((await c.getBuffer('a')).equals(a)).toBe(true);
    expect((await c.getBuffer('b')).equals(b)).toBe(true);
    slabPoolForTests.clear();
    await store.close();
  });

  it('close aborts open segments and removes their temp files', async () => {
    const root = await fresh();
    const store: ObjectStore = createFsStore({ root });
    const c = store.container('box');
    const s = c.openSegment('seg');
    await s.append(Buffer.alloc(5000, 1));
    expect((await readdir(join(root, TEMP_DIR))).length).toBe(1);
    await store.close();
    expect(await readdir(join(root, TEMP_DIR))).toEqual([]);
    await expectCode(s.close(), 'CAIRN_ERR_OBJ_SEGMENT_CLOSED');
    await expectCode(c.put('x', Buffer.alloc(1)), 'CAIRN_ERR_CLOSED');
    expect(() => c.openSegment('later')).toThrow(/closed/);
  });

  it('counts requests, errors and bytes', async () => {
    const root = await fresh();
    const store = createFsStore({ root, fsync: false });
    const c = store.container('box');
    await c.put('a', Buffer.alloc(1000));
    const seg = c.openSegment('s');
    await seg.append(Buffer.alloc(500));
    await seg.close();
    await drain((await c.get('a', { range: { offset: 100, length: 300 } })).body);
    await c.head('missing').catch(() => undefined);
    await c.list();
    expect(store.stats()).toEqual({ requests: 5, errors: 1, retries: 0, bytesIn: 300, bytesOut: 1500 });
    await store.close();
  });

  it('fails clearly on a missing container, and creates one on put or create()', async () => {
    const root = await fresh();
    const store = createFsStore({ root });
    await expectCode(store.container('nope').list(), 'CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND');
    await store.container('made').create();
    expect((await store.container('made').list()).entries).toEqual([]);
    expect(() => store.container('Bad_Name')).toThrow(/invalid object or container name/);
    expect(() => store.container('.tmp')).toThrow(/invalid object or container name/);
    await store.close();
  });
});
