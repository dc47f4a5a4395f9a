// Test support: a small in-memory imitation of Swift (tempauth v1 and Keystone
// v3 auth, containers, objects, ranges, listings, If-None-Match) on 127.0.0.1,
// with a hook that lets a test misbehave on purpose: answer 5xx, reset the
// connection, stall, cut a body. Used by the swift-*.test.ts unit tests; the
// real thing is exercised by test/objstore/swift.test.ts.

import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeObject {
  data: Buffer;
  meta: Record<string, string>;
  etag: string;
  timestamp: number;
}

/** What a fault hook sees; return true when it answered (or killed) the request itself. */
export interface FakeRequest {
  readonly method: string;
  /** Decoded path below the account: '' (account), 'c', or 'c/o'. */
  readonly path: string;
  readonly container?: string;
  readonly object?: string;
  readonly headers: IncomingMessage['headers'];
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The body, already read (only when the hook runs after reading; see FakeSwift.readFirst). */
  readonly body?: Buffer;
  /** n-th request seen by the server, from 1. */
  readonly seq: number;
}

export type FakeHook = (r: FakeRequest) => boolean | Promise<boolean>;

export class FakeSwift {
  readonly containers = new Map<string, Map<string, FakeObject>>();
  readonly tokens = new Set<string>();
  readonly log: Array<{ method: string; path: string; status: number; token?: string; bodyBytes: number }> = [];
  readonly sockets = new Set<Socket>();
  /** Runs before the body is read (to refuse early or kill the connection). */
  before: FakeHook | undefined;
  /** Runs after the body was read, before the normal answer. */
  after: FakeHook | undefined;
  authCount = 0;
  private seq = 0;
  private server: Server | undefined;
  port = 0;

  get authUrl(): string {
    return `http://127.0.0.1:${this.port}/auth/v1.0`;
  }

