// The Swift backend against a real single-node Swift (scripts/services.sh): the
// shared conformance suite, then what only a real Swift can show: a revoked
// token, connections cut in the middle of a segment upload, a streamed put and a
// download (through a local TCP proxy that misbehaves on purpose).
//
// CAIRN_TEST_LARGE=1 streams a 1 GiB object instead of 256 MiB.

import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The repository root does not depend on the workspace packages, so test/ reaches
// them by path (their public entry points, plus the backend's factory module).
import { isCairnError, isRetryable } from '../../packages/errors/src/index.js';
import { createSwiftStore, type SwiftStoreOptions } from '../../packages/objstore/src/backends/swift.js';
import type { ObjectStore } from '../../packages/objstore/src/index.js';
import { describeConformance } from '../../packages/objstore/src/testing/index.js';
import { servicesUnavailableReason, swiftSettings, type SwiftSettings } from '../helpers/services.js';

const swift = swiftSettings();
const MiB = 1024 * 1024;
const largeBytes = process.env['CAIRN_TEST_LARGE'] === '1' ? 1024 * MiB : 256 * MiB;
const run = randomBytes(3).toString('hex');

function open(s: SwiftSettings, extra: Partial<SwiftStoreOptions> = {}): ObjectStore {
  return createSwiftStore({ authUrl: s.authUrl, user: s.user, key: s.key, retry: { baseDelayMs: 20, maxDelayMs: 500 }, ...extra });
}

/** A token straight from tempauth (it hands the same one to every client of a user while it is valid). */
async function currentToken(s: SwiftSettings): Promise<string> {
  const r = await fetch(s.authUrl, { headers: { 'x-auth-user': s.user, 'x-auth-key': s.key } });
  await r.arrayBuffer();
  return String(r.headers.get('x-auth-token'));
}

/** Deletes a container and whatever is left in it (test cleanup). */
async function deleteContainer(s: SwiftSettings, name: string): Promise<void> {
  const token = await currentToken(s);
  const base = `${s.storageUrl}/${encodeURIComponent(name)}`;
  for (;;) {
    const r = await fetch(`${base}?format=json&limit=1000`, { headers: { 'x-auth-token': token } });
    if (r.status !== 200) {
      await r.arrayBuffer();
      break;
    }
    const items = (await r.json()) as Array<{ name: string }>;
    if (items.length === 0) break;
    for (const it of items) {
      const d = await fetch(`${base}/${encodeURIComponent(it.name)}`, { method: 'DELETE', headers: { 'x-auth-token': token } });
      await d.arrayBuffer();
    }
  }
  const d = await fetch(base, { method: 'DELETE', headers: { 'x-auth-token': token } });
  await d.arrayBuffer();
}

/** Revokes a tempauth token by deleting its memcached entry (Swift keys memcache by MD5). */
async function revokeToken(memcached: string, token: string): Promise<void> {
  const [host, port] = memcached.split(':');
  const key = createHash('md5').update(`AUTH_/token/${token}`).digest('hex');
  const sock = connect(Number(port), host!);
  const answer = await new Promise<string>((resolve, reject) => {
    sock.once('error', reject);
    sock.once('data', (d) => resolve(d.toString()));
    sock.write(`delete ${key}\r\n`);
  });
  sock.destroy();
  expect(answer.trim()).toBe('DELETED');
}

interface Proxy {
  readonly port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Connections cut so far (0 or 1). */
  readonly cuts: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy to Swift's proxy server that cuts the first connection (whichever
 * it is: the client pools connections) passing `up` bytes from the client or
 * `down` bytes from Swift. Later connections pass untouched.
 */
