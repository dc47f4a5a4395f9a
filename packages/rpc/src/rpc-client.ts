// The generic RPC client: request ids, the ack, a pool of connections,
// reconnects and re-sends, deadlines. CairnClient (client.ts) adds the typed
// filesystem methods and the mount on top.
//
// Exactly once, client side: every call gets the next request id of this
// client id, and keeps it for its whole life. When a connection breaks, every
// call that was in flight on it is sent again, with the same id, on another
// (or a new) connection; the server's reply cache makes sure it executes once.
// `ack` (sent with every request) is the lowest id still waiting for a reply:
// the server may forget every reply below it.

import { randomBytes } from 'node:crypto';
import { cairnError, type CairnError } from '@cairn/errors';
import { pino, type Logger } from 'pino';
import { ClientConnection, UNIX_HOST_PREFIX, type ClientTlsOptions, type ConnectionTarget } from './client-connection.js';
import {
  DEFAULT_CALL_DEADLINE_MS, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION, DEFAULT_POOL_SIZE,
  MAX_CLIENT_ID_LENGTH, PROTOCOL_VERSION, RECONNECT_MAX_DELAY_MS, RECONNECT_MIN_DELAY_MS,
} from './format.js';
import { checkMaxFrameBytes } from './frame.js';
import { encodeMessageFrame, fromWireError, type Credentials, type ReplyMessage, type RequestMessage } from './protocol.js';

export interface RpcClientOptions {
  /** The server's host name or address; `unix:PATH` names a Unix-domain socket (then no port). */
  readonly host?: string;
  /** The server's TCP port (not with a socket). */
  readonly port?: number;
  /** A Unix-domain socket of a server on this host, instead of host and port (same protocol; no TLS). */
  readonly socketPath?: string;
  /** Connect with TLS (true: verify against the system CAs). Not over a Unix-domain socket. */
  readonly tls?: boolean | ClientTlsOptions;
  /** This client's id (default: 128 random bits). Reuse one only for the same logical client. */
  readonly clientId?: string;
  /** Connections kept to the server (default 2). */
  readonly poolSize?: number;
  /** Requests in flight per connection before calls queue locally (default 1024, the server's default limit). */
  readonly maxInFlightPerConnection?: number;
  /** Default per-call deadline (ms, default 60 000). */
  readonly deadlineMs?: number;
  readonly connectTimeoutMs?: number;
  /** Largest request frame this client sends (default 4 MiB + 64 KiB, the server's default limit); larger calls fail with E2BIG. */
  readonly maxFrameBytes?: number;
  /** Send a ping when nothing was sent for this long (ms; default 60 000; 0: never). Keeps the server's client state alive. */
  readonly keepaliveMs?: number;
  readonly logger?: Logger;
}

/** Per-call options. */
export interface CallOptions {
  /** Give up after this long (ms): the call rejects with CAIRN_ERR_RPC_TIMEOUT (outcome unknown). */
  readonly deadlineMs?: number;
  /** Caller identity for the server's permission checks. */
  readonly cred?: Credentials;
  /** Abandons the call (rejects with CAIRN_ERR_CANCELED; the outcome is unknown if it was sent). */
  readonly signal?: AbortSignal;
}

export interface RpcClientStats {
  readonly pending: number;
  readonly queued: number;
  readonly connections: number;
  readonly sent: number;
  readonly resent: number;
  readonly reconnects: number;
  readonly busyRetries: number;
}

interface Pending {
  readonly id: number;
  readonly method: string;
  readonly params: Record<string, unknown>;
  readonly mount: string | undefined;
  readonly cred: Credentials | undefined;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
  timer: NodeJS.Timeout | undefined;
  conn: ClientConnection | undefined;
  sends: number;
  busy: number;
  onAbort: (() => void) | undefined;
  signal: AbortSignal | undefined;
}

interface Slot {
  conn: ClientConnection | undefined;
  /** A connection of this slot was open before (the next one is a reconnect). */
  wasOpen: boolean;
  connecting: boolean;
  failures: number;
  retryTimer: NodeJS.Timeout | undefined;
}

function positive(name: string, v: number | undefined, dflt: number, min = 1): number {
  const n = v ?? dflt;
  if (!Number.isSafeInteger(n) || n < min) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `${name} must be an integer >= ${min}, got ${String(v)}`);
  return n;
}

export class RpcClient {
  readonly clientId: string;
  private readonly target: ConnectionTarget;
  private readonly maxFrameBytes: number;
  private readonly log: Logger;
  private readonly deadlineMs: number;
  private readonly perConn: number;
  private readonly slots: Slot[];
  /** Waiting calls by id. */
  private readonly pending = new Map<number, Pending>();
  /** Calls waiting for a connection (sorted by id). */
  private queue: Pending[] = [];
  private nextId = 1;
  /** Lowest id possibly still pending (moves forward only). */
  private low = 1;
  private closed = false;
  private lastError: Error | undefined;
  private lastSendAt = Date.now();
  private readonly keepalive: NodeJS.Timeout | undefined;
  private readonly counters = { sent: 0, resent: 0, reconnects: 0, busyRetries: 0 };

