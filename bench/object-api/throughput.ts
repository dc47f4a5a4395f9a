// The object API against raw Swift, through the same HTTP client (node:http,
// keep-alive) and the Swift protocol on both sides:
//
//   small-put   4 KiB objects/s, 1 and 16 clients (each PUT acknowledged = durable)
//   small-get   4 KiB objects/s, 1 and 16 clients
//   big-put     one 256 MiB object streamed with chunked transfer, MB/s
//   big-get     the same object read back, MB/s
//
// Targets: Cairn's object API over a volume on the embedded fs store (fsync on),
// Cairn over the real Swift as its object store, and raw Swift — the last two
// when Swift runs (`npm run services -- start swift`). Prints a table and writes
// bench/results/object-api-throughput.json.
// Usage: npx tsx bench/object-api/throughput.ts
//   CAIRN_BENCH_SMALL      small objects per case (default 1000; each case also stops after 15 s)
//   CAIRN_BENCH_BIG_MIB    size of the big object (default 256)
//   CAIRN_BENCH_DIR        directory for the fs store and replay log (default: the OS temp dir)

import { randomBytes } from 'node:crypto';
import { Agent, request, type IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatFilesystem, mountFilesystem, type Filesystem } from '@cairn/inode';
import { createObjectApiServer, fromFilesystem } from '@cairn/object-api';
import { createFsStore, createSwiftStore, type ObjectStore } from '@cairn/objstore';
import { fmt, machine, table, writeResult } from '../lib/report.js';
import { serviceSettings } from '../objstore/services.js';

const MiB = 1024 * 1024;
const SMALL = Number(process.env['CAIRN_BENCH_SMALL'] ?? '1000');
const BIG = Number(process.env['CAIRN_BENCH_BIG_MIB'] ?? '256') * MiB;
const CASE_MS = 15_000;
const BASE_DIR = process.env['CAIRN_BENCH_DIR'] ?? tmpdir();

interface SwiftEndpoint {
  /** Storage URL (…/v1/AUTH_x). */
  readonly storageUrl: string;
  readonly token: string;
}

interface Row {
  target: string;
  case: string;
  value: number;
  unit: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function call(method: string, url: string, headers: Record<string, string>, body?: Buffer | AsyncIterable<Buffer>): Promise<{ status: number; bytes: number; headers: IncomingMessage['headers'] }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ agent, host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method, headers }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      (async () => {
        for await (const c of body) if (!req.write(c)) await new Promise((r) => req.once('drain', r));
        req.end();
      })().catch(reject);
    }
  });
}

async function login(authUrl: string, user: string, key: string): Promise<SwiftEndpoint> {
  const r = await call('GET', authUrl, { 'x-auth-user': user, 'x-auth-key': key });
  if (r.status !== 200) throw new Error(`login to ${authUrl} failed: ${r.status}`);
  return { storageUrl: String(r.headers['x-storage-url']), token: String(r.headers['x-auth-token']) };
}

async function ok(p: Promise<{ status: number; bytes: number }>, what: string): Promise<number> {
  const r = await p;
  if (r.status >= 300) throw new Error(`${what}: HTTP ${r.status}`);
  return r.bytes;
}

/** Runs `n` operations with `clients` in flight; returns operations per second. */
async function rate(n: number, clients: number, op: (i: number) => Promise<void>): Promise<{ perSec: number; done: number }> {
  let next = 0;
  const start = performance.now();
  const worker = async (): Promise<void> => {
    while (next < n && performance.now() - start < CASE_MS) await op(next++);
  };
  await Promise.all(Array.from({ length: clients }, worker));
  return { perSec: next / ((performance.now() - start) / 1000), done: next };
}

async function* stream(size: number): AsyncGenerator<Buffer> {
  const chunk = randomBytes(MiB);
  for (let sent = 0; sent < size; sent += MiB) yield sent + MiB <= size ? chunk : chunk.subarray(0, size - sent);
}