async function cuttingProxy(target: URL, cut: { up?: number; down?: number }): Promise<Proxy> {
  const sockets = new Set<Socket>();
  const state = { connections: 0, cuts: 0 };
  const server: Server = createServer((client) => {
    state.connections++;
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    let up = 0;
    let down = 0;
    const kill = (): void => {
      client.destroy();
      upstream.destroy();
    };
    const over = (n: number, limit: number | undefined): boolean => {
      if (limit === undefined || n <= limit || state.cuts > 0) return false;
      state.cuts++;
      return true;
    };
    client.on('data', (d: Buffer) => {
      up += d.length;
      if (over(up, cut.up)) return kill();
      if (!upstream.write(d)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.on('data', (d: Buffer) => {
      down += d.length;
      if (over(down, cut.down)) return kill();
      if (!client.write(d)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
    client.on('close', kill);
    upstream.on('close', kill);
    client.on('error', kill);
    upstream.on('error', kill);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return state.connections;
    },
    get cuts() {
      return state.cuts;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Deterministic bytes for chunk i. */
function chunkBytes(i: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (i + 1) * 2654435761 >>> 0 || 1;
  for (let k = 0; k + 4 <= size; k += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b.writeUInt32LE(x, k);
  }
  return b;
}

const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

describe.skipIf(!swift)(`swift backend on a real Swift${swift ? '' : ` (not run: ${servicesUnavailableReason('swift')})`}`, () => {
  const s = swift!;

  describeConformance('swift', async () => {
    const container = `cairn-conf-${run}`;
    const store = open(s);
    return {
      store,
      container,
      cleanup: async () => {
        await store.close();
        await deleteContainer(s, container);
      },
    };
  }, { largeBytes });

  describe('swift specifics', () => {
    const container = `cairn-swift-${run}`;
    let store: ObjectStore;

    beforeAll(async () => {
      store = open(s);
      await store.ping();
    });

    afterAll(async () => {
      await store?.close();
      await deleteContainer(s, container);
    });

    it('re-authenticates transparently when Swift forgets the token', async () => {
      const c = store.container(container);
      await c.put('token-test', Buffer.from('still here'));
      const old = await currentToken(s);
      await revokeToken(s.memcached, old);
      // The revoked token is refused now...
      const probe = await fetch(`${s.storageUrl}/${container}/token-test`, { method: 'HEAD', headers: { 'x-auth-token': old } });
      await probe.arrayBuffer();
      expect(probe.status).toBe(401);
      // ...and the store gets a new one without the caller noticing.
      const before = store.stats();
      expect((await c.getBuffer('token-test')).toString()).toBe('still here');
      const after = store.stats();
      expect(after.requests - before.requests).toBe(3); // 401, auth, GET
      expect(after.errors - before.errors).toBe(1);
      expect(await currentToken(s)).not.toBe(old);
    });

    it('a wrong key is UNAUTHORIZED, and the key appears nowhere in the error', async () => {
      const bad = open(s, { key: 'not-the-key-42' });
      try {
        const e = await bad.ping().then(() => undefined, (x: unknown) => x);
        expect(isCairnError(e, 'CAIRN_ERR_OBJ_UNAUTHORIZED')).toBe(true);
        expect(JSON.stringify({ m: (e as Error).message, d: (e as { details?: unknown }).details })).not.toContain('not-the-key-42');
      } finally {
        await bad.close();
      }
    });

    it('a segment whose first connection is cut part-way is re-sent and stored exactly', async () => {
      const proxy = await cuttingProxy(new URL(s.storageUrl), { up: 3 * MiB });
      const viaProxy = open(s, { storageUrl: `http://127.0.0.1:${proxy.port}${new URL(s.storageUrl).pathname}` });
      try {
        const c = viaProxy.container(container);
        await store.container(container).create();
        const seg = c.openSegment('cut-segment', { maxSize: 16 * MiB });
        const hash = createHash('md5');
        for (let i = 0; i < 48; i++) {
          const b = chunkBytes(i, 256 * 1024);
          hash.update(b);
          await seg.append(b);
        }
        const info = await seg.close();
        const want = hash.digest('hex');
        expect([info.size, info.etag]).toEqual([12 * MiB, want]);
        expect(proxy.cuts).toBe(1);
        expect(viaProxy.stats().retries).toBeGreaterThanOrEqual(1);
        const back = await store.container(container).getBuffer('cut-segment');
        expect([back.length, md5(back)]).toEqual([12 * MiB, want]);
      } finally {
        await viaProxy.close();
        await proxy.close();
      }
    });

    it('a streamed put cut part-way fails with a retryable error and stores nothing', async () => {
      const proxy = await cuttingProxy(new URL(s.storageUrl), { up: 1 * MiB });
      const viaProxy = open(s, { storageUrl: `http://127.0.0.1:${proxy.port}${new URL(s.storageUrl).pathname}` });
      try {
        await store.container(container).create();
        const body = Readable.from((function* () {
          for (let i = 0; i < 16; i++) yield chunkBytes(i, 256 * 1024);
        })());
        const e = await viaProxy.container(container).put('cut-stream', body).then(() => undefined, (x: unknown) => x);
        expect(proxy.cuts).toBe(1);
        expect(isCairnError(e)).toBe(true);
        expect(isRetryable(e)).toBe(true);
        await expect(store.container(container).head('cut-stream')).rejects.toSatisfy((x: unknown) => isCairnError(x, 'CAIRN_ERR_OBJ_NOT_FOUND'));
      } finally {
        await viaProxy.close();
        await proxy.close();
      }
    });

    it('a download cut part-way resumes where it stopped and yields the exact bytes', async () => {
      const c = store.container(container);
      const data = Buffer.concat(Array.from({ length: 16 }, (_, i) => chunkBytes(100 + i, 256 * 1024)));
      await c.put('cut-download', data);
      const proxy = await cuttingProxy(new URL(s.storageUrl), { down: 1 * MiB });
      const viaProxy = open(s, { storageUrl: `http://127.0.0.1:${proxy.port}${new URL(s.storageUrl).pathname}` });
      try {
        const back = await viaProxy.container(container).getBuffer('cut-download');
        expect(back.length).toBe(data.length);
        expect(back.equals(data)).toBe(true);
        expect(proxy.cuts).toBe(1);
        expect(viaProxy.stats().retries).toBeGreaterThanOrEqual(1);
      } finally {
        await viaProxy.close();
        await proxy.close();
      }
    });
  });
});
