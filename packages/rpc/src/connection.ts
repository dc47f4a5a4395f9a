// One server-side connection: frames in, requests dispatched, replies out.
//
// Per request, in order: decode the frame, check the envelope, find the method,
// check the mount (every method but mount/unmount/ping), check the params, then
// ask the reply cache (execute / attach to the running execution / stored
// reply / refuse), run the handler, store and send the reply. Replies go out
// in completion order (pipelining), corked per tick.
//
// What closes THIS connection (with a warn log, and a last id-0 notice when the
// socket is still writable): a bad frame length, undecodable msgpack, a request
// without a usable id, too many protocol errors or failed mounts, a partial
// frame older than frameTimeoutMs, no traffic for idleTimeoutMs. Nothing a
// connection receives can throw out of it into the server.

import type { Socket } from 'node:net';
import { cairnError, isCairnError, type CairnError } from '@cairn/errors';
import type { Logger } from 'pino';
import { accessDenied, type MountRegistry, type VolumeResolver } from './auth.js';
import { FrameDecoder } from './frame.js';
import { PROTOCOL_VERSION } from './format.js';
import { NOBODY_CREDENTIALS, type AnyMethod, type CallContext, type MountRecord } from './methods.js';
import { decodeBody, encodeMessageFrame, parseRequest, toWireError, type RequestMessage, type WireError } from './protocol.js';
import type { ReplyCache } from './reply-cache.js';

/** What the reply cache stores: exactly one of result and error. */
export type StoredReply = { readonly result: unknown; readonly error?: undefined } | { readonly error: WireError; readonly result?: undefined };

/** Limits a connection enforces (resolved server options). */
export interface ConnectionLimits {
  readonly maxFrameBytes: number;
  readonly maxInFlightPerConnection: number;
  readonly maxInFlightPerClient: number;
  readonly idleTimeoutMs: number;
  readonly frameTimeoutMs: number;
  readonly maxAuthFailures: number;
  readonly maxProtocolErrors: number;
  readonly maxPendingReplyBytes: number;
}

/** The server state connections share. */
export interface ServerCore<V> {
  readonly limits: ConnectionLimits;
  readonly methods: ReadonlyMap<string, AnyMethod<V>>;
  readonly cache: ReplyCache<StoredReply>;
  readonly mounts: MountRegistry<V>;
  readonly resolve: VolumeResolver<V>;
  readonly mountInfo: (fs: V, volume: string) => Record<string, unknown>;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly counters: { requests: number; protocolErrors: number; authFailures: number; closedForViolation: number };
  /** Called when a connection closes. */
  readonly onClosed: (conn: ServerConnection<V>) => void;
  /** Counts a request being worked on (begin) until its reply is ready (end), so that close() can wait. */
  readonly begin: () => void;
  readonly end: () => void;
}


export class ServerConnection<V> {
  private readonly decoder: FrameDecoder;
  private readonly log: Logger;
  private inFlight = 0;
  private authFailures = 0;
  private protocolErrors = 0;
  private closed = false;
  private corked = false;
  private frameTimer: NodeJS.Timeout | undefined;
  private pausedForWrites = false;

  constructor(
    private readonly socket: Socket,
    private readonly core: ServerCore<V>,
  ) {
    this.decoder = new FrameDecoder(core.limits.maxFrameBytes);
    // A Unix-domain socket's peer has no address.
    this.log = core.logger.child({ peer: socket.remoteAddress !== undefined ? `${socket.remoteAddress}:${socket.remotePort ?? '?'}` : 'unix' });
    socket.setNoDelay(true);
    socket.setTimeout(core.limits.idleTimeoutMs, () => {
      if (this.inFlight === 0) this.fail(`idle for ${core.limits.idleTimeoutMs} ms`, false);
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      if (this.pausedForWrites && !this.closed) {
        this.pausedForWrites = false;
        socket.resume();
      }
    });
    socket.on('error', (err) => this.log.debug({ err }, 'rpc connection error'));
    socket.on('close', () => this.onClose());
  }

