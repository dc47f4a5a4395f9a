// Every event the segment writer emits, in one table. Each listener gets one
// plain object; the fields are listed beside each name.

import type { SegmentWriterEvent } from './types.js';

export const WRITER_EVENTS = {
  /** A segment opened: { nonce, container, name }. */
  open: 'segment-open',
  /** A segment stopped taking writes: { nonce, container, name, reason, size }. */
  close: 'segment-close',
  /** A segment is durable and committed: { nonce, container, name, size, putMs }. */
  durable: 'segment-durable',
  /** A segment failed for good: { nonce, container, name, size, error }. */
  failed: 'segment-failed',
  /** A write waits for buffer space: { bytesBuffered, maxBufferedBytes, want }. */
  backpressure: 'backpressure',
  /** Nothing is buffered any more: every segment is durable (or failed): {}. */
  drain: 'drain',
} as const satisfies Record<string, SegmentWriterEvent>;
