// The only place that builds or parses headhunter's object names.
//
//   meta/nodes/<nonce, 16 lower-case hex digits>
//   meta/checkpoints/<2^64-1 - sequence, 16 lower-case hex digits>
//
// Fixed-width hex makes lexical order numeric order; checkpoint numbers are
// inverted so that a listing (ascending) yields the newest checkpoint first.

import { CHECKPOINT_OBJECT_PREFIX, NODE_OBJECT_PREFIX } from './format.js';

const MAX_U64 = (1n << 64n) - 1n;
const HEX16 = /^[0-9a-f]{16}$/;

function hex16(v: bigint): string {
  return v.toString(16).padStart(16, '0');
}

/** Name of the node object written under `nonce`. */
export function nodeObjectName(nonce: bigint): string {
  return NODE_OBJECT_PREFIX + hex16(nonce);
}

/** The nonce of a node object name, or undefined for any other name. */
export function parseNodeObjectName(name: string): bigint | undefined {
  if (!name.startsWith(NODE_OBJECT_PREFIX)) return undefined;
  const h = name.slice(NODE_OBJECT_PREFIX.length);
  return HEX16.test(h) ? BigInt(`0x${h}`) : undefined;
}

/** Name of checkpoint record number `seq`. */
export function checkpointObjectName(seq: number): string {
  return CHECKPOINT_OBJECT_PREFIX + hex16(MAX_U64 - BigInt(seq));
}

/** The sequence number of a checkpoint object name, or undefined for any other name. */
export function parseCheckpointObjectName(name: string): number | undefined {
  if (!name.startsWith(CHECKPOINT_OBJECT_PREFIX)) return undefined;
  const h = name.slice(CHECKPOINT_OBJECT_PREFIX.length);
  if (!HEX16.test(h)) return undefined;
  const seq = MAX_U64 - BigInt(`0x${h}`);
  return seq <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seq) : undefined;
}

export { NODE_OBJECT_PREFIX, CHECKPOINT_OBJECT_PREFIX };