  get storageUrl(): string {
    return `http://127.0.0.1:${this.port}/v1/AUTH_test`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) {
          res.statusCode = 500;
          res.end(String(err));
        } else {
          res.destroy();
        }
      });
    });
    this.server.keepAliveTimeout = 10_000;
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** Invalidates every token (as if they expired). */
  revokeTokens(): void {
    this.tokens.clear();
  }

  object(container: string, name: string): FakeObject | undefined {
    return this.containers.get(container)?.get(name);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const seq = ++this.seq;
    // Parse the path by hand: URL would resolve "." and ".." segments, Swift does not.
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const url = { pathname: q < 0 ? raw : raw.slice(0, q), searchParams: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
    const method = req.method ?? 'GET';
    const token = req.headers['x-auth-token'] as string | undefined;
    const record = (status: number, bodyBytes = 0): void => {
      this.log.push({ method, path: url.pathname, status, ...(token ? { token } : {}), bodyBytes });
    };
    if (url.pathname === '/auth/v1.0' || url.pathname === '/v3/auth/tokens') {
      const base: FakeRequest = { method, path: url.pathname, headers: req.headers, req, res, seq };
      if (this.before && (await this.before(base))) return record(-1);
      return this.auth(req, res, url.pathname, record);
    }
    const m = /^\/v1\/AUTH_test(?:\/([^/]+))?(?:\/(.*))?$/.exec(url.pathname);
    if (!m) return this.reply(res, 404, record);
    const container = m[1] === undefined ? undefined : decodeURIComponent(m[1]);
    const object = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
    const path = [container, object].filter((x) => x !== undefined).join('/');
    const base = { method, path, headers: req.headers, req, res, seq, ...(container !== undefined ? { container } : {}), ...(object !== undefined ? { object } : {}) };
    if (this.before && (await this.before(base))) return record(-1);
    const body = await readAll(req);
    if (this.after && (await this.after({ ...base, body }))) return record(-2, body.length);
    if (!token || !this.tokens.has(token)) return this.reply(res, 401, () => record(401, body.length));
    const done = (s: number): void => record(s, body.length);
    if (container === undefined) return this.reply(res, 204, done);
    if (object === undefined) return this.containerOp(method, container, url, res, done);
    return this.objectOp(method, container, object, req, res, body, done);
  }

  private auth(req: IncomingMessage, res: ServerResponse, path: string, record: (s: number) => void): void {
    if (path === '/auth/v1.0') {
      if (req.headers['x-auth-user'] !== 'test:tester' || req.headers['x-auth-key'] !== 'testing') return this.reply(res, 401, record);
      const token = `AUTH_tk${randomBytes(16).toString('hex')}`;
      this.tokens.add(token);
      this.authCount++;
      res.setHeader('x-auth-token', token);
      res.setHeader('x-storage-token', token);
      res.setHeader('x-storage-url', this.storageUrl);
      res.setHeader('x-auth-token-expires', '86399');
      return this.reply(res, 200, record);
    }
    void readAll(req).then((b) => {
      const doc = JSON.parse(b.toString()) as { auth: { identity: { password: { user: { name: string; password: string; domain: { name: string } } } }; scope: { project: { name: string } } } };
      const u = doc.auth.identity.password.user;
      if (u.name !== 'tester' || u.password !== 'testing' || u.domain.name !== 'Default' || doc.auth.scope.project.name !== 'test') {
        return this.reply(res, 401, record);
      }
      const token = `gAAAA${randomBytes(16).toString('hex')}`;
      this.tokens.add(token);
      this.authCount++;
      res.setHeader('x-subject-token', token);
      res.setHeader('content-type', 'application/json');
      res.statusCode = 201;
      res.end(JSON.stringify({
        token: {
          expires_at: new Date(Date.now() + 3600_000).toISOString(),
          catalog: [
            { type: 'identity', endpoints: [{ interface: 'public', region: 'RegionOne', url: 'http://127.0.0.1:1/v3' }] },
            {
              type: 'object-store',
              endpoints: [
                { interface: 'internal', region: 'RegionOne', url: 'http://127.0.0.1:2/v1/AUTH_test' },
                { interface: 'public', region: 'RegionTwo', url: 'http://127.0.0.1:3/v1/AUTH_test' },
                { interface: 'public', region: 'RegionOne', url: this.storageUrl },
              ],
            },
          ],
        },
      }));
      record(201);
    });
  }

  private reply(res: ServerResponse, status: number, record: (s: number) => void, body = ''): void {
    res.statusCode = status;
    res.setHeader('x-trans-id', `tx${randomBytes(6).toString('hex')}`);
    res.end(body);
    record(status);
  }

  private containerOp(method: string, container: string, url: { searchParams: URLSearchParams }, res: ServerResponse, done: (s: number) => void): void {
    if (method === 'PUT') {
      const existed = this.containers.has(container);
      if (!existed) this.containers.set(container, new Map());
      return this.reply(res, existed ? 202 : 201, done);
    }
    const c = this.containers.get(container);
    if (!c) return this.reply(res, 404, done);
    if (method === 'HEAD') return this.reply(res, 204, done);
    if (method !== 'GET') return this.reply(res, 405, done);
    const prefix = url.searchParams.get('prefix') ?? '';
    const marker = url.searchParams.get('marker') ?? '';
    const delimiter = url.searchParams.get('delimiter') ?? '';
    const limit = Number(url.searchParams.get('limit') ?? 10000);
    const names = [...c.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const out: unknown[] = [];
    let last = '';
    for (const n of names) {
      if (!n.startsWith(prefix) || Buffer.compare(Buffer.from(n), Buffer.from(marker)) <= 0) continue;
      const at = delimiter ? n.indexOf(delimiter, prefix.length) : -1;
      if (at >= 0) {
        const sub = n.slice(0, at + 1);
        if (sub === last || sub === marker) continue;
        last = sub;
        out.push({ subdir: sub });
      } else {
        const o = c.get(n)!;
        out.push({ name: n, bytes: o.data.length, hash: o.etag, last_modified: new Date(o.timestamp).toISOString().replace('Z', '') });
      }
      if (out.length >= limit) break;
    }
    if (out.length === 0) return this.reply(res, 204, done);
    res.setHeader('content-type', 'application/json');
    this.reply(res, 200, done, JSON.stringify(out));
  }

  private objectOp(method: string, container: string, name: string, req: IncomingMessage, res: ServerResponse, body: Buffer, done: (s: number) => void): void {
    const c = this.containers.get(container);
    if (method === 'PUT') {
      if (!c) return this.reply(res, 404, done);
      if (req.headers['if-none-match'] === '*' && c.has(name)) return this.reply(res, 412, done);
      const etag = createHash('md5').update(body).digest('hex');
      if (req.headers['etag'] && req.headers['etag'] !== etag) return this.reply(res, 422, done);
      const meta: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (k.startsWith('x-object-meta-') && typeof v === 'string') meta[k.slice(14)] = v;
      const timestamp = Date.now();
      c.set(name, { data: body, meta, etag, timestamp });
      res.setHeader('etag', etag);
      res.setHeader('last-modified', new Date(Math.ceil(timestamp / 1000) * 1000).toUTCString());
      return this.reply(res, 201, done);
    }
    const o = c?.get(name);
    if (method === 'DELETE') {
      if (!o) return this.reply(res, 404, done);
      c!.delete(name);
      return this.reply(res, 204, done);
    }
    if (!o) return this.reply(res, 404, done);
    res.setHeader('etag', o.etag);
    res.setHeader('x-timestamp', (o.timestamp / 1000).toFixed(5));
    res.setHeader('last-modified', new Date(Math.ceil(o.timestamp / 1000) * 1000).toUTCString());
    for (const [k, v] of Object.entries(o.meta)) res.setHeader(`x-object-meta-${k}`, v);
    if (req.headers['if-match'] && req.headers['if-match'] !== o.etag) return this.reply(res, 412, done);
    const range = /^bytes=(\d+)-(\d*)$/.exec((req.headers['range'] as string | undefined) ?? '');
    if (method === 'HEAD') {
      res.setHeader('content-length', o.data.length);
      return this.reply(res, 200, done);
    }
    if (range) {
      const from = Number(range[1]);
      const to = range[2] ? Math.min(Number(range[2]), o.data.length - 1) : o.data.length - 1;
      if (from >= o.data.length) return this.reply(res, 416, done);
      res.setHeader('content-range', `bytes ${from}-${to}/${o.data.length}`);
      res.setHeader('content-length', to - from + 1);
      res.statusCode = 206;
      res.end(o.data.subarray(from, to + 1));
      return done(206);
    }
    res.setHeader('content-length', o.data.length);
    res.statusCode = 200;
    res.end(o.data);
    done(200);
  }
}

export async function readAll(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
