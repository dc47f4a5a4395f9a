import { cairnError } from '@cairn/errors';
import { describe, expect, it, vi } from 'vitest';
import { PROTOCOL_VERSION } from './format.js';
import { FrameDecoder } from './frame.js';
import { decodeBody, encodeMessageFrame, fromWireError, parseReply, parseRequest, toWireError } from './protocol.js';
import { s } from './schema.js';

const MAX = 1 << 20;

function roundTrip(msg: Record<string, unknown>): unknown {
  const [body] = new FrameDecoder(MAX).push(encodeMessageFrame(msg as never, MAX));
  return decodeBody(body!);
}

describe('messages', () => {
  it('encodes a request as a msgpack map behind a u32 big-endian length (worked example of docs/formats.md)', () => {
    const frame = encodeMessageFrame({ v: 1, client: 'c1', id: 7, ack: 7, method: 'getattr', mount: 'm', params: { ino: 1 } }, MAX);
    expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
    expect(frame.subarray(4).toString('hex')).toBe(
      '87' + 'a176' + '01' + 'a6636c69656e74' + 'a26331' + 'a26964' + '07' + 'a361636b' + '07' + 'a66d6574686f64' + 'a7676574617474' + '72' +
        'a56d6f756e74' + 'a16d' + 'a6706172616d73' + '81' + 'a3696e6f' + '01',
    );
  });

  it('a request whose mount and cred are undefined is the same bytes as one without them (the client builds one literal)', () => {
    const plain = encodeMessageFrame({ v: 1, client: 'c1', id: 7, ack: 7, method: 'ping', params: {} }, MAX);
    const withUndefined = encodeMessageFrame({ v: 1, client: 'c1', id: 7, ack: 7, method: 'ping', mount: undefined, cred: undefined, params: {} }, MAX);
    expect(withUndefined.toString('hex')).toBe(plain.toString('hex'));
  });

  it('keeps binary as bin, 64-bit integers as bigint, and leaves out undefined fields', () => {
    const out = roundTrip({ v: 1, id: 1, result: { data: Buffer.from([1, 2, 3]), t: 1_700_000_000_000_000_000n, big: 2 ** 40, gone: undefined } }) as {
      result: Record<string, unknown>;
    };
    expect(Buffer.isBuffer(out.result['data'])).toBe(true);
    expect(out.result['t']).toBe(1_700_000_000_000_000_000n);
    expect(out.result['big']).toBe(2 ** 40);
    expect('gone' in out.result).toBe(false);
  });

  it('frames are packed in place, and later ones (small, large, growing the buffer) never write over earlier ones', () => {
    const frames: Buffer[] = [];
    const copies: Buffer[] = [];
    for (let i = 0; i < 3000; i++) {
      const data = Buffer.alloc(i % 500 === 0 ? 300_000 : i % 97, i & 0xff);
      const f = encodeMessageFrame({ v: 1, id: i + 1, result: { i, data } }, MAX);
      frames.push(f);
      copies.push(Buffer.from(f));
    }
    frames.forEach((f, i) => expect(f.equals(copies[i]!)).toBe(true));
    const bodies = new FrameDecoder(MAX).push(Buffer.concat(frames));
    expect(bodies).toHaveLength(3000);
    expect((decodeBody(bodies[2999]!) as { result: { i: number } }).result.i).toBe(2999);
    expect(() => encodeMessageFrame({ v: 1, id: 1, result: Buffer.alloc(2048) }, 1024)).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_RPC_FRAME_TOO_LARGE' }));
  });

  it('does not copy the packed body into a new frame buffer', () => {
    const spy = vi.spyOn(Buffer, 'allocUnsafe');
    try {
      for (let i = 0; i < 100; i++) encodeMessageFrame({ v: 1, id: i + 1, result: { data: Buffer.alloc(i * 100) } }, MAX);
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('turns undecodable bytes into CAIRN_ERR_RPC_BAD_FRAME', () => {
    expect(() => decodeBody(Buffer.from([0x92, 0x01]))).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_RPC_BAD_FRAME' })); // truncated
    expect(() => decodeBody(Buffer.from([0x01, 0x02]))).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_RPC_BAD_FRAME' })); // two values
    expect(() => decodeBody(Buffer.alloc(100_000, 0x91))).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_RPC_BAD_FRAME' })); // deep nesting
  });
});

describe('parseRequest', () => {
  const ok = { v: PROTOCOL_VERSION, client: 'c', id: 3, ack: 1, method: 'getattr', params: { ino: 1 } };

  it('accepts a well-formed request and drops what it does not know', () => {
    const r = parseRequest({ ...ok, extra: 1, cred: { uid: 1, gid: 2, groups: [3] } });
    expect(r).toEqual({ kind: 'ok', req: { ...ok, cred: { uid: 1, gid: 2, groups: [3] } } });
  });

  it('is fatal without a usable id (nothing to answer to)', () => {
    for (const bad of [null, [1], 'x', { ...ok, id: 0 }, { ...ok, id: -1 }, { ...ok, id: 1.5 }, { ...ok, id: '3' }, { ...ok, id: 2 ** 53 }]) {
      expect(parseRequest(bad).kind).toBe('fatal');
    }
  });

  it('rejects, with the right code, what it can answer', () => {
    const code = (v: unknown) => {
      const r = parseRequest(v);
      return r.kind === 'reject' ? r.error.code : r.kind;
    };
    expect(code({ ...ok, v: 2 })).toBe('CAIRN_ERR_RPC_BAD_VERSION');
    expect(code({ ...ok, client: '' })).toBe('CAIRN_ERR_RPC_BAD_FRAME');
    expect(code({ ...ok, client: 'x'.repeat(65) })).toBe('CAIRN_ERR_RPC_BAD_FRAME');
    expect(code({ ...ok, ack: -1 })).toBe('CAIRN_ERR_RPC_BAD_FRAME');
    expect(code({ ...ok, method: 5 })).toBe('CAIRN_ERR_RPC_BAD_FRAME');
    expect(code({ ...ok, params: [1] })).toBe('CAIRN_ERR_RPC_BAD_PARAMS');
    expect(code({ ...ok, cred: { uid: -1, gid: 0 } })).toBe('CAIRN_ERR_RPC_BAD_PARAMS');
    expect(code({ ...ok, cred: { uid: 1, gid: 1, groups: new Array(257).fill(1) } })).toBe('CAIRN_ERR_RPC_BAD_PARAMS');
  });
});

describe('errors on the wire', () => {
  it('carries errno name and number, code, message and retryable', () => {
    expect(toWireError(cairnError('CAIRN_ERR_FS_NOT_FOUND', 'a/b'))).toEqual({
      errno: 'ENOENT', errnoNumber: 2, code: 'CAIRN_ERR_FS_NOT_FOUND', message: 'no such file or directory: a/b', retryable: false,
    });
    expect(toWireError(new RangeError('oops'))).toMatchObject({ errno: 'EIO', code: 'CAIRN_ERR_INTERNAL' });
  });

  it('rebuilds a CairnError on the client: same code when known, same errno otherwise', () => {
    const known = fromWireError({ errno: 'ENOTEMPTY', errnoNumber: 39, code: 'CAIRN_ERR_FS_NOT_EMPTY', message: 'directory not empty: /d', retryable: false });
    expect(known).toMatchObject({ code: 'CAIRN_ERR_FS_NOT_EMPTY', errno: 'ENOTEMPTY', errnoNumber: 39, message: 'directory not empty: /d' });
    const newer = fromWireError({ errno: 'ENOENT', errnoNumber: 2, code: 'CAIRN_ERR_FS_SOMETHING_NEW', message: 'm', retryable: false });
    expect(newer).toMatchObject({ code: 'CAIRN_ERR_FS_NOT_FOUND', errno: 'ENOENT', details: { remoteCode: 'CAIRN_ERR_FS_SOMETHING_NEW' } });
    const alien = fromWireError({ errno: 'EWHAT', errnoNumber: 999, code: 'X', message: 'm', retryable: false });
    expect(alien).toMatchObject({ code: 'CAIRN_ERR_RPC_REMOTE', errno: 'EIO' });
  });

  it('rebuilds remote errors without capturing a local stack (it would only show the socket handler)', () => {
    const limit = Error.stackTraceLimit;
    const e = fromWireError({ errno: 'ENOENT', errnoNumber: 2, code: 'CAIRN_ERR_FS_NOT_FOUND', message: 'x', retryable: false });
    expect(e.stack).toBe('CairnError: x');
    expect(Error.stackTraceLimit).toBe(limit);
    expect(new Error('local').stack?.split('\n').length).toBeGreaterThan(1);
  });

  it('parseReply accepts results and errors, refuses garbage', () => {
    expect(parseReply({ v: 1, id: 4, result: null })).toEqual({ v: 1, id: 4, result: null });
    expect(parseReply({ v: 1, id: 4, error: { errno: 'EIO', code: 'C' } })?.error).toMatchObject({ errno: 'EIO', code: 'C', message: '' });
    expect(parseReply({ v: 1, id: -4 })).toBeUndefined();
    expect(parseReply({ v: 1, id: 4, error: 'bad' })).toBeUndefined();
    expect(parseReply([1])).toBeUndefined();
  });
});

describe('schema', () => {
  const check = s.object({ ino: s.ino(), name: s.str(10, 1), off: s.optional(s.uint()), data: s.optional(s.bytes(4)), t: s.optional(s.i64()) });

  it('normalizes: 64-bit integers as numbers when safe, Uint8Array as Buffer, unknown keys dropped', () => {
    const v = check({ ino: 5n, name: 'a', off: 7, data: new Uint8Array([1]), t: 3, junk: true }, '');
    expect(v).toEqual({ ino: 5, name: 'a', off: 7, data: Buffer.from([1]), t: 3n });
    expect(Buffer.isBuffer(v.data)).toBe(true);
  });

  it('names the bad field in CAIRN_ERR_RPC_BAD_PARAMS (EINVAL)', () => {
    const cases: Array<[unknown, string]> = [
      [{ ino: 0, name: 'a' }, 'ino'],
      [{ ino: 1.5, name: 'a' }, 'ino'],
      [{ ino: 2n ** 60n, name: 'a' }, 'ino'],
      [{ ino: 1, name: '' }, 'name'],
      [{ ino: 1, name: 'x'.repeat(11) }, 'name'],
      [{ ino: 1, name: 'a', off: -1 }, 'off'],
      [{ ino: 1, name: 'a', data: 'text' }, 'data'],
      [{ ino: 1, name: 'a', data: Buffer.alloc(5) }, 'data'],
      [{ ino: 1, name: 'a', t: 2n ** 63n }, 't'],
      [{ name: 'a' }, 'ino'],
      [[1], 'a map'],
    ];
    for (const [v, field] of cases) {
      expect(() => check(v, '')).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_RPC_BAD_PARAMS', errno: 'EINVAL', message: expect.stringContaining(field) }));
    }
  });

  it('does not read inherited properties', () => {
    const proto = { ino: 1, name: 'inherited' };
    expect(() => check(Object.assign(Object.create(proto) as object, {}), '')).toThrow(/must be a map|ino/);
  });
});
