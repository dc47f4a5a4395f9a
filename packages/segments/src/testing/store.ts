// Test support (not exported by the package): an ObjectStore over another one
// whose containers answer some methods their own way (recording GETs, slowing
// them down, holding back segment uploads), and a GET answer cut into pieces.

import { Readable } from 'node:stream';
import type { Container, GetResult, ObjectStore } from '@cairn/objstore';

/** `inner` with each container's methods in `override(container)` used first; the rest are the container's own. */
export function wrapStore(inner: ObjectStore, kind: string, override: (c: Container) => Partial<Container>): ObjectStore {
  return {
    kind,
    ping: () => inner.ping(),
    stats: () => inner.stats(),
    close: () => inner.close(),
    container(name: string): Container {
      const c = inner.container(name);
      const own = override(c) as Record<string | symbol, unknown>;
      return new Proxy(c, {
        get(t, p) {
          if (p in own) return own[p];
          const v = Reflect.get(t, p, t) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
        },
      });
    },
  };
}

/** The same answer with its body in `piece`-byte pieces, a macrotask apart, `beforePiece` awaited before each. */
export async function inPieces(r: GetResult, piece: number, beforePiece?: () => void | Promise<void>): Promise<GetResult> {
  const all: Buffer[] = [];
  for await (const b of r.body) all.push(b as Buffer);
  const bytes = Buffer.concat(all);
  async function* pieces(): AsyncGenerator<Buffer> {
    for (let at = 0; at < bytes.length; at += piece) {
      await new Promise((resolve) => setImmediate(resolve));
      await beforePiece?.();
      yield bytes.subarray(at, at + piece);
    }
  }
  return { ...r, body: Readable.from(pieces(), { objectMode: false }) };
}
