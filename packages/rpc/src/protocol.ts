// The RPC messages: one msgpack configuration, one encode/decode pair per
// message kind, and the envelope checks the server runs before anything else.
// Layout: docs/formats.md, "RPC wire protocol".
//
//   request := { v, client, id, ack, method, mount?, cred?, params }
//   reply   := { v, id, result } | { v, id, error: { errno, errnoNumber, code, message, retryable } }

import { CairnError, cairnError, ERRNO, ERROR_CODES, isCairnError, type CairnErrorCode, type ErrnoName } from '@cairn/errors';
import { Packr, type Options } from 'msgpackr';
import { checkFrameBody, encodeFrame } from './frame.js';
import { FRAME_HEADER_BYTES, MAX_CLIENT_ID_LENGTH, MAX_GROUPS, MAX_METHOD_LENGTH, PROTOCOL_VERSION } from './format.js';

// Plain msgpack only: no record/structure extension (decoding must not depend on
// state outside the bytes), maps decode to plain objects, 64-bit integers to
// bigint. A map field whose value is undefined is left out (an optional field
// arrives absent, not nil); undefined elsewhere encodes as nil (other
// languages' decoders know no ext type 0). skipValues is a msgpackr option its
// type declarations do not list.
const packrOptions: Options & { skipValues: unknown[] } = {
  useRecords: false,
  moreTypes: false,
  mapsAsObjects: true,
  int64AsType: 'bigint',
  encodeUndefinedAsNil: true,
  skipValues: [undefined],
};
const packr = new Packr(packrOptions);

/** The caller's identity for permission checks, per request (like NFS AUTH_SYS). */
export interface Credentials {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups. */
  readonly groups: readonly number[];
}

/** A request as it travels. */
export interface RequestMessage {
  readonly v: number;
  /** The client's unique id (the reply cache key); the same across its connections and reconnects. */
  readonly client: string;
  /** Request id: unique per client, increasing; a retry reuses it. */
  readonly id: number;
  /** The client has received every reply for ids below this. */
  readonly ack: number;
  readonly method: string;
  /** Mount id from `mount`; every method but mount and ping requires it. */
  readonly mount?: string;
  readonly cred?: Credentials;
  readonly params: Record<string, unknown>;
}

/** An error as it travels in a reply. */
export interface WireError {
  /** errno name, e.g. "ENOENT". */
  readonly errno: string;
  /** Linux errno number, e.g. 2. */
  readonly errnoNumber: number;
  /** Cairn error code, e.g. "CAIRN_ERR_FS_NOT_FOUND". */
  readonly code: string;
  readonly message: string;
  /** True when the same request may succeed when retried later. */
  readonly retryable: boolean;
}

/** A reply as it travels: exactly one of result and error. Id 0 is a connection-level notice sent before the server closes. */
export interface ReplyMessage {
  readonly v: number;
  readonly id: number;
  readonly result?: unknown;
  readonly error?: WireError;
}

/**
 * packr.pack() option: leave room for the frame header before the body.
 * msgpackr's RESERVE_START_SPACE (2048) ORed with the byte count; its Node
 * entry point does not export the constant. Checked once below: without it,
 * frames are copied.
 */
const WITH_HEADER = 2048 | FRAME_HEADER_BYTES;
const packsBehindHeader = ((): boolean => {
  const probe = packr.pack(null, WITH_HEADER);
  return probe.length === FRAME_HEADER_BYTES + 1 && probe[FRAME_HEADER_BYTES] === 0xc0;
})();

/**
 * Encodes one message and frames it (what encodeFrame(pack(msg)) makes). The
 * body is packed behind room for the header, so the frame is not copied: the
 * Buffer is a view of msgpackr's output buffer, which never writes over what
 * it returned before.
 */
export function encodeMessageFrame(msg: RequestMessage | ReplyMessage, maxFrameBytes: number): Buffer {
  if (!packsBehindHeader) return encodeFrame(packr.pack(msg), maxFrameBytes);
  const frame = packr.pack(msg, WITH_HEADER);
  const length = frame.length - FRAME_HEADER_BYTES;
  checkFrameBody(length, maxFrameBytes);
  frame.writeUInt32BE(length, 0);
  return frame;
}

