// A small RPC workload for the shutdown and handover tests: workers create
// files, write a payload and fsync; every step that was acknowledged is
// recorded so that a later check can demand it survived.

import { CairnClient } from '@cairn/rpc';

export const ROOT_CRED = { uid: 0, gid: 0, groups: [] as number[] };

export interface Acked {
  /** Files whose create was acknowledged. */
  readonly created: Set<string>;
  /** Files whose data was acknowledged durable (fsync), with the payload. */
  readonly synced: Map<string, string>;
}

export async function connect(rpc: { host: string; port: number }, volume: string, secret: string): Promise<CairnClient> {
  return CairnClient.connect({
    host: rpc.host, port: rpc.port, volume, secret, cred: ROOT_CRED, deadlineMs: 4000, connectTimeoutMs: 1000,
  });
}

export const payloadOf = (name: string): string => `contents of ${name} `.repeat(20);

/** Runs `workers` loops until `stop` is aborted or the server goes away; resolves with what was acknowledged. */
export async function runLoad(client: CairnClient, dirIno: number, prefix: string, workers: number, stop: AbortSignal): Promise<Acked> {
  const acked: Acked = { created: new Set(), synced: new Map() };
  let failures = 0;
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    for (let i = 0; !stop.aborted && failures < 50; i++) {
      const name = `${prefix}-${w}-${i}`;
      try {
        const r = await client.create({ parent: dirIno, name, mode: 0o644 });
        acked.created.add(name);
        const data = Buffer.from(payloadOf(name));
        await client.write({ ino: r.attr.ino, offset: 0, data });
        await client.fsync({ ino: r.attr.ino });
        acked.synced.set(name, data.toString());
      } catch {
        failures++;
        await new Promise((res) => setTimeout(res, 20));
      }
    }
  }));
  return acked;
}

/** Every acknowledged file exists and every synced one has its payload; returns what is missing. */
export async function verify(client: CairnClient, dirIno: number, acked: Acked): Promise<string[]> {
  const missing: string[] = [];
  for (const name of acked.created) {
    try {
      const a = await client.lookup({ parent: dirIno, name });
      const want = acked.synced.get(name);
      if (want !== undefined) {
        const got = await client.read({ ino: a.ino, offset: 0, length: want.length + 10 });
        if (Buffer.from(got.data).toString() !== want) missing.push(`${name}: wrong contents`);
      }
    } catch (err) {
      missing.push(`${name}: ${(err as Error).message}`);
    }
  }
  return missing;
}
