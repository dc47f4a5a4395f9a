// Parameter schemas: every method declares the types of its params once, the
// server checks them before the handler runs (a wrong type never reaches the
// filesystem), and TypeScript infers the handler's param type from the schema.
// A failed check throws CAIRN_ERR_RPC_BAD_PARAMS (EINVAL) naming the field.
// Unknown keys are ignored (a newer client may send optional fields an older
// server does not know) and never copied into the checked value.

import { cairnError } from '@cairn/errors';
import { isPlainObject } from './protocol.js';

/** Checks one value; returns it in its normalized form or throws CAIRN_ERR_RPC_BAD_PARAMS. */
export type Check<T> = (value: unknown, path: string) => T;

/** The type a check produces. */
export type Infer<C> = C extends Check<infer T> ? T : never;

type Shape = Record<string, Check<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: undefined extends Infer<S[K]> ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
/** The object type a shape produces: fields whose check allows undefined are optional. */
export type ObjectOf<S extends Shape> = { [K in RequiredKeys<S>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> };

function bad(path: string, want: string): never {
  throw cairnError('CAIRN_ERR_RPC_BAD_PARAMS', `${path} must be ${want}`);
}

/** A non-negative safe integer (msgpack may deliver a 64-bit one as bigint). */
function uintValue(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'bigint' && v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  return undefined;
}

export const s = {
  /** A non-negative safe integer, at most `max`. */
  uint(max = Number.MAX_SAFE_INTEGER): Check<number> {
    return (v, p) => {
      const n = uintValue(v);
      return n !== undefined && n <= max ? n : bad(p, `an integer in 0..${max}`);
    };
  },
  /** An unsigned 32-bit integer. */
  u32(): Check<number> {
    return s.uint(0xffffffff);
  },
  /** An inode number (>= 1). */
  ino(): Check<number> {
    return (v, p) => {
      const n = uintValue(v);
      return n !== undefined && n >= 1 ? n : bad(p, 'an inode number (integer >= 1)');
    };
  },
  /** A safe integer of either sign. */
  int(): Check<number> {
    return (v, p) => {
      if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
      if (typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
      return bad(p, 'a safe integer');
    };
  },
  /** A 64-bit signed integer as bigint (nanosecond times). */
  i64(): Check<bigint> {
    return (v, p) => {
      if (typeof v === 'bigint' && v >= -(2n ** 63n) && v < 2n ** 63n) return v;
      if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
      return bad(p, 'a 64-bit integer');
    };
  },
  bool(): Check<boolean> {
    return (v, p) => (typeof v === 'boolean' ? v : bad(p, 'a boolean'));
  },
  /** A string of at most `max` UTF-16 units (byte limits are the filesystem's to check). */
  str(max: number, min = 0): Check<string> {
    return (v, p) => (typeof v === 'string' && v.length <= max && v.length >= min ? v : bad(p, `a string of ${min}..${max} characters`));
  },
  /** One of the given string values. */
  oneOf<const T extends string>(values: readonly T[]): Check<T> {
    return (v, p) => (typeof v === 'string' && (values as readonly string[]).includes(v) ? (v as T) : bad(p, `one of ${values.join(', ')}`));
  },
  /** Binary (msgpack bin) of at most `max` bytes; delivered as a Buffer. */
  bytes(max: number): Check<Buffer> {
    return (v, p) => {
      if (!(v instanceof Uint8Array) || v.length > max) return bad(p, `binary of at most ${max} bytes`);
      return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.length);
    };
  },
  /** Absent (undefined or nil) is allowed; the field is then undefined. */
  optional<T>(check: Check<T>): Check<T | undefined> {
    return (v, p) => (v === undefined || v === null ? undefined : check(v, p));
  },
  /** An array of at most `max` items, each checked. */
  array<T>(check: Check<T>, max: number): Check<T[]> {
    return (v, p) => {
      if (!Array.isArray(v) || v.length > max) return bad(p, `an array of at most ${max} items`);
      return v.map((x, i) => check(x, `${p}[${i}]`));
    };
  },
  /** A map with exactly the listed fields checked (others ignored and dropped). */
  object<S extends Shape>(shape: S): Check<ObjectOf<S>> {
    const keys = Object.keys(shape);
    return (v, p) => {
      if (!isPlainObject(v)) return bad(p, 'a map');
      const out: Record<string, unknown> = {};
      for (const k of keys) {
        const checked = shape[k]!(Object.hasOwn(v, k) ? v[k] : undefined, p ? `${p}.${k}` : k);
        if (checked !== undefined) out[k] = checked;
      }
      return out as ObjectOf<S>;
    };
  },
  /** Any value at all (for test method tables and opaque cookies). */
  any(): Check<unknown> {
    return (v) => v;
  },
};
