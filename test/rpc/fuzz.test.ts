// Malformed input: random bytes, random frames, random msgpack values and
// well-formed requests with random params (to the test table and to a real
// Filesystem). The server must survive all of it, close only the offending
// connections, and keep serving a well-behaved client the whole time.

import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnClient, fsMethods, RpcClient, type RpcServer } from '../../packages/rpc/src/index.js';
import { FS_SECRET, startFsServer } from './helpers/fs.js';
import { RawPeer, rawMount } from './helpers/raw.js';
import { SECRET, startTestServer, type TestVolume } from './helpers/table.js';

let table: { server: RpcServer; port: number; volume: TestVolume };
let fsEnv: Awaited<ReturnType<typeof startFsServer>>;
let good: RpcClient;
let goodMount: string;
let goodFs: CairnClient;

/** A well-behaved client calling both servers in the background; any failure is recorded. */
const background = { stop: false, calls: 0, failures: [] as unknown[] };
let loop: Promise<void>;

beforeAll(async () => {
  table = await startTestServer({ maxProtocolErrors: 1000 });
  fsEnv = await startFsServer({ maxProtocolErrors: 1000 });
  good = new RpcClient({ host: '127.0.0.1', port: table.port });
  goodMount = (await good.call<{ mountId: string }>('mount', { volume: 'vol', secret: SECRET })).mountId;
  goodFs = await CairnClient.connect({ host: '127.0.0.1', port: fsEnv.port, volume: 'rpcvol', secret: FS_SECRET, cred: { uid: 0, gid: 0, groups: [] } });
  loop = (async () => {
    while (!background.stop) {
      try {
        await good.call('incr', {}, {}, goodMount);
        await goodFs.getattr({ ino: 1 });
        background.calls++;
      } catch (err) {
        background.failures.push(err);
      }
      await sleep(2);
    }
  })();
});

afterAll(async () => {
  background.stop = true;
  await loop;
  await goodFs?.close();
  good?.close();
  await table?.server.close();
  await fsEnv?.close();
});

/** Sends `send` on a fresh raw connection, gives the server a moment, closes. */
async function poke(port: number, send: (p: RawPeer) => void): Promise<void> {
  const p = await RawPeer.open(port);
  try {
    send(p);
    const end = Date.now() + 30;
    while (!p.closed && Date.now() < end) await sleep(2);
  } finally {
    p.close();
  }
}

const anyValue = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.integer(),
  fc.double(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.string({ maxLength: 20 }),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 32 }).map((u) => Buffer.from(u)),
  fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
);

const PARAM_NAMES = [
  'ino', 'parent', 'name', 'mode', 'path', 'offset', 'length', 'data', 'fh', 'cookie', 'limit', 'newParent', 'newName', 'target', 'mask',
  'cursor', 'value', 'size', 'atime', 'mtime', 'uid', 'gid', 'read', 'write', 'append', 'truncate', 'exclusive', 'open', 'umask', 'rdev',
  'before', 'after', 'keepSize', 'create', 'replace', 'noReplace', 'exchange', 'followLast', 'cwd', 'by', 'token', 'ms', '__proto__',
];
const params = fc.dictionary(fc.constantFrom(...PARAM_NAMES), anyValue, { maxKeys: 6 });

describe('malformed input fuzz', () => {
  it('random bytes on the socket', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 600 }), async (bytes) => {
        await poke(table.port, (p) => p.write(bytes));
      }),
      { numRuns: 60 },
    );
  });

  it('random frame bodies and random msgpack values in valid frames', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.anything({ maxDepth: 3 }), async (body, value) => {
        await poke(table.port, (p) => {
          p.frame(body);
          try {
            p.request(value as Record<string, unknown>);
          } catch {
            // not encodable by msgpack: nothing sent
          }
        });
      }),
      { numRuns: 60 },
    );
  });

  it('envelopes with random field values', async () => {
    const envelope = fc.record(
      { v: anyValue, client: anyValue, id: anyValue, ack: anyValue, method: fc.oneof(anyValue, fc.constantFrom('mount', 'incr', 'echo', 'ping')), mount: anyValue, cred: anyValue, params: anyValue },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(envelope, async (env) => {
        await poke(table.port, (p) => p.request(env));
      }),
      { numRuns: 80 },
    );
  });

  it('well-formed requests with random params to every filesystem method (checked before the filesystem)', async () => {
    const methods = Object.keys(fsMethods).filter((m) => m !== 'waitChanges');
    const peer = await RawPeer.open(fsEnv.port);
    const mount = await rawMount(peer, FS_SECRET, 'rpcvol');
    peer.close();
    let id = 100;
    let reachedFs = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(...methods), params, fc.option(anyValue)), { minLength: 1, maxLength: 8 }), async (reqs) => {
        const p = await RawPeer.open(fsEnv.port);
        try {
          const ids: number[] = [];
          for (const [method, prm, cred] of reqs) {
            ids.push(++id);
            p.request({ id, client: 'raw-client', mount, method, params: prm, ...(cred === null ? {} : { cred }) });
          }
          // Every request is answered (result or error): none may kill the connection.
          for (const i of ids) {
            const r = await p.reply(i, 5000);
            if (r.error) expect(r.error.errnoNumber).toBeGreaterThan(0);
            if (!r.error?.code.startsWith('CAIRN_ERR_RPC_')) reachedFs++;
          }
          expect(p.closed).toBe(false);
        } finally {
          p.close();
        }
      }),
      { numRuns: 60 },
    );
    // Some requests had acceptable params and reached the filesystem (results or CAIRN_ERR_FS_* errors).
    expect(reachedFs).toBeGreaterThan(0);
  });

  it('the server survived: the well-behaved client never failed and both servers still answer', async () => {
    background.stop = true;
    await loop;
    expect(background.failures).toEqual([]);
    expect(background.calls).toBeGreaterThan(10);
    // Only the well-behaved client could increment (every fuzzed incr lacked a valid mount).
    expect(table.volume.counter - background.calls).toBeGreaterThanOrEqual(0);
    expect(table.volume.counter - background.calls).toBeLessThanOrEqual(1);
    expect(await good.call('get', {}, {}, goodMount)).toMatchObject({ counter: table.volume.counter });
    expect((await goodFs.getattr({ ino: 1 })).type).toBe('dir');
    expect(table.server.stats().closedForViolation).toBeGreaterThan(10);
  });
});
