// kill -9 of cairnd while RPC clients create, write and fsync small files and
// object clients PUT small objects: both are acknowledged through the intent
// log (their segments are held back by a long maxFlushTime, so at the kill the
// bytes are durable only in the replay log). After a restart on the same data
// directory every acknowledged file and object is back with its bytes and
// ETag, the intents were written back, and fsck finds nothing.

import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { api, startChild, tempDir, type ChildDaemon } from './helpers.js';
import { connect, runLoad, verify } from './rpc-load.js';

const dir = tempDir('cairn-kill9-');
const children: ChildDaemon[] = [];
const CONFIG = `
log: { level: info }
backend: { kind: fs, fs: { fsync: true } }
limits: { fsync: true, maxFlushTimeMs: 600000, checkpointIntervalMs: 600000 }
volumes:
  - name: vol1
    secret: load-secret
`;

afterAll(async () => {
  for (const c of children) await c.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

async function swiftLogin(a: ChildDaemon): Promise<{ storage: string; h: Record<string, string> }> {
  const base = a.runtime.objectApiUrl!;
  const login = await fetch(`${base}/auth/v1.0`, { headers: { 'x-auth-user': 'vol1:admin', 'x-auth-key': a.creds.objectApiKey } });
  expect(login.status).toBeLessThan(300);
  return { storage: login.headers.get('x-storage-url')!, h: { 'x-auth-token': login.headers.get('x-auth-token')! } };
}

describe('kill -9 under load', () => {
  it('loses no acknowledged fsync and no acknowledged object PUT', { timeout: 240_000 }, async () => {
    const a = await startChild({ cwd: dir, config: CONFIG });
    children.push(a);
    const client = await connect(a.runtime.rpc!, 'vol1', 'load-secret');
    const d = await client.mkdir({ parent: 1, name: 'load', mode: 0o755 });
    const { storage, h } = await swiftLogin(a);
    expect((await fetch(`${storage}/bucket`, { method: 'PUT', headers: h })).status).toBeLessThan(300);

    const stop = new AbortController();
    const load = runLoad(client, d.ino, 'f', 4, stop.signal);
    const puts = new Map<string, string>();
    const putLoad = Promise.all(Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; !stop.signal.aborted; i++) {
        const name = `o-${w}-${i}`;
        const body = `object ${name} `.repeat(50);
        try {
          const r = await fetch(`${storage}/bucket/${name}`, { method: 'PUT', headers: h, body });
          if (r.status === 201) {
            expect(r.headers.get('etag')).toBe(md5(body));
            puts.set(name, body);
          }
        } catch {
          return; // the daemon is gone
        }
      }
    }));
    await new Promise((r) => setTimeout(r, 2500));
    // Nothing stored a segment yet: the acknowledged bytes live in the intent log only.
    const before = await api(a.runtime.mgmtUrl, 'GET', '/metrics', a.creds.adminToken);
    const held = Number(/cairn_intentlog_held\{volume="vol1"\} (\d+)/.exec(before.body)?.[1] ?? '0');
    await a.stop('SIGKILL');
    stop.abort();
    const acked = await load;
    await putLoad;
    await client.close().catch(() => undefined);
    expect(acked.synced.size).toBeGreaterThan(5);
    expect(puts.size).toBeGreaterThan(5);
    expect(held).toBeGreaterThan(0);

    const b = await startChild({ cwd: dir, config: CONFIG });
    children.push(b);
    const after = await api(b.runtime.mgmtUrl, 'GET', '/metrics', b.creds.adminToken);
    expect(Number(/cairn_intentlog_recovered_total\{volume="vol1"\} (\d+)/.exec(after.body)?.[1] ?? '0')).toBeGreaterThan(0);
    const c2 = await connect(b.runtime.rpc!, 'vol1', 'load-secret');
    try {
      const dir2 = await c2.lookup({ parent: 1, name: 'load' });
      expect(await verify(c2, dir2.ino, acked)).toEqual([]);
    } finally {
      await c2.close();
    }
    const s2 = await swiftLogin(b);
    const missing: string[] = [];
    for (const [name, body] of puts) {
      const r = await fetch(`${s2.storage}/bucket/${name}`, { headers: s2.h });
      const text = r.status === 200 ? await r.text() : '';
      if (text !== body || r.headers.get('etag') !== md5(body)) missing.push(`${name}: ${r.status} etag ${r.headers.get('etag')}`);
    }
    expect(missing).toEqual([]);
    const job = await api(b.runtime.mgmtUrl, 'POST', '/v1/volumes/vol1/jobs', b.creds.adminToken, { kind: 'fsck' });
    expect(job.status).toBe(202);
    let done: any;
    for (let i = 0; i < 600; i++) {
      done = (await api(b.runtime.mgmtUrl, 'GET', `/v1/jobs/${job.body.id}`, b.creds.adminToken)).body;
      if (done.state !== 'queued' && done.state !== 'running') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(done.state, JSON.stringify(done)).toBe('succeeded');
    expect(done.result.ok, JSON.stringify(done.result)).toBe(true);
    expect(await b.stop('SIGTERM')).toBe(0);
  });
});
