// The client library: deadlines, cancellation, close, reconnect after a server
// restart, EAGAIN back-off, re-mount, oversized requests (each over TCP and over a
// Unix-domain socket), TLS.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isCairnError, type CairnError } from '@cairn/errors';
import { afterEach, describe, expect, it } from 'vitest';
import { CairnClient, createCairnServer, RpcClient, type MountInfo } from '../../packages/rpc/src/index.js';
import { FS_SECRET, memoryFilesystem } from './helpers/fs.js';
import { SECRET, startTestServer } from './helpers/table.js';
import { freeAddr, TRANSPORTS, type Addr } from './helpers/transport.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function failure(p: Promise<unknown>): Promise<CairnError> {
  try {
    await p;
  } catch (err) {
    if (isCairnError(err)) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

async function mounted(addr: Addr, over = {}): Promise<{ rpc: RpcClient; mount: string }> {
  const rpc = new RpcClient({ ...addr, ...over });
  cleanups.push(() => rpc.close());
  const { mountId } = await rpc.call<{ mountId: string }>('mount', { volume: 'vol', secret: SECRET });
  return { rpc, mount: mountId };
}

// The client's behaviour holds over TCP and over a Unix-domain socket (the server then listens on nothing else).
describe.each(TRANSPORTS)('over %s', (transport) => {
  describe('RpcClient', () => {
    it('rejects with ETIMEDOUT after the per-call deadline, and the late reply is ignored', async () => {
      const { server, addr, volume } = await startTestServer({}, transport);
      cleanups.push(() => server.close());
      const { rpc, mount } = await mounted(addr);
      const err = await failure(rpc.call('slowIncr', { ms: 300 }, { deadlineMs: 50 }, mount));
      expect(err).toMatchObject({ code: 'CAIRN_ERR_RPC_TIMEOUT', errno: 'ETIMEDOUT' });
      await sleep(350);
      expect(volume.counter).toBe(1); // it ran: a timeout means "outcome unknown"
      expect(await rpc.call('get', {}, {}, mount)).toMatchObject({ counter: 1 });
      expect(rpc.stats().pending).toBe(0);
    });

    it('rejects with ECANCELED when the signal aborts', async () => {
      const { server, addr } = await startTestServer({}, transport);
      cleanups.push(() => server.close());
      const { rpc, mount } = await mounted(addr);
      const ac = new AbortController();
      const p = rpc.call('slowIncr', { ms: 300 }, { signal: ac.signal }, mount);
      ac.abort();
      expect(await failure(p)).toMatchObject({ code: 'CAIRN_ERR_CANCELED', errno: 'ECANCELED' });
    });

    it('close() rejects waiting calls and later ones with CAIRN_ERR_CLOSED', async () => {
      const { server, addr } = await startTestServer({}, transport);
      cleanups.push(() => server.close());
      const { rpc, mount } = await mounted(addr);
      const p = rpc.call('slowIncr', { ms: 300 }, {}, mount);
      rpc.close();
      expect(await failure(p)).toMatchObject({ code: 'CAIRN_ERR_CLOSED' });
      expect(await failure(rpc.call('get', {}, {}, mount))).toMatchObject({ code: 'CAIRN_ERR_CLOSED' });
    });

    it('keeps retrying while the server is down and completes once it is back', async () => {
      const free = await freeAddr(transport);
      cleanups.push(() => free.cleanup());
      const rpc = new RpcClient({ ...free.addr, deadlineMs: 10_000 });
      cleanups.push(() => rpc.close());
      const p = rpc.call<{ v: number }>('ping', {});
      await sleep(300);
      const { server } = await startTestServer(free.listenAt);
      cleanups.push(() => server.close());
      expect(await p).toMatchObject({ v: 1 });
    });

    it('names the connection error when the deadline passes with the server unreachable', async () => {
      const free = await freeAddr(transport);
      cleanups.push(() => free.cleanup());
      const rpc = new RpcClient({ ...free.addr, deadlineMs: 300 });
      cleanups.push(() => rpc.close());
      const err = await failure(rpc.call('ping', {}));
      expect(err.code).toBe('CAIRN_ERR_RPC_TIMEOUT');
      // A socket nobody created yet is ENOENT, named by its unix: address.
      expect(err.message).toMatch(transport === 'tcp' ? /ECONNREFUSED|unreachable/ : /unix:.*rpc\.sock.*ENOENT/);
    });

    it('backs off and re-sends when the server answers EAGAIN (per-client limit), executing each call once', async () => {
      const { server, addr, volume } = await startTestServer({ maxInFlightPerClient: 2 }, transport);
      cleanups.push(() => server.close());
      const { rpc, mount } = await mounted(addr);
      const values = await Promise.all(Array.from({ length: 10 }, () => rpc.call<{ value: number }>('slowIncr', { ms: 20 }, {}, mount)));
      expect(values.map((v) => v.value).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(volume.counter).toBe(10);
      expect(rpc.stats().busyRetries).toBeGreaterThan(0);
    });

    it('refuses a request larger than maxFrameBytes locally, sending nothing', async () => {
      const { server, addr } = await startTestServer({}, transport);
      cleanups.push(() => server.close());
      const { rpc, mount } = await mounted(addr, { maxFrameBytes: 64 * 1024 });
      const sent = rpc.stats().sent;
      expect(await failure(rpc.call('echo', { data: Buffer.alloc(70 * 1024) }, {}, mount))).toMatchObject({ code: 'CAIRN_ERR_RPC_FRAME_TOO_LARGE', errno: 'E2BIG' });
      expect(rpc.stats().sent).toBe(sent);
      expect(await rpc.call('echo', { data: Buffer.alloc(10) }, {}, mount)).toMatchObject({ length: 10 });
    });

    it('spreads many concurrent calls over the pool and gets every reply', async () => {
      const { server, addr, volume } = await startTestServer({}, transport);
      cleanups.push(() => server.close());
      const { rpc, mount } = await mounted(addr, { poolSize: 3 });
      await Promise.all(Array.from({ length: 500 }, (_, i) => rpc.call('append', { token: `x${i}` }, {}, mount)));
      expect(volume.appended.length).toBe(500);
      expect(rpc.stats().connections).toBe(3);
      expect(server.stats().connections).toBe(3);
    });
  });

  describe('CairnClient re-mount', () => {
    it('mounts again when the server forgot the mount (restart on the same address) and tells the frontend', async () => {
      const mem = await memoryFilesystem();
      cleanups.push(() => mem.close());
      const free = await freeAddr(transport);
      cleanups.push(() => free.cleanup());
      const start = async () => {
        const s = createCairnServer({ ...free.listenAt, volumes: [{ name: 'rpcvol', secret: FS_SECRET, fs: mem.fs }] });
        await s.start();
        return s;
      };
      let server = await start();
      cleanups.push(() => server.close());
      const remounts: MountInfo[] = [];
      const client = await CairnClient.connect({ ...free.addr, volume: 'rpcvol', secret: FS_SECRET, cred: { uid: 0, gid: 0, groups: [] }, onRemount: (i) => remounts.push(i) });
      cleanups.push(() => client.close());
      const first = client.mount.mountId;
      await client.mkdir({ parent: 1, name: 'before', mode: 0o755 });
      await server.close();
      server = await start();
      expect((await client.lookup({ parent: 1, name: 'before' })).type).toBe('dir');
      expect(remounts).toHaveLength(1);
      expect(client.mount.mountId).not.toBe(first);
    });
  });
});

describe('TLS', () => {
  it('serves and calls over TLS with a configured certificate; a plain client cannot talk to it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    const { server, port } = await startTestServer({ tls: { certPath: cert, keyPath: key } });
    cleanups.push(() => server.close());
    const rpc = new RpcClient({ host: '127.0.0.1', port, tls: { caPath: cert, servername: 'localhost' } });
    cleanups.push(() => rpc.close());
    const { mountId } = await rpc.call<{ mountId: string }>('mount', { volume: 'vol', secret: SECRET });
    expect(await rpc.call('incr', {}, {}, mountId)).toEqual({ value: 1 });

    const plain = new RpcClient({ host: '127.0.0.1', port, deadlineMs: 500 });
    cleanups.push(() => plain.close());
    expect((await failure(plain.call('ping', {}))).code).toBe('CAIRN_ERR_RPC_TIMEOUT');
    const untrusting = new RpcClient({ host: '127.0.0.1', port, tls: true, deadlineMs: 500 });
    cleanups.push(() => untrusting.close());
    expect((await failure(untrusting.call('ping', {}))).message).toMatch(/certificate|self.signed/i);
    expect(await rpc.call('get', {}, {}, mountId)).toMatchObject({ counter: 1 });
  });
});