  /** Closes the connection (server shutdown). */
  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    let bodies: Buffer[];
    try {
      bodies = this.decoder.push(chunk);
    } catch (err) {
      this.fail((err as Error).message, true);
      return;
    }
    for (const body of bodies) {
      if (this.closed) return;
      this.onFrame(body);
    }
    this.armFrameTimer(bodies.length > 0);
  }

  /** The frame timer runs while a frame is incomplete, from the last completed frame (or the connection's start). */
  private armFrameTimer(progressed: boolean): void {
    if (progressed && this.frameTimer) {
      clearTimeout(this.frameTimer);
      this.frameTimer = undefined;
    }
    if (this.decoder.partial && !this.frameTimer && !this.closed) {
      this.frameTimer = setTimeout(() => this.fail(`partial frame for ${this.core.limits.frameTimeoutMs} ms`, true), this.core.limits.frameTimeoutMs);
      this.frameTimer.unref();
    } else if (!this.decoder.partial && this.frameTimer) {
      clearTimeout(this.frameTimer);
      this.frameTimer = undefined;
    }
  }

  private onFrame(body: Buffer): void {
    let value: unknown;
    try {
      value = decodeBody(body);
    } catch (err) {
      this.fail((err as Error).message, true);
      return;
    }
    const parsed = parseRequest(value);
    if (parsed.kind === 'fatal') {
      this.fail(parsed.reason, true);
      return;
    }
    this.core.counters.requests++;
    if (parsed.kind === 'reject') {
      this.protocolError(parsed.id, parsed.error);
      return;
    }
    this.dispatch(parsed.req);
  }

  private dispatch(req: RequestMessage): void {
    switch (req.method) {
      case 'mount':
        this.run(req, this.mount(req));
        return;
      case 'unmount':
        this.run(req, this.unmount(req));
        return;
      case 'ping':
        this.core.cache.touch(req.client);
        this.reply(req.id, { result: { time: Date.now(), v: PROTOCOL_VERSION } });
        return;
    }
    const spec = this.core.methods.get(req.method);
    if (!spec) {
      this.protocolError(req.id, cairnError('CAIRN_ERR_RPC_UNKNOWN_METHOD', req.method));
      return;
    }
    const mount = this.core.mounts.get(req.mount, req.client);
    if (!mount) {
      this.reply(req.id, { error: toWireError(cairnError('CAIRN_ERR_RPC_NOT_MOUNTED', req.method)) });
      return;
    }
    let params: unknown;
    try {
      params = spec.params(req.params, '');
    } catch (err) {
      this.protocolError(req.id, err as CairnError, req.method);
      return;
    }
    this.settle(req, this.admit(req, !spec.idempotent, () => this.execute(spec, this.context(req, mount), params, req.method)));
  }

  /** Sends a reply now, or once its promise settles (counted in flight meanwhile). */
  private settle(req: RequestMessage, r: StoredReply | Promise<StoredReply>): void {
    if (r instanceof Promise) this.run(req, r);
    else this.reply(req.id, r);
  }

  /**
   * Passes a request through the reply cache, running `exec` only for a new
   * one; the reply, or a promise of it (never rejected: a rejection of `exec`
   * becomes an error reply, stored like any other).
   */
  private admit(req: RequestMessage, cacheable: boolean, exec: () => Promise<StoredReply>, connectionLimit = true): StoredReply | Promise<StoredReply> {
    const lim = this.core.limits;
    if (connectionLimit && this.inFlight >= lim.maxInFlightPerConnection) {
      return { error: toWireError(cairnError('CAIRN_ERR_RPC_BUSY', `connection limit ${lim.maxInFlightPerConnection}`)) };
    }
    const adm = this.core.cache.admit(req.client, req.id, req.ack, cacheable, lim.maxInFlightPerClient);
    switch (adm.kind) {
      case 'execute':
        return exec().then(
          (reply) => {
            adm.finish(reply);
            return reply;
          },
          (err: unknown) => {
            const reply: StoredReply = { error: toWireError(err) };
            adm.finish(reply);
            return reply;
          },
        );
      case 'attach':
      case 'cached':
        return adm.reply;
      case 'busy':
        return { error: toWireError(cairnError('CAIRN_ERR_RPC_BUSY', `client limit ${lim.maxInFlightPerClient}`)) };
      case 'stale':
      case 'expired':
        this.log.info({ client: req.client, id: req.id, method: req.method, why: adm.kind }, 'rpc request refused: outcome unknown');
        return { error: toWireError(cairnError('CAIRN_ERR_RPC_REQUEST_EXPIRED', `${req.method} #${req.id} (${adm.kind})`)) };
    }
  }

  /** Counts a request in flight on this connection until `p` settles, then sends its reply. */
  private run(req: RequestMessage, p: Promise<StoredReply>): void {
    this.inFlight++;
    this.core.begin();
    p.then(
      (reply) => {
        this.inFlight--;
        this.core.end();
        this.reply(req.id, reply);
      },
      (err: unknown) => {
        this.inFlight--;
        this.core.end();
        this.reply(req.id, { error: toWireError(err) });
      },
    );
  }

  private context(req: RequestMessage, mount: MountRecord<V>): CallContext<V> {
    return {
      mount,
      fs: mount.fs,
      cred: req.cred ?? NOBODY_CREDENTIALS,
      client: req.client,
      requestId: req.id,
      signal: this.core.signal,
      logger: this.log,
    };
  }

  private async execute(spec: AnyMethod<V>, ctx: CallContext<V>, params: unknown, method: string): Promise<StoredReply> {
    try {
      const result: unknown = await spec.handler(ctx, params);
      return { result: result ?? null };
    } catch (err) {
      if (!isCairnError(err)) this.log.error({ err, method }, 'rpc handler threw a non-Cairn error');
      return { error: toWireError(err) };
    }
  }

  /**
   * mount: authenticate (a refusal is never cached and leaves no state), then
   * create the mount once per request id. A missing or mistyped volume or
   * secret is refused like a wrong one: EACCES and nothing else.
   */
  private async mount(req: RequestMessage): Promise<StoredReply> {
    const pv = req.params['volume'];
    const ps = req.params['secret'];
    const p = {
      volume: typeof pv === 'string' && pv.length <= 255 ? pv : '',
      secret: typeof ps === 'string' || ps instanceof Uint8Array ? ps : '',
    };
    let fs: V | undefined;
    if (p.volume !== '' && p.secret.length > 0) {
      try {
        fs = (await this.core.resolve(p.volume, typeof p.secret === 'string' ? Buffer.from(p.secret, 'utf8') : Buffer.from(p.secret))) ?? undefined;
      } catch (err) {
        this.log.debug({ err }, 'volume resolver refused');
      }
    }
    if (fs === undefined) {
      this.core.counters.authFailures++;
      this.authFailures++;
      this.log.warn({ volume: p.volume, failures: this.authFailures }, 'rpc mount refused');
      if (this.authFailures >= this.core.limits.maxAuthFailures) {
        setImmediate(() => this.fail(`${this.authFailures} failed mounts`, true));
      }
      return { error: toWireError(accessDenied()) };
    }
    const volumeFs = fs;
    const volume = p.volume;
    // Authenticated: the mount record is made once per request id (a retry gets the same mount id).
    return this.admit(req, true, async () => {
      const rec = this.core.mounts.add(volume, volumeFs, req.client, Date.now());
      this.log.info({ volume, client: req.client, mount: rec.id }, 'rpc volume mounted');
      return { result: { mountId: rec.id, volume, v: PROTOCOL_VERSION, ...this.limitsInfo(), ...this.core.mountInfo(volumeFs, volume) } };
    }, false);
  }

  private limitsInfo(): Record<string, number> {
    const l = this.core.limits;
    return { maxFrameBytes: l.maxFrameBytes, maxInFlightPerConnection: l.maxInFlightPerConnection, maxInFlightPerClient: l.maxInFlightPerClient };
  }

  /** unmount: releases the mount (a retry, or an unknown mount id, succeeds too). */
  private async unmount(req: RequestMessage): Promise<StoredReply> {
    const rec = this.core.mounts.get(req.mount, req.client);
    if (rec) {
      await this.core.mounts.release(rec, (err) => this.log.warn({ err }, 'mount cleanup failed'));
      this.log.info({ volume: rec.volume, client: req.client, mount: rec.id }, 'rpc volume unmounted');
    }
    return { result: null };
  }

  private protocolError(id: number, err: CairnError, method?: string): void {
    this.core.counters.protocolErrors++;
    this.protocolErrors++;
    this.log.warn({ id, method, code: err.code, reason: err.message }, 'rpc request rejected');
    this.reply(id, { error: toWireError(err) });
    if (this.protocolErrors >= this.core.limits.maxProtocolErrors) this.fail(`${this.protocolErrors} protocol errors`, true);
  }

  private reply(id: number, reply: StoredReply): void {
    if (this.closed) return;
    let frame: Buffer;
    try {
      frame = encodeMessageFrame({ v: PROTOCOL_VERSION, id, ...reply }, this.core.limits.maxFrameBytes);
    } catch (err) {
      this.log.error({ err, id }, 'rpc reply could not be encoded');
      frame = encodeMessageFrame({ v: PROTOCOL_VERSION, id, error: toWireError(err) }, this.core.limits.maxFrameBytes);
    }
    this.write(frame);
  }

  private write(frame: Buffer): void {
    const sock = this.socket;
    if (sock.destroyed || !sock.writable) return;
    if (!this.corked) {
      this.corked = true;
      sock.cork();
      process.nextTick(() => {
        this.corked = false;
        sock.uncork();
      });
    }
    sock.write(frame);
    if (!this.pausedForWrites && sock.writableLength > this.core.limits.maxPendingReplyBytes) {
      this.pausedForWrites = true;
      sock.pause();
    }
  }

  /** Closes the connection for a violation (logged), with a last notice when `notify`. */
  private fail(reason: string, notify: boolean): void {
    if (this.closed) return;
    this.closed = true;
    if (notify) {
      this.core.counters.closedForViolation++;
      this.log.warn({ reason }, 'rpc connection closed');
    } else {
      this.log.debug({ reason }, 'rpc connection closed');
    }
    if (this.frameTimer) clearTimeout(this.frameTimer);
    const sock = this.socket;
    sock.pause();
    if (notify && sock.writable) {
      const notice = encodeMessageFrame({ v: PROTOCOL_VERSION, id: 0, error: toWireError(cairnError('CAIRN_ERR_RPC_BAD_FRAME', reason)) }, this.core.limits.maxFrameBytes);
      sock.end(notice);
      setTimeout(() => sock.destroy(), 1000).unref();
    } else {
      sock.destroy();
    }
  }

  private onClose(): void {
    this.closed = true;
    if (this.frameTimer) clearTimeout(this.frameTimer);
    this.core.onClosed(this);
  }
}
