// @cairn/object-api — Swift- and S3-compatible HTTP endpoints on Cairn volumes.
//
// A Swift account / S3 credential maps to a volume; a container or bucket is a
// top-level directory; an object is a file at a path below it. Objects written
// through the filesystem are objects, and objects are files (bimodal access).
// PUTs stream into a hidden temporary file and commit with one rename; GETs
// stream bytes or, on request, the read plan. See docs/object-api.md and the
// OpenAPI document docs/openapi/object-api.yaml.
//
//   const app = await createObjectApiServer({ volumes: { AUTH_test: fromFilesystem(fs, cred) }, swift, s3 });
//   await app.listen({ port: 8080, host: '127.0.0.1' });

export { createObjectApiServer, type ObjectApiControl, type ObjectApiServer } from './server.js';
export {
  DEFAULT_MAX_OBJECT_BYTES, DEFAULT_MIN_PART_BYTES,
  type ObjectApiOptions, type S3ApiOptions, type SwiftApiOptions,
} from './context.js';
export { fromFilesystem, type FilesystemBinding } from './fs-adapter.js';
export type { SwiftUser } from './swift-auth.js';
export type { S3Credential } from './sigv4.js';
export type {
  EntryType, FsAttr, FsChange, FsEntry, FsFile, FsPlanStep, FsUpload, RecordedEtag, SegmentObject, UploadCommit, VolumeFs,
} from './fs-port.js';
export type { ReadPlanBody } from './read-plan.js';
export {
  MAX_OBJECT_NAME_BYTES, NAME_MAX_BYTES, RESERVED_PREFIX, TMP_DIR, UPLOADS_DIR, parseObjectName, type ObjectPath,
} from './names.js';
export {
  XATTR_ACCOUNT_META, XATTR_CONTAINER_META, XATTR_CONTENT_TYPE, XATTR_DELETE_AT, XATTR_DLO, XATTR_HEADER, XATTR_IMPLICIT, XATTR_META, XATTR_SLO,
} from './object-meta.js';
export { EMPTY_MD5, multipartEtag, opaqueEtag, sloEtag } from './etag.js';
export { parseRange, type ByteSpan, type RangeResult } from './ranges.js';
export { evaluateConditions, type ConditionalOutcome } from './conditional.js';
export { verifySigV4, type VerifiedAuth } from './sigv4.js';
