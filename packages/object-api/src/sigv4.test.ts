import { createHash, createHmac } from 'node:crypto';
import aws4 from 'aws4';
import { describe, expect, it } from 'vitest';
import { decodeAwsChunked } from './aws-chunked.js';
import { awsUriEncode, isoBasic, verifySigV4, type S3Credential } from './sigv4.js';

const cred: S3Credential = { accessKeyId: 'AKID', secretAccessKey: 'SECRET', account: 'AUTH_t' };
const lookup = (k: string): S3Credential | undefined => (k === cred.accessKeyId ? cred : undefined);

/** Signs like a client would (aws4) and returns what the server receives. */
function signed(method: string, path: string, headers: Record<string, string> = {}, body = '', date = new Date()): { rawUrl: string; rawHeaders: string[] } {
  const opts: aws4.Request & { headers: Record<string, string> } = {
    host: 'localhost:9000', method, path, service: 's3', region: 'us-east-1', body,
    headers: { 'x-amz-date': isoBasic(date.getTime()), ...headers },
  };
  aws4.sign(opts, { accessKeyId: cred.accessKeyId, secretAccessKey: cred.secretAccessKey });
  const rawHeaders: string[] = [];
  for (const [k, v] of Object.entries(opts.headers)) rawHeaders.push(k, String(v));
  return { rawUrl: opts.path!, rawHeaders };
}

describe('SigV4 verification', () => {
  it('accepts requests signed by aws4 (paths with special characters, queries)', () => {
    for (const path of ['/bucket/key', '/bucket/a%20b/c%2Bd', '/bucket/%E2%9C%93?list-type=2&prefix=a%2Fb&max-keys=5', '/b?delete']) {
      const r = signed('GET', path);
      const v = verifySigV4({ method: 'GET', ...r }, { now: Date.now(), lookup });
      expect(v.credential.account).toBe('AUTH_t');
    }
  });
  it('checks the payload mode: a SHA-256 to verify later', () => {
    const body = 'payload';
    const r = signed('PUT', '/b/k', { 'x-amz-content-sha256': createHash('sha256').update(body).digest('hex') }, body);
    const v = verifySigV4({ method: 'PUT', ...r }, { now: Date.now(), lookup });
    expect(v.payload).toEqual({ kind: 'sha256', hex: createHash('sha256').update(body).digest('hex') });
  });
  it('refuses a changed method, path, header, or the wrong secret', () => {
    const r = signed('GET', '/b/k', { 'x-amz-meta-a': '1' });
    expect(() => verifySigV4({ method: 'PUT', ...r }, { now: Date.now(), lookup })).toThrow(/signature does not match/);
    expect(() => verifySigV4({ method: 'GET', rawUrl: '/b/other', rawHeaders: r.rawHeaders }, { now: Date.now(), lookup })).toThrow(/signature/);
    const h = [...r.rawHeaders];
    h[h.indexOf('x-amz-meta-a') + 1] = '2';
    expect(() => verifySigV4({ method: 'GET', rawUrl: r.rawUrl, rawHeaders: h }, { now: Date.now(), lookup })).toThrow(/signature/);
    expect(() => verifySigV4({ method: 'GET', ...r }, { now: Date.now(), lookup: () => ({ ...cred, secretAccessKey: 'x' }) })).toThrow(/signature/);
    expect(() => verifySigV4({ method: 'GET', ...r }, { now: Date.now(), lookup: () => undefined })).toThrow(/unknown access key/);
  });
  it('refuses skewed clocks and malformed headers', () => {
    const r = signed('GET', '/b/k', {}, '', new Date(Date.now() - 20 * 60_000));
    expect(() => verifySigV4({ method: 'GET', ...r }, { now: Date.now(), lookup })).toThrow(/too far/);
    expect(() => verifySigV4({ method: 'GET', rawUrl: '/', rawHeaders: ['authorization', 'AWS4-HMAC-SHA256 garbage'] }, { now: Date.now(), lookup })).toThrow(/malformed/);
    expect(() => verifySigV4({ method: 'GET', rawUrl: '/', rawHeaders: ['authorization', 'AWS AKID:sig'] }, { now: Date.now(), lookup })).toThrow(/Version 4/);
    expect(() => verifySigV4({ method: 'GET', rawUrl: '/', rawHeaders: [] }, { now: Date.now(), lookup })).toThrow(/anonymous/);
  });
  it('presigned query URLs (aws4 signQuery) work until they expire', () => {
    const opts: aws4.Request & { headers: Record<string, string> } = { host: 'h', method: 'GET', path: '/b/k?X-Amz-Expires=60', service: 's3', region: 'us-east-1', signQuery: true, headers: {} };
    aws4.sign(opts, { accessKeyId: cred.accessKeyId, secretAccessKey: cred.secretAccessKey });
    const req = { method: 'GET', rawUrl: opts.path!, rawHeaders: ['host', 'h'] };
    expect(verifySigV4(req, { now: Date.now(), lookup }).presigned).toBe(true);
    expect(() => verifySigV4(req, { now: Date.now() + 120_000, lookup })).toThrow(/expired/);
    expect(() => verifySigV4({ ...req, rawUrl: req.rawUrl.replace('/b/k', '/b/j') }, { now: Date.now(), lookup })).toThrow(/signature/);
  });
  it('encodes like AWS: unreserved characters stay, everything else is %XX of UTF-8', () => {
    expect(awsUriEncode('a b/c~d_e.f-g*\u00e9', true)).toBe('a%20b/c~d_e.f-g%2A%C3%A9');
    expect(awsUriEncode('a/b', false)).toBe('a%2Fb');
  });
});

