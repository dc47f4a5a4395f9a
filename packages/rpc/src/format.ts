// Wire-format constants and default limits of the RPC protocol. The frame and
// message layouts are described byte by byte in docs/formats.md ("RPC wire
// protocol"); the methods in docs/rpc.md. Protocol versions are never reused: a
// changed message layout gets the next number.

/** Protocol version carried in every request and reply (`v`). */
export const PROTOCOL_VERSION = 1;

/** Bytes of the frame header: the body length, u32 big-endian. */
export const FRAME_HEADER_BYTES = 4;

/** Largest read or write payload one call may carry (4 MiB). */
export const MAX_IO_BYTES = 4 * 1024 * 1024;

/** Default largest frame body a peer accepts: a full MAX_IO_BYTES payload plus room for the envelope. */
export const DEFAULT_MAX_FRAME_BYTES = MAX_IO_BYTES + 64 * 1024;

/** Hard ceiling for the configurable frame size (the length field is a u32; 64 MiB keeps buffers sane). */
export const MAX_FRAME_BYTES_LIMIT = 64 * 1024 * 1024;

/** Longest client id, characters. */
export const MAX_CLIENT_ID_LENGTH = 64;

/** Longest method name, characters. */
export const MAX_METHOD_LENGTH = 64;

/** Most supplementary groups a request may carry (NFS AUTH_SYS allows 16; Linux 65536). */
export const MAX_GROUPS = 256;

// ---- server defaults ----------------------------------------------------------

/** Requests a connection may have executing at once; more get CAIRN_ERR_RPC_BUSY. */
export const DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION = 1024;
/** Requests one client (all its connections) may have executing at once. */
export const DEFAULT_MAX_IN_FLIGHT_PER_CLIENT = 4096;
/** A connection that sends nothing for this long is closed (ms). */
export const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000;
/** A frame must arrive whole within this long after its first byte (ms). */
export const DEFAULT_FRAME_TIMEOUT_MS = 30_000;
/** Completed replies are kept at most this long (ms) unless the client acknowledges them sooner. */
export const DEFAULT_REPLY_TTL_MS = 10 * 60_000;
/** Most completed replies kept per client; the oldest beyond this are forgotten. */
export const DEFAULT_MAX_CACHED_REPLIES_PER_CLIENT = 65_536;
/** A client with nothing cached and no request for this long is forgotten (ms). */
export const DEFAULT_CLIENT_TTL_MS = 60 * 60_000;
/** Failed mounts on one connection before it is closed. */
export const DEFAULT_MAX_AUTH_FAILURES = 8;
/** Protocol errors (undecodable parameters, unknown methods...) on one connection before it is closed. */
export const DEFAULT_MAX_PROTOCOL_ERRORS = 64;
/** Reading pauses while this many reply bytes wait to be written to a connection. */
export const DEFAULT_MAX_PENDING_REPLY_BYTES = 64 * 1024 * 1024;

// ---- client defaults --------------------------------------------------------------

/** Per-call deadline when the caller gives none (ms). */
export const DEFAULT_CALL_DEADLINE_MS = 60_000;
/** TCP connections a client keeps to the server. */
export const DEFAULT_POOL_SIZE = 2;
/** Connect attempt timeout (ms). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** First reconnect delay and the cap of the exponential backoff (ms). */
export const RECONNECT_MIN_DELAY_MS = 20;
export const RECONNECT_MAX_DELAY_MS = 2_000;
