// The real etcd that cluster mode's ownership leases and fencing will use: a smoke
// test of the compare-and-swap primitive through etcd's v3 JSON gateway, so a
// broken etcd install fails the run instead of surfacing later.
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { etcdEndpoints, servicesUnavailableReason } from '../helpers/services.js';

const endpoints = etcdEndpoints();
const b64 = (s: string): string => Buffer.from(s).toString('base64');

async function call(path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await request(`${endpoints![0]}${path}`, { method: 'POST', body: JSON.stringify(body) });
  const json = (await res.body.json()) as Record<string, unknown>;
  expect(res.statusCode, JSON.stringify(json)).toBe(200);
  return json;
}

describe.skipIf(!endpoints)(`etcd${endpoints ? '' : ` (not run: ${servicesUnavailableReason('etcd')})`}`, () => {
  it('stores a key and answers a compare-and-swap exactly once', async () => {
    const key = b64(`cairn-test/owner/${process.pid}-${Date.now()}`);
    await call('/v3/kv/put', { key, value: b64('node-a') });
    const casTo = (expected: string, next: string) =>
      call('/v3/kv/txn', {
        compare: [{ key, target: 'VALUE', result: 'EQUAL', value: b64(expected) }],
        success: [{ requestPut: { key, value: b64(next) } }],
      });
    const [first, second] = await Promise.all([casTo('node-a', 'node-b'), casTo('node-a', 'node-c')]);
    const wins = [first, second].filter((r) => r['succeeded'] === true).length;
    expect(wins).toBe(1);
    const got = await call('/v3/kv/range', { key });
    const kvs = got['kvs'] as Array<{ value: string }>;
    const value = Buffer.from(kvs[0]!.value, 'base64').toString();
    expect(['node-b', 'node-c']).toContain(value);
    await call('/v3/kv/deleterange', { key });
  });
});
