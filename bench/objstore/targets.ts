// The two sides of every comparison, behind one small interface:
//
//   cairn   any ObjectStore container (the code under test);
//   raw     the same work with no Cairn code at all:
//           fs      node:fs: write a temp file, fdatasync, rename into place,
//                   fsync the directory (what the fs backend promises); read back
//           memory  a Map of Buffers (a reference for the per-call cost; no I/O)
//           swift   undici requests with a tempauth token got once
//           s3      undici requests signed with aws4 (streamed bodies as
//                   UNSIGNED-PAYLOAD with chunked transfer encoding)
//           (a streamed body goes to undici as Readable.from(generator), the
//           cheaper of the two ways undici takes one; see asBody)
//
// Both sides get the same bodies (a Buffer, or an async generator of fresh
// chunks) and consume what they read the same way (chunk by chunk).

import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Container } from '@cairn/objstore';
import { Agent, aws4, type Dispatcher } from './deps.js';
import type { S3Settings, SwiftSettings } from './services.js';

export interface Target {
  /** Puts a small object from a buffer. */
  putSmall(name: string, data: Buffer): Promise<void>;
  /** Reads a small object into one buffer; returns its length. */
  getSmall(name: string): Promise<number>;
  /** Puts an object streamed from `body` (`size` bytes, not announced to the store); returns bytes stored. */
  putStream(name: string, body: AsyncIterable<Buffer>, size: number): Promise<number>;
  /** Reads an object chunk by chunk; returns bytes read. */
  getStream(name: string): Promise<number>;
  remove(names: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** Cairn: one container of an ObjectStore. */
export class CairnTarget implements Target {
  constructor(readonly c: Container) {}

  async putSmall(name: string, data: Buffer): Promise<void> {
    await this.c.put(name, data);
  }

  async getSmall(name: string): Promise<number> {
    return (await this.c.getBuffer(name)).length;
  }

  async putStream(name: string, body: AsyncIterable<Buffer>): Promise<number> {
    return (await this.c.put(name, body)).size;
  }

  /** The same body through openSegment: append chunk by chunk, then close. */
  async putSegment(name: string, body: AsyncIterable<Buffer>, maxSize: number): Promise<number> {
    const seg = this.c.openSegment(name, { maxSize });
    try {
      for await (const chunk of body) await seg.append(chunk);
    } catch (err) {
      await seg.abort();
      throw err;
    }
    return (await seg.close()).size;
  }

  async getStream(name: string): Promise<number> {
    const r = await this.c.get(name);
    let n = 0;
    for await (const chunk of r.body) n += (chunk as Buffer).length;
    return n;
  }

  async remove(names: readonly string[]): Promise<void> {
    await inBatches(names, (n) => this.c.delete(n));
  }

  async close(): Promise<void> {}
}

async function inBatches(names: readonly string[], fn: (name: string) => Promise<unknown>, width = 16): Promise<void> {
  for (let i = 0; i < names.length; i += width) await Promise.all(names.slice(i, i + width).map((n) => fn(n).catch(() => undefined)));
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const READ_CHUNK = 1024 * 1024;

/** node:fs, flat directory; durable the way the fs backend is (fdatasync file, rename, fsync directory). */
export class RawFs implements Target {
  private seq = 0;
  private readonly tmp: string;

  private constructor(readonly dir: string) {
    this.tmp = join(dir, '.tmp');
  }

  static async create(dir: string): Promise<RawFs> {
    const t = new RawFs(dir);
    await mkdir(t.tmp, { recursive: true });
    return t;
  }

  private path(name: string): string {
    return join(this.dir, name.replaceAll('/', '_'));
  }

  private async publish(write: (fh: import('node:fs/promises').FileHandle) => Promise<number>, name: string): Promise<number> {
    const tmp = join(this.tmp, `${process.pid}-${this.seq++}.tmp`);
    const fh = await open(tmp, 'wx', 0o600);
    let n: number;
    try {
      n = await write(fh);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path(name));
    await fsyncDir(this.dir);
    return n;
  }

  async putSmall(name: string, data: Buffer): Promise<void> {
    await this.publish(async (fh) => (await fh.write(data, 0, data.length, 0)).bytesWritten, name);
  }

  async getSmall(name: string): Promise<number> {
    return (await readFile(this.path(name))).length;
  }

  async putStream(name: string, body: AsyncIterable<Buffer>): Promise<number> {
    return this.publish(async (fh) => {
      let pos = 0;
      for await (const chunk of body) {
        let done = 0;
        while (done < chunk.length) done += (await fh.write(chunk, done, chunk.length - done, pos + done)).bytesWritten;
        pos += chunk.length;
      }
      return pos;
    }, name);
  }

  async getStream(name: string): Promise<number> {
    const fh = await open(this.path(name), 'r');
    let n = 0;
    try {
      for (;;) {
        const { bytesRead } = await fh.read(Buffer.allocUnsafe(READ_CHUNK), 0, READ_CHUNK, n);
        if (bytesRead === 0) break;
        n += bytesRead;
      }
    } finally {
      await fh.close();
    }
    return n;
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  async close(): Promise<void> {}
}

/** A Map of Buffers: stores a copy (a store must not alias the caller's buffer), hands out its own. */
export class RawMemory implements Target {
  private readonly map = new Map<string, Buffer>();

  async putSmall(name: string, data: Buffer): Promise<void> {
    this.map.set(name, Buffer.from(data));
  }

  async getSmall(name: string): Promise<number> {
    const b = this.map.get(name);
    if (!b) throw new Error(`raw memory: ${name} not found`);
    return b.length;
  }

  async putStream(name: string, body: AsyncIterable<Buffer>): Promise<number> {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of body) {
      chunks.push(c);
      n += c.length;
    }
    this.map.set(name, Buffer.concat(chunks, n));
    return n;
  }

  async getStream(name: string): Promise<number> {
    return this.getSmall(name);
  }

  async remove(names: readonly string[]): Promise<void> {
    for (const n of names) this.map.delete(n);
  }

  async close(): Promise<void> {
    this.map.clear();
  }
}

/** Reads a body chunk by chunk; returns its length. */
async function consume(body: Dispatcher.ResponseData['body']): Promise<number> {
  let n = 0;
  for await (const c of body) n += (c as Buffer).length;
  return n;
}

/** Reads a small body into one buffer; returns its length. */
async function collect(body: Dispatcher.ResponseData['body']): Promise<number> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    parts.push(c as Buffer);
    n += (c as Buffer).length;
  }
  return (parts.length === 1 ? parts[0]! : Buffer.concat(parts, n)).length;
}

async function expectStatus(res: Dispatcher.ResponseData, ok: readonly number[], what: string): Promise<void> {
  if (ok.includes(res.statusCode)) return;
  const text = (await res.body.text().catch(() => '')).slice(0, 300);
  throw new Error(`${what}: HTTP ${res.statusCode} ${text}`);
}

/**
 * A streamed body goes to undici as a Readable (chunked transfer encoding, no
 * length): undici also takes the async iterable itself, but measured here that
 * path is slower and costs more CPU per byte, and the baseline should be the
 * best plain use of the client.
 */
function asBody(body: Buffer | AsyncIterable<Buffer> | undefined): Dispatcher.DispatchOptions['body'] {
  if (body === undefined) return null;
  return Buffer.isBuffer(body) ? body : Readable.from(body, { objectMode: false });
}

/** Same pool shape as the Swift and S3 backends (32 keep-alive connections per origin). */
function agent(): Agent {
  return new Agent({ connections: 32, pipelining: 1, keepAliveTimeout: 4_000 });
}

/** Swift over plain undici: tempauth once, then requests carrying the token. */
export class RawSwift implements Target {
  private readonly agent = agent();

