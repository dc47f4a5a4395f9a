// The RPC server: a TCP (or TLS) listener and/or a Unix-domain socket
// (unix-socket.ts), the shared state their connections use (method table,
// reply cache, mounts), the periodic sweep, and shutdown. Connections of both
// listeners are alike: a client may reconnect over either.

import { readFileSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { cairnError } from '@cairn/errors';
import { pino, type Logger } from 'pino';
import { staticResolver, MountRegistry, type VolumeConfig, type VolumeResolver } from './auth.js';
import { ServerConnection, type ConnectionLimits, type ServerCore, type StoredReply } from './connection.js';
import {
  DEFAULT_CLIENT_TTL_MS, DEFAULT_FRAME_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_AUTH_FAILURES, DEFAULT_MAX_CACHED_REPLIES_PER_CLIENT,
  DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_IN_FLIGHT_PER_CLIENT, DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION, DEFAULT_MAX_PENDING_REPLY_BYTES,
  DEFAULT_MAX_PROTOCOL_ERRORS, DEFAULT_REPLY_TTL_MS,
} from './format.js';
import { checkMaxFrameBytes } from './frame.js';
import { BUILTIN_METHODS, type AnyMethod, type MethodTable } from './methods.js';
import { ReplyCache, type ReplyCacheStats } from './reply-cache.js';
import { DEFAULT_SOCKET_MODE, isSocketMode, listenUnixSocket, removeUnixSocket, type BoundSocket } from './unix-socket.js';

/** TLS material: file paths (read at start) or PEM contents. */
export interface ServerTlsOptions {
  readonly certPath?: string;
  readonly keyPath?: string;
  /** CA bundle to verify client certificates against (with requestClientCert). */
  readonly caPath?: string;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  readonly ca?: string | Buffer;
  /** Require and verify a client certificate (mutual TLS). Default false. */
  readonly requestClientCert?: boolean;
}

export interface RpcServerOptions<V> {
  readonly methods: MethodTable<V>;
  /** Exported volumes with their secrets. Give this or resolveVolume. */
  readonly volumes?: readonly VolumeConfig<V>[];
  /** Decides mounts itself (compare secrets with secretsEqual()). */
  readonly resolveVolume?: VolumeResolver<V>;
  /** Extra fields of the mount reply (e.g. the root inode). */
  readonly mountInfo?: (fs: V, volume: string) => Record<string, unknown>;
  /** Listen address; default 127.0.0.1. */
  readonly host?: string;
  /** Listen port; default 0 (any free port; read it from start()'s result). */
  readonly port?: number;
  /** Serve TLS instead of plain TCP (the Unix-domain socket stays plain). */
  readonly tls?: ServerTlsOptions;
  /**
   * Also (or, with tcp false, only) listen on this Unix-domain socket, for
   * frontends on the same host. A stale socket file is replaced; a live
   * server's socket, or a path that is not a socket, is refused at start().
   * Removed at close().
   */
  readonly socketPath?: string;
  /** File mode of the socket (default 0o600: only this process's user may connect). */
  readonly socketMode?: number;
  /** Listen on TCP (host, port); default true. false needs socketPath. */
  readonly tcp?: boolean;
  readonly maxFrameBytes?: number;
  readonly maxInFlightPerConnection?: number;
  readonly maxInFlightPerClient?: number;
  readonly idleTimeoutMs?: number;
  readonly frameTimeoutMs?: number;
  readonly replyTtlMs?: number;
  readonly maxCachedRepliesPerClient?: number;
  readonly clientTtlMs?: number;
  /** Most simultaneous connections (default: unlimited). */
  readonly maxConnections?: number;
  readonly maxAuthFailures?: number;
  readonly maxProtocolErrors?: number;
  readonly maxPendingReplyBytes?: number;
  /** How often expired replies and idle clients are swept (default: replyTtlMs / 4, at most 30 s). */
  readonly sweepIntervalMs?: number;
  /** Clock for the reply cache (tests). */
  readonly now?: () => number;
  /** pino logger (default: silent). */
  readonly logger?: Logger;
}

export interface RpcServerStats {
  readonly connections: number;
  readonly mounts: number;
  readonly requests: number;
  readonly protocolErrors: number;
  readonly authFailures: number;
  readonly closedForViolation: number;
  readonly replyCache: ReplyCacheStats;
}

/** Where a started server listens. Without TCP, host is '' and port 0. */
export interface RpcServerAddress {
  readonly host: string;
  readonly port: number;
  /** The Unix-domain socket, when the server listens on one. */
  readonly socketPath?: string;
}

export interface RpcServer {
  /** Starts listening; resolves with the bound address. */
  start(): Promise<RpcServerAddress>;
  /** The bound address (after start). */
  address(): RpcServerAddress;
  stats(): RpcServerStats;
  /** Forgets expired replies, idle clients and their mounts now (also runs periodically). */
  sweep(): Promise<void>;
  /**
   * Stops accepting, closes every connection, aborts long waits (ctx.signal),
   * waits for running handlers, then releases every mount.
   */
  close(): Promise<void>;
}

function positive(name: string, v: number | undefined, dflt: number): number {
  const n = v ?? dflt;
  if (!Number.isSafeInteger(n) || n < 1) throw cairnError('CAIRN_ERR_CONFIG_INVALID', `${name} must be a positive integer, got ${String(v)}`);
  return n;
}

function pem(path: string | undefined, inline: string | Buffer | undefined, what: string): string | Buffer | undefined {
  if (inline !== undefined) return inline;
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw cairnError('CAIRN_ERR_CONFIG_INVALID', `cannot read TLS ${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

class RpcServerImpl<V> implements RpcServer {
  private readonly core: ServerCore<V>;
  private readonly server: Server;
  private readonly connections = new Set<ServerConnection<V>>();
  /** Requests being worked on, and who waits for them to drain. */
  private active = 0;
  private drained: (() => void) | undefined;
  private readonly abort = new AbortController();
  private readonly host: string;
  private readonly port: number;
  private readonly sweepMs: number;
  private readonly tls: boolean;
  private readonly listenTcp: boolean;
  private readonly socketPath: string | undefined;
  private readonly socketMode: number;
  /** The Unix-domain socket listener (with socketPath). */
  private readonly unixServer: Server | undefined;
  private unixBound: BoundSocket | undefined;
  private readonly maxConnections: number | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private bound: RpcServerAddress | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: RpcServerOptions<V>) {
    const logger = options.logger ?? pino({ level: 'silent' });
    if ((options.volumes === undefined) === (options.resolveVolume === undefined)) {
      throw cairnError('CAIRN_ERR_CONFIG_INVALID', 'give exactly one of volumes and resolveVolume');
    }
    const methods = new Map<string, AnyMethod<V>>();
    for (const [name, spec] of Object.entries(options.methods)) {
      if (BUILTIN_METHODS.includes(name)) throw cairnError('CAIRN_ERR_CONFIG_INVALID', `method ${name} is built in`);
      methods.set(name, spec);
    }
    const limits: ConnectionLimits = {
      maxFrameBytes: checkMaxFrameBytes(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES),
      maxInFlightPerConnection: positive('maxInFlightPerConnection', options.maxInFlightPerConnection, DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION),
      maxInFlightPerClient: positive('maxInFlightPerClient', options.maxInFlightPerClient, DEFAULT_MAX_IN_FLIGHT_PER_CLIENT),
      idleTimeoutMs: positive('idleTimeoutMs', options.idleTimeoutMs, DEFAULT_IDLE_TIMEOUT_MS),
      frameTimeoutMs: positive('frameTimeoutMs', options.frameTimeoutMs, DEFAULT_FRAME_TIMEOUT_MS),
      maxAuthFailures: positive('maxAuthFailures', options.maxAuthFailures, DEFAULT_MAX_AUTH_FAILURES),
      maxProtocolErrors: positive('maxProtocolErrors', options.maxProtocolErrors, DEFAULT_MAX_PROTOCOL_ERRORS),
      maxPendingReplyBytes: positive('maxPendingReplyBytes', options.maxPendingReplyBytes, DEFAULT_MAX_PENDING_REPLY_BYTES),
    };
    const replyTtlMs = positive('replyTtlMs', options.replyTtlMs, DEFAULT_REPLY_TTL_MS);
    this.sweepMs = positive('sweepIntervalMs', options.sweepIntervalMs, Math.max(10, Math.min(30_000, Math.floor(replyTtlMs / 4))));
    const cache = new ReplyCache<StoredReply>({
      ttlMs: replyTtlMs,
      maxRepliesPerClient: positive('maxCachedRepliesPerClient', options.maxCachedRepliesPerClient, DEFAULT_MAX_CACHED_REPLIES_PER_CLIENT),
      clientTtlMs: positive('clientTtlMs', options.clientTtlMs, DEFAULT_CLIENT_TTL_MS),
      ...(options.now ? { now: options.now } : {}),
    });
    this.tls = options.tls !== undefined;
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 0;
    if (!Number.isInteger(this.port) || this.port < 0 || this.port > 65535) throw cairnError('CAIRN_ERR_CONFIG_INVALID', `port ${this.port}`);
    this.listenTcp = options.tcp ?? true;
    if (options.socketPath !== undefined && (typeof options.socketPath !== 'string' || options.socketPath.length === 0)) {
      throw cairnError('CAIRN_ERR_CONFIG_INVALID', 'socketPath must be a non-empty path');
    }
    this.socketPath = options.socketPath;
    if (!this.listenTcp && this.socketPath === undefined) throw cairnError('CAIRN_ERR_CONFIG_INVALID', 'tcp: false needs a socketPath');
    const socketMode = options.socketMode ?? DEFAULT_SOCKET_MODE;
    if (!isSocketMode(socketMode)) throw cairnError('CAIRN_ERR_CONFIG_INVALID', `socketMode must be a file mode 0..0o777, got ${String(options.socketMode)}`);
    this.socketMode = socketMode;
    this.core = {
      limits,
      methods,
      cache,
      mounts: new MountRegistry<V>(),
      resolve: options.resolveVolume ?? staticResolver(options.volumes ?? []),
      mountInfo: options.mountInfo ?? (() => ({})),
      signal: this.abort.signal,
      logger,
      counters: { requests: 0, protocolErrors: 0, authFailures: 0, closedForViolation: 0 },
      onClosed: (c) => this.connections.delete(c),
      begin: () => void this.active++,
      end: () => {
        if (--this.active === 0) this.drained?.();
      },
    };
    this.maxConnections = options.maxConnections !== undefined ? positive('maxConnections', options.maxConnections, 1) : undefined;
    const onSocket = (socket: Socket): void => {
      // maxConnections counts the connections of both listeners together.
      if (this.closing || (this.maxConnections !== undefined && this.connections.size >= this.maxConnections)) {
        socket.destroy();
        return;
      }
      this.connections.add(new ServerConnection(socket, this.core));
    };
    if (options.tls) {
      const t = options.tls;
      const cert = pem(t.certPath, t.cert, 'certificate');
      const key = pem(t.keyPath, t.key, 'key');
      const ca = pem(t.caPath, t.ca, 'CA bundle');
      if (!cert || !key) throw cairnError('CAIRN_ERR_CONFIG_INVALID', 'tls needs a certificate and a key');
      const requestCert = t.requestClientCert === true;
      this.server = createTlsServer({ cert, key, ...(ca ? { ca } : {}), requestCert, rejectUnauthorized: requestCert }, onSocket);
      this.server.on('tlsClientError', (err) => logger.warn({ err }, 'rpc TLS handshake failed'));
    } else {
      this.server = createTcpServer(onSocket);
    }
    this.server.on('error', (err) => logger.error({ err }, 'rpc listener error'));
    if (this.socketPath !== undefined) {
      this.unixServer = createTcpServer(onSocket);
      this.unixServer.on('error', (err) => logger.error({ err, socketPath: this.socketPath }, 'rpc socket listener error'));
    }
  }

  async start(): Promise<RpcServerAddress> {
    let tcp: { host: string; port: number } = { host: '', port: 0 };
    if (this.listenTcp) {
      tcp = await new Promise((resolve, reject) => {
        const onError = (err: Error): void => reject(cairnError('CAIRN_ERR_CONFIG_INVALID', `cannot listen on ${this.host}:${this.port}: ${err.message}`, { cause: err }));
        this.server.once('error', onError);
        this.server.listen(this.port, this.host, () => {
          this.server.off('error', onError);
          const a = this.server.address() as AddressInfo;
          resolve({ host: a.address, port: a.port });
        });
      });
    }
    if (this.unixServer && this.socketPath !== undefined) {
      try {
        this.unixBound = await listenUnixSocket(this.unixServer, this.socketPath, this.socketMode, this.core.logger);
      } catch (err) {
        if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
        throw err;
      }
    }
    this.bound = { ...tcp, ...(this.unixBound ? { socketPath: this.unixBound.path } : {}) };
    this.sweepTimer = setInterval(() => void this.sweep(), this.sweepMs);
    this.sweepTimer.unref();
    this.core.logger.info({ ...this.bound, tls: this.tls }, 'rpc server listening');
    return this.bound;
  }

  address(): RpcServerAddress {
    if (!this.bound) throw cairnError('CAIRN_ERR_CLOSED', 'rpc server (not started)');
    return this.bound;
  }

  stats(): RpcServerStats {
    return { connections: this.connections.size, mounts: this.core.mounts.size, ...this.core.counters, replyCache: this.core.cache.stats() };
  }

  async sweep(): Promise<void> {
    const { cache, mounts, logger } = this.core;
    cache.sweep();
    for (const m of mounts.byClient((c) => !cache.has(c))) {
      logger.info({ volume: m.volume, client: m.client, mount: m.id }, 'rpc mount released: client gone');
      await mounts.release(m, (err) => logger.warn({ err }, 'mount cleanup failed'));
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.sweepTimer) clearInterval(this.sweepTimer);
      const closeListener = (l: Server | undefined): Promise<void> =>
        l?.listening ? new Promise<void>((resolve) => l.close(() => resolve())) : Promise.resolve();
      const listening = Promise.all([closeListener(this.server), closeListener(this.unixServer)]);
      for (const c of this.connections) c.destroy();
      this.connections.clear();
      this.abort.abort(cairnError('CAIRN_ERR_CLOSED', 'rpc server'));
      if (this.active > 0) await new Promise<void>((resolve) => (this.drained = resolve));
      const { mounts, logger } = this.core;
      for (const m of mounts.all()) await mounts.release(m, (err) => logger.warn({ err }, 'mount cleanup failed'));
      await listening;
      if (this.unixBound) await removeUnixSocket(this.unixBound, this.core.logger);
    })();
    return this.closing;
  }
}

/** Creates a server for a method table (call start() to listen). Options are checked here: bad ones throw CAIRN_ERR_CONFIG_INVALID. */
export function createRpcServer<V>(options: RpcServerOptions<V>): RpcServer {
  return new RpcServerImpl(options);
}
