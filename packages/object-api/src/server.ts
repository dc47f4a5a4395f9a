// Builds the fastify server that answers both APIs on one port:
// - a request signed with AWS SigV4 (Authorization: AWS4-HMAC-SHA256 or a
//   presigned X-Amz-Algorithm query), or addressed to a configured S3
//   virtual-host domain, is an S3 request;
// - anything else under /auth, /info or /v1 is a Swift request.
// Bodies are never parsed by fastify: routes stream `req.raw` themselves.
// Every request gets an id (X-Trans-Id / x-amz-request-id) and a child logger.

import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import pino from 'pino';
import { cairnError } from '@cairn/errors';
import { replaceS3Keys, resolveContext, type ApiContext, type ObjectApiOptions } from './context.js';
import type { VolumeFs } from './fs-port.js';
import { sendS3Error, sendSwiftError } from './errors-http.js';
import { parseUrl } from './http-util.js';
import { sweepTmp } from './paths.js';
import { SwiftPassThrough } from './proxy.js';
import { handleS3, isS3Request } from './s3-routes.js';
import { sigV4Kind, type S3Credential } from './sigv4.js';
import type { SwiftUser } from './swift-auth.js';
import { handleSwift, isSwiftPath } from './swift-routes.js';

const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'COPY', 'OPTIONS'] as const;

/**
 * Request ids: "tx", 12 hex digits drawn at random once per server, then a
 * counter of at least 8 hex digits — unique within a server and across
 * servers with high probability, without drawing random bytes per request.
 */
function requestIds(): () => string {
  const prefix = `tx${randomBytes(6).toString('hex')}`;
  let n = 0;
  return () => `${prefix}${(n++).toString(16).padStart(8, '0')}`;
}

/** What the object API adds to its fastify instance: run-time changes of who may log in. */
export interface ObjectApiControl {
  /**
   * Replaces the Swift (tempauth) users, e.g. on a configuration reload.
   * Tokens of users no longer listed (or whose key changed) stop working at
   * once; the others stay valid. Throws CAIRN_ERR_CONFIG_INVALID (and changes
   * nothing) for a bad entry or when the Swift API is disabled.
   */
  setUsers(users: readonly SwiftUser[]): void;
  /** Replaces the S3 access keys (same rules; S3 requests are checked one by one, so it applies to the next request). */
  setS3Credentials(credentials: readonly S3Credential[]): void;
}

/** The object API server: a fastify instance with the ObjectApiControl methods. */
export type ObjectApiServer = FastifyInstance & ObjectApiControl;

/**
 * Creates the object API server (not yet listening). Call `listen()` on it,
 * and `close()` to stop; closing also closes the pass-through connections.
 */
export async function createObjectApiServer(options: ObjectApiOptions): Promise<ObjectApiServer> {
  const resolved: ApiContext = resolveContext(options);
  const logger = options.logger ?? pino({ level: 'silent' });
  // Each volume's stale temporary upload files are swept once, when it is first used.
  const maxAge = options.tmpMaxAgeMs ?? 24 * 3600 * 1000;
  const swept = new WeakSet<VolumeFs>();
  const sweep = async (account: string, fs: VolumeFs): Promise<void> => {
    swept.add(fs);
    try {
      const n = await sweepTmp(fs, maxAge, resolved.now());
      if (n > 0) logger.info({ account, removed: n }, 'removed stale temporary upload files');
    } catch (err) {
      logger.warn({ err, account }, 'could not sweep temporary upload files');
    }
  };
  const ctx: ApiContext = {
    ...resolved,
    volume: (account) => {
      const fs = resolved.volume(account);
      if (fs && !swept.has(fs)) void sweep(account, fs);
      return fs;
    },
  };
  const app = Fastify({
    loggerInstance: logger,
    genReqId: requestIds(),
    requestIdLogLabel: 'reqId',
    disableRequestLogging: false,
    // Object names may be long and carry any byte: route everything ourselves.
    routerOptions: { maxParamLength: 8192, ignoreDuplicateSlashes: false },
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    forceCloseConnections: true,
  });
  app.addHttpMethod('COPY', { hasBody: true });
  // Never parse bodies: the routes read req.raw as a stream.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

  const proxy = options.swift?.backingUrl ? new SwiftPassThrough(options.swift.backingUrl) : undefined;
  app.addHook('onClose', async () => {
    await proxy?.close();
  });

  const handler = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const rawUrl = req.raw.url ?? '/';
    const s3 = ctx.s3 !== undefined && isS3Request(ctx, rawUrl, req.raw.rawHeaders, req.headers.host);
    let url;
    try {
      url = parseUrl(rawUrl);
    } catch (err) {
      return s3 ? sendS3Error(req, reply, err, rawUrl.split('?')[0]!) : sendSwiftError(req, reply, err);
    }
    if (s3) return handleS3(ctx, req, reply, url);
    if (isSwiftPath(url.path)) return handleSwift(ctx, req, reply, url, proxy);
    if (ctx.s3 && sigV4Kind(rawUrl, req.raw.rawHeaders) !== undefined) return handleS3(ctx, req, reply, url);
    return sendSwiftError(req, reply, cairnError('CAIRN_ERR_HTTP_NO_SUCH_ACCOUNT', `nothing is served at ${url.path.slice(0, 200)}`));
  };
  app.route({ method: [...METHODS], url: '/', handler });
  app.route({ method: [...METHODS], url: '/*', handler });
  app.setNotFoundHandler(handler);

  // Volumes known now are swept before the first request (space a crash left).
  if (typeof options.volumes === 'object') {
    for (const [account, fs] of Object.entries(options.volumes)) await sweep(account, fs);
  }
  const control: ObjectApiControl = {
    setUsers(users) {
      if (!ctx.swiftAuth) throw cairnError('CAIRN_ERR_CONFIG_INVALID', 'the Swift API is not enabled');
      ctx.swiftAuth.setUsers(users);
      logger.info({ users: users.length }, 'swift users replaced');
    },
    setS3Credentials(credentials) {
      if (!ctx.s3) throw cairnError('CAIRN_ERR_CONFIG_INVALID', 'the S3 API is not enabled');
      replaceS3Keys(ctx.s3Keys, credentials);
      logger.info({ keys: credentials.length }, 's3 credentials replaced');
    },
  };
  return Object.assign(app as unknown as FastifyInstance, control);
}
