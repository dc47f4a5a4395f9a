// A small method table over an in-memory "volume" for testing the RPC
// framework on its own: counters, appends and unique creates are
// non-idempotent, so a double execution shows up in the state; every execution
// is also counted per (client, request id).

import { setTimeout as sleep } from 'node:timers/promises';
import { cairnError } from '@cairn/errors';
import { createRpcServer, defineMethod, schema as s, type MethodTable, type RpcServer, type RpcServerOptions } from '../../../packages/rpc/src/index.js';
import { addrOf, closingWith, listenOn, type Addr, type Transport } from './transport.js';

export interface TestVolume {
  counter: number;
  readonly appended: string[];
  readonly names: Set<string>;
  /** Executions per `${client}:${requestId}`. */
  readonly executions: Map<string, number>;
}

export function testVolume(): TestVolume {
  return { counter: 0, appended: [], names: new Set(), executions: new Map() };
}

function count(v: TestVolume, client: string, id: number): void {
  const k = `${client}:${id}`;
  v.executions.set(k, (v.executions.get(k) ?? 0) + 1);
}

export const testMethods: MethodTable<TestVolume> = {
  incr: defineMethod({
    idempotent: false,
    params: s.object({ by: s.optional(s.uint(1000)) }),
    handler: (ctx, p) => {
      count(ctx.fs, ctx.client, ctx.requestId);
      ctx.fs.counter += p.by ?? 1;
      return { value: ctx.fs.counter };
    },
  }),
  append: defineMethod({
    idempotent: false,
    params: s.object({ token: s.str(200, 1) }),
    handler: (ctx, p) => {
      count(ctx.fs, ctx.client, ctx.requestId);
      ctx.fs.appended.push(p.token);
      return { length: ctx.fs.appended.length };
    },
  }),
  create: defineMethod({
    idempotent: false,
    params: s.object({ name: s.str(255, 1) }),
    handler: async (ctx, p) => {
      count(ctx.fs, ctx.client, ctx.requestId);
      await sleep(0);
      if (ctx.fs.names.has(p.name)) throw cairnError('CAIRN_ERR_FS_EXISTS', p.name);
      ctx.fs.names.add(p.name);
      return { created: p.name };
    },
  }),
  slowIncr: defineMethod({
    idempotent: false,
    params: s.object({ ms: s.uint(10_000) }),
    handler: async (ctx, p) => {
      count(ctx.fs, ctx.client, ctx.requestId);
      await sleep(p.ms);
      ctx.fs.counter++;
      return { value: ctx.fs.counter };
    },
  }),
  get: defineMethod({
    idempotent: true,
    params: s.object({}),
    handler: (ctx) => ({ counter: ctx.fs.counter, appended: ctx.fs.appended.length, names: ctx.fs.names.size }),
  }),
  echo: defineMethod({
    idempotent: true,
    params: s.object({ data: s.bytes(8 * 1024 * 1024) }),
    handler: (_ctx, p) => ({ data: p.data, length: p.data.length }),
  }),
  whoami: defineMethod({
    idempotent: true,
    params: s.object({}),
    handler: (ctx) => ({ ...ctx.cred, volume: ctx.mount.volume }),
  }),
  boom: defineMethod({
    idempotent: true,
    params: s.object({}),
    handler: () => {
      throw new TypeError('not a Cairn error');
    },
  }),
  waitAbort: defineMethod({
    idempotent: true,
    params: s.object({}),
    handler: (ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve({ aborted: true }), { once: true })),
  }),
};

export const SECRET = 'volume-secret-0123456789';

/** A started server over one test volume named "vol", listening on `transport` only (default TCP). */
export async function startTestServer(
  over: Partial<RpcServerOptions<TestVolume>> = {},
  transport: Transport = 'tcp',
): Promise<{ server: RpcServer; port: number; addr: Addr; volume: TestVolume }> {
  const volume = testVolume();
  const on = listenOn(transport);
  const server = closingWith(
    createRpcServer<TestVolume>({ methods: testMethods, volumes: [{ name: 'vol', secret: SECRET, fs: volume }], ...on.options, ...over }),
    on.cleanup,
  );
  try {
    const bound = await server.start();
    return { server, port: bound.port, addr: addrOf(bound), volume };
  } catch (err) {
    on.cleanup();
    throw err;
  }
}
