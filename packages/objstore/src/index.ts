// @cairn/objstore — the one interface through which every byte reaches storage.
export type {
  BackendStats, ByteRange, Container, DeleteOptions, GetOptions, GetResult, ListEntry, ListOptions,
  ListPage, ObjectInfo, ObjectStore, OpenSegment, OpenSegmentOptions, PutBody, PutOptions,
} from './types.js';
export { MAX_OBJECT_NAME_BYTES, checkContainerName, checkMeta, checkObjectName, compareNames } from './names.js';
export { resolveRange } from './range.js';
export { BodyHasher, type BodyDigest, type BodyHashOptions } from './backends/body-hash.js';
export { ContainerBase, DEFAULT_LIST_LIMIT, listLimit } from './container-base.js';
export { createMemoryStore, type MemoryStoreOptions } from './backends/memory.js';
export { createFsStore, type FsStoreOptions } from './backends/fs.js';
export { createS3Store, type S3StoreOptions, type S3RetryPolicy } from './backends/s3.js';
export {
  createChaosStore, CHAOS_OPS, type ChaosStore, type ChaosOptions, type ChaosFaultRates, type ChaosOp, type ChaosOpCounters,
  type ChaosCounters,
} from './backends/chaos.js';
export { createRetryingStore, type RetryingStoreOptions } from './backends/chaos-retry.js';
export { createSwiftStore, type SwiftStoreOptions, type SwiftRetryPolicy } from './backends/swift.js';
export { BufferPool } from './buffer-pool.js';
