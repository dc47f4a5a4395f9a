// Unit tests of the S3 backend against a scripted fake S3 server (node:http):
// signing and addressing, retries, error mapping, resets, segment re-sends,
// backpressure. The real-server tests are in test/objstore/s3.test.ts.

import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import aws4 from 'aws4';
import { isCairnError } from '@cairn/errors';
import { afterEach, describe, expect, it } from 'vitest';
import type { ObjectStore } from '../types.js';
import { createS3Store, type S3StoreOptions } from './s3.js';
import { slabPoolForTests } from './slab.js';
import { resolveS3Options } from './s3-options.js';

const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');
const CREDS = { accessKeyId: 'AKID', secretAccessKey: 'secret' };

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  /** What arrived of the body so far. */
  readonly body: Buffer;
  chunks: Buffer[];
  /** False when the connection died before the body was complete. */
  complete: boolean;
  sigOk: boolean;
}

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

/** Recomputes the SigV4 signature from what arrived, over the headers the client signed. */
function signatureOk(req: IncomingMessage): boolean {
  const auth = req.headers.authorization ?? '';
  const signed = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';') ?? [];
  const headers: Record<string, string> = {};
  for (const h of signed) headers[h] = String(req.headers[h] ?? '');
  const again = aws4.sign({ method: req.method!, host: req.headers.host!, path: req.url!, headers, service: 's3', region: 'us-east-1' }, CREDS);
  return String(again.headers!['Authorization']) === auth;
}

class FakeS3 {
  readonly seen: Seen[] = [];
  private server!: Server;
  port = 0;

  /** `handler` answers; requests are numbered from 1. Bodies are read before the handler runs unless `early`. */
  async start(handler: Handler, early = false): Promise<this> {
    this.server = createServer((req, res) => {
      const n = this.seen.length + 1;
      const rec: Seen = {
        method: req.method!, url: req.url!, headers: req.headers, chunks: [], complete: false, sigOk: signatureOk(req),
        get body() {
          return Buffer.concat(this.chunks);
        },
      };
      this.seen.push(rec);
      req.on('data', (c: Buffer) => rec.chunks.push(c));
      req.on('end', () => {
        rec.complete = true;
        if (!early) handler(req, res, n);
      });
      req.on('error', () => undefined);
      if (early) handler(req, res, n);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

function xmlError(res: ServerResponse, status: number, code: string): void {
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>fake ${code}</Message><RequestId>r1</RequestId></Error>`);
}

function ok(res: ServerResponse, body?: Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-length': String(body?.length ?? 0), ...headers });
  res.end(body);
}

let fake: FakeS3 | undefined;
let store: ObjectStore | undefined;
afterEach(async () => {
  // Server first: cutting its connections fails whatever a failed test left in flight.
  await fake?.stop();
  await store?.close();
  store = undefined;
  fake = undefined;
});

async function setup(handler: Handler, extra: Partial<S3StoreOptions> = {}, early = false): Promise<{ fake: FakeS3; store: ObjectStore }> {
  fake = await new FakeS3().start(handler, early);
  store = createS3Store({
    endpoint: `http://127.0.0.1:${fake.port}`, region: 'us-east-1', ...CREDS, forcePathStyle: true,
    retry: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 5 }, ...extra,
  });
  return { fake, store };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return isCairnError(e) ? e.code : String(e);
  }
}

