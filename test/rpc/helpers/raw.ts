// A raw protocol peer for tests: sends hand-made frames (valid or not) and
// collects the reply frames, to check what the server does byte by byte.

import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeFrame, FrameDecoder, PROTOCOL_VERSION, type ReplyMessage } from '../../../packages/rpc/src/index.js';
import type { Addr } from './transport.js';
import { decodeBody, encodeMessageFrame, parseReply } from '../../../packages/rpc/src/protocol.js';

export class RawPeer {
  readonly replies: ReplyMessage[] = [];
  /** Raw reply bodies, as received. */
  readonly bodies: Buffer[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder(64 * 1024 * 1024);

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const body of this.decoder.push(chunk)) {
        this.bodies.push(body);
        const r = parseReply(decodeBody(body));
        if (r) this.replies.push(r);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => (this.closed = true));
  }

  /** Connects to TCP `port` on loopback, or to `addr` (TCP or a Unix-domain socket). */
  static async open(target: number | Addr): Promise<RawPeer> {
    const socket = typeof target === 'number' ? connect({ host: '127.0.0.1', port: target }) : 'socketPath' in target ? connect({ path: target.socketPath }) : connect(target);
    await once(socket, 'connect');
    return new RawPeer(socket);
  }

  /** Sends a request with the current protocol version (fields may be overridden or broken). */
  request(fields: Record<string, unknown>): void {
    const msg = { v: PROTOCOL_VERSION, client: 'raw-client', ack: 0, params: {}, ...fields };
    this.socket.write(encodeMessageFrame(msg as never, 64 * 1024 * 1024));
  }

  /** Writes bytes as they are. */
  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Frames a body as it is. */
  frame(body: Uint8Array): void {
    this.socket.write(encodeFrame(body, 64 * 1024 * 1024));
  }

  /** Waits for the reply to `id` (or throws after `ms`). */
  async reply(id: number, ms = 5000): Promise<ReplyMessage> {
    const end = Date.now() + ms;
    for (;;) {
      const r = this.replies.find((x) => x.id === id);
      if (r) return r;
      if (Date.now() > end) throw new Error(`no reply to #${id} within ${ms} ms (closed: ${this.closed})`);
      await sleep(2);
    }
  }

  /** Waits until the server closed the connection (or throws after `ms`). */
  async waitClosed(ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > end) throw new Error(`connection still open after ${ms} ms`);
      await sleep(2);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Mounts `volume` (default "vol") with `secret` over a raw peer; returns the mount id. */
export async function rawMount(peer: RawPeer, secret: string, volume = 'vol', id = 1, client = 'raw-client'): Promise<string> {
  peer.request({ id, client, method: 'mount', params: { volume, secret } });
  const r = await peer.reply(id);
  if (r.error) throw new Error(`mount failed: ${r.error.code}`);
  return (r.result as { mountId: string }).mountId;
}
