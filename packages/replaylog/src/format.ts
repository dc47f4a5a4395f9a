// Replay log on-disk format: every constant of the byte layout, in one place.
// The grammar, with a worked hex example, is in docs/formats.md, section
// "Replay log". Change nothing here without changing that section, and never
// reuse a version number.
//
// A log file is a file header followed by zero or more records:
//
//   file   := fileHeader record* zeroTail
//   fileHeader (32 bytes, big-endian):
//     0  8  magic           ASCII "CAIRNRLG"
//     8  4  version         u32 = FORMAT_VERSION
//    12  8  firstLsn        u64, LSN of the file's first record (= the name)
//    20  8  coveredThrough  u64, records with lsn <= this needed no replay when
//                           the file was created (a checkpoint covered them)
//    28  4  crc32c          u32, CRC-32C of bytes [0, 28)
//   record (20-byte header + payload, big-endian):
//     0  4  crc32c          u32, CRC-32C of bytes [4, 20 + length)
//     4  4  length          u32, payload bytes
//     8  8  lsn             u64
//    16  1  version         u8 = RECORD_VERSION
//    17  1  type            u8 = RECORD_TYPE_FULL (0 is never valid)
//    18  2  reserved        u16 = 0
//    20  …  payload         `length` bytes
//   zeroTail := 0x00*       zeros the writer wrote ahead of the records
//                           (preallocateBytes); no record starts with a zero
//                           header, so the first one ends the records cleanly

/** The eight magic bytes that open every log file (ASCII). */
export const FILE_MAGIC = 'CAIRNRLG';
/** Version of the file format (header and record grammar). Never reuse a number. */
export const FORMAT_VERSION = 1;

/** Size of the file header in bytes. */
export const FILE_HEADER_SIZE = 32;
/** Byte offsets of the file header fields. */
export const FH_MAGIC = 0;
export const FH_VERSION = 8;
export const FH_FIRST_LSN = 12;
export const FH_COVERED_THROUGH = 20;
export const FH_CRC = 28;

/** Size of a record header in bytes (the payload follows it). */
export const RECORD_HEADER_SIZE = 20;
/** Byte offsets of the record header fields. */
export const RH_CRC = 0;
export const RH_LENGTH = 4;
export const RH_LSN = 8;
export const RH_VERSION = 16;
export const RH_TYPE = 17;
export const RH_RESERVED = 18;
/** First byte covered by a record's CRC (everything after the CRC field). */
export const RH_CRC_START = 4;

/** Version of the record grammar written into every record. */
export const RECORD_VERSION = 1;
/** The one record type: a complete record in one piece. Type 0 is reserved as invalid. */
export const RECORD_TYPE_FULL = 1;

/** Largest payload the length field can describe. */
export const MAX_PAYLOAD_BYTES = 0xffff_ffff;
/** Default limit of one append's payload (ReplayLogOptions.maxRecordBytes). */
export const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;
/** Default amount of zeros written ahead of the records at a time (ReplayLogOptions.preallocateBytes). */
export const DEFAULT_PREALLOCATE_BYTES = 4 * 1024 * 1024;
/** Default size after which a new file is started (ReplayLogOptions.rotateBytes). */
export const DEFAULT_ROTATE_BYTES = 64 * 1024 * 1024;
/** LSN of the very first record of a new log. */
export const FIRST_LSN = 1n;
/** Largest LSN the u64 field holds. */
export const MAX_LSN = 0xffff_ffff_ffff_ffffn;
