// The middleware role: Swift requests for accounts that are not Cairn volumes
// (and logins of users not configured here) pass through unchanged to a
// backing Swift proxy. Hop-by-hop headers are dropped both ways; the body
// streams in both directions; the storage URL a backing login returns is
// rewritten to point at this server so the client keeps coming here.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { Pool } from 'undici';
import { cairnError } from '@cairn/errors';

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host',
]);

/** Forwards requests to one backing Swift. Close it with the server. */
export class SwiftPassThrough {
  private readonly pool: Pool;
  readonly origin: string;

  constructor(backingUrl: string) {
    let u: URL;
    try {
      u = new URL(backingUrl);
    } catch {
      throw cairnError('CAIRN_ERR_CONFIG_INVALID', `swift.backingUrl ${JSON.stringify(backingUrl)}`);
    }
    this.origin = u.origin;
    this.pool = new Pool(this.origin, { connections: 64, pipelining: 1 });
  }

  /** Sends the request on and streams the answer back. `rewriteStorageUrl` is this server's origin. */
  async forward(req: FastifyRequest, reply: FastifyReply, rewriteStorageUrl?: string): Promise<FastifyReply> {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k)) continue;
      headers[k] = v;
    }
    headers['x-forwarded-for'] = req.ip;
    const method = req.method;
    const withBody = !['GET', 'HEAD', 'OPTIONS'].includes(method) && (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined);
    let res;
    try {
      res = await this.pool.request({
        path: req.raw.url ?? '/',
        method: method as 'GET',
        headers,
        ...(withBody ? { body: req.raw } : {}),
      });
    } catch (err) {
      throw cairnError('CAIRN_ERR_HTTP_UPSTREAM', (err as Error).message, { cause: err });
    }
    reply.code(res.statusCode);
    for (const [k, v] of Object.entries(res.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k)) continue;
      if (rewriteStorageUrl && (k === 'x-storage-url')) {
        const s = String(v);
        try {
          const u = new URL(s);
          reply.header(k, `${rewriteStorageUrl}${u.pathname}${u.search}`);
          continue;
        } catch {
          // not a URL: pass as is
        }
      }
      reply.header(k, v);
    }
    reply.header('x-cairn-volume', 'false');
    if (method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304) {
      await res.body.dump();
      return reply.send();
    }
    return reply.send(res.body);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