describe('s3 options', () => {
  const good: S3StoreOptions = { endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', ...CREDS, forcePathStyle: true };
  it('accepts good options and fills defaults', () => {
    const r = resolveS3Options(good);
    expect([r.poolSize, r.requestTimeoutMs, r.retry.maxAttempts, r.conditionalPut, r.streamingPut, r.checkEtag]).toEqual([32, 30_000, 6, 'native', 'chunked', true]);
  });
  it.each([
    ['endpoint', { endpoint: 'ftp://x' }],
    ['endpoint', { endpoint: 'http://h/some/path' }],
    ['endpoint', { endpoint: 'http://user:pw@h' }],
    ['region', { region: 'US East' }],
    ['accessKeyId', { accessKeyId: '' }],
    ['secretAccessKey', { secretAccessKey: undefined }],
    ['poolSize', { poolSize: 0 }],
    ['requestTimeoutMs', { requestTimeoutMs: 1.5 }],
    ['retry.maxAttempts', { retry: { maxAttempts: 0 } }],
    ['retry.maxDelayMs', { retry: { baseDelayMs: 100, maxDelayMs: 10 } }],
    ['conditionalPut', { conditionalPut: 'sometimes' }],
    ['streamingPut', { streamingPut: 'aws-chunked' }],
    ['forcePathStyle', { forcePathStyle: false }],
    ['checkEtag', { checkEtag: 'yes' }],
  ] as const)('refuses a bad %s with CONFIG_INVALID naming it', (option, patch) => {
    let err: unknown;
    try {
      createS3Store({ ...good, ...patch } as unknown as S3StoreOptions);
    } catch (e) {
      err = e;
    }
    expect(isCairnError(err, 'CAIRN_ERR_CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toContain(option);
  });
});

describe('s3 requests', () => {
  it('signs path-style requests whose path and host arrive as signed; keys are encoded', async () => {
    const { fake, store } = await setup((_req, res) => ok(res, undefined, { etag: `"${md5(Buffer.from('v'))}"` }));
    await store.container('bkt').put('a b/c+d/é?#', Buffer.from('v'));
    const put = fake.seen[0]!;
    expect(put.url).toBe('/bkt/a%20b/c%2Bd/%C3%A9%3F%23');
    expect(put.sigOk).toBe(true);
    expect(put.headers['x-amz-content-sha256']).toBe(createHash('sha256').update('v').digest('hex'));
    expect(put.headers['content-md5']).toBe(createHash('md5').update('v').digest('base64'));
  });

  it('virtual-host style: Host is <bucket>.<endpoint host>, resolved as the endpoint host', async () => {
    fake = await new FakeS3().start((_req, res) => ok(res, Buffer.from('hi'), { etag: '"x"', 'last-modified': new Date(0).toUTCString() }));
    store = createS3Store({ endpoint: `http://localhost:${fake.port}`, region: 'us-east-1', ...CREDS });
    expect((await store.container('my-bucket').getBuffer('dir/key')).toString()).toBe('hi');
    const get = fake.seen[0]!;
    expect(get.headers.host).toBe(`my-bucket.localhost:${fake.port}`);
    expect(get.url).toBe('/dir/key');
    expect(get.sigOk).toBe(true);
  });

  it('retries 503 SlowDown with backoff, then succeeds; counts retries', async () => {
    const { fake, store } = await setup((_req, res, n) => (n <= 2 ? xmlError(res, 503, 'SlowDown') : ok(res, Buffer.from('data'))));
    expect((await store.container('bkt').getBuffer('k')).toString()).toBe('data');
    expect(fake.seen.length).toBe(3);
    expect(store.stats()).toMatchObject({ requests: 3, errors: 2, retries: 2 });
  });

  it('gives up after maxAttempts with the mapped, retryable error', async () => {
    const { fake, store } = await setup((_req, res) => xmlError(res, 500, 'InternalError'));
    const err = await store.container('bkt').head('k').catch((e: unknown) => e);
    expect(isCairnError(err, 'CAIRN_ERR_OBJ_UNAVAILABLE') && err.retryable).toBe(true);
    expect(fake.seen.length).toBe(4);
  });

  it('maps S3 error codes once and does not retry client errors', async () => {
    const cases: Array<[number, string, string]> = [
      [403, 'AccessDenied', 'CAIRN_ERR_OBJ_FORBIDDEN'],
      [403, 'SignatureDoesNotMatch', 'CAIRN_ERR_OBJ_UNAUTHORIZED'],
      [403, 'InvalidAccessKeyId', 'CAIRN_ERR_OBJ_UNAUTHORIZED'],
      [404, 'NoSuchKey', 'CAIRN_ERR_OBJ_NOT_FOUND'],
      [412, 'PreconditionFailed', 'CAIRN_ERR_OBJ_PRECONDITION_FAILED'],
      [400, 'KeyTooLongError', 'CAIRN_ERR_OBJ_INVALID_NAME'],
      [501, 'NotImplemented', 'CAIRN_ERR_NOT_SUPPORTED'],
      [409, 'SomethingNew', 'CAIRN_ERR_OBJ_BACKEND'],
    ];
    for (const [status, s3code, want] of cases) {
      const t = await setup((_req, res) => xmlError(res, status, s3code));
      const err = await t.store.container('bkt').getBuffer('k').catch((e: unknown) => e);
      expect(isCairnError(err) && err.code, s3code).toBe(want);
      expect((err as { details?: Record<string, unknown> }).details).toMatchObject({ status, s3Code: s3code });
      expect(t.fake.seen.length).toBe(1);
      await t.store.close();
      await t.fake.stop();
    }
    store = undefined;
    fake = undefined;
  });

  it('a GET body cut short errors with CONNECTION_RESET, never ending cleanly', async () => {
    const { store } = await setup((_req, res) => {
      res.writeHead(200, { 'content-length': '100000', etag: '"e"' });
      res.write(Buffer.alloc(30_000, 1));
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const r = await store.container('bkt').get('k');
    let n = 0;
    const err = await (async () => {
      for await (const c of r.body) n += (c as Buffer).length;
    })().then(() => undefined, (e: unknown) => e);
    expect(isCairnError(err, 'CAIRN_ERR_OBJ_CONNECTION_RESET')).toBe(true);
    expect(n).toBeLessThan(100_000);
  });

  it('checks the ETag against the MD5 of what was sent', async () => {
    const { store } = await setup((_req, res) => ok(res, undefined, { etag: `"${'0'.repeat(32)}"` }));
    expect(await code(store.container('bkt').put('k', Buffer.from('abc')))).toBe('CAIRN_ERR_OBJ_CORRUPT');
  });

  it('a put into a missing bucket creates it, then puts again', async () => {
    const { fake, store } = await setup((req, res, n) => {
      if (n === 1) xmlError(res, 404, 'NoSuchBucket');
      else if (req.url === '/bkt') ok(res);
      else ok(res, undefined, { etag: `"${md5(Buffer.from('abc'))}"` });
    });
    const info = await store.container('bkt').put('k', Buffer.from('abc'));
    expect(info.etag).toBe(md5(Buffer.from('abc')));
    expect(fake.seen.map((s) => `${s.method} ${s.url}`)).toEqual(['PUT /bkt/k', 'PUT /bkt', 'PUT /bkt/k']);
  });

  it('lists with ListObjectsV2, decodes url-encoded keys and merges prefixes in byte order', async () => {
    const { fake, store } = await setup((_req, res) => {
      const xml = '<?xml version="1.0"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>true</IsTruncated>'
        + '<Contents><Key>p/a+b%2Bc</Key><Size>3</Size><ETag>&quot;abc&quot;</ETag><LastModified>2024-01-02T03:04:05.000Z</LastModified></Contents>'
        + '<Contents><Key>p/z</Key><Size>0</Size><ETag>"e"</ETag><LastModified>2024-01-02T03:04:05.000Z</LastModified></Contents>'
        + '<CommonPrefixes><Prefix>p/m%C3%A9/</Prefix></CommonPrefixes></ListBucketResult>';
      ok(res, Buffer.from(xml), { 'content-type': 'application/xml' });
    });
    const page = await store.container('bkt').list({ prefix: 'p/', delimiter: '/', marker: 'p/0', limit: 3 });
    expect(page.entries).toEqual([
      { kind: 'object', name: 'p/a b+c', size: 3, etag: 'abc', mtime: Date.parse('2024-01-02T03:04:05Z') },
      { kind: 'prefix', prefix: 'p/mé/' },
      { kind: 'object', name: 'p/z', size: 0, etag: 'e', mtime: Date.parse('2024-01-02T03:04:05Z') },
    ]);
    expect(page.nextMarker).toBe('p/z');
    const q = new URL(fake.seen[0]!.url, 'http://x').searchParams;
    expect(Object.fromEntries(q)).toEqual({ 'list-type': '2', prefix: 'p/', delimiter: '/', 'start-after': 'p/0', 'max-keys': '3', 'encoding-type': 'url' });
    expect(fake.seen[0]!.sigOk).toBe(true);
  });

  it('follows an empty truncated page with its continuation token', async () => {
    const { fake, store } = await setup((_req, res, n) => {
      const xml = n === 1
        ? '<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>tok/1=</NextContinuationToken></ListBucketResult>'
        : '<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>1</Size><ETag>"e"</ETag><LastModified>2024-01-02T03:04:05.000Z</LastModified></Contents></ListBucketResult>';
      ok(res, Buffer.from(xml));
    });
    const page = await store.container('bkt').list();
    expect(page.entries.map((e) => e.kind === 'object' && e.name)).toEqual(['k']);
    expect(page.nextMarker).toBeUndefined();
    expect(new URL(fake.seen[1]!.url, 'http://x').searchParams.get('continuation-token')).toBe('tok/1=');
    expect(fake.seen[1]!.sigOk).toBe(true);
  });

  it('times out a request whose answer never comes (OBJ_TIMEOUT, retried)', async () => {
    const { fake, store } = await setup(() => undefined, { requestTimeoutMs: 150, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 } });
    const t0 = Date.now();
    expect(await code(store.container('bkt').head('k'))).toBe('CAIRN_ERR_OBJ_TIMEOUT');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(fake.seen.length).toBe(2);
  });
});

describe('s3 streamed uploads', () => {
  const parts = Array.from({ length: 20 }, (_, i) => Buffer.alloc(10_000 + i, i));
  const all = Buffer.concat(parts);

  it('sends unknown-length bodies chunked with UNSIGNED-PAYLOAD and re-sends them after a 503', async () => {
    const { fake, store } = await setup((req, res, n) => {
      if (req.url === '/bkt') ok(res); // the bucket is made before a streamed put
      else if (n === 2) xmlError(res, 503, 'ServiceUnavailable');
      else ok(res, undefined, { etag: `"${md5(all)}"` });
    });
    const info = await store.container('bkt').put('k', Readable.from(parts));
    expect(info.etag).toBe(md5(all));
    expect(fake.seen.map((x) => `${x.method} ${x.url}`)).toEqual(['PUT /bkt', 'PUT /bkt/k', 'PUT /bkt/k']);
    fake.seen.shift();
    for (const s of fake.seen) {
      expect(s.headers['transfer-encoding']).toBe('chunked');
      expect(s.headers['content-length']).toBeUndefined();
      expect(s.headers['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD');
      expect(s.sigOk).toBe(true);
    }
    expect(fake.seen[1]!.body.equals(all)).toBe(true);
  });

  it('does not retry a streamed put once more than streamReplayBytes were read', async () => {
    const { fake, store } = await setup((req, res) => (req.url === '/bkt' ? ok(res) : xmlError(res, 503, 'ServiceUnavailable')), { streamReplayBytes: 50_000 });
    expect(await code(store.container('bkt').put('k', Readable.from(parts)))).toBe('CAIRN_ERR_OBJ_UNAVAILABLE');
    expect(fake.seen.map((x) => `${x.method} ${x.url}`)).toEqual(['PUT /bkt', 'PUT /bkt/k']);
  });

  it('buffered mode sends a Content-Length and a signed payload hash', async () => {
    const { fake, store } = await setup((_req, res) => ok(res, undefined, { etag: `"${md5(all)}"` }), { streamingPut: 'buffered' });
    await store.container('bkt').put('k', Readable.from(parts));
    const s = fake.seen[0]!;
    expect(s.headers['content-length']).toBe(String(all.length));
    expect(s.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(all).digest('hex'));
    expect(s.sigOk).toBe(true);
  });

  it('a segment whose connection resets mid-upload is re-sent whole; close resolves on the 200', async () => {
    const { fake, store } = await setup((req, res, n) => {
      if (n === 1) {
        req.once('data', () => req.socket.destroy());
        return;
      }
      req.on('end', () => ok(res, undefined, { etag: `"${md5(fake!.seen[n - 1]!.body)}"` }));
    }, {}, true);
    const s = store.container('bkt').openSegment('seg');
    for (const p of parts) await s.append(p);
    const info = await s.close();
    expect([info.size, info.etag]).toEqual([all.length, md5(all)]);
    expect(fake.seen.length).toBe(2);
    expect(fake.seen[0]!.complete).toBe(false);
    expect(fake.seen[1]!.body.equals(all)).toBe(true);
    expect(fake.seen[1]!.headers['transfer-encoding']).toBe('chunked');
    expect(store.stats().retries).toBe(1);
  });

  it('applies backpressure: appends wait while the connection lags more than the window', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const window = 256 * 1024;
    const { fake, store } = await setup((req, res) => {
      req.pause();
      void gate.then(() => {
        req.on('end', () => ok(res, undefined, { etag: `"${md5(fake!.seen[0]!.body)}"` }));
        req.resume();
      });
    }, { segmentWindowBytes: window }, true);
    // Far more than loopback socket buffers hold (send buffer autotunes up to 4 MiB here).
    const chunk = 256 * 1024;
    const count = 96;
    const s = store.container('bkt').openSegment('seg', { maxSize: count * chunk });
    let done = 0;
    let worstLag = 0;
    const writer = (async () => {
      for (let i = 0; i < count; i++) {
        await s.append(Buffer.alloc(chunk, i));
        worstLag = Math.max(worstLag, s.bytesAppended - s.bytesSent);
        done++;
      }
    })();
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect(done).toBeLessThan(count);
      expect(worstLag).toBeLessThanOrEqual(window + chunk);
    } finally {
      release();
    }
    await writer;
    const info = await s.close();
    expect(info.size).toBe(count * chunk);
    const got = fake.seen[0]!.body;
    expect(got.length).toBe(count * chunk);
    for (let i = 0; i < count; i++) expect(got[i * chunk]).toBe(i % 256);
  });

  it('a segment that closed hands its slabs to the next one, whose bytes arrive intact; an aborted one does not', async () => {
    const { fake, store } = await setup((req, res, n) => req.on('end', () => ok(res, undefined, { etag: `"${md5(fake!.seen[n - 1]!.body)}"` })), {}, true);
    slabPoolForTests.clear();
    const first = Buffer.concat(parts);
    const a = store.container('bkt').openSegment('a');
    for (const p of parts) await a.append(p);
    expect(slabPoolForTests.size()).toBe(0);
    expect((await a.close()).etag).toBe(md5(first));
    const recycled = slabPoolForTests.size();
    expect(recycled).toBeGreaterThan(0);

    const second = Buffer.alloc(70_000, 9);
    const b = store.container('bkt').openSegment('b');
    await b.append(second);
    expect(slabPoolForTests.size()).toBe(recycled - 1); // refilled, not newly allocated
    expect((await b.close()).etag).toBe(md5(second));
    expect(fake.seen[0]!.body.equals(first)).toBe(true);
    expect(fake.seen[1]!.body.equals(second)).toBe(true);

    slabPoolForTests.clear();
    const d = store.container('bkt').openSegment('d');
    await d.append(Buffer.alloc(10_000, 1));
    await d.abort();
    expect(slabPoolForTests.size()).toBe(0);
    slabPoolForTests.clear();
  });

  it('abort cuts the upload before its last chunk: the server never sees a complete body', async () => {
    const { fake, store } = await setup((req, res) => req.on('end', () => ok(res)), {}, true);
    const s = store.container('bkt').openSegment('seg');
    await s.append(Buffer.alloc(100_000, 1));
    await new Promise((r) => setTimeout(r, 50));
    await s.abort();
    await new Promise((r) => setTimeout(r, 50));
    expect(fake.seen.length).toBe(1);
    expect(fake.seen[0]!.complete).toBe(false);
    expect(await code(s.append(Buffer.alloc(1)))).toBe('CAIRN_ERR_OBJ_SEGMENT_CLOSED');
    expect(await code(s.close())).toBe('CAIRN_ERR_OBJ_SEGMENT_CLOSED');
  });
});