  private constructor(readonly container: string, private readonly token: string, private readonly storage: URL) {}

  static async create(s: SwiftSettings, container: string): Promise<RawSwift> {
    const a = agent();
    const u = new URL(s.authUrl);
    const res = await a.request({ origin: u.origin, path: u.pathname, method: 'GET', headers: { 'x-auth-user': s.user, 'x-auth-key': s.key } });
    await expectStatus(res, [200, 204], 'swift auth');
    await res.body.dump();
    await a.close();
    const token = res.headers['x-auth-token'];
    const storage = res.headers['x-storage-url'];
    if (typeof token !== 'string' || typeof storage !== 'string') throw new Error('swift auth: no token or storage URL');
    return new RawSwift(container, token, new URL(storage));
  }

  private path(name?: string): string {
    const base = `${this.storage.pathname.replace(/\/+$/, '')}/${encodeURIComponent(this.container)}`;
    return name === undefined ? base : `${base}/${name.split('/').map(encodeURIComponent).join('/')}`;
  }

  private req(method: 'GET' | 'PUT' | 'DELETE', name: string | undefined, body?: Buffer | AsyncIterable<Buffer>): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = { 'x-auth-token': this.token };
    if (Buffer.isBuffer(body)) headers['content-length'] = String(body.length);
    if (body !== undefined) headers['content-type'] = 'application/octet-stream';
    return this.agent.request({ origin: this.storage.origin, path: this.path(name), method, headers, body: asBody(body) });
  }