/** Decodes one frame body; undecodable bytes become CAIRN_ERR_RPC_BAD_FRAME. */
export function decodeBody(body: Uint8Array): unknown {
  try {
    return packr.unpack(body);
  } catch (err) {
    throw cairnError('CAIRN_ERR_RPC_BAD_FRAME', `undecodable msgpack (${(err as Error).message})`, { cause: err });
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || ArrayBuffer.isView(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
}

function isUint32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

/** The outcome of checking a decoded request. */
export type ParsedRequest =
  | { readonly kind: 'ok'; readonly req: RequestMessage }
  /** Answerable (the id is known) but not executable: reply with the error, keep the connection. */
  | { readonly kind: 'reject'; readonly id: number; readonly error: CairnError }
  /** Not even an id: close the connection. */
  | { readonly kind: 'fatal'; readonly reason: string };

/** A request that can be answered but not run (module level: no closure per request). */
function reject(id: number, code: CairnErrorCode, msg: string): ParsedRequest {
  return { kind: 'reject', id, error: cairnError(code, msg) };
}

/** Checks the envelope of a decoded request (not the params: each method's schema does that). */
export function parseRequest(value: unknown): ParsedRequest {
  if (!isPlainObject(value)) return { kind: 'fatal', reason: 'request is not a map' };
  const { id } = value;
  if (!isId(id)) return { kind: 'fatal', reason: 'request id is not a positive safe integer' };
  if (value['v'] !== PROTOCOL_VERSION) return reject(id, 'CAIRN_ERR_RPC_BAD_VERSION', `${String(value['v'])} (server speaks ${PROTOCOL_VERSION})`);
  const { client, ack, method, mount, cred, params } = value;
  if (typeof client !== 'string' || client.length === 0 || client.length > MAX_CLIENT_ID_LENGTH) {
    return reject(id, 'CAIRN_ERR_RPC_BAD_FRAME', `client must be a string of 1..${MAX_CLIENT_ID_LENGTH} characters`);
  }
  if (!(typeof ack === 'number' && Number.isSafeInteger(ack) && ack >= 0)) return reject(id, 'CAIRN_ERR_RPC_BAD_FRAME', 'ack must be a non-negative safe integer');
  if (typeof method !== 'string' || method.length === 0 || method.length > MAX_METHOD_LENGTH) {
    return reject(id, 'CAIRN_ERR_RPC_BAD_FRAME', 'method must be a non-empty string');
  }
  if (mount !== undefined && mount !== null && (typeof mount !== 'string' || mount.length > 128)) {
    return reject(id, 'CAIRN_ERR_RPC_BAD_FRAME', 'mount must be a string');
  }
  if (params !== undefined && params !== null && !isPlainObject(params)) return reject(id, 'CAIRN_ERR_RPC_BAD_PARAMS', `${method}: params must be a map`);
  let credentials: Credentials | undefined;
  if (cred !== undefined && cred !== null) {
    const c = isPlainObject(cred) ? cred : undefined;
    const groups = c?.['groups'] ?? [];
    if (!c || !isUint32(c['uid']) || !isUint32(c['gid']) || !Array.isArray(groups) || groups.length > MAX_GROUPS || !groups.every(isUint32)) {
      return reject(id, 'CAIRN_ERR_RPC_BAD_PARAMS', `cred must be {uid: u32, gid: u32, groups: u32[] (at most ${MAX_GROUPS})}`);
    }
    credentials = { uid: c['uid'] as number, gid: c['gid'] as number, groups: groups as number[] };
  }
  // One object literal (no spread ones per request); absent fields are undefined.
  const req: RequestMessage = {
    v: PROTOCOL_VERSION,
    client,
    id,
    ack,
    method,
    mount: typeof mount === 'string' ? mount : undefined,
    cred: credentials,
    params: (params as Record<string, unknown> | null | undefined) ?? {},
  };
  return { kind: 'ok', req };
}

/** Turns anything a handler threw into the wire form (unknown exceptions become CAIRN_ERR_INTERNAL). */
export function toWireError(err: unknown): WireError {
  const e = isCairnError(err) ? err : cairnError('CAIRN_ERR_INTERNAL', err instanceof Error ? err.message : String(err));
  return { errno: e.errno, errnoNumber: e.errnoNumber, code: e.code, message: e.message, retryable: e.retryable };
}

/** Checks a decoded reply; undefined when it is not one (the client then drops the connection). */
export function parseReply(value: unknown): ReplyMessage | undefined {
  if (!isPlainObject(value)) return undefined;
  const { id, error } = value;
  if (!(typeof id === 'number' && Number.isSafeInteger(id) && id >= 0)) return undefined;
  if (error !== undefined && error !== null) {
    if (!isPlainObject(error) || typeof error['code'] !== 'string' || typeof error['errno'] !== 'string') return undefined;
    const wire: WireError = {
      errno: error['errno'],
      errnoNumber: typeof error['errnoNumber'] === 'number' ? error['errnoNumber'] : 0,
      code: error['code'],
      message: typeof error['message'] === 'string' ? error['message'] : '',
      retryable: error['retryable'] === true,
    };
    return { v: Number(value['v']), id, error: wire };
  }
  return { v: Number(value['v']), id, result: value['result'] };
}

/**
 * Rebuilds a CairnError on the client from a wire error: the same code when this
 * build knows it (message kept as the server wrote it), otherwise the first code
 * with the same errno, otherwise CAIRN_ERR_RPC_REMOTE. The server's code and
 * errno stay in details (remoteCode, remoteErrno).
 */
export function fromWireError(w: WireError): CairnError {
  // No stack: it would only show the socket's data handler, and capturing it
  // is most of the cost of an expected failure (a lookup's ENOENT).
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    const details = { remoteCode: w.code, remoteErrno: w.errno, remote: true };
    const known = KNOWN_CODES.get(w.code);
    if (known && known === w.errno) return new CairnError(w.code as CairnErrorCode, w.message, { details });
    const byErrno = FIRST_CODE_BY_ERRNO.get(w.errno);
    if (byErrno) return new CairnError(byErrno, w.message, { details });
    return cairnError('CAIRN_ERR_RPC_REMOTE', `${w.code} ${w.errno}: ${w.message}`, { details });
  } finally {
    Error.stackTraceLimit = limit;
  }
}


const KNOWN_CODES = new Map<string, string>(Object.entries(ERROR_CODES).map(([c, d]) => [c, d.errno]));
const FIRST_CODE_BY_ERRNO = new Map<string, CairnErrorCode>();
for (const [code, d] of Object.entries(ERROR_CODES)) {
  if (!(d.errno in ERRNO)) continue;
  // Prefer filesystem codes: they are what a frontend maps to POSIX results.
  const prev = FIRST_CODE_BY_ERRNO.get(d.errno);
  if (!prev || (!prev.startsWith('CAIRN_ERR_FS_') && code.startsWith('CAIRN_ERR_FS_'))) FIRST_CODE_BY_ERRNO.set(d.errno as ErrnoName, code as CairnErrorCode);
}
