// @cairn/objstore — the one interface through which every byte reaches storage.
export type {
  BackendStats, ByteRange, Container, DeleteOptions, GetOptions, GetResult, ListEntry, ListOptions,
  ListPage, ObjectInfo, ObjectStore, OpenSegment, OpenSegmentOptions, PutBody, PutOptions,
} from './types.js';
export { MAX_OBJECT_NAME_BYTES, checkContainerName, checkMeta, checkObjectName, compareNames } from './names.js';
export { resolveRange } from './range.js';
export { ContainerBase, DEFAULT_LIST_LIMIT, listLimit } from './container-base.js';
export { createMemoryStore, type MemoryStoreOptions } from './backends/memory.js';
export { createFsStore, type FsStoreOptions } from './backends/fs.js';
