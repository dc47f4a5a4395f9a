import { once } from 'node:events';
import { existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCairnError } from '@cairn/errors';
import { afterEach, describe, expect, it } from 'vitest';
import { defineMethod } from './methods.js';
import { RpcClient } from './rpc-client.js';
import { s } from './schema.js';
import { createRpcServer, type RpcServer, type RpcServerOptions } from './server.js';

const SECRET = 'unix-socket-test-secret';
const methods = { hello: defineMethod({ idempotent: true, params: s.object({}), handler: () => ({ hi: true }) }) };

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-unix-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function server(over: Partial<RpcServerOptions<object>>): RpcServer {
  const srv = createRpcServer<object>({ methods, volumes: [{ name: 'vol', secret: SECRET, fs: {} }], ...over });
  cleanups.push(() => srv.close());
  return srv;
}

function client(over: ConstructorParameters<typeof RpcClient>[0]): RpcClient {
  const c = new RpcClient({ deadlineMs: 5000, ...over });
  cleanups.push(() => c.close());
  return c;
}

async function hello(c: RpcClient): Promise<unknown> {
  const { mountId } = await c.call<{ mountId: string }>('mount', { volume: 'vol', secret: SECRET });
  return c.call('hello', {}, {}, mountId);
}

async function failure(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a failure');
}

/** A socket file nobody listens on, as a crashed server leaves it. */
async function staleSocket(path: string): Promise<void> {
  const srv = createServer();
  const other = `${path}.live`;
  await new Promise<void>((r) => srv.listen(other, r));
  linkSync(other, path);
  await new Promise<void>((r) => srv.close(() => r()));
  expect(lstatSync(path).isSocket()).toBe(true);
}

describe('the Unix-domain socket listener', () => {
  it('serves the protocol on the socket only (tcp: false), with mode 0600, and removes the socket at close', async () => {
    const dir = tempDir();
    const path = join(dir, 'rpc.sock');
    const srv = server({ socketPath: path, tcp: false });
    expect(await srv.start()).toEqual({ host: '', port: 0, socketPath: path });
    const st = lstatSync(path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    // The private directory the socket was bound in is gone: only the socket is left.
    expect(readdirSync(dir)).toEqual(['rpc.sock']);
    expect(await hello(client({ socketPath: path, poolSize: 1 }))).toEqual({ hi: true });
    // `unix:PATH` as the host is the same.
    expect(await hello(client({ host: `unix:${path}`, poolSize: 1 }))).toEqual({ hi: true });
    expect(srv.stats().connections).toBe(2);
    await srv.close();
    expect(existsSync(path)).toBe(false);
  });

  it('listens on TCP and the socket together, sharing mounts and limits; socketMode is honoured', async () => {
    const path = join(tempDir(), 'rpc.sock');
    const srv = server({ socketPath: path, socketMode: 0o660, maxConnections: 2 });
    const { port, socketPath } = await srv.start();
    expect(port).toBeGreaterThan(0);
    expect(socketPath).toBe(path);
    expect(lstatSync(path).mode & 0o777).toBe(0o660);
    expect(await hello(client({ host: '127.0.0.1', port, poolSize: 1 }))).toEqual({ hi: true });
    expect(await hello(client({ socketPath: path, poolSize: 1 }))).toEqual({ hi: true });
    expect(srv.stats()).toMatchObject({ connections: 2, mounts: 2 });
    // maxConnections counts both listeners: a third connection (either way) is closed at once.
    const extra = connect({ path });
    extra.on('error', () => undefined);
    await once(extra, 'close');
    expect(srv.stats().connections).toBe(2);
  });

  it('replaces a stale socket file left by a crash', async () => {
    const path = join(tempDir(), 'rpc.sock');
    await staleSocket(path);
    const srv = server({ socketPath: path, tcp: false });
    await srv.start();
    expect(await hello(client({ socketPath: path }))).toEqual({ hi: true });
  });

  it('refuses a path that exists and is not a socket, and leaves it alone', async () => {
    const dir = tempDir();
    const file = join(dir, 'rpc.sock');
    writeFileSync(file, 'precious');
    const err = await failure(server({ socketPath: file, tcp: false }).start());
    expect(isCairnError(err, 'CAIRN_ERR_CONFIG_INVALID')).toBe(true);
    expect(err.message).toMatch(/exists and is a regular file: refusing to replace it/);
    expect(readFileSync(file, 'utf8')).toBe('precious');
    const sub = join(dir, 'adir');
    mkdirSync(sub);
    expect((await failure(server({ socketPath: sub, tcp: false }).start())).message).toMatch(/is a directory/);
    expect(lstatSync(sub).isDirectory()).toBe(true);
    // Nothing else was left behind (no private bind directory).
    expect(readdirSync(dir).sort()).toEqual(['adir', 'rpc.sock']);
  });

  it('refuses the socket of a live server, which keeps serving', async () => {
    const path = join(tempDir(), 'rpc.sock');
    const first = server({ socketPath: path, tcp: false });
    await first.start();
    const second = server({ socketPath: path, port: 0 });
    const err = await failure(second.start());
    expect(err.message).toMatch(/is in use: another server is listening on it/);
    expect(await hello(client({ socketPath: path }))).toEqual({ hi: true });
  });

  it('checks its options: tcp: false needs a socket, the mode must be a file mode', () => {
    expect(() => createRpcServer({ methods, volumes: [], tcp: false })).toThrow(/tcp: false needs a socketPath/);
    expect(() => createRpcServer({ methods, volumes: [], socketPath: '/x.sock', socketMode: 0o4777 })).toThrow(/socketMode/);
    expect(() => createRpcServer({ methods, volumes: [], socketPath: '' })).toThrow(/socketPath/);
  });

  it('the client refuses TLS over a socket and names the socket when it cannot connect', async () => {
    expect(() => new RpcClient({ socketPath: '/x.sock', tls: true })).toThrow(/tls is not available over a Unix-domain socket/);
    expect(() => new RpcClient({ host: 'unix:' })).toThrow(/socketPath/);
    const path = join(tempDir(), 'none.sock');
    const c = client({ host: `unix:${path}`, deadlineMs: 300 });
    const err = await failure(c.call('ping', {}));
    expect(err.code).toBe('CAIRN_ERR_RPC_TIMEOUT');
    expect(err.message).toContain(`unix:${path}`);
  });
});
