// cairnd serving the filesystem RPC API on a Unix-domain socket (rpc.socketPath):
// a client mounts and works through it, the file has mode 0600, it goes at
// shutdown, a stale socket from a crash is replaced, and a path that is not a
// socket is refused with a clear error (and left alone).

import { existsSync, linkSync, lstatSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CairnClient } from '@cairn/rpc';
import { createDaemon } from '@cairn/daemon';
import { startInProcess, tempDir, testConfig, testLogger } from './helpers.js';

const dir = tempDir('cairn-rpcsock-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ROOT = { uid: 0, gid: 0, groups: [] };

describe('cairnd RPC over a Unix-domain socket', () => {
  it('serves on the socket (mode 0600) besides TCP, and removes it on shutdown', { timeout: 120_000 }, async () => {
    const sub = join(dir, 'a');
    const { daemon, info } = await startInProcess(sub, { rpc: { port: 0, socketPath: 'rpc.sock' } });
    const path = join(sub, 'data', 'rpc.sock'); // relative to dataDir
    try {
      expect(info.rpcSocket).toBe(path); // in the start banner's data and the runtime listeners
      expect(daemon.runtime.listeners.rpcSocket).toBe(path);
      expect(lstatSync(path).isSocket()).toBe(true);
      expect(lstatSync(path).mode & 0o777).toBe(0o600);
      const client = await CairnClient.connect({ host: `unix:${path}`, volume: 'vol1', secret: 'vol1-secret', cred: ROOT });
      try {
        const d = await client.mkdir({ parent: client.mount.rootIno, name: 'over-unix', mode: 0o755 });
        expect((await client.lookup({ parent: client.mount.rootIno, name: 'over-unix' })).ino).toBe(d.ino);
      } finally {
        await client.close();
      }
      expect(daemon.runtime.listeners.rpc?.port).toBeGreaterThan(0); // TCP too
    } finally {
      expect(await daemon.stop()).toEqual([]);
    }
    expect(existsSync(path)).toBe(false);
  });

  it('with rpc.tcp false listens only on the socket; replaces a stale socket file left by a crash', { timeout: 120_000 }, async () => {
    const sub = join(dir, 'b');
    const path = join(dir, 'b.sock');
    // A socket file nobody listens on, as a killed daemon leaves it.
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(`${path}.tmp`, r));
    linkSync(`${path}.tmp`, path);
    await new Promise<void>((r) => srv.close(() => r()));
    expect(lstatSync(path).isSocket()).toBe(true);

    const { daemon } = await startInProcess(sub, { rpc: { port: 0, tcp: false, socketPath: path, socketMode: '0660' } });
    try {
      expect(daemon.runtime.listeners.rpc).toBeUndefined();
      expect(lstatSync(path).mode & 0o777).toBe(0o660);
      const client = await CairnClient.connect({ socketPath: path, volume: 'vol1', secret: 'vol1-secret', cred: ROOT });
      expect((await client.getattr({ ino: client.mount.rootIno })).type).toBe('dir');
      await client.close();
    } finally {
      await daemon.stop();
    }
    expect(existsSync(path)).toBe(false);
  });

  it('refuses to start when the socket path exists and is not a socket, naming it, and leaves the file alone', { timeout: 120_000 }, async () => {
    const sub = join(dir, 'c');
    const path = join(dir, 'not-a-socket');
    writeFileSync(path, 'keep me');
    const daemon = createDaemon({ config: testConfig(sub, { rpc: { port: 0, socketPath: path } }), logger: testLogger() });
    await expect(daemon.start()).rejects.toThrow(`rpc socket ${path} exists and is a regular file: refusing to replace it`);
    await daemon.stop();
    expect(readFileSync(path, 'utf8')).toBe('keep me');
  });

  it('refuses rpc.tcp false without a socket path', { timeout: 60_000 }, async () => {
    const daemon = createDaemon({ config: testConfig(join(dir, 'd'), { rpc: { port: 0, tcp: false } }), logger: testLogger() });
    await expect(daemon.start()).rejects.toThrow(/rpc\.tcp is false and rpc\.socketPath is empty/);
    await daemon.stop();
  });
});
