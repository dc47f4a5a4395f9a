// @cairn/rpc — the filesystem RPC API that NFS/SMB/FUSE frontends call.
//
// Length-prefixed msgpack frames over TCP (or TLS) or a Unix-domain socket (frontends
// on the same host), many requests in flight per
// connection, replies out of order, bulk data as msgpack bin. Exactly once
// across reconnects: each client has an id, the server keeps a reply cache per
// client, and a retried request gets the first execution's reply (or attaches
// to it while it runs). Volumes are mounted with a per-volume secret; every
// request carries the mount id and the caller's uid/gid/groups.
//
// Wire format: docs/formats.md, "RPC wire protocol". Methods, errors and
// client examples: docs/rpc.md.
//
// Layers: createRpcServer() serves any method table (a generic volume type V);
// createCairnServer() serves the Filesystem methods of @cairn/inode. RpcClient
// calls any method; CairnClient has a typed method per filesystem RPC.

export { CairnClient, type CairnClientOptions, type FsParams, type FsResult } from './client.js';
export { createCairnServer, type CairnServerOptions, type MountInfo } from './cairn-server.js';
export {
  fsMethods, type FsMethodName, MAX_READDIR_ENTRIES, MAX_READDIRPLUS_ENTRIES, MAX_CHANGES_PER_CALL, MAX_WAIT_CHANGES_MS, MAX_EXTENT_WINDOW,
  DEFAULT_EXTENT_WINDOW, MAX_RELEASE_BATCH, type ReleaseFailure,
} from './fs-methods.js';
export { createRpcServer, type RpcServer, type RpcServerAddress, type RpcServerOptions, type RpcServerStats, type ServerTlsOptions } from './server.js';
export { DEFAULT_SOCKET_MODE } from './unix-socket.js';
export { RpcClient, type RpcClientOptions, type RpcClientStats, type CallOptions } from './rpc-client.js';
export { UNIX_HOST_PREFIX, type ClientTlsOptions } from './client-connection.js';
export { defineMethod, NOBODY_CREDENTIALS, BUILTIN_METHODS, type MethodSpec, type MethodTable, type CallContext, type MountRecord, type AnyMethod } from './methods.js';
export { secretsEqual, type VolumeConfig, type VolumeResolver } from './auth.js';
export { s as schema, type Check, type Infer } from './schema.js';
export type { Credentials, RequestMessage, ReplyMessage, WireError } from './protocol.js';
export { fromWireError } from './protocol.js';
export { encodeFrame, FrameDecoder } from './frame.js';
export { ReplyCache, type Admission, type ReplyCacheOptions, type ReplyCacheStats } from './reply-cache.js';
export * from './format.js';
