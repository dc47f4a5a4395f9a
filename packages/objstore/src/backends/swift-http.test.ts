// The Swift backend's retry loop, auth and error mapping against a local fake
// Swift that misbehaves on purpose (5xx, resets, stalls, refused tokens).

import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { isCairnError, isRetryable, type CairnError } from '@cairn/errors';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ObjectStore } from '../types.js';
import { FakeSwift } from './swift-fake.js';
import type { SwiftStoreOptions } from './swift-options.js';
import { encodeName, swiftUrl } from './swift-http.js';
import { createSwiftStore } from './swift.js';

let fake: FakeSwift;
const stores: ObjectStore[] = [];

beforeEach(async () => {
  fake = await new FakeSwift().start();
});

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await fake.stop();
});

function open(extra: Partial<SwiftStoreOptions> = {}): ObjectStore {
  const s = createSwiftStore({
    authUrl: fake.authUrl, user: 'test:tester', key: 'testing',
    retry: { baseDelayMs: 1, maxDelayMs: 5 }, requestTimeoutMs: 2000, ...extra,
  });
  stores.push(s);
  return s;
}

async function failure(p: Promise<unknown>): Promise<CairnError> {
  try {
    await p;
  } catch (e) {
    expect(isCairnError(e)).toBe(true);
    return e as CairnError;
  }
  throw new Error('expected a failure');
}

/** Answers `status` to the first `n` requests matching `method` on objects. */
function failFirst(n: number, status: number, method = 'GET', headers: Record<string, string> = {}): () => number {
  let seen = 0;
  fake.after = ({ method: m, object, res }) => {
    if (m !== method || object === undefined || seen >= n) return false;
    seen++;
    res.writeHead(status, headers).end('oops');
    return true;
  };
  return () => seen;
}

describe('swift request paths', () => {
  it('keeps dot segments and percent-encodes everything else', () => {
    const base = new URL('http://127.0.0.1:1/v1/AUTH_test/');
    expect(swiftUrl(base, 'c', 'a/../b/./c').path).toBe('/v1/AUTH_test/c/a/../b/./c');
    expect(swiftUrl(base, 'c', '..').path).toBe('/v1/AUTH_test/c/..');
    expect(swiftUrl(base, 'c', "sp ace?#%&+=;!'()*é").path).toBe('/v1/AUTH_test/c/sp%20ace%3F%23%25%26%2B%3D%3B%21%27%28%29%2A%C3%A9');
    expect(swiftUrl(base, 'c', undefined, { prefix: 'a/b c', marker: undefined, limit: 3 }).path).toBe('/v1/AUTH_test/c?prefix=a%2Fb%20c&limit=3');
    expect(swiftUrl(base).path).toBe('/v1/AUTH_test');
    expect(encodeName('a/b', false)).toBe('a%2Fb');
  });

  it('round-trips names with dot segments through the fake', async () => {
    const s = createSwiftStore({ authUrl: fake.authUrl, user: 'test:tester', key: 'testing' });
    stores.push(s);
    const c = s.container('dots');
    for (const n of ['.', '..', 'x/../y', 'a/./b']) {
      await c.put(n, Buffer.from(n));
      expect((await c.getBuffer(n)).toString()).toBe(n);
    }
    expect([...fake.containers.get('dots')!.keys()].sort()).toEqual(['.', '..', 'a/./b', 'x/../y']);
  });
});

