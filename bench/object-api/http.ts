// HTTP helpers of the object API benchmark: one keep-alive node:http client
// for both sides (Cairn's Swift API and raw Swift), tempauth login, streamed
// bodies, and tar archives for Swift's bulk upload (extract-archive).

import { randomBytes } from 'node:crypto';
import { Agent, request, type IncomingMessage } from 'node:http';

export const MiB = 1024 * 1024;

export interface SwiftEndpoint {
  /** Storage URL (…/v1/AUTH_x). */
  readonly storageUrl: string;
  readonly token: string;
}

export interface Answer {
  readonly status: number;
  readonly bytes: number;
  readonly headers: IncomingMessage['headers'];
  /** The body, when asked to keep it. */
  readonly body?: Buffer;
}

export const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** One request; the answer body is counted (and kept with `keep`). */
export function call(
  method: string, url: string, headers: Record<string, string>, body?: Buffer | AsyncIterable<Buffer>, keep = false,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ agent, host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method, headers }, (res) => {
      let bytes = 0;
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => {
        bytes += d.length;
        if (keep) parts.push(d);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, headers: res.headers, ...(keep ? { body: Buffer.concat(parts) } : {}) }));
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

/** Fails unless the answer is 2xx; returns the body bytes counted. */
export async function ok(p: Promise<Answer>, what: string): Promise<number> {
  const r = await p;
  if (r.status >= 300) throw new Error(`${what}: HTTP ${r.status}`);
  return r.bytes;
}

export async function login(authUrl: string, user: string, key: string): Promise<SwiftEndpoint> {
  const r = await call('GET', authUrl, { 'x-auth-user': user, 'x-auth-key': key });
  if (r.status !== 200) throw new Error(`login to ${authUrl} failed: ${r.status}`);
  return { storageUrl: String(r.headers['x-storage-url']), token: String(r.headers['x-auth-token']) };
}

/** `size` random bytes in 1 MiB chunks (one random chunk repeated: generating bytes is not the measurement). */
export async function* stream(size: number): AsyncGenerator<Buffer> {
  const chunk = randomBytes(MiB);
  for (let sent = 0; sent < size; sent += MiB) yield sent + MiB <= size ? chunk : chunk.subarray(0, size - sent);
}

function tarHeader(name: string): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 'ascii');
  h.write('0000000\0', 108, 'ascii');
  h.write('0000000\0', 116, 'ascii');
  h.write('00000000000\0', 124, 'ascii');
  h.write(`${Math.floor(Date.now() / 1000).toString(8).padStart(11, '0')}\0`, 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write('0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

/** A tar archive of empty files with these names (for `?extract-archive=tar`). */
export function emptyFilesTar(names: readonly string[]): Buffer {
  return Buffer.concat([...names.map(tarHeader), Buffer.alloc(1024)]);
}