  async putSmall(name: string, data: Buffer): Promise<void> {
    const res = await this.req('PUT', name, data);
    await expectStatus(res, [201], `PUT ${name}`);
    await res.body.dump();
  }

  async getSmall(name: string): Promise<number> {
    const res = await this.req('GET', name);
    await expectStatus(res, [200], `GET ${name}`);
    return collect(res.body);
  }

  async putStream(name: string, body: AsyncIterable<Buffer>, size: number): Promise<number> {
    const res = await this.req('PUT', name, body);
    await expectStatus(res, [201], `PUT ${name}`);
    await res.body.dump();
    return size;
  }

  async getStream(name: string): Promise<number> {
    const res = await this.req('GET', name);
    await expectStatus(res, [200], `GET ${name}`);
    return consume(res.body);
  }

  async remove(names: readonly string[]): Promise<void> {
    await inBatches(names, async (n) => (await this.req('DELETE', n)).body.dump());
  }

  /** Deletes the container (when empty); failures are ignored. */
  async dropContainer(): Promise<void> {
    const res = await this.req('DELETE', undefined).catch(() => undefined);
    await res?.body.dump();
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** S3 over plain undici, path-style, SigV4 by aws4. */
export class RawS3 implements Target {
  private readonly agent = agent();
  private readonly endpoint: URL;

  constructor(private readonly s: S3Settings, readonly bucket: string) {
    this.endpoint = new URL(s.endpoint);
  }

  private req(method: 'GET' | 'PUT' | 'DELETE', key: string | undefined, body?: Buffer | AsyncIterable<Buffer>): Promise<Dispatcher.ResponseData> {
    const path = `/${this.bucket}${key === undefined ? '' : `/${key.split('/').map(encodeURIComponent).join('/')}`}`;
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['Content-Type'] = 'application/octet-stream';
    // A buffer's SHA-256 is signed (aws4 computes it); a stream goes out unsigned, chunked.
    if (body !== undefined && !Buffer.isBuffer(body)) headers['X-Amz-Content-Sha256'] = 'UNSIGNED-PAYLOAD';
    const signed = aws4.sign({
      host: this.endpoint.host, method, path, service: 's3', region: this.s.region, headers,
      ...(Buffer.isBuffer(body) ? { body } : {}),
    }, { accessKeyId: this.s.accessKeyId, secretAccessKey: this.s.secretAccessKey });
    return this.agent.request({ origin: this.endpoint.origin, path: signed.path, method, headers: signed.headers, body: asBody(body) });
  }

  async putSmall(name: string, data: Buffer): Promise<void> {
    const res = await this.req('PUT', name, data);
    await expectStatus(res, [200], `PUT ${name}`);
    await res.body.dump();
  }

  async getSmall(name: string): Promise<number> {
    const res = await this.req('GET', name);
    await expectStatus(res, [200], `GET ${name}`);
    return collect(res.body);
  }

  async putStream(name: string, body: AsyncIterable<Buffer>, size: number): Promise<number> {
    const res = await this.req('PUT', name, body);
    await expectStatus(res, [200], `PUT ${name}`);
    await res.body.dump();
    return size;
  }

  async getStream(name: string): Promise<number> {
    const res = await this.req('GET', name);
    await expectStatus(res, [200], `GET ${name}`);
    return consume(res.body);
  }

  async remove(names: readonly string[]): Promise<void> {
    await inBatches(names, async (n) => (await this.req('DELETE', n)).body.dump());
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