describe('swift retry loop', () => {
  it('retries 5xx on idempotent requests and succeeds', async () => {
    const s = open();
    const c = s.container('box');
    await c.put('o', Buffer.from('hello'));
    const seen = failFirst(3, 503);
    expect((await c.getBuffer('o')).toString()).toBe('hello');
    expect(seen()).toBe(3);
    expect(s.stats().retries).toBeGreaterThanOrEqual(3);
  });

  it('gives up after retry.maxAttempts with a retryable UNAVAILABLE', async () => {
    const s = open({ retry: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 2 } });
    const c = s.container('box');
    await c.put('o', Buffer.from('x'));
    const seen = failFirst(100, 500, 'HEAD');
    const e = await failure(c.head('o'));
    expect(e.code).toBe('CAIRN_ERR_OBJ_UNAVAILABLE');
    expect(isRetryable(e)).toBe(true);
    expect(seen()).toBe(4);
  });

  it('does not retry 403 and 404', async () => {
    const s = open();
    const c = s.container('box');
    await c.put('o', Buffer.from('x'));
    const seen = failFirst(100, 403);
    expect((await failure(c.get('o'))).code).toBe('CAIRN_ERR_OBJ_FORBIDDEN');
    expect(seen()).toBe(1);
    fake.after = undefined;
    expect((await failure(c.get('missing'))).code).toBe('CAIRN_ERR_OBJ_NOT_FOUND');
    expect((await failure(s.container('nobox').list())).code).toBe('CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND');
  });

  it('honours Retry-After on 429', async () => {
    const s = open({ retry: { baseDelayMs: 1, maxDelayMs: 1000 } });
    const c = s.container('box');
    await c.put('o', Buffer.from('x'));
    failFirst(1, 429, 'HEAD', { 'retry-after': '1' });
    const t0 = Date.now();
    await c.head('o');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  });

  it('retries a reset connection, and maps a persistent one to CONNECTION_RESET', async () => {
    const s = open({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } });
    const c = s.container('box');
    await c.put('o', Buffer.from('data'));
    let resets = 0;
    fake.before = ({ method, object, req }) => {
      if (method !== 'GET' || object === undefined || resets >= 2) return false;
      resets++;
      req.socket.destroy();
      return true;
    };
    expect((await c.getBuffer('o')).toString()).toBe('data');
    expect(resets).toBe(2);
    fake.before = ({ method, object, req }) => {
      if (method !== 'GET' || object === undefined) return false;
      req.socket.destroy();
      return true;
    };
    const e = await failure(c.get('o'));
    expect(e.code).toBe('CAIRN_ERR_OBJ_CONNECTION_RESET');
    expect(isRetryable(e)).toBe(true);
  });

  it('times out a request that gets no answer', async () => {
    const s = open({ requestTimeoutMs: 150, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
    const c = s.container('box');
    await c.put('o', Buffer.from('x'));
    fake.before = ({ method }) => method === 'HEAD'; // swallow: never answer
    const t0 = Date.now();
    const e = await failure(c.head('o'));
    expect(e.code).toBe('CAIRN_ERR_OBJ_TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('re-authenticates once on 401 and repeats the request transparently', async () => {
    const s = open();
    const c = s.container('box');
    await c.put('o', Buffer.from('x'));
    expect(fake.authCount).toBe(1);
    fake.revokeTokens();
    expect((await c.getBuffer('o')).toString()).toBe('x');
    expect(fake.authCount).toBe(2);
    // A 401 that survives re-authentication is UNAUTHORIZED, after exactly one re-auth.
    fake.after = ({ res }) => {
      res.writeHead(401).end();
      return true;
    };
    expect((await failure(c.head('o'))).code).toBe('CAIRN_ERR_OBJ_UNAUTHORIZED');
    expect(fake.authCount).toBe(3);
  });

  it('refuses bad credentials with UNAUTHORIZED, never echoing the key', async () => {
    const s = open({ key: 'wrong-key-123' });
    const e = await failure(s.ping());
    expect(e.code).toBe('CAIRN_ERR_OBJ_UNAUTHORIZED');
    expect(JSON.stringify({ m: e.message, d: e.details })).not.toContain('wrong-key-123');
  });

  it('creates a missing container on PUT and repeats', async () => {
    const s = open();
    const info = await s.container('fresh').put('a/b', Buffer.from('abc'), { meta: { k: 'v' } });
    expect(info.etag).toBe('900150983cd24fb0d6963f7d28e17f72');
    expect(fake.object('fresh', 'a/b')?.meta).toEqual({ k: 'v' });
    const puts = fake.log.filter((l) => l.method === 'PUT').map((l) => l.status);
    expect(puts).toEqual([404, 201, 201]);
  });

  it('sends the MD5 of a buffer as ETag and re-sends on 422', async () => {
    const s = open();
    const c = s.container('box');
    await c.create();
    failFirst(1, 422, 'PUT');
    await c.put('o', Buffer.from('payload'));
    expect(fake.object('box', 'o')?.data.toString()).toBe('payload');
  });

  it('a streamed put is sent once: a 503 is reported retryable and nothing is stored', async () => {
    const s = open();
    const c = s.container('box');
    await c.create();
    const seen = failFirst(100, 503, 'PUT');
    const e = await failure(c.put('s', Readable.from([Buffer.from('a'), Buffer.from('b')])));
    expect(e.code).toBe('CAIRN_ERR_OBJ_UNAVAILABLE');
    expect(isRetryable(e)).toBe(true);
    expect(seen()).toBe(1);
    expect(fake.object('box', 's')).toBeUndefined();
  });

  it('a streamed put reports the source stream failing, and stores nothing', async () => {
    const s = open();
    const c = s.container('box');
    await c.create();
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield Buffer.alloc(1000, 1);
      throw new Error('source broke');
    }
    const e = await failure(c.put('s', broken()));
    expect(e.message).toContain('source broke');
    await new Promise((r) => setTimeout(r, 50));
    expect(fake.object('box', 's')).toBeUndefined();
  });

  it('a streamed put into a missing container creates it first', async () => {
    const s = open();
    const info = await s.container('later').put('x', Readable.from([Buffer.from('12345')]));
    expect(info.size).toBe(5);
    expect(fake.object('later', 'x')?.data.toString()).toBe('12345');
  });

  it('a streamed put into a container deleted behind its back recreates it and asks for a retry', async () => {
    const s = open();
    const c = s.container('gone');
    await c.put('first', Readable.from([Buffer.from('1')]));
    fake.containers.delete('gone');
    const e = await failure(c.put('second', Readable.from([Buffer.from('2')])));
    expect([e.code, isRetryable(e)]).toEqual(['CAIRN_ERR_OBJ_UNAVAILABLE', true]);
    expect(fake.containers.has('gone')).toBe(true);
    expect((await c.put('second', Readable.from([Buffer.from('2')]))).size).toBe(1);
  });

  it('delete: a 404 after an attempt of unknown outcome counts as done even with mustExist', async () => {
    const s = open();
    const c = s.container('box');
    await c.put('o', Buffer.from('x'));
    let first = true;
    fake.after = ({ method, res, container, object }) => {
      if (method !== 'DELETE' || !first) return false;
      first = false;
      fake.containers.get(container!)!.delete(object!); // the delete happens...
      res.socket?.destroy(); // ...but the answer is lost
      return true;
    };
    await c.delete('o', { mustExist: true });
    expect(fake.object('box', 'o')).toBeUndefined();
    await expect(c.delete('o', { mustExist: true })).rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_OBJ_NOT_FOUND'));
  });

  it('create-if-absent: a 412 after our own lost answer is recognised as success', async () => {
    const s = open();
    const c = s.container('box');
    await c.create();
    let first = true;
    // First attempt stores the object, then the connection drops before the answer arrives.
    fake.after = async ({ method, res, req, body, container, object }) => {
      if (method !== 'PUT' || !first) return false;
      first = false;
      fake.containers.get(container!)!.set(object!, { data: body!, meta: {}, etag: String(req.headers['etag']), timestamp: Date.now() });
      res.socket?.destroy();
      return true;
    };
    const info = await c.put('once', Buffer.from('mine'), { ifNoneMatch: true });
    expect(info.size).toBe(4);
    await expect(c.put('once', Buffer.from('other'), { ifNoneMatch: true })).rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_OBJ_PRECONDITION_FAILED'));
  });

  it('create-if-absent: a 201 whose bytes were then replaced by a racing upload reports the loss', async () => {
    const s = open();
    const c = s.container('box');
    await c.create();
    let raced = false;
    fake.after = ({ method, res, body, container, object }) => {
      if (method !== 'PUT' || raced) return false;
      raced = true;
      // Our PUT passes the check and is stored; a racing one lands just after it.
      const now = Date.now();
      const theirs = Buffer.from('theirs');
      fake.containers.get(container!)!.set(object!, { data: body!, meta: {}, etag: '900150983cd24fb0d6963f7d28e17f72', timestamp: now });
      setTimeout(() => fake.containers.get(container!)!.set(object!, { data: theirs, meta: {}, etag: 'f7c8a6a8e5f1bfdab0b0b8e5a1d6e5cd', timestamp: now + 1 }), 5);
      res.writeHead(201, { etag: '900150983cd24fb0d6963f7d28e17f72' }).end();
      return true;
    };
    const e = await failure(c.put('race', Buffer.from('abc'), { ifNoneMatch: true }));
    expect(e.code).toBe('CAIRN_ERR_OBJ_PRECONDITION_FAILED');
    // Without a race the create is confirmed.
    expect((await c.put('calm', Buffer.from('abc'), { ifNoneMatch: true })).etag).toBe('900150983cd24fb0d6963f7d28e17f72');
  });

  it('resumes a GET whose body is cut, with Range and If-Match, yielding the exact bytes', async () => {
    const s = open();
    const c = s.container('box');
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    await c.put('big', data);
    let cuts = 0;
    fake.before = ({ method, res, headers }) => {
      if (method !== 'GET' || cuts >= 2) return false;
      cuts++;
      const range = /bytes=(\d+)-/.exec(String(headers['range'] ?? ''));
      const from = range ? Number(range[1]) : 0;
      res.writeHead(range ? 206 : 200, {
        'content-length': data.length - from, etag: fake.object('box', 'big')!.etag,
        ...(range ? { 'content-range': `bytes ${from}-${data.length - 1}/${data.length}` } : {}),
      });
      res.write(data.subarray(from, from + 70_000), () => res.socket?.destroy());
      return true;
    };
    const back = await c.getBuffer('big');
    expect(cuts).toBe(2);
    expect(back.equals(data)).toBe(true);
    const ranges = fake.log.filter((l) => l.method === 'GET' && l.status === 206);
    expect(ranges.length).toBe(1);
  });

  it('authenticates with Keystone v3 and picks the public object-store endpoint of the region', async () => {
    const s = open({ authVersion: 3, authUrl: `http://127.0.0.1:${fake.port}/v3`, user: 'tester', projectName: 'test', region: 'RegionOne' });
    await s.container('keystone').put('o', Buffer.from('v3'));
    expect(fake.object('keystone', 'o')?.data.toString()).toBe('v3');
    const bad = open({ authVersion: 3, authUrl: `http://127.0.0.1:${fake.port}/v3`, user: 'tester', key: 'nope', projectName: 'test' });
    expect((await failure(bad.ping())).code).toBe('CAIRN_ERR_OBJ_UNAUTHORIZED');
  });

  it('never writes the token into errors or logs', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const s = open({ logger: pino({ level: 'trace' }, sink), retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
    const c = s.container('box');
    await c.put('o', Buffer.from('x'));
    const token = [...fake.tokens][0]!;
    // An answer body that echoes the token, a retry, a re-auth and a final failure.
    fake.after = ({ res, headers }) => {
      res.writeHead(503).end(`token was ${String(headers['x-auth-token'])}`);
      return true;
    };
    const e = await failure(c.head('o'));
    fake.after = undefined;
    fake.revokeTokens();
    await c.head('o');
    const everything = JSON.stringify({ m: e.message, d: e.details, c: String(e.cause ?? '') }) + lines.join('');
    expect(lines.length).toBeGreaterThan(0);
    expect(everything).not.toContain(token);
    expect(everything).not.toContain('testing');
  });

  it('a 202 (a newer concurrent PUT won) is last-writer-wins for a put and a lost race for create-if-absent', async () => {
    const c = open().container('c202');
    await c.create();
    const seen = failFirst(3, 202, 'PUT');
    const info = await c.put('lww', Buffer.from('ours'));
    expect(info).toMatchObject({ name: 'lww', size: 4 });
    expect(info.etag).toBe(createHash('md5').update('ours').digest('hex'));
    const streamed = await c.put('lww', Readable.from([Buffer.from('our'), Buffer.from('s too')]));
    expect(streamed).toMatchObject({ size: 8, etag: createHash('md5').update('ours too').digest('hex') });
    const lost = await failure(c.put('lww', Buffer.from('first?'), { ifNoneMatch: true }));
    expect(isCairnError(lost, 'CAIRN_ERR_OBJ_PRECONDITION_FAILED')).toBe(true);
    expect(seen()).toBe(3);
  });

  it('is closed after close()', async () => {
    const s = open();
    await s.close();
    expect((await failure(s.container('box').head('o'))).code).toBe('CAIRN_ERR_CLOSED');
  });

  it('with random retryable faults, every operation still agrees with a Map model', async () => {
    const s = open({ retry: { maxAttempts: 12, baseDelayMs: 0, maxDelayMs: 1 } });
    const c = s.container('model');
    await c.create();
    const keys = ['a', 'b', 'c/d', 'c/e'];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ op: fc.constantFrom('put', 'get', 'del', 'list'), k: fc.nat(keys.length - 1), n: fc.nat(2000), fault: fc.nat(5) }), { maxLength: 20 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        async (cmds, seed) => {
          const model = new Map<string, Buffer>();
          for (const [name] of fake.containers.get('model') ?? []) await c.delete(name);
          for (const x of cmds) {
            // fault 0: 503, 1: reset before reading, otherwise none; at most 2 in a row
            let left = x.fault < 2 ? 2 : 0;
            fake.before = ({ req, res, container }) => {
              if (container !== 'model' || left === 0) return false;
              left--;
              if (x.fault === 0) res.writeHead(503).end();
              else req.socket.destroy();
              return true;
            };
            const name = keys[x.k]!;
            if (x.op === 'put') {
              const data = Buffer.alloc(x.n, (seed + x.n) & 0xff);
              await c.put(name, data);
              model.set(name, data);
            } else if (x.op === 'get') {
              const want = model.get(name);
              if (want) expect((await c.getBuffer(name)).equals(want)).toBe(true);
              else expect((await failure(c.get(name))).code).toBe('CAIRN_ERR_OBJ_NOT_FOUND');
            } else if (x.op === 'del') {
              await c.delete(name);
              model.delete(name);
            } else {
              const page = await c.list({ delimiter: '/' });
              const want = [...new Set([...model.keys()].map((k) => (k.includes('/') ? `p:${k.slice(0, k.indexOf('/') + 1)}` : `o:${k}`)))].sort();
              expect(page.entries.map((e) => (e.kind === 'object' ? `o:${e.name}` : `p:${e.prefix}`))).toEqual(want);
            }
            fake.before = undefined;
          }
        },
      ),
      { numRuns: 15 },
    );
  });
});
