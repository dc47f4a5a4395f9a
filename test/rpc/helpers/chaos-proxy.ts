// A proxy (TCP, or Unix-domain sockets on both sides) that understands RPC framing and cuts connections at chosen
// points, seeded for reproducibility:
//
//   - before a request reaches the server (the request frame is dropped),
//   - after the server executed a request but before its reply reaches the
//     client (the reply frame is dropped),
//   - in the middle of a request frame (the server sees half a frame).
//
// Each cut destroys both sides of that one proxied connection.

import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { encodeFrame, FrameDecoder } from '../../../packages/rpc/src/index.js';

export interface ChaosOptions {
  /** The server: a TCP port on loopback, or a Unix-domain socket (targetPath). */
  readonly targetPort?: number;
  readonly targetPath?: string;
  /** Listen on this Unix-domain socket instead of a loopback TCP port. */
  readonly listenPath?: string;
  readonly seed: number;
  /** Probability per request frame of cutting before forwarding it. */
  readonly dropRequest: number;
  /** Probability per reply frame of cutting instead of forwarding it. */
  readonly dropReply: number;
  /** Probability per request frame of forwarding half of it, then cutting. */
  readonly cutMidFrame: number;
}

export interface ChaosStats {
  connections: number;
  requests: number;
  replies: number;
  cutBeforeRequest: number;
  cutAfterExecution: number;
  cutMidFrame: number;
}

/** mulberry32: a small seeded PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class ChaosProxy {
  readonly stats: ChaosStats = { connections: 0, requests: 0, replies: 0, cutBeforeRequest: 0, cutAfterExecution: 0, cutMidFrame: 0 };
  /** Cuts happen only while enabled. */
  enabled = true;
  private readonly rand: () => number;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly options: ChaosOptions) {
    this.rand = prng(options.seed);
    this.server = createServer((client) => this.onClient(client));
  }

  /** Starts listening; resolves with the TCP port (0 on a Unix-domain socket). */
  async start(): Promise<number> {
    const path = this.options.listenPath;
    if (path !== undefined) {
      await new Promise<void>((resolve) => this.server.listen(path, resolve));
      return 0;
    }
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onClient(client: Socket): void {
    this.stats.connections++;
    const { targetPath, targetPort } = this.options;
    const upstream = targetPath !== undefined ? connect({ path: targetPath }) : connect({ host: '127.0.0.1', port: targetPort ?? 0 });
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => undefined);
    }
    const cut = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', cut);
    upstream.on('close', cut);
    const max = 64 * 1024 * 1024;
    const up = new FrameDecoder(max);
    const down = new FrameDecoder(max);
    client.on('data', (chunk: Buffer) => {
      for (const body of up.push(chunk)) {
        if (client.destroyed) return;
        this.stats.requests++;
        const frame = encodeFrame(body, max);
        const r = this.rand();
        if (this.enabled && r < this.options.dropRequest) {
          this.stats.cutBeforeRequest++;
          cut();
          return;
        }
        if (this.enabled && r < this.options.dropRequest + this.options.cutMidFrame) {
          this.stats.cutMidFrame++;
          upstream.write(frame.subarray(0, Math.max(1, frame.length >> 1)), () => cut());
          return;
        }
        upstream.write(frame);
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      for (const body of down.push(chunk)) {
        if (upstream.destroyed) return;
        this.stats.replies++;
        if (this.enabled && this.rand() < this.options.dropReply) {
          this.stats.cutAfterExecution++;
          cut();
          return;
        }
        client.write(encodeFrame(body, max));
      }
    });
  }
}
