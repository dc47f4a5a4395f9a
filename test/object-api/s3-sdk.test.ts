// The S3 API through the real AWS SDK for JavaScript v3 (client-s3,
// lib-storage, s3-request-presigner) over HTTP on loopback, against a model
// volume: buckets, objects, listings V1/V2, copy, multipart, ranges,
// conditional requests, presigned URLs, error codes.

import { createHash } from 'node:crypto';
import { S3, Upload, getSignedUrl } from '@cairn/object-api/testing/aws-sdk';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand,
  CreateMultipartUploadCommand, DeleteBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand,
  HeadBucketCommand, HeadObjectCommand, ListBucketsCommand, ListObjectsCommand, ListObjectsV2Command, ListPartsCommand,
  PutObjectCommand, S3Client, S3ServiceException, UploadPartCommand,
} = S3;
type S3Client = InstanceType<typeof S3.S3Client>;
import { S3_KEY, testServer, type Backend, type TestServer } from './helpers/server.js';

const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');

let s: TestServer;
let endpoint: string;
let client: S3Client;

function makeClient(creds = S3_KEY, extra: Record<string, unknown> = {}): S3Client {
  return new S3Client({
    endpoint, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey },
    ...extra,
  });
}

async function s3Error(p: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof S3ServiceException) return { name: err.name, status: err.$metadata.httpStatusCode };
    throw err;
  }
  throw new Error('expected an S3 error');
}

