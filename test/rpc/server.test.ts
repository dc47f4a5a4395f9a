// The RPC server over raw sockets: authentication, mounts, envelope and param
// checks, pipelining with out-of-order replies, binary payloads, limits,
// attach-to-running across connections.

import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, type RpcServer } from '../../packages/rpc/src/index.js';
import { encodeMessageFrame } from '../../packages/rpc/src/protocol.js';
import { startTestServer, SECRET, type TestVolume } from './helpers/table.js';
import { RawPeer, rawMount } from './helpers/raw.js';
import { TRANSPORTS, type Addr } from './helpers/transport.js';

let server: RpcServer | undefined;
const peers: RawPeer[] = [];

afterEach(async () => {
  for (const p of peers.splice(0)) p.close();
  await server?.close();
  server = undefined;
});

async function peer(addr: Addr): Promise<RawPeer> {
  const p = await RawPeer.open(addr);
  peers.push(p);
  return p;
}

// Every test runs over TCP and over a Unix-domain socket (the server then listens on nothing else).
describe.each(TRANSPORTS)('over %s', (transport) => {
  async function setup(over = {}): Promise<{ addr: Addr; volume: TestVolume }> {
    const s = await startTestServer(over, transport);
    server = s.server;
    return { addr: s.addr, volume: s.volume };
  }

  describe('mount and authentication', () => {
    it('a wrong secret, an unknown volume, a missing secret all get the same EACCES and nothing else', async () => {
      const { addr } = await setup();
      const p = await peer(addr);
      p.request({ id: 1, method: 'mount', params: { volume: 'vol', secret: 'wrong' } });
      p.request({ id: 2, method: 'mount', params: { volume: 'nope', secret: SECRET } });
      p.request({ id: 3, method: 'mount', params: { volume: 'vol' } });
      p.request({ id: 4, method: 'mount', params: { volume: 'vol', secret: SECRET.slice(0, -1) } });
      p.request({ id: 5, method: 'mount', params: { volume: 'vol', secret: 42 } });
      const errs = await Promise.all([1, 2, 3, 4, 5].map(async (id) => (await p.reply(id)).error));
      for (const e of errs) {
        expect(e).toEqual({ errno: 'EACCES', errnoNumber: 13, code: 'CAIRN_ERR_RPC_ACCESS_DENIED', message: 'access denied: mount refused', retryable: false });
      }
      expect(server!.stats()).toMatchObject({ mounts: 0, authFailures: 5 });
      expect(server!.stats().replyCache.clients).toBe(0); // a refusal leaves no state behind
    });

    it('accepts the right secret as string or bytes and returns a mount id with the limits', async () => {
      const { addr } = await setup();
      const p = await peer(addr);
      p.request({ id: 1, method: 'mount', params: { volume: 'vol', secret: Buffer.from(SECRET) } });
      const r = await p.reply(1);
      expect(r.error).toBeUndefined();
      expect(r.result).toMatchObject({ volume: 'vol', v: PROTOCOL_VERSION, maxFrameBytes: expect.any(Number), maxInFlightPerConnection: 1024 });
      expect((r.result as { mountId: string }).mountId).toMatch(/^[0-9a-f]{32}$/);
      // A retried mount (same client, same id) gets the same mount id: one mount.
      p.request({ id: 1, method: 'mount', params: { volume: 'vol', secret: SECRET } });
      await sleep(20);
      expect(p.replies.filter((x) => x.id === 1).map((x) => (x.result as { mountId: string }).mountId)).toEqual([
        (r.result as { mountId: string }).mountId,
        (r.result as { mountId: string }).mountId,
      ]);
      expect(server!.stats().mounts).toBe(1);
    });

    it('requires a mount id of this client: none, unknown or another client\'s get ESTALE and run nothing', async () => {
      const { addr, volume } = await setup();
      const p = await peer(addr);
      const mountId = await rawMount(p, SECRET);
      p.request({ id: 2, method: 'incr', params: {} });
      p.request({ id: 3, method: 'incr', mount: 'f'.repeat(32), params: {} });
      p.request({ id: 4, client: 'someone-else', method: 'incr', mount: mountId, params: {} });
      for (const id of [2, 3, 4]) expect((await p.reply(id)).error).toMatchObject({ errno: 'ESTALE', code: 'CAIRN_ERR_RPC_NOT_MOUNTED' });
      expect(volume.counter).toBe(0);
      p.request({ id: 5, mount: mountId, method: 'incr', params: {} });
      expect((await p.reply(5)).result).toEqual({ value: 1 });
    });

    it('closes a connection after maxAuthFailures failed mounts', async () => {
      const { addr } = await setup({ maxAuthFailures: 3 });
      const p = await peer(addr);
      for (let id = 1; id <= 3; id++) p.request({ id, method: 'mount', params: { volume: 'vol', secret: `guess-${id}` } });
      await p.waitClosed();
      const other = await peer(addr);
      expect(await rawMount(other, SECRET)).toMatch(/^[0-9a-f]{32}$/);
    });

    it('unmount releases the mount (runs cleanups); a retried unmount succeeds too', async () => {
      const { addr } = await setup();
      const p = await peer(addr);
      const mountId = await rawMount(p, SECRET);
      p.request({ id: 2, method: 'unmount', mount: mountId });
      expect((await p.reply(2)).result).toBeNull();
      p.request({ id: 2, method: 'unmount', mount: mountId });
      await sleep(20);
      expect(p.replies.filter((r) => r.id === 2).every((r) => r.error === undefined)).toBe(true);
      p.request({ id: 3, method: 'incr', mount: mountId });
      expect((await p.reply(3)).error?.code).toBe('CAIRN_ERR_RPC_NOT_MOUNTED');
      expect(server!.stats().mounts).toBe(0);
    });

    it('passes the caller\'s uid, gid and groups to the handler (nobody when absent)', async () => {
      const { addr } = await setup();
      const p = await peer(addr);
      const mount = await rawMount(p, SECRET);
      p.request({ id: 2, mount, method: 'whoami', cred: { uid: 1000, gid: 100, groups: [4, 27] } });
      p.request({ id: 3, mount, method: 'whoami' });
      p.request({ id: 4, mount, method: 'whoami', cred: { uid: -1, gid: 0 } });
      expect((await p.reply(2)).result).toEqual({ uid: 1000, gid: 100, groups: [4, 27], volume: 'vol' });
      expect((await p.reply(3)).result).toEqual({ uid: 65534, gid: 65534, groups: [], volume: 'vol' });
      expect((await p.reply(4)).error).toMatchObject({ errno: 'EINVAL', code: 'CAIRN_ERR_RPC_BAD_PARAMS' });
    });
  });

  describe('requests', () => {
    it('answers a decodable but wrong request with EPROTO/EINVAL and keeps the connection', async () => {
      const { addr, volume } = await setup();
      const p = await peer(addr);
      const mount = await rawMount(p, SECRET);
      p.request({ id: 2, mount, method: 'noSuchMethod' });
      p.request({ id: 3, mount, method: 'incr', params: { by: 'three' } });
      p.request({ id: 4, mount, method: 'incr', params: { by: 1.5 } });
      p.request({ id: 5, mount, method: 'incr', v: 99 });
      p.request({ id: 6, mount, method: 'incr', params: [1, 2] });
      p.request({ id: 7, mount, method: 'incr', ack: -1 });
      expect((await p.reply(2)).error).toMatchObject({ errno: 'EPROTO', errnoNumber: 71, code: 'CAIRN_ERR_RPC_UNKNOWN_METHOD' });
      expect((await p.reply(3)).error).toMatchObject({ errno: 'EINVAL', code: 'CAIRN_ERR_RPC_BAD_PARAMS', message: expect.stringContaining('by') });
      expect((await p.reply(4)).error).toMatchObject({ errno: 'EINVAL', code: 'CAIRN_ERR_RPC_BAD_PARAMS' });
      expect((await p.reply(5)).error).toMatchObject({ errno: 'EPROTO', code: 'CAIRN_ERR_RPC_BAD_VERSION' });
      expect((await p.reply(5)).v).toBe(PROTOCOL_VERSION);
      expect((await p.reply(6)).error).toMatchObject({ errno: 'EINVAL' });
      expect((await p.reply(7)).error).toMatchObject({ errno: 'EPROTO' });
      expect(volume.counter).toBe(0);
      p.request({ id: 8, mount, method: 'incr' });
      expect((await p.reply(8)).result).toEqual({ value: 1 });
      expect(p.closed).toBe(false);
    });

    it('closes the connection on a frame without a usable id, with a last id-0 notice', async () => {
      const { addr } = await setup();
      const p = await peer(addr);
      p.request({ id: 'seven', method: 'ping' });
      await p.waitClosed();
      expect(p.replies).toEqual([expect.objectContaining({ id: 0, error: expect.objectContaining({ errno: 'EPROTO', code: 'CAIRN_ERR_RPC_BAD_FRAME' }) })]);
    });

    it('pipelines: a fast request sent after a slow one is answered first', async () => {
      const { addr } = await setup();
      const p = await peer(addr);
      const mount = await rawMount(p, SECRET);
      p.request({ id: 2, mount, method: 'slowIncr', params: { ms: 150 } });
      p.request({ id: 3, mount, method: 'get' });
      p.request({ id: 4, mount, method: 'incr' });
      await p.reply(2);
      expect(p.replies.map((r) => r.id)).toEqual([1, 3, 4, 2]);
      expect((await p.reply(2)).result).toEqual({ value: 2 });
    });

    it('carries bulk data as msgpack bin, byte for byte (no base64, no JSON)', async () => {
      const { addr } = await setup();
      const p = await peer(addr);
      const mount = await rawMount(p, SECRET);
      const data = Buffer.alloc(4 * 1024 * 1024);
      for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
      p.request({ id: 2, mount, method: 'echo', params: { data } });
      const r = await p.reply(2, 20_000);
      const got = (r.result as { data: Buffer }).data;
      expect(Buffer.isBuffer(got)).toBe(true);
      expect(got.equals(data)).toBe(true);
      const body = p.bodies.find((b) => b.length > data.length)!;
      // bin32 marker (0xc6), u32 big-endian length, then the raw bytes.
      const at = body.indexOf(Buffer.concat([Buffer.from([0xc6, 0x00, 0x40, 0x00, 0x00]), data.subarray(0, 16)]));
      expect(at).toBeGreaterThan(0);
      expect(body.length - at).toBeLessThan(data.length + 64);
    });

    it('refuses requests beyond maxInFlightPerConnection with a retryable EAGAIN, running nothing extra', async () => {
      const { addr, volume } = await setup({ maxInFlightPerConnection: 2 });
      const p = await peer(addr);
      const mount = await rawMount(p, SECRET);
      for (let id = 2; id <= 4; id++) p.request({ id, mount, method: 'slowIncr', params: { ms: 100 } });
      expect((await p.reply(4)).error).toMatchObject({ errno: 'EAGAIN', code: 'CAIRN_ERR_RPC_BUSY', retryable: true });
      await p.reply(3);
      expect(volume.counter).toBe(2);
      // Not stored: the same id may be sent again once there is room, and runs.
      p.replies.length = 0;
      p.request({ id: 4, mount, method: 'slowIncr', params: { ms: 1 } });
      expect((await p.reply(4)).result).toEqual({ value: 3 });
    });

    it('attaches a retry on a new connection to the execution still running for the dead one', async () => {
      const { addr, volume } = await setup();
      const a = await peer(addr);
      const mount = await rawMount(a, SECRET);
      a.request({ id: 2, mount, method: 'slowIncr', params: { ms: 200 } });
      await sleep(50);
      a.close();
      const b = await peer(addr);
      b.request({ id: 2, mount, method: 'slowIncr', params: { ms: 200 } });
      expect((await b.reply(2)).result).toEqual({ value: 1 });
      // And once more after completion: the stored reply.
      b.request({ id: 2, mount, method: 'slowIncr', params: { ms: 200 } });
      await sleep(30);
      expect(b.replies.filter((r) => r.id === 2).map((r) => r.result)).toEqual([{ value: 1 }, { value: 1 }]);
      expect(volume.counter).toBe(1);
      expect(volume.executions.get('raw-client:2')).toBe(1);
      expect(server!.stats().replyCache).toMatchObject({ attached: 1, cachedHits: 1 });
    });

    it('refuses a delayed duplicate below the client\'s ack floor instead of running it again', async () => {
      const { addr, volume } = await setup();
      const p = await peer(addr);
      const mount = await rawMount(p, SECRET);
      p.request({ id: 2, mount, method: 'incr', ack: 2 });
      await p.reply(2);
      p.request({ id: 3, mount, method: 'incr', ack: 3 }); // the client has reply 2: it may be forgotten
      await p.reply(3);
      p.request({ id: 2, mount, method: 'incr', ack: 2 });
      expect((await p.reply(2)).error).toBeUndefined(); // the first reply of #2 is still in the list
      await sleep(20);
      const second = p.replies.filter((r) => r.id === 2)[1];
      expect(second?.error).toMatchObject({ errno: 'ETIMEDOUT', code: 'CAIRN_ERR_RPC_REQUEST_EXPIRED' });
      expect(volume.counter).toBe(2);
    });

    it('turns a non-Cairn exception into EIO CAIRN_ERR_INTERNAL', async () => {
      const { addr } = await setup();
      const p = await peer(addr);
      const mount = await rawMount(p, SECRET);
      p.request({ id: 2, mount, method: 'boom' });
      expect((await p.reply(2)).error).toMatchObject({ errno: 'EIO', errnoNumber: 5, code: 'CAIRN_ERR_INTERNAL' });
    });

    it('answers ping without a mount', async () => {
      const { addr } = await setup();
      const p = await peer(addr);
      p.request({ id: 1, method: 'ping' });
      expect((await p.reply(1)).result).toMatchObject({ v: PROTOCOL_VERSION, time: expect.any(Number) });
    });
  });

  describe('timeouts and shutdown', () => {
    it('closes a connection idle for idleTimeoutMs', async () => {
      const { addr } = await setup({ idleTimeoutMs: 100 });
      const p = await peer(addr);
      await p.waitClosed(2000);
    });

    it('closes a connection whose partial frame does not complete within frameTimeoutMs', async () => {
      const { addr } = await setup({ frameTimeoutMs: 100 });
      const p = await peer(addr);
      p.write(Buffer.from([0, 0, 0, 50, 0x80]));
      const t0 = Date.now();
      await p.waitClosed(2000);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(80);
    });

    it('keeps a busy connection whose chunks always end inside a frame (the timer restarts with each completed frame)', async () => {
      const { addr } = await setup({ frameTimeoutMs: 100 });
      const p = await peer(addr);
      const frames = Array.from({ length: 16 }, (_, i) => encodeMessageFrame({ v: PROTOCOL_VERSION, client: 'raw-client', id: i + 1, ack: 0, method: 'ping', params: {} }, 1 << 20));
      const wire = Buffer.concat(frames);
      const step = Math.ceil(wire.length / 16) + 3; // never a frame boundary at a chunk end
      for (let at = 0; at < wire.length; at += step) {
        p.write(wire.subarray(at, Math.min(wire.length, at + step)));
        await sleep(25);
      }
      await p.reply(16);
      expect(p.closed).toBe(false);
      expect(p.replies.filter((r) => r.error === undefined)).toHaveLength(16);
    });

    it('close() aborts long waits, waits for handlers and releases mounts', async () => {
      const { addr } = await setup();
      const p = await peer(addr);
      const mount = await rawMount(p, SECRET);
      p.request({ id: 2, mount, method: 'waitAbort' });
      await sleep(20);
      await server!.close();
      expect(server!.stats()).toMatchObject({ mounts: 0, connections: 0 });
      server = undefined;
    });
  });
});