async function runTarget(name: string, ep: SwiftEndpoint, rows: Row[]): Promise<void> {
  const h = { 'x-auth-token': ep.token };
  const container = `bench-objapi-${Date.now().toString(36)}`;
  await ok(call('PUT', `${ep.storageUrl}/${container}`, { ...h, 'content-length': '0' }), 'container PUT');
  const small = randomBytes(4096);
  const names: string[] = [];
  for (const clients of [1, 16]) {
    const put = await rate(SMALL, clients, async (i) => {
      const n = `small-${clients}-${i}`;
      await ok(call('PUT', `${ep.storageUrl}/${container}/${n}`, { ...h, 'content-length': '4096' }, small), 'small PUT');
      names.push(n);
    });
    rows.push({ target: name, case: `small-put x${clients}`, value: put.perSec, unit: 'objects/s' });
    const mine = names.filter((n) => n.startsWith(`small-${clients}-`));
    const get = await rate(mine.length, clients, async (i) => {
      await ok(call('GET', `${ep.storageUrl}/${container}/${mine[i]}`, h), 'small GET');
    });
    rows.push({ target: name, case: `small-get x${clients}`, value: get.perSec, unit: 'objects/s' });
  }
  let t = performance.now();
  await ok(call('PUT', `${ep.storageUrl}/${container}/big`, { ...h, 'transfer-encoding': 'chunked' }, stream(BIG)), 'big PUT');
  rows.push({ target: name, case: `big-put ${BIG / MiB} MiB`, value: BIG / MiB / ((performance.now() - t) / 1000), unit: 'MiB/s' });
  t = performance.now();
  const got = await ok(call('GET', `${ep.storageUrl}/${container}/big`, h), 'big GET');
  if (got !== BIG) throw new Error(`big GET returned ${got} bytes`);
  rows.push({ target: name, case: `big-get ${BIG / MiB} MiB`, value: BIG / MiB / ((performance.now() - t) / 1000), unit: 'MiB/s' });
  for (const n of [...names, 'big']) await call('DELETE', `${ep.storageUrl}/${container}/${n}`, h);
  await call('DELETE', `${ep.storageUrl}/${container}`, h);
}

async function cairnOver(store: ObjectStore, dir: string): Promise<{ ep: SwiftEndpoint; close: () => Promise<void> }> {
  const logDir = join(dir, 'log');
  // A fresh volume each run (a shared Swift keeps the volumes of earlier runs).
  const volume = `objbench-${Date.now().toString(36)}`;
  await formatFilesystem({ store, volume, logDir });
  const fs: Filesystem = await mountFilesystem({ store, volume, logDir });
  const app = await createObjectApiServer({
    volumes: { AUTH_bench: fromFilesystem(fs, { name: volume }) },
    swift: { users: [{ account: 'bench', user: 'bench', key: 'bench' }] },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  const ep = await login(`http://127.0.0.1:${port}/auth/v1.0`, 'bench:bench', 'bench');
  return {
    ep,
    close: async () => {
      await app.close();
      await fs.unmount();
      // Remove what the volume left in the store (metadata and data containers).
      for (const c of [volume, `${volume}-data`]) {
        const names: string[] = [];
        try {
          for await (const e of store.container(c).listAll()) if (e.kind === 'object') names.push(e.name);
        } catch {
          continue;
        }
        for (const n of names) await store.container(c).delete(n).catch(() => undefined);
      }
      await store.close();
    },
  };
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const dir = mkdtempSync(join(BASE_DIR, 'cairn-objapi-bench-'));
  try {
    const fsCairn = await cairnOver(createFsStore({ root: join(dir, 'store') }), join(dir, 'fs'));
    await runTarget('cairn (fs store)', fsCairn.ep, rows);
    await fsCairn.close();
    const svc = serviceSettings();
    if (svc.swift) {
      const swiftDir = join(dir, 'sw');
      const store = createSwiftStore({ authUrl: svc.swift.authUrl, user: svc.swift.user, key: svc.swift.key });
      const swCairn = await cairnOver(store, swiftDir);
      await runTarget('cairn (swift store)', swCairn.ep, rows);
      await swCairn.close();
      await runTarget('raw swift', await login(svc.swift.authUrl, svc.swift.user, svc.swift.key), rows);
    } else {
      notes.push(`raw Swift and Cairn over Swift skipped: ${svc.why ?? 'no settings'}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    agent.destroy();
  }
  process.stdout.write(`${table(['target', 'case', 'value', 'unit'], rows.map((r) => [r.target, r.case, fmt(r.value, 1), r.unit]), ['l', 'l', 'r', 'l'])}\n`);
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  const rel = writeResult('object-api-throughput', { machine: machine(), small: SMALL, bigBytes: BIG, rows, notes, at: new Date().toISOString() });
  process.stdout.write(`wrote ${rel}\n`);
}

await main();