describe('aws-chunked bodies', () => {
  const hmac = (k: Buffer | string, d: string): Buffer => createHmac('sha256', k).update(d).digest();
  const sha = (d: Buffer | string): string => createHash('sha256').update(d).digest('hex');

  /** Builds a signed aws-chunked body independently of the server code. */
  function signedChunks(chunks: Buffer[], seed: string, ts: string, scope: string, key: Buffer): Buffer {
    let prev = seed;
    const parts: Buffer[] = [];
    for (const c of [...chunks, Buffer.alloc(0)]) {
      const sts = `AWS4-HMAC-SHA256-PAYLOAD\n${ts}\n${scope}\n${prev}\n${sha('')}\n${sha(c)}`;
      const sig = createHmac('sha256', key).update(sts).digest('hex');
      parts.push(Buffer.from(`${c.length.toString(16)};chunk-signature=${sig}\r\n`), c, Buffer.from('\r\n'));
      prev = sig;
    }
    return Buffer.concat(parts);
  }

  async function* from(parts: Buffer[]): AsyncGenerator<Buffer> {
    for (const p of parts) yield p;
  }

  async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
    const out: Buffer[] = [];
    for await (const b of it) out.push(b);
    return Buffer.concat(out);
  }

  const ts = '20240101T000000Z';
  const scope = '20240101/us-east-1/s3/aws4_request';
  const key = hmac(hmac(hmac(hmac('AWS4SECRET', '20240101'), 'us-east-1'), 's3'), 'aws4_request');
  const auth = { credential: cred, payload: { kind: 'streaming-signed' as const, trailer: false }, signingKey: key, seedSignature: 'a'.repeat(64), timestamp: ts, scope, presigned: false };

  it('decodes signed chunks split anywhere and checks every signature', async () => {
    const body = signedChunks([Buffer.from('hello '), Buffer.from('chunked world')], auth.seedSignature, ts, scope, key);
    for (const cut of [1, 7, 50, body.length - 3]) {
      const src = [body.subarray(0, cut), body.subarray(cut)];
      expect((await collect(decodeAwsChunked(from(src), { signed: auth }))).toString()).toBe('hello chunked world');
    }
    const tampered = Buffer.from(body);
    tampered[body.indexOf('hello')] = 'j'.charCodeAt(0);
    await expect(collect(decodeAwsChunked(from([tampered]), { signed: auth }))).rejects.toThrow(/chunk signature/);
  });
  it('decodes unsigned chunks with trailers', async () => {
    let trailers: Map<string, string> | undefined;
    const body = Buffer.from('5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n');
    const out = await collect(decodeAwsChunked(from([body]), { onTrailers: (t) => (trailers = t) }));
    expect(out.toString()).toBe('hello');
    expect(trailers?.get('x-amz-checksum-crc32')).toBe('NhCmhg==');
  });
  it('refuses malformed framing', async () => {
    await expect(collect(decodeAwsChunked(from([Buffer.from('zz\r\nhello')])))).rejects.toThrow(/bad chunk header/);
    await expect(collect(decodeAwsChunked(from([Buffer.from('a\r\nhel')])))).rejects.toThrow(/ended/);
  });
});
