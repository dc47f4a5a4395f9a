// @cairn/segments — the log-segment data path.
//
// - createSegmentWriter: the pool of open segments that file writes stream into;
//   a segment's writes reach onDurable only after its PUT completed (invariant 1).
// - Extent maps (applyWrite, truncate, lookup, clearRange) over any OrderedMap;
//   createMemoryOrderedMap is the in-memory one.
// - readPlan, createReadCache, readFile: turning extents into bytes.
// - chooseSegmentsToClean: Sprite LFS cost-benefit choice for the cleaner.
// - segmentName / parseSegmentName / segmentLocator: the only place segment
//   object names are built and parsed; summaries: what a stored segment holds.
// Formats: docs/formats.md ("Log segments"); design: docs/architecture.md ("Data path").

export type {
  CleanChoice, CleanerOptions, CloseReason, DataStep, DurableSegment, Extent, ExtentMap, ExtentValue, FailedSegment,
  FileKey, LatencyStats, ObjectRef, OrderedMap, PendingReader, ReadCache, ReadCacheOptions, ReadCacheStats, ReadStep,
  SegmentDeltas, SegmentLocator, SegmentRef, SegmentUsage, SegmentWrite, SegmentWriter, SegmentWriterEvent,
  SegmentWriterOptions, SegmentWriterStats, WriteLocation, WriteOptions, WritePiece, ZeroStep,
} from './types.js';
export { createSegmentWriter } from './writer.js';
export { WRITER_EVENTS } from './diagnostics.js';
export { checkNonce, parseSegmentName, segmentLocator, segmentName } from './names.js';
export { SEGMENT_NAME_PREFIX, SUMMARY_FOOTER_BYTES, SUMMARY_MAGIC, SUMMARY_VERSION } from './format.js';
export { checkFileKey, decodeSummary, encodeSummary, readSegmentSummary, type SegmentSummary } from './summary.js';
export { createMemoryOrderedMap, type MemoryOrderedMap } from './ordered-map.js';
export { applyWrite, applyWriteLocation, clearRange, lookup, mergeDeltas, overlayExtents, truncate } from './extents.js';
export { planLength, readPlan } from './read-plan.js';
export { createReadCache } from './read-cache.js';
export { readFile } from './read-file.js';
export { chooseSegmentsToClean, cleaningScore } from './cleaner.js';
