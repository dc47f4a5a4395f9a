// Format constants of log-segment objects. The byte layout is documented in
// docs/formats.md, section "Log segments"; change both together.

/** Object names of segments: this prefix and the nonce as 16 lower-case hex digits. */
export const SEGMENT_NAME_PREFIX = 'seg-';
export const SEGMENT_NAME_HEX_DIGITS = 16;

/** Largest nonce (nonces are uint64; 0 is reserved and never names a segment). */
export const MAX_NONCE = (1n << 64n) - 1n;

/** "CSEG": the magic number at the start of the summary footer. */
export const SUMMARY_MAGIC = 0x43534547;
/** Summary trailer version. Never reuse a retired number. */
export const SUMMARY_VERSION = 1;
/** Bytes of the fixed footer that ends every segment written with a summary. */
export const SUMMARY_FOOTER_BYTES = 36;
/** Footer flag: the entries were omitted because they would not fit the summary limit. */
export const SUMMARY_FLAG_INCOMPLETE = 1;
/** Entry file offset meaning "not given". */
export const NO_FILE_OFFSET = (1n << 64n) - 1n;
/** Entry key kinds. */
export const KEY_KIND_UINT64 = 1;
export const KEY_KIND_STRING = 2;
/** Longest string file key, in UTF-8 bytes (its length is a u16). */
export const MAX_STRING_KEY_BYTES = 0xffff;
/** Summary entries never take more than this many bytes (or 1/16 of maxFlushSize if larger). */
export const MIN_SUMMARY_LIMIT_BYTES = 64 * 1024;
