// One client-side connection (TCP, TLS or a Unix-domain socket): connects (with a timeout), writes
// frames corked per tick, decodes reply frames and hands them to the client.
// It knows nothing about retries: when it closes, the client re-sends what it
// had in flight on another connection.

import { readFileSync } from 'node:fs';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { cairnError } from '@cairn/errors';
import type { Logger } from 'pino';
import { MAX_FRAME_BYTES_LIMIT } from './format.js';
import { FrameDecoder } from './frame.js';
import { decodeBody, parseReply, type ReplyMessage } from './protocol.js';

/** Client TLS settings: `true` for the system CAs, or options. */
export interface ClientTlsOptions {
  /** CA bundle (PEM) or its path, for a server certificate not signed by a system CA. */
  readonly ca?: string | Buffer;
  readonly caPath?: string;
  /** Client certificate and key for mutual TLS (PEM or paths). */
  readonly cert?: string | Buffer;
  readonly certPath?: string;
  readonly key?: string | Buffer;
  readonly keyPath?: string;
  /** Server name to verify (default: host). */
  readonly servername?: string;
  /** Default true; false accepts any server certificate (tests only). */
  readonly rejectUnauthorized?: boolean;
}

export interface ConnectionTarget {
  readonly host: string;
  readonly port: number;
  /** A Unix-domain socket to connect to instead of host:port (never with tls). */
  readonly socketPath?: string;
  readonly tls?: boolean | ClientTlsOptions;
  readonly connectTimeoutMs: number;
}

/** The prefix of a `host` that names a Unix-domain socket: `unix:/run/cairn/rpc.sock`. */
export const UNIX_HOST_PREFIX = 'unix:';

/** How a target is named in errors and logs: `host:port` or `unix:PATH`. */
export function describeTarget(t: Pick<ConnectionTarget, 'host' | 'port' | 'socketPath'>): string {
  return t.socketPath !== undefined ? `${UNIX_HOST_PREFIX}${t.socketPath}` : `${t.host}:${t.port}`;
}

export interface ConnectionEvents {
  onReply(conn: ClientConnection, reply: ReplyMessage): void;
  /** Called once, when the connection is gone (err: why, when known). */
  onClose(conn: ClientConnection, err: Error | undefined): void;
}

function tlsOptions(t: true | ClientTlsOptions, host: string): ConnectionOptions {
  // SNI carries host names only (RFC 6066); an IP address is verified against the certificate's IP SANs.
  const sni = isIP(host) === 0 ? { servername: host } : {};
  if (t === true) return sni;
  const read = (inline: string | Buffer | undefined, path: string | undefined): string | Buffer | undefined =>
    inline ?? (path === undefined ? undefined : readFileSync(path));
  const ca = read(t.ca, t.caPath);
  const cert = read(t.cert, t.certPath);
  const key = read(t.key, t.keyPath);
  return {
    ...(t.servername !== undefined ? { servername: t.servername } : sni),
    rejectUnauthorized: t.rejectUnauthorized ?? true,
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
  };
}

export class ClientConnection {
  /** Requests sent on this connection and not answered (kept by the client). */
  inFlight = 0;
  private readonly decoder: FrameDecoder;
  private corked = false;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly events: ConnectionEvents,
    private readonly log: Logger,
  ) {
    // Replies are trusted up to the protocol's ceiling, whatever this client's own send limit.
    this.decoder = new FrameDecoder(MAX_FRAME_BYTES_LIMIT);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.close(err));
    socket.on('close', () => this.close(undefined));
  }

  /** Opens a connection; rejects with CAIRN_ERR_RPC_UNREACHABLE. */
  static open(target: ConnectionTarget, events: ConnectionEvents, log: Logger): Promise<ClientConnection> {
    return new Promise((resolve, reject) => {
      const { host, port, socketPath } = target;
      const tls = socketPath === undefined ? target.tls : undefined;
      const socket =
        socketPath !== undefined ? netConnect({ path: socketPath })
        : tls ? tlsConnect({ host, port, ...tlsOptions(tls, host) })
        : netConnect({ host, port });
      const readyEvent = tls ? 'secureConnect' : 'connect';
      const fail = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(cairnError('CAIRN_ERR_RPC_UNREACHABLE', `${describeTarget(target)}: ${err.message}`, { cause: err }));
      };
      const timer = setTimeout(() => fail(new Error(`connect timed out after ${target.connectTimeoutMs} ms`)), target.connectTimeoutMs);
      socket.once('error', fail);
      socket.once(readyEvent, () => {
        clearTimeout(timer);
        socket.off('error', fail);
        resolve(new ClientConnection(socket, events, log));
      });
    });
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Queues a frame; false when the connection is already closed. */
  send(frame: Buffer): boolean {
    if (this.closed) return false;
    const sock = this.socket;
    if (!this.corked) {
      this.corked = true;
      sock.cork();
      process.nextTick(() => {
        this.corked = false;
        sock.uncork();
      });
    }
    sock.write(frame);
    return true;
  }

  /** Closes the connection; onClose runs once. */
  close(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.events.onClose(this, err);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    let bodies: Buffer[];
    try {
      bodies = this.decoder.push(chunk);
    } catch (err) {
      this.log.warn({ err }, 'rpc server sent a bad frame');
      this.close(err as Error);
      return;
    }
    for (const body of bodies) {
      let reply: ReplyMessage | undefined;
      try {
        reply = parseReply(decodeBody(body));
      } catch (err) {
        reply = undefined;
        this.log.warn({ err }, 'rpc server sent undecodable msgpack');
      }
      if (!reply) {
        this.close(cairnError('CAIRN_ERR_RPC_BAD_FRAME', 'reply from server is not a reply'));
        return;
      }
      this.events.onReply(this, reply);
      if (this.closed) return;
    }
  }
}