describe.each(['model', 'inode'] as const)('%s volume', (backend: Backend) => {
  beforeAll(async () => {
    s = await testServer({ backend });
    await s.app.listen({ port: 0, host: '127.0.0.1' });
    endpoint = `http://127.0.0.1:${(s.app.server.address() as { port: number }).port}`;
    client = makeClient();
  });
  afterAll(async () => {
    client.destroy();
    await s.app.close();
  });

  describe('S3 through the AWS SDK', () => {
    it('buckets: create, list, head, delete; errors have S3 codes', async () => {
      await client.send(new CreateBucketCommand({ Bucket: 'bkt-one' }));
      const l = await client.send(new ListBucketsCommand({}));
      expect(l.Buckets?.map((b) => b.Name)).toContain('bkt-one');
      await client.send(new HeadBucketCommand({ Bucket: 'bkt-one' }));
      expect(await s3Error(client.send(new CreateBucketCommand({ Bucket: 'bkt-one' })))).toMatchObject({ name: 'BucketAlreadyOwnedByYou', status: 409 });
      expect(await s3Error(client.send(new CreateBucketCommand({ Bucket: 'Bad_Name' })))).toMatchObject({ name: 'InvalidBucketName', status: 400 });
      expect(await s3Error(client.send(new GetObjectCommand({ Bucket: 'nope-bucket', Key: 'k' })))).toMatchObject({ name: 'NoSuchBucket', status: 404 });
      await client.send(new PutObjectCommand({ Bucket: 'bkt-one', Key: 'x', Body: 'x' }));
      expect(await s3Error(client.send(new DeleteBucketCommand({ Bucket: 'bkt-one' })))).toMatchObject({ name: 'BucketNotEmpty', status: 409 });
      await client.send(new DeleteObjectCommand({ Bucket: 'bkt-one', Key: 'x' }));
      await client.send(new DeleteBucketCommand({ Bucket: 'bkt-one' }));
      expect((await s.fs.dump()).has('/bkt-one')).toBe(false);
    });

    it('objects: put (buffer and stream), get, head, metadata, delete, NoSuchKey', async () => {
      await client.send(new CreateBucketCommand({ Bucket: 'objs' }));
      const put = await client.send(new PutObjectCommand({ Bucket: 'objs', Key: 'dir/a b+c.txt', Body: 'hello s3', Metadata: { color: 'green' }, ContentType: 'text/x-s3' }));
      expect(put.ETag).toBe(`"${md5('hello s3')}"`);
      expect((await s.fs.bytes('/objs/dir/a b+c.txt')).toString()).toBe('hello s3');
      const g = await client.send(new GetObjectCommand({ Bucket: 'objs', Key: 'dir/a b+c.txt' }));
      expect(await g.Body!.transformToString()).toBe('hello s3');
      expect(g.Metadata).toEqual({ color: 'green' });
      expect(g.ContentType).toBe('text/x-s3');
      const body = Buffer.alloc(300_000, 9);
      await client.send(new PutObjectCommand({ Bucket: 'objs', Key: 'stream', Body: Readable.from([body.subarray(0, 100_000), body.subarray(100_000)]), ContentLength: body.length }));
      const h = await client.send(new HeadObjectCommand({ Bucket: 'objs', Key: 'stream' }));
      expect(h.ContentLength).toBe(300_000);
      expect(h.ETag).toBe(`"${md5(body)}"`);
      expect(await s3Error(client.send(new GetObjectCommand({ Bucket: 'objs', Key: 'missing' })))).toMatchObject({ name: 'NoSuchKey', status: 404 });
      await client.send(new DeleteObjectCommand({ Bucket: 'objs', Key: 'stream' }));
      await client.send(new DeleteObjectCommand({ Bucket: 'objs', Key: 'stream' }));
      expect(await s3Error(client.send(new HeadObjectCommand({ Bucket: 'objs', Key: 'stream' })))).toMatchObject({ status: 404 });
    });

    it('a bad Content-MD5 is BadDigest and changes nothing', async () => {
      await client.send(new CreateBucketCommand({ Bucket: 'digest' }));
      const e = await s3Error(client.send(new PutObjectCommand({ Bucket: 'digest', Key: 'k', Body: 'abc', ContentMD5: Buffer.from(md5('xyz'), 'hex').toString('base64') })));
      expect(e).toMatchObject({ name: 'BadDigest', status: 400 });
      expect([...(await s.fs.dump()).keys()].filter((k) => k.startsWith('/digest/') || k.startsWith('/.cairn-tmp/'))).toEqual([]);
    });

    it('ranges and conditional GETs', async () => {
      await client.send(new CreateBucketCommand({ Bucket: 'rng' }));
      const put = await client.send(new PutObjectCommand({ Bucket: 'rng', Key: 'r', Body: '0123456789' }));
      const g = await client.send(new GetObjectCommand({ Bucket: 'rng', Key: 'r', Range: 'bytes=3-5' }));
      expect(await g.Body!.transformToString()).toBe('345');
      expect(g.ContentRange).toBe('bytes 3-5/10');
      expect(await s3Error(client.send(new GetObjectCommand({ Bucket: 'rng', Key: 'r', Range: 'bytes=50-60' })))).toMatchObject({ name: 'InvalidRange', status: 416 });
      expect(await s3Error(client.send(new GetObjectCommand({ Bucket: 'rng', Key: 'r', IfMatch: '"nope"' })))).toMatchObject({ name: 'PreconditionFailed', status: 412 });
      expect(await s3Error(client.send(new GetObjectCommand({ Bucket: 'rng', Key: 'r', IfNoneMatch: put.ETag })))).toMatchObject({ status: 304 });
      expect(await s3Error(client.send(new PutObjectCommand({ Bucket: 'rng', Key: 'r', Body: 'x', IfNoneMatch: '*' })))).toMatchObject({ name: 'PreconditionFailed', status: 412 });
    });

    it('ListObjectsV2 and V1: prefix, delimiter, pagination, start-after', async () => {
      await client.send(new CreateBucketCommand({ Bucket: 'lst' }));
      const keys = ['a/1', 'a/2', 'a/b/3', 'b', 'c/4', 'c/5', 'd'];
      for (const k of keys) await client.send(new PutObjectCommand({ Bucket: 'lst', Key: k, Body: k }));
      const all = await client.send(new ListObjectsV2Command({ Bucket: 'lst' }));
      expect(all.Contents?.map((c) => c.Key)).toEqual(keys);
      expect(all.Contents?.[0]?.ETag).toBe(`"${md5('a/1')}"`);
      expect(all.KeyCount).toBe(7);
      const d = await client.send(new ListObjectsV2Command({ Bucket: 'lst', Delimiter: '/' }));
      expect(d.Contents?.map((c) => c.Key)).toEqual(['b', 'd']);
      expect(d.CommonPrefixes?.map((c) => c.Prefix)).toEqual(['a/', 'c/']);
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const p = await client.send(new ListObjectsV2Command({ Bucket: 'lst', MaxKeys: 2, ...(token ? { ContinuationToken: token } : {}) }));
        seen.push(...(p.Contents ?? []).map((c) => c.Key!));
        token = p.IsTruncated ? p.NextContinuationToken : undefined;
        pages++;
      } while (token);
      expect(seen).toEqual(keys);
      expect(pages).toBe(4);
      const sa = await client.send(new ListObjectsV2Command({ Bucket: 'lst', StartAfter: 'b', Prefix: 'c' }));
      expect(sa.Contents?.map((c) => c.Key)).toEqual(['c/4', 'c/5']);
      const v1 = await client.send(new ListObjectsCommand({ Bucket: 'lst', Marker: 'a/b/3', MaxKeys: 2 }));
      expect(v1.Contents?.map((c) => c.Key)).toEqual(['b', 'c/4']);
      expect(v1.IsTruncated).toBe(true);
    });

    it('DeleteObjects and CopyObject', async () => {
      await client.send(new CreateBucketCommand({ Bucket: 'cpy' }));
      await client.send(new PutObjectCommand({ Bucket: 'cpy', Key: 'src', Body: 'source bytes', Metadata: { k: 'v' } }));
      const c = await client.send(new CopyObjectCommand({ Bucket: 'cpy', Key: 'dst/copy', CopySource: 'cpy/src' }));
      expect(c.CopyObjectResult?.ETag).toBe(`"${md5('source bytes')}"`);
      const g = await client.send(new GetObjectCommand({ Bucket: 'cpy', Key: 'dst/copy' }));
      expect(await g.Body!.transformToString()).toBe('source bytes');
      expect(g.Metadata).toEqual({ k: 'v' });
      await client.send(new CopyObjectCommand({ Bucket: 'cpy', Key: 'src', CopySource: 'cpy/src', MetadataDirective: 'REPLACE', Metadata: { n: '2' } }));
      expect((await client.send(new HeadObjectCommand({ Bucket: 'cpy', Key: 'src' }))).Metadata).toEqual({ n: '2' });
      const del = await client.send(new DeleteObjectsCommand({ Bucket: 'cpy', Delete: { Objects: [{ Key: 'src' }, { Key: 'dst/copy' }, { Key: 'never' }] } }));
      expect(del.Deleted?.map((d) => d.Key).sort()).toEqual(['dst/copy', 'never', 'src']);
      expect([...(await s.fs.dump()).keys()].filter((k) => k.startsWith('/cpy/'))).toEqual([]);
    });

    it('multipart: create, upload parts, list, complete into one file; abort cleans up', async () => {
      await client.send(new CreateBucketCommand({ Bucket: 'mpu' }));
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'mpu', Key: 'big/file', ContentType: 'application/x-big', Metadata: { m: '1' } }));
      const p1 = Buffer.alloc(2048, 1);
      const p2 = Buffer.alloc(100, 2);
      const r1 = await client.send(new UploadPartCommand({ Bucket: 'mpu', Key: 'big/file', UploadId, PartNumber: 1, Body: p1 }));
      const r2 = await client.send(new UploadPartCommand({ Bucket: 'mpu', Key: 'big/file', UploadId, PartNumber: 2, Body: p2 }));
      expect(r1.ETag).toBe(`"${md5(p1)}"`);
      const lp = await client.send(new ListPartsCommand({ Bucket: 'mpu', Key: 'big/file', UploadId }));
      expect(lp.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([[1, 2048], [2, 100]]);
      expect(await s3Error(client.send(new CompleteMultipartUploadCommand({
        Bucket: 'mpu', Key: 'big/file', UploadId, MultipartUpload: { Parts: [{ PartNumber: 2, ETag: r2.ETag }, { PartNumber: 1, ETag: r1.ETag }] },
      })))).toMatchObject({ name: 'InvalidPartOrder' });
      expect(await s3Error(client.send(new CompleteMultipartUploadCommand({
        Bucket: 'mpu', Key: 'big/file', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }] },
      })))).toMatchObject({ name: 'InvalidPart' });
      const done = await client.send(new CompleteMultipartUploadCommand({
        Bucket: 'mpu', Key: 'big/file', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: r1.ETag }, { PartNumber: 2, ETag: r2.ETag }] },
      }));
      const expected = createHash('md5').update(Buffer.concat([Buffer.from(md5(p1), 'hex'), Buffer.from(md5(p2), 'hex')])).digest('hex');
      expect(done.ETag).toBe(`"${expected}-2"`);
      expect((await s.fs.bytes('/mpu/big/file')).equals(Buffer.concat([p1, p2]))).toBe(true);
      const h = await client.send(new HeadObjectCommand({ Bucket: 'mpu', Key: 'big/file' }));
      expect(h.ContentType).toBe('application/x-big');
      expect(h.Metadata).toEqual({ m: '1' });
      expect([...(await s.fs.dump()).keys()].filter((k) => k.startsWith('/.cairn-uploads/'))).toEqual([]);
      const second = await client.send(new CreateMultipartUploadCommand({ Bucket: 'mpu', Key: 'gone' }));
      await client.send(new UploadPartCommand({ Bucket: 'mpu', Key: 'gone', UploadId: second.UploadId, PartNumber: 1, Body: 'x' }));
      await client.send(new AbortMultipartUploadCommand({ Bucket: 'mpu', Key: 'gone', UploadId: second.UploadId }));
      expect([...(await s.fs.dump()).keys()].filter((k) => k.startsWith('/.cairn-uploads/'))).toEqual([]);
      expect(await s3Error(client.send(new UploadPartCommand({ Bucket: 'mpu', Key: 'gone', UploadId: second.UploadId, PartNumber: 2, Body: 'x' })))).toMatchObject({ name: 'NoSuchUpload', status: 404 });
    });

    it('lib-storage Upload (multipart helper) of 12 MiB from a stream', async () => {
      await client.send(new CreateBucketCommand({ Bucket: 'libstorage' }));
      const data = Buffer.alloc(12 * 1024 * 1024);
      for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i, i);
      const up = new Upload({ client, params: { Bucket: 'libstorage', Key: 'big.bin', Body: Readable.from([data.subarray(0, 7_000_000), data.subarray(7_000_000)]) }, partSize: 5 * 1024 * 1024, queueSize: 2 });
      const res = await up.done();
      expect(res.ETag).toMatch(/-3"$/);
      expect((await s.fs.bytes('/libstorage/big.bin')).equals(data)).toBe(true);
      const g = await client.send(new GetObjectCommand({ Bucket: 'libstorage', Key: 'big.bin', Range: 'bytes=5242880-5242890' }));
      expect(Buffer.from(await g.Body!.transformToByteArray()).equals(data.subarray(5242880, 5242891))).toBe(true);
    });

    it('presigned GET and PUT URLs work; a tampered one is SignatureDoesNotMatch; an expired one is refused', async () => {
      await client.send(new CreateBucketCommand({ Bucket: 'presign' }));
      const putUrl = await getSignedUrl(client, new PutObjectCommand({ Bucket: 'presign', Key: 'p/q.txt' }), { expiresIn: 60 });
      const pr = await fetch(putUrl, { method: 'PUT', body: 'presigned body' });
      expect(pr.status).toBe(200);
      const getUrl = await getSignedUrl(client, new GetObjectCommand({ Bucket: 'presign', Key: 'p/q.txt' }), { expiresIn: 60 });
      const gr = await fetch(getUrl);
      expect(gr.status).toBe(200);
      expect(await gr.text()).toBe('presigned body');
      const tampered = getUrl.replace('p/q.txt', 'p/other.txt');
      const tr = await fetch(tampered);
      expect(tr.status).toBe(403);
      expect(await tr.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
      const old = await getSignedUrl(client, new GetObjectCommand({ Bucket: 'presign', Key: 'p/q.txt' }), { expiresIn: 1, signingDate: new Date(Date.now() - 3_600_000) });
      const er = await fetch(old);
      expect(er.status).toBe(403);
      expect(await er.text()).toContain('expired');
    });

    it('wrong keys: InvalidAccessKeyId and SignatureDoesNotMatch', async () => {
      const bad = makeClient({ ...S3_KEY, accessKeyId: 'NOPE' });
      expect(await s3Error(bad.send(new ListBucketsCommand({})))).toMatchObject({ name: 'InvalidAccessKeyId', status: 403 });
      bad.destroy();
      const wrong = makeClient({ ...S3_KEY, secretAccessKey: 'wrong' });
      expect(await s3Error(wrong.send(new PutObjectCommand({ Bucket: 'objs', Key: 'z', Body: 'z' })))).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
      wrong.destroy();
      expect((await s.fs.dump()).has('/objs/z')).toBe(false);
    });

    it('virtual-host style requests address the bucket by host name', async () => {
      const t = await testServer({ backend, server: { s3: { credentials: [S3_KEY], virtualHostDomains: ['s3.localhost'] } } });
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const port = (t.app.server.address() as { port: number }).port;
      const vc = new S3Client({
        endpoint: `http://s3.localhost:${port}`, region: 'us-east-1', forcePathStyle: false,
        credentials: { accessKeyId: S3_KEY.accessKeyId, secretAccessKey: S3_KEY.secretAccessKey },
      });
      await t.fs.mkdir(t.fs.rootIno, 'vhost');
      // Send *.s3.localhost to loopback, keeping the Host header the client signed.
      vc.middlewareStack.add((next) => async (args) => {
        const r = args.request as { hostname: string; headers: Record<string, string> };
        r.headers['host'] = `${r.hostname}:${port}`;
        r.hostname = '127.0.0.1';
        return next(args);
      }, { step: 'finalizeRequest', priority: 'low' });
      await vc.send(new PutObjectCommand({ Bucket: 'vhost', Key: 'k/v', Body: 'virtual' }));
      expect((await t.fs.bytes('/vhost/k/v')).toString()).toBe('virtual');
      const l = await vc.send(new ListObjectsV2Command({ Bucket: 'vhost' }));
      expect(l.Contents?.map((c) => c.Key)).toEqual(['k/v']);
      vc.destroy();
      await t.app.close();
    });
  });
});
