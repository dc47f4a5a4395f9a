// Record codecs for tree values: one encode/decode pair per record type, so
// no layer calls msgpackr directly. A record is a type tag byte, a version
// byte and the msgpack encoding of the value (docs/formats.md "Metadata
// B+Tree nodes", "Values"). decode() checks the tag, upgrades older versions
// through the spec and validates the shape before handing the value out.

import { cairnError } from '@cairn/errors';
import { packWithHeader, unpack } from './msgpack.js';

export interface RecordSpec<T> {
  /** Name for error messages ("inode", "dirent"). */
  readonly name: string;
  /** Type tag, 1..255, unique among the record types stored in one tree. */
  readonly tag: number;
  /** Current layout version, 1..255; never reuse a retired one. */
  readonly version: number;
  /** Checks a decoded value (current version) and returns it typed; throw on a bad shape. */
  readonly validate: (value: unknown) => T;
  /** Turns a value of an older version into the current layout (default: refuse old versions). */
  readonly upgrade?: (version: number, value: unknown) => unknown;
}

export interface RecordCodec<T> {
  readonly name: string;
  readonly tag: number;
  readonly version: number;
  encode(value: T): Buffer;
  /** Throws CAIRN_ERR_META_CORRUPT (wrong tag, bad shape) or _BAD_VERSION (unknown version). */
  decode(bytes: Uint8Array): T;
}

/** Defines the codec of one record type. */
export function defineRecord<T>(spec: RecordSpec<T>): RecordCodec<T> {
  for (const [k, v] of [['tag', spec.tag], ['version', spec.version]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 255) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `record ${spec.name}: ${k} ${v} (1..255)`);
  }
  const header = [spec.tag, spec.version] as const;
  return {
    name: spec.name,
    tag: spec.tag,
    version: spec.version,
    encode(value: T): Buffer {
      return packWithHeader(header, value);
    },
    decode(bytes: Uint8Array): T {
      if (bytes.length < 2 || bytes[0] !== spec.tag) {
        throw cairnError('CAIRN_ERR_META_CORRUPT', `record ${spec.name}: tag ${bytes[0]} (expected ${spec.tag})`);
      }
      const version = bytes[1]!;
      let value = unpack(bytes.subarray(2), `record ${spec.name}`);
      if (version !== spec.version) {
        if (version > spec.version || spec.upgrade === undefined) {
          throw cairnError('CAIRN_ERR_META_BAD_VERSION', `record ${spec.name} version ${version} (this build reads ${spec.version})`);
        }
        value = spec.upgrade(version, value);
      }
      try {
        return spec.validate(value);
      } catch (err) {
        throw cairnError('CAIRN_ERR_META_CORRUPT', `record ${spec.name}: ${(err as Error).message}`, { cause: err });
      }
    },
  };
}
