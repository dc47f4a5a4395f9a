// The load generator of the object API benchmark's small rows, in a process
// of its own: its HTTP client work (building requests, parsing answers) must
// not run on the event loop of the Cairn server it measures, as no real
// client would. It drives either side (raw Swift or Cairn) the same way.
// Driven over IPC:
//   parent -> { cmd: 'slice', id, method, clients, ms, target, names? }
//   parent <- { id, rate, written }   ops/s; for PUTs, the names written
//   parent -> { cmd: 'exit' }
// A failed request ends the slice with { id, error }.

import { call, ok } from './http.js';

/** Where a slice sends its requests. */
export interface LoadTarget {
  readonly storageUrl: string;
  readonly token: string;
  readonly container: string;
}

export interface SliceRequest {
  readonly cmd: 'slice';
  readonly id: number;
  readonly method: 'PUT' | 'GET';
  readonly clients: number;
  readonly ms: number;
  readonly target: LoadTarget;
  /** Bytes per object (PUT) or expected (GET). */
  readonly size: number;
  /** PUT: names cycle over `${prefix}-${client}-${k % perClient}`. */
  readonly prefix: string;
  readonly perClient: number;
  /** GET: the names to read, spread over the clients. */
  readonly names?: readonly string[];
}

export interface SliceAnswer {
  readonly id: number;
  readonly rate?: number;
  readonly written?: string[];
  readonly error?: string;
}

async function runSlice(r: SliceRequest): Promise<SliceAnswer> {
  const headers = { 'x-auth-token': r.target.token };
  const base = `${r.target.storageUrl}/${r.target.container}`;
  const body = Buffer.alloc(r.size, 0x5a);
  const written: string[] = [];
  let done = 0;
  const start = performance.now();
  const worker = async (c: number): Promise<void> => {
    for (let k = 0; performance.now() - start < r.ms; k++) {
      if (r.method === 'PUT') {
        const name = `${r.prefix}-${c}-${k % r.perClient}`;
        await ok(call('PUT', `${base}/${name}`, { ...headers, 'content-length': String(r.size) }, body), 'small PUT');
        if (k < r.perClient) written.push(name);
      } else {
        const names = r.names!;
        const got = await ok(call('GET', `${base}/${names[(c + k * r.clients) % names.length]!}`, headers), 'small GET');
        if (got !== r.size) throw new Error(`small GET returned ${got} bytes`);
      }
      done++;
    }
  };
  await Promise.all(Array.from({ length: r.clients }, (_, c) => worker(c)));
  return { id: r.id, rate: done / ((performance.now() - start) / 1000), written };
}

if (process.send) {
  process.on('message', (msg: SliceRequest | { cmd: 'exit' }) => {
    if (msg.cmd === 'exit') process.exit(0);
    runSlice(msg).then(
      (a) => process.send!(a),
      (err: unknown) => process.send!({ id: msg.id, error: String(err) } satisfies SliceAnswer),
    );
  });
}
