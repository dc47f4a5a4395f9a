// The deterministic workload of the headhunter crash test: what batch n of
// writer w does, and what the volume must hold once batches 0..m of writer w
// (and no later one) were applied.

import { createHash } from 'node:crypto';
import { encodeKey, type BatchOp, type Headhunter } from '../../packages/headhunter/src/index.js';

/** Residues of the shared tree 'u' each writer cycles through. */
export const SPREAD = 97;

export const cntKey = (w: number): Buffer => encodeKey([w, 'cnt']);
const itemKey = (w: number, n: number): Buffer => encodeKey([w, 'item', n]);
const sharedKey = (r: number, w: number): Buffer => encodeKey([r, w]);

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** The value of item n of writer w: 20..619 bytes derived from (w, n). */
export function itemValue(w: number, n: number): Buffer {
  const h = createHash('sha256').update(`${w}/${n}`).digest();
  const len = 20 + (h.readUInt16BE(0) % 600);
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i += h.length) h.copy(out, i, 0, Math.min(h.length, len - i));
  return out;
}

/** Batch n of writer w: counter, a new item, the item three back deleted, a shared-tree entry. */
export function batchOps(w: number, n: number): BatchOp[] {
  const ops: BatchOp[] = [
    { type: 'put', tree: 't', key: cntKey(w), value: u32(n) },
    { type: 'put', tree: 't', key: itemKey(w, n), value: itemValue(w, n) },
    { type: 'put', tree: 'u', key: sharedKey(n % SPREAD, w), value: u32(n) },
  ];
  if (n >= 3) ops.push({ type: 'del', tree: 't', key: itemKey(w, n - 3) });
  return ops;
}

/**
 * Reads writer w's state and returns the last batch applied (-1 for none),
 * or a description of how the state differs from every possible one.
 */
export async function lastApplied(db: Headhunter, w: number): Promise<{ m: number; problems: string[] }> {
  const problems: string[] = [];
  const cnt = await db.tree('t').get(cntKey(w));
  const m = cnt === undefined ? -1 : cnt.readUInt32BE(0);
  const items = await db.tree('t').scan({ gte: encodeKey([w, 'item']), lt: encodeKey([w, 'item', Number.MAX_SAFE_INTEGER]), limit: 100 });
  const want = [m - 2, m - 1, m].filter((x) => x >= 0);
  if (items.length !== want.length) problems.push(`writer ${w}: ${items.length} items, want ${want.length} (m=${m})`);
  for (const n of want) {
    const v = await db.tree('t').get(itemKey(w, n));
    if (v === undefined || !v.equals(itemValue(w, n))) problems.push(`writer ${w}: item ${n} missing or wrong (m=${m})`);
  }
  for (let r = 0; r < SPREAD; r++) {
    const v = await db.tree('u').get(sharedKey(r, w));
    // Largest n' <= m with n' % SPREAD == r.
    const expect = m < r ? undefined : m - ((m - r) % SPREAD);
    const gotN = v === undefined ? undefined : v.readUInt32BE(0);
    if (gotN !== expect) problems.push(`writer ${w}: shared ${r} is ${gotN}, want ${expect} (m=${m})`);
  }
  return { m, problems };
}