  constructor(options: RpcClientOptions) {
    const socketPath = options.socketPath ?? (options.host?.startsWith(UNIX_HOST_PREFIX) ? options.host.slice(UNIX_HOST_PREFIX.length) : undefined);
    if (socketPath !== undefined) {
      if (typeof socketPath !== 'string' || socketPath.length === 0) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'socketPath must be a non-empty path');
      if (options.tls) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'tls is not available over a Unix-domain socket');
    } else if (typeof options.host !== 'string' || options.host.length === 0) {
      throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'host');
    }
    this.clientId = options.clientId ?? randomBytes(16).toString('hex');
    if (this.clientId.length === 0 || this.clientId.length > MAX_CLIENT_ID_LENGTH) {
      throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `clientId must have 1..${MAX_CLIENT_ID_LENGTH} characters`);
    }
    const connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS);
    this.target = socketPath !== undefined
      ? { host: '', port: 0, socketPath, connectTimeoutMs }
      : { host: options.host!, port: positive('port', options.port, 0), ...(options.tls ? { tls: options.tls } : {}), connectTimeoutMs };
    this.maxFrameBytes = checkMaxFrameBytes(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    this.log = (options.logger ?? pino({ level: 'silent' })).child({ rpcClient: this.clientId });
    this.deadlineMs = positive('deadlineMs', options.deadlineMs, DEFAULT_CALL_DEADLINE_MS);
    this.perConn = positive('maxInFlightPerConnection', options.maxInFlightPerConnection, DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION);
    const pool = positive('poolSize', options.poolSize, DEFAULT_POOL_SIZE);
    this.slots = Array.from({ length: pool }, () => ({ conn: undefined, wasOpen: false, connecting: false, failures: 0, retryTimer: undefined }));
    const keepaliveMs = positive('keepaliveMs', options.keepaliveMs, 60_000, 0);
    if (keepaliveMs > 0) {
      this.keepalive = setInterval(() => {
        if (Date.now() - this.lastSendAt >= keepaliveMs) this.call('ping', {}, { deadlineMs: keepaliveMs }).catch(() => undefined);
      }, keepaliveMs);
      this.keepalive.unref();
    }
  }

  /**
   * Calls `method` with `params`, mounted as `mount`. Resolves with the result;
   * rejects with the server's error (a CairnError with its code and errno),
   * CAIRN_ERR_RPC_TIMEOUT after the deadline, CAIRN_ERR_CANCELED when the
   * signal aborts, CAIRN_ERR_CLOSED after close().
   */
  call<R = unknown>(method: string, params: Record<string, unknown>, options: CallOptions = {}, mount?: string): Promise<R> {
    if (this.closed) return Promise.reject(cairnError('CAIRN_ERR_CLOSED', 'rpc client'));
    if (options.signal?.aborted) return Promise.reject(cairnError('CAIRN_ERR_CANCELED', method));
    return new Promise<R>((resolve, reject) => {
      const p: Pending = {
        id: this.nextId++,
        method,
        params,
        mount,
        cred: options.cred,
        resolve: resolve as (v: unknown) => void,
        reject,
        timer: undefined,
        conn: undefined,
        sends: 0,
        busy: 0,
        onAbort: undefined,
        signal: options.signal,
      };
      const deadline = options.deadlineMs ?? this.deadlineMs;
      p.timer = setTimeout(() => {
        const why = this.lastError && !this.slots.some((s) => s.conn) ? ` (last connection error: ${this.lastError.message})` : '';
        this.settle(p, cairnError('CAIRN_ERR_RPC_TIMEOUT', `${method} #${p.id} after ${deadline} ms${why}`));
      }, deadline);
      if (options.signal) {
        p.onAbort = () => this.settle(p, cairnError('CAIRN_ERR_CANCELED', `${method} #${p.id}`));
        options.signal.addEventListener('abort', p.onAbort, { once: true });
      }
      this.pending.set(p.id, p);
      this.dispatch(p);
    });
  }

  stats(): RpcClientStats {
    return { pending: this.pending.size, queued: this.queue.length, connections: this.slots.filter((s) => s.conn).length, ...this.counters };
  }

  /** Rejects every waiting call with CAIRN_ERR_CLOSED and closes the connections. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.keepalive) clearInterval(this.keepalive);
    for (const p of [...this.pending.values()]) this.settle(p, cairnError('CAIRN_ERR_CLOSED', 'rpc client'));
    for (const s of this.slots) {
      if (s.retryTimer) clearTimeout(s.retryTimer);
      s.conn?.close();
    }
  }

  /** The lowest id still waiting for its reply (the server may forget replies below it). */
  private ack(): number {
    while (this.low < this.nextId && !this.pending.has(this.low)) this.low++;
    return this.low;
  }

  /** Sends `p` on the least loaded open connection with room, or queues it and makes sure connections are coming. */
  private dispatch(p: Pending): void {
    let best: ClientConnection | undefined;
    for (const s of this.slots) {
      const c = s.conn;
      if (c && c.isOpen && c.inFlight < this.perConn && (!best || c.inFlight < best.inFlight)) best = c;
    }
    if (!best) {
      this.enqueue(p);
      this.ensureConnections();
      return;
    }
    let frame: Buffer;
    try {
      // One object literal, no spread ones: a field left undefined is not encoded (the packr's skipValues).
      const msg: RequestMessage = { v: PROTOCOL_VERSION, client: this.clientId, id: p.id, ack: this.ack(), method: p.method, mount: p.mount || undefined, cred: p.cred, params: p.params };
      frame = encodeMessageFrame(msg, this.maxFrameBytes);
    } catch (err) {
      this.settle(p, err);
      return;
    }
    p.conn = best;
    best.inFlight++;
    if (p.sends++ > 0) this.counters.resent++;
    this.counters.sent++;
    this.lastSendAt = Date.now();
    best.send(frame);
  }

  private enqueue(p: Pending): void {
    const q = this.queue;
    if (q.length === 0 || q[q.length - 1]!.id < p.id) q.push(p);
    else q.splice(q.findIndex((x) => x.id > p.id), 0, p);
  }

  private drain(): void {
    while (this.queue.length > 0) {
      const hasRoom = this.slots.some((s) => s.conn && s.conn.isOpen && s.conn.inFlight < this.perConn);
      if (!hasRoom) return;
      this.dispatch(this.queue.shift()!);
    }
  }

  private ensureConnections(): void {
    if (this.closed) return;
    this.slots.forEach((slot) => {
      if (slot.conn || slot.connecting || slot.retryTimer) return;
      const delay = slot.failures === 0 ? 0 : Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_MIN_DELAY_MS * 2 ** (slot.failures - 1)) * (0.5 + Math.random() / 2);
      if (delay === 0) this.connect(slot);
      else {
        slot.retryTimer = setTimeout(() => {
          slot.retryTimer = undefined;
          if (this.queue.length > 0) this.connect(slot);
        }, delay);
        slot.retryTimer.unref();
      }
    });
  }

  private connect(slot: Slot): void {
    if (this.closed) return;
    slot.connecting = true;
    ClientConnection.open(this.target, { onReply: (c, r) => this.onReply(c, r), onClose: (c, e) => this.onClose(slot, c, e) }, this.log).then(
      (conn) => {
        slot.connecting = false;
        if (this.closed) {
          conn.close();
          return;
        }
        if (slot.wasOpen) this.counters.reconnects++;
        slot.wasOpen = true;
        slot.failures = 0;
        slot.conn = conn;
        this.drain();
      },
      (err: Error) => {
        slot.connecting = false;
        slot.failures++;
        this.lastError = err;
        this.log.debug({ err, failures: slot.failures }, 'rpc connect failed');
        if (this.queue.length > 0) this.ensureConnections();
      },
    );
  }

  private onReply(conn: ClientConnection, reply: ReplyMessage): void {
    if (reply.id === 0) {
      this.log.warn({ error: reply.error }, 'rpc server is closing the connection');
      return;
    }
    const p = this.pending.get(reply.id);
    if (!p) return; // a late reply to a call that timed out or was re-sent and answered
    if (p.conn) {
      p.conn.inFlight--;
      p.conn = undefined;
    }
    if (reply.error?.code === 'CAIRN_ERR_RPC_BUSY') {
      // Not executed: send the same id again after a short pause.
      this.counters.busyRetries++;
      const delay = Math.min(500, 5 * 2 ** Math.min(p.busy++, 7));
      setTimeout(() => {
        if (this.pending.get(p.id) === p) this.dispatch(p);
      }, delay).unref();
    } else if (reply.error) {
      this.settle(p, fromWireError(reply.error));
    } else {
      this.settle(p, undefined, reply.result);
    }
    if (conn.inFlight < this.perConn) this.drain();
  }

  private onClose(slot: Slot, conn: ClientConnection, err: Error | undefined): void {
    if (slot.conn === conn) slot.conn = undefined;
    if (err) this.lastError = err;
    if (this.closed) return;
    let moved = 0;
    for (const p of this.pending.values()) {
      if (p.conn !== conn) continue;
      p.conn = undefined;
      this.enqueue(p);
      moved++;
    }
    conn.inFlight = 0;
    if (moved > 0) this.log.debug({ moved, err: err?.message }, 'rpc connection lost: re-sending');
    if (this.queue.length > 0) {
      slot.failures = Math.max(slot.failures, 1);
      this.drain();
      this.ensureConnections();
    }
  }

  private settle(p: Pending, err: unknown, result?: unknown): void {
    if (this.pending.get(p.id) !== p) return;
    this.pending.delete(p.id);
    if (p.timer) clearTimeout(p.timer);
    if (p.onAbort) p.signal?.removeEventListener('abort', p.onAbort);
    if (p.conn) {
      p.conn.inFlight--;
      p.conn = undefined;
    } else {
      const i = this.queue.indexOf(p);
      if (i >= 0) this.queue.splice(i, 1);
    }
    if (err !== undefined) p.reject(err as CairnError);
    else p.resolve(result);
  }
}
