// The one place that turns segment nonces into object names and containers,
// and parses names back. Segment names sort in nonce order.

import { cairnError } from '@cairn/errors';
import { checkContainerName } from '@cairn/objstore';
import { MAX_NONCE, SEGMENT_NAME_HEX_DIGITS, SEGMENT_NAME_PREFIX } from './format.js';
import type { SegmentLocator, SegmentRef } from './types.js';

const NAME_RE = new RegExp(`^${SEGMENT_NAME_PREFIX}[0-9a-f]{${SEGMENT_NAME_HEX_DIGITS}}$`);

/** Throws unless nonce is a bigint in [1, 2^64). */
export function checkNonce(nonce: bigint): void {
  if (typeof nonce !== 'bigint' || nonce < 1n || nonce > MAX_NONCE) {
    throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `segment nonce ${String(nonce)} (must be a bigint in [1, 2^64))`);
  }
}

/** The object name of the segment with this nonce, e.g. 42n -> "seg-000000000000002a". */
export function segmentName(nonce: bigint): string {
  checkNonce(nonce);
  return SEGMENT_NAME_PREFIX + nonce.toString(16).padStart(SEGMENT_NAME_HEX_DIGITS, '0');
}

/** The nonce a segment object name carries, or undefined when the name is not a segment's. */
export function parseSegmentName(name: string): bigint | undefined {
  if (typeof name !== 'string' || !NAME_RE.test(name)) return undefined;
  const nonce = BigInt(`0x${name.slice(SEGMENT_NAME_PREFIX.length)}`);
  return nonce === 0n ? undefined : nonce;
}

/**
 * The segment layout over containers: nonce n lives in containers[n mod count].
 * The layout depends only on the nonce and the list, so a nonce alone finds its
 * object; a volume whose container list changes must record each segment's
 * container (DurableSegment.segment.container) and locate through that record.
 */
export function segmentLocator(containers: readonly string[]): SegmentLocator {
  if (!Array.isArray(containers) || containers.length === 0) {
    throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'containers must be a non-empty list');
  }
  for (const c of containers) checkContainerName(c);
  const list = [...containers];
  const count = BigInt(list.length);
  return (nonce: bigint): SegmentRef => {
    const name = segmentName(nonce);
    return { nonce, container: list[Number(nonce % count)]!, name };
  };
}
